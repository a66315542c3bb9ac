"""Classic capacity laws: the Universal Scalability Law and M/M/c (Erlang C) queues.

USL (Gunther): throughput at concurrency N is
``X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))`` with
sigma the contention (serial) share, kappa the coherency (crosstalk) cost and
lambda the throughput of one. It assumes a closed system measured at steady
state at each N; it is fitted by bounded nonlinear least squares (sigma in
[0, 1], kappa >= 0, lambda > 0), so it needs no measurement at N = 1.
Standard errors come from the fit's Jacobian (the usual asymptotic ones).

Erlang C assumes Poisson arrivals, exponential service times, `servers`
identical servers (Gunicorn workers x threads) and a first-come queue with
room for everyone; it is only defined for utilisation below 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

from perfkit.errors import InputError


@dataclass(frozen=True)
class USLFit:
    """A fitted Universal Scalability Law (units: throughput per the input's unit)."""

    sigma: float
    kappa: float
    lambda_: float
    sigma_se: float
    kappa_se: float
    lambda_se: float
    residual_se: float
    dof: int
    n_points: int = field(default=0)

    def verdict(self) -> str:
        """The fit's verdict in one line: the peak (throughput and concurrency) or the limit."""
        if self.kappa > 0:
            shaky = "" if self.kappa_identified else " (kappa not identified: do not trust)"
            return (f"peak {self.peak_throughput:.4g} at N = {self.peak_concurrency:.3g}"
                    f"{shaky}")  # fmt: skip
        if self.sigma > 0:
            return f"no peak (kappa 0): throughput levels off at {self.peak_throughput:.4g}"
        return "no peak (kappa 0, sigma 0): throughput grows linearly with N"

    def _display_parts(self) -> tuple[str, list[tuple[str, object]]]:
        return self.verdict(), [
            ("sigma (contention)", f"{self.sigma:.4g} ± {self.sigma_se:.2g}"),
            ("kappa (coherency)", f"{self.kappa:.3g} ± {self.kappa_se:.2g}"),
            ("lambda (throughput of one)", f"{self.lambda_:.4g} ± {self.lambda_se:.2g}"),
            ("fit", f"{self.n_points} points, residual se {self.residual_se:.3g}, "
                    f"{self.dof} degrees of freedom"),
        ]  # fmt: skip

    def __repr__(self) -> str:
        """The verdict (the peak), then the parameters with their standard errors."""
        from perfkit._display import text_repr

        return text_repr("USLFit", *self._display_parts())

    def _repr_html_(self) -> str:
        from perfkit._display import html_repr

        return html_repr("USLFit", *self._display_parts())

    @property
    def kappa_identified(self) -> bool:
        """Whether kappa's 95 % interval excludes 0 (else the peak is an artefact)."""
        return bool(self.kappa > 0 and self.kappa - 1.96 * self.kappa_se > 0)

    @property
    def peak_concurrency(self) -> float:
        """Concurrency of maximum throughput, ``sqrt((1 - sigma) / kappa)`` (inf if kappa = 0)."""
        return math.inf if self.kappa == 0 else math.sqrt((1 - self.sigma) / self.kappa)

    @property
    def peak_throughput(self) -> float:
        """Throughput at `peak_concurrency` (``lambda / sigma`` as N grows when kappa = 0)."""
        n = self.peak_concurrency
        return self.lambda_ / self.sigma if math.isinf(n) else float(self.predict(n))

    def predict(self, n: ArrayLike) -> np.ndarray | float:
        """Throughput at concurrency `n` (scalar or array)."""
        n = np.asarray(n, dtype=float)
        out = self.lambda_ * n / (1 + self.sigma * (n - 1) + self.kappa * n * (n - 1))
        return float(out) if out.ndim == 0 else out


def _usl(n: np.ndarray, sigma: float, kappa: float, lam: float) -> np.ndarray:
    out: np.ndarray = lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return out


def fit_usl(concurrency: ArrayLike, throughput: ArrayLike) -> USLFit:
    """Fit the USL to measured (concurrency, throughput) pairs; at least 4 distinct points."""
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    keep = np.isfinite(n) & np.isfinite(x) & (n > 0)
    n, x = n[keep], x[keep]
    if len(np.unique(n)) < 4:
        raise InputError(
            f"fit_usl needs throughput at 4 or more distinct concurrencies, got {len(np.unique(n))}"
        )
    lam0 = float(x[n == n.min()].mean() / n.min())
    lam0 = max(lam0, float(np.max(x / n)))
    start = [0.05, 1e-4, lam0]
    result = optimize.least_squares(
        lambda p: _usl(n, *p) - x, start,
        bounds=([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf]),
        x_scale=[0.1, 1e-3, lam0], method="trf", xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=20000,
    )  # fmt: skip
    sigma, kappa, lam = result.x
    dof = len(n) - 3  # >= 1: 4 or more distinct loads
    s2 = float(np.sum(result.fun**2)) / dof
    # the pseudo-inverse: the inverse of a regular J'J, and no failure on a singular one; its
    # diagonal is a sum of squares over positive singular values, never negative
    information = result.jac.T @ result.jac
    se = np.sqrt(np.diag(np.linalg.pinv(information)) * s2)
    if np.linalg.matrix_rank(information) < 3:  # a direction the data do not determine: no
        se = np.full(3, math.nan)  # standard errors (pinv alone would report a small one)
    return USLFit(float(sigma), float(kappa), float(lam), float(se[0]), float(se[1]), float(se[2]),
                  math.sqrt(s2), dof, len(n))  # fmt: skip


@dataclass(frozen=True)
class ErlangC:
    """M/M/c figures: times in the unit of `service_time` (e.g. seconds)."""

    servers: int
    arrival_rate: float
    service_time: float
    utilisation: float
    p_wait: float
    mean_wait: float
    mean_response: float

    def verdict(self) -> str:
        """The queue's verdict in one line: how many wait, how long on average, the response."""
        return (f"P(wait) {self.p_wait:.3g} at utilisation {self.utilisation:.1%}: mean wait "
                f"{self.mean_wait:.4g}, mean response {self.mean_response:.4g}")  # fmt: skip

    def _display_parts(self) -> tuple[str, list[tuple[str, object]]]:
        return self.verdict(), [
            ("servers", f"{self.servers:,}"),
            ("arrival rate", f"{self.arrival_rate:.4g} per time unit"),
            ("service time", f"{self.service_time:.4g}"),
            ("95th percentile wait", f"{self.wait_quantile(0.95):.4g}"),
        ]

    def __repr__(self) -> str:
        """The verdict (who waits and for how long), then the queue's inputs."""
        from perfkit._display import text_repr

        return text_repr("ErlangC", *self._display_parts())

    def _repr_html_(self) -> str:
        from perfkit._display import html_repr

        return html_repr("ErlangC", *self._display_parts())

    def p_wait_longer(self, t: float) -> float:
        """P(wait > t) = p_wait * exp(-(c*mu - lambda) * t)."""
        mu = 1.0 / self.service_time
        return self.p_wait * math.exp(-(self.servers * mu - self.arrival_rate) * t)

    def wait_quantile(self, q: float) -> float:
        """The `q` quantile of the wait (0 when at least that share never waits)."""
        if 1 - q >= self.p_wait:
            return 0.0
        mu = 1.0 / self.service_time
        return math.log(self.p_wait / (1 - q)) / (self.servers * mu - self.arrival_rate)


def erlang_c(arrival_rate: float, service_time: float, servers: int) -> ErlangC:
    """Waiting figures of an M/M/c queue (see the module docstring for its assumptions).

    `arrival_rate` per time unit, `service_time` in that unit. Raises
    `InputError` when the queue is unstable (utilisation >= 1).
    """
    if arrival_rate <= 0 or service_time <= 0 or servers < 1:
        raise InputError("erlang_c needs arrival_rate > 0, service_time > 0 and servers >= 1")
    load = arrival_rate * service_time  # offered load, Erlangs
    rho = load / servers
    if rho >= 1:
        raise InputError(
            f"unstable queue: offered load {load:.3g} Erlangs on {servers} servers is utilisation "
            f"{rho:.3g} >= 1; the queue grows without bound "
            f"(need more than {math.ceil(load)} servers)"
        )
    # Erlang B by its stable recursion, then C = B / (1 - rho (1 - B))
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    p_wait = b / (1 - rho * (1 - b))
    mean_wait = p_wait * service_time / (servers - load)
    return ErlangC(
        servers, arrival_rate, service_time, rho, p_wait, mean_wait, mean_wait + service_time
    )


def size_workers(
    arrival_rate: float,
    service_time: float,
    target_wait: float | None = None,
    target_response_quantile: tuple[float, float] | None = None,
    max_servers: int = 10_000,
) -> ErlangC:
    """The smallest server count whose M/M/c queue meets the target.

    `target_wait` bounds the mean wait; ``target_response_quantile=(q, t)``
    asks that the `q` quantile of response time (wait + exponential service)
    stay under `t`. Times in the unit of `service_time`.
    """
    if target_wait is None and target_response_quantile is None:
        raise InputError("size_workers needs target_wait or target_response_quantile")
    start = max(1, math.floor(arrival_rate * service_time) + 1)
    for servers in range(start, max_servers + 1):
        queue = erlang_c(arrival_rate, service_time, servers)
        if target_wait is not None and queue.mean_wait > target_wait:
            continue
        if target_response_quantile is not None:
            q, limit = target_response_quantile
            if response_quantile(queue, q) > limit:
                continue
        return queue
    raise InputError(f"no server count up to {max_servers} meets the target")


def response_quantile(queue: ErlangC, q: float) -> float:
    """The `q` quantile of response time (wait + service) of an M/M/c queue, numerically."""
    mu = 1.0 / queue.service_time
    theta = queue.servers * mu - queue.arrival_rate

    def cdf(t: float) -> float:
        no_wait = (1 - queue.p_wait) * (1 - math.exp(-mu * t))
        if abs(theta - mu) < 1e-12:
            waited = queue.p_wait * (1 - math.exp(-mu * t) * (1 + mu * t))
        else:  # wait ~ Exp(theta) convolved with service ~ Exp(mu)
            waited = queue.p_wait * (
                1 - (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
            )
        return no_wait + waited

    upper = queue.service_time * 10 + stats.expon.ppf(q, scale=1 / min(mu, theta)) * 2
    return float(optimize.brentq(lambda t: cdf(t) - q, 0.0, upper))


def max_arrival_rate(
    service_time: float, servers: int, target_response_quantile: tuple[float, float]
) -> float:
    """The highest arrival rate at which `servers` still meet ``(q, t)``: the `q` quantile of
    response time at most `t` (times in the unit of `service_time`; rate per that unit).

    0 when even an idle server is too slow (the service time alone breaks the target).
    """
    q, limit = target_response_quantile
    if stats.expon.ppf(q, scale=service_time) >= limit:  # at equality any load adds a wait
        return 0.0
    top = servers / service_time * (1 - 1e-9)

    def slack(rate: float) -> float:
        return limit - response_quantile(erlang_c(rate, service_time, servers), q)

    if slack(top) >= 0:
        return top
    return float(optimize.brentq(slack, top * 1e-9, top, xtol=1e-10 * top))
