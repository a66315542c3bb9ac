"""A closed queueing network solved by exact mean value analysis (MVA).

N users cycle between thinking (a delay station, mean think time Z, no
queue) and one service station with `servers` c identical servers and mean
service demand D per request (a Gunicorn worker pool: c = workers x threads).
Exact multi-server MVA (Reiser and Lavenberg; Menasce, Almeida and Dowdy,
"Performance by Design", ch. 14) keeps the marginal probabilities
p(j | n) that j requests are at the station, for j < c:

    R(n)   = D / c * (1 + Q(n-1) + sum_{j=1}^{c-1} (c - j) p(j-1 | n-1))
    X(n)   = n / (Z + R(n))                      (response-time law)
    Q(n)   = X(n) R(n)                           (Little's law)
    p(j|n) = D X(n) / j * p(j-1 | n-1),  1 <= j < c
    p(0|n) = p(0 | n-1) * Z X(n) / n

The textbook closes with ``p(0|n) = 1 - (X D + sum_j (c - j) p(j|n)) / c``,
which cancels catastrophically once the station is busy (64 servers at 500
users: half the throughput lost); the product form gives the ratio above
(``p(0|n) = (Z^n / n!) / G(n)`` and ``X(n) = G(n-1) / G(n)``), exact and
free of cancellation.

Its asymptotes are the operational bounds X(N) <= min(N / (D + Z), c / D).
Times in seconds, throughput per second.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from perfkit.errors import InputError


def mva(
    population: int, demand: float, servers: int = 1, think_time: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Throughput X(n) and response time R(n) for n = 1..`population` (two arrays).

    `demand` is the service demand D in seconds, `servers` the c of the
    station, `think_time` Z in seconds (see the module docstring).
    """
    if int(population) < 1 or int(servers) < 1 or not demand > 0 or think_time < 0:
        raise InputError("mva needs population >= 1, servers >= 1, demand > 0, think_time >= 0")
    x, r = mva_grid(population, np.array([float(demand)]), np.array([int(servers)]), think_time)
    return x[0], r[0]


def mva_grid(
    population: int, demand: ArrayLike, servers: ArrayLike, think_time: float
) -> tuple[np.ndarray, np.ndarray]:
    """`mva` for many (demand, servers) pairs at once: X and R of shape (pairs, population).

    The marginal probabilities of every pair sit in one array padded to the
    largest c; the weights ``c - j`` vanish for ``j >= c``, so padding adds nothing.
    """
    demand = np.asarray(demand, dtype=float)[:, None]
    servers = np.asarray(servers, dtype=int)[:, None]
    top = int(servers.max())
    j = np.arange(1, top)[None, :]  # 1..cmax-1 (none when every c is 1)
    weights = np.maximum(servers - j, 0.0)  # c - j, 0 from j = c on: the padding adds nothing
    scale = demand / j  # p(j|n) past c is carried but weighs nothing (and D X / j <= c / j < 1)
    p = np.zeros((len(demand), j.shape[1] + 1))
    p[:, 0] = 1.0
    q = np.zeros((len(demand), 1))
    x = np.empty((len(demand), int(population)))
    r = np.empty_like(x)
    for n in range(1, int(population) + 1):
        resp = demand / servers * (1.0 + q + np.sum(weights * p[:, :-1], axis=1, keepdims=True))
        thr = n / (think_time + resp)
        q = thr * resp
        p0 = p[:, :1] * think_time * thr / n  # p(0|n): product, not 1 - sum (stable)
        p[:, 1:] = scale * thr * p[:, :-1]
        p[:, :1] = p0
        x[:, n - 1], r[:, n - 1] = thr[:, 0], resp[:, 0]
    return x, r


