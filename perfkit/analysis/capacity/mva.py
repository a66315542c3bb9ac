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
    p(0|n) = 1 - (X(n) D + sum_{j=1}^{c-1} (c - j) p(j|n)) / c

Its asymptotes are the operational bounds X(N) <= min(N / (D + Z), c / D).
Times in seconds, throughput per second.
"""

from __future__ import annotations

import numpy as np

from perfkit.errors import InputError


def mva(population: int, demand: float, servers: int = 1, think_time: float = 0.0):
    """Throughput X(n) and response time R(n) for n = 1..`population` (two arrays).

    `demand` is the service demand D in seconds, `servers` the c of the
    station, `think_time` Z in seconds (see the module docstring).
    """
    population, servers = int(population), int(servers)
    if population < 1 or servers < 1 or not demand > 0 or think_time < 0:
        raise InputError("mva needs population >= 1, servers >= 1, demand > 0, think_time >= 0")
    x = np.empty(population)
    r = np.empty(population)
    weights = servers - np.arange(1, servers)  # c - j for j = 1..c-1
    divisors = np.arange(1, servers)
    p = np.zeros(servers)  # p(j | n) for j = 0..c-1
    p[0] = 1.0
    q = 0.0
    for n in range(1, population + 1):
        resp = demand / servers * (1.0 + q + float(weights @ p[:-1]))
        thr = n / (think_time + resp)
        q = thr * resp
        new = np.empty(servers)
        new[1:] = demand * thr / divisors * p[:-1]
        new[0] = max(0.0, 1.0 - (thr * demand + float(weights @ new[1:])) / servers)
        p = new
        x[n - 1], r[n - 1] = thr, resp
    return x, r


def mva_at(n, demand: float, servers: int, think_time: float = 0.0) -> np.ndarray:
    """X at (possibly fractional) populations `n`: exact at whole n, linear between them."""
    n = np.atleast_1d(np.asarray(n, dtype=float))
    top = max(1, int(np.ceil(n.max())))
    x, _ = mva(top, demand, servers, think_time)
    grid = np.arange(0, top + 1, dtype=float)
    return np.interp(n, grid, np.concatenate([[0.0], x]))


def bounds(n, demand: float, servers: int, think_time: float = 0.0) -> np.ndarray:
    """The operational upper bound on throughput, ``min(n / (D + Z), c / D)``."""
    n = np.asarray(n, dtype=float)
    return np.minimum(n / (demand + think_time), servers / demand)