def mva_at(n: ArrayLike, demand: float, servers: int, think_time: float = 0.0) -> np.ndarray:
    """X at (possibly fractional) populations `n`: exact at whole n, linear between them."""
    n = np.atleast_1d(np.asarray(n, dtype=float))
    top = max(1, int(np.ceil(n.max())))
    x, _ = mva(top, demand, servers, think_time)
    grid = np.arange(top + 1.0)  # 0, 1, ..., top
    at_n: np.ndarray = np.interp(n, grid, np.concatenate([[0.0], x]))
    return at_n


def bounds(n: ArrayLike, demand: float, servers: int, think_time: float = 0.0) -> np.ndarray:
    """The operational upper bound on throughput, ``min(n / (D + Z), c / D)``."""
    n = np.asarray(n, dtype=float)
    return np.minimum(n / (demand + think_time), servers / demand)


def _log_station(top: int, demand: float, servers: int | None) -> np.ndarray:
    """log g(k), k = 0..top, of one product-form station: ``D^k / prod_{i<=k} min(i, c)``
    (a c-server queue), or ``Z^k / k!`` when `servers` is None (a delay station)."""
    k = np.arange(top + 1.0)
    if demand == 0:  # an absent station holds nobody: g(0) = 1, g(k > 0) = 0
        return np.where(k == 0, 0.0, -np.inf)
    rates = k[1:] if servers is None else np.minimum(k[1:], servers)
    log_g: np.ndarray = k * np.log(demand) - np.concatenate([[0.0], np.cumsum(np.log(rates))])
    return log_g


def _log_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log of the convolution ``(a * b)(n) = sum_k a(k) b(n - k)`` of two log sequences."""
    top = len(a) - 1
    out = np.empty(top + 1)
    k = np.arange(top + 1)[None, :]
    for start in range(0, top + 1, _ROWS):  # rows in chunks: memory stays O(_ROWS * top)
        n = np.arange(start, min(start + _ROWS, top + 1))[:, None]
        terms = np.where(k <= n, a[None, :] + b[np.clip(n - k, 0, top)], -np.inf)
        peak = terms.max(axis=1, keepdims=True)
        out[n[:, 0]] = peak[:, 0] + np.log(np.exp(terms - peak).sum(axis=1))
    return out


_ROWS = 256


def network(
    population: int, demand: float, servers: int, bottleneck: float, think_time: float = 0.0
) -> np.ndarray:
    """Throughput X(n), n = 1..`population`, of a closed network of three stations.

    The server's pool (`servers` c, demand D s per request), a shared
    single-server station every request also visits (demand `bottleneck` B s:
    the CPU cores or a database the pool's slots contend for, which no
    worker count shows) and think time Z. Solved exactly by Buzen's
    convolution of the stations' product-form terms in log space,
    ``X(n) = G(n-1) / G(n)``; with B = 0 it is `mva`'s network. Its
    asymptote is ``min(n / (D + B + Z), c / D, 1 / B)``.
    """
    if int(population) < 1 or int(servers) < 1 or not demand > 0 or not bottleneck >= 0 \
            or think_time < 0:  # fmt: skip
        raise InputError("network needs population >= 1, servers >= 1, demand > 0, "
                         "bottleneck >= 0, think_time >= 0")  # fmt: skip
    top = int(population)
    log_g = _log_convolve(_log_station(top, demand, int(servers)),
                          _log_station(top, bottleneck, 1))  # fmt: skip
    log_g = _log_convolve(log_g, _log_station(top, think_time, None))
    throughput: np.ndarray = np.exp(log_g[:-1] - log_g[1:])
    return throughput


def network_at(
    n: ArrayLike, demand: float, servers: int, bottleneck: float, think_time: float = 0.0
) -> np.ndarray:
    """`network`'s X at (possibly fractional) populations `n`: exact at whole n, linear
    between them."""
    n = np.atleast_1d(np.asarray(n, dtype=float))
    top = max(1, int(np.ceil(n.max())))
    x = network(top, demand, servers, bottleneck, think_time)
    at_n: np.ndarray = np.interp(n, np.arange(top + 1.0), np.concatenate([[0.0], x]))
    return at_n
