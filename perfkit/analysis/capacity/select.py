"""Capacity projections chosen by held-out error: USL, Amdahl or a closed MVA network.

`fit_capacity` fits each candidate law to (concurrency, throughput) steps:

- ``usl``: Gunther's USL; its coherency kappa is kept only when its 95 %
  interval excludes 0 (else the candidate is Amdahl's and no peak is drawn);
- ``amdahl``: the USL with kappa = 0, rising to ``lambda / sigma``;
- ``mva``: the closed network of `perfkit.analysis.capacity.mva` with `servers`
  c (fitted when not given) and think time Z, fitted demand D; a plateau at
  ``c / D``;
- ``shared``: when `servers` is known, the same network with a second,
  single-server station every request also visits (fitted demand B: the CPU
  cores or a database the slots contend for, which no worker count shows),
  solved exactly by convolution (`perfkit.analysis.capacity.mva.network`); a
  plateau at ``min(c / D, 1 / B)``. It is how 8 gthread slots on 2 cores
  level off long before 8 / D. A product-form network: a request at the
  shared station holds no pool slot, which is right for threads waiting on
  the CPU and wrong for a sync worker held while it waits on a database (then
  the pool's own demand D includes that wait, and `mva` is the law).

The choice is by rolling-origin held-out error: for each origin k, each
model is fitted on the k lowest steps and scored on all higher ones (mean
absolute relative error of throughput), on the origins every candidate can
be fitted at; of the laws within `PARSIMONY` of the best error, the one with
fewest parameters is chosen (more freedom must forecast clearly better). The
prediction interval is log-normal around the chosen model: its in-sample
scatter plus an error that grows with the distance past the largest measured
load (per doubling of load, estimated from the same rolling forecasts),
widened to take in rival models whose held-out error is within `RIVAL_FACTOR`
of the best: when the laws disagree past the data, so does the interval.
Response time follows from throughput by the response-time law ``R = N / X - Z``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, stats

from perfkit.analysis.capacity.laws import fit_usl
from perfkit.analysis.capacity.mva import bounds, mva_at, mva_grid, network_at
from perfkit.errors import InputError, PerfkitWarning

EXTRAPOLATION_LIMIT = 4.0  # past this multiple of the largest measured load: a loud warning
PARSIMONY = 1.25  # a law with more parameters is chosen only if its error is below 1/1.25
RIVAL_FACTOR = 2.0  # rivals within this factor of the best held-out error widen the interval
MIN_SCATTER = 0.02  # log-scale floor on the in-sample scatter (2 %)
MIN_GROWTH = 0.05  # log-scale floor on the error growth per doubling past the data
PARAMS = {"usl": 3, "amdahl": 2, "mva": 1, "shared": 2}
FALLBACK = {"usl": "amdahl", "shared": "mva"}  # a law whose extra term the data do not need
MAX_ORIGINS = 12  # rolling origins beyond the first four: at most this many, evenly spaced


def _origins(count: int) -> list[int]:
    """Training sizes k (the k lowest loads) to forecast from: every one up to 4, then at
    most `MAX_ORIGINS` evenly spaced up to ``count - 1`` (100 loads need not 99 refits)."""
    spaced = np.linspace(1, count - 1, MAX_ORIGINS).round()  # from 1 (count >= 2) to count - 1
    return sorted({*range(2, min(5, count)), *map(int, spaced)})


@dataclass(frozen=True)
class _Law:
    params: dict[str, Any]
    predict: Callable[[np.ndarray], np.ndarray]
    log_residuals: np.ndarray
    note: str = ""


def _fit_amdahl(n: np.ndarray, x: np.ndarray, w: np.ndarray) -> _Law:
    lam0 = float(np.max(x / n))
    res = optimize.least_squares(
        lambda p: np.sqrt(w) * (np.log(p[1] * n / (1 + p[0] * (n - 1))) - np.log(x)),
        [0.05, lam0], bounds=([0.0, 1e-12], [1.0, np.inf]), x_scale=[0.1, lam0],
    )  # fmt: skip
    sigma, lam = (float(v) for v in res.x)

    def predict(m: np.ndarray) -> np.ndarray:
        return lam * m / (1 + sigma * (m - 1))

    return _Law({"sigma": sigma, "lambda": lam}, predict,
                np.log(predict(n)) - np.log(x))  # fmt: skip


def _fit_usl(n: np.ndarray, x: np.ndarray) -> _Law | None:  # unweighted, as published
    if len(np.unique(n)) < 4:
        return None
    usl = fit_usl(n, x)
    if not usl.kappa_identified:  # the coherency term is not in the data: Amdahl's law instead
        return None
    return _Law({"sigma": usl.sigma, "kappa": usl.kappa, "lambda": usl.lambda_,
                 "kappa_se": usl.kappa_se},
                cast("Callable[[np.ndarray], np.ndarray]", usl.predict),  # arrays in, arrays out
                np.log(usl.predict(n)) - np.log(x))  # fmt: skip


def _loss_closed(
    n: np.ndarray, x: np.ndarray, w: np.ndarray, servers: int
) -> tuple[float, float]:
    """Without think time X = min(n, c) / D exactly: the best D (s) in closed form, its loss."""
    y = np.log(np.minimum(n, servers)) - np.log(x)
    log_d = float(np.sum(w * y) / np.sum(w))
    return math.exp(log_d), float(np.sum(w * (y - log_d) ** 2))


def _losses(
    n: np.ndarray, x: np.ndarray, w: np.ndarray, demand: np.ndarray, servers: np.ndarray,
    think: float,
) -> np.ndarray:  # fmt: skip
    """Weighted squared log error of each (demand, servers) pair, by one vectorised MVA."""
    top = int(np.ceil(n.max()))  # n > 0 (fit_capacity keeps only those): 1 or more
    xs, _ = mva_grid(top, demand, servers, think)
    grid = np.concatenate([np.zeros((len(demand), 1)), xs], axis=1)
    lo = np.floor(n).astype(int)  # 0..top
    hi = np.minimum(lo + 1, top)
    frac = n - lo
    pred = grid[:, lo] * (1 - frac) + grid[:, hi] * frac
    loss: np.ndarray = np.sum(w * (np.log(pred) - np.log(x)) ** 2, axis=1)
    return loss


def _fit_demand(
    n: np.ndarray, x: np.ndarray, w: np.ndarray, candidates: list[int], think: float
) -> tuple[int, float]:
    """The (servers, demand) of least weighted squared log error; the smallest c on ties."""
    fits: list[tuple[int, float, float]]
    if think == 0:
        fits = [(c, *_loss_closed(n, x, w, c)) for c in candidates]
    else:  # a coarse grid of D for every c at once, then Brent around the best few
        ds, cs = [], []
        for c in candidates:
            guess = float(np.median(np.minimum(n, c) / x))
            ds.append(np.geomspace(guess / 30, guess * 30, 48))
            cs.append(np.full(48, c))
        demand, servers = np.concatenate(ds), np.concatenate(cs)
        loss = _losses(n, x, w, demand, servers, think).reshape(len(candidates), 48)
        fits = []
        for i in np.argsort(loss.min(axis=1))[:3]:
            k = int(np.argmin(loss[i]))
            a, b = ds[i][max(k - 1, 0)], ds[i][min(k + 1, 47)]
            c = candidates[i]
            res = optimize.minimize_scalar(
                lambda v, c=c: float(_losses(n, x, w, np.array([math.exp(v)]), np.array([c]),
                                             think)[0]),
                bounds=(math.log(a), math.log(b)), method="bounded", options={"xatol": 1e-9},
            )  # fmt: skip
            fits.append((c, math.exp(float(res.x)), float(res.fun)))
    least = min(f[2] for f in fits)
    c, best, _ = min(f for f in fits if f[2] <= least * (1 + 1e-3) + 1e-12)  # smallest c first
    return c, best


def _server_grid(top: float) -> list[int]:
    """Server counts to try: every one up to 16, then steps of about 10 % up to `top`."""
    grid = list(range(1, min(16, int(top)) + 1))
    while grid[-1] < top:
        grid.append(max(grid[-1] + 1, int(grid[-1] * 1.1)))
    return grid


def _fit_mva(
    n: np.ndarray, x: np.ndarray, w: np.ndarray, servers: int | None, think: float
) -> _Law:
    if servers is not None:
        c, note = int(servers), "servers given"
        _, demand = _fit_demand(n, x, w, [c], think)
    else:  # beyond the largest load every c fits alike: the smallest that fits best
        c, demand = _fit_demand(n, x, w, _server_grid(float(n.max())), think)
        note = "servers fitted" + (" (not reached: a lower bound)" if c >= n.max() else "")

    def predict(m: np.ndarray) -> np.ndarray:
        return mva_at(m, demand, c, think)

    return _Law({"servers": c, "demand_s": demand, "think_time_s": think}, predict,
                np.log(predict(n)) - np.log(x), note)  # fmt: skip


def _fit_shared(
    n: np.ndarray, x: np.ndarray, w: np.ndarray, servers: int, think: float
) -> _Law | None:
    """The pool of `servers` beside a shared single-server station: (D, B) of least
    weighted squared log error, from a few starting shares of the shared station; None
    when the station does not bind (``1 / B >= c / D``): then B only bends the knee below
    the pool's own plateau, a parameter the plateau does not need (as kappa for the USL)."""
    c = int(servers)
    _, d0 = _fit_demand(n, x, w, [c], think)
    sw = np.sqrt(w)

    def residuals(p: np.ndarray) -> np.ndarray:
        out: np.ndarray = sw * (np.log(network_at(n, p[0], c, p[1], think)) - np.log(x))
        return out

    best = None
    for share in (0.0, 0.5, 0.9):  # B as a share of the least time per request at the top
        res = optimize.least_squares(residuals, [d0, share / float(x.max())],
                                     bounds=([d0 * 1e-3, 0.0], [d0 * 1e3, np.inf]),
                                     x_scale=[d0, 1 / float(x.max())])  # fmt: skip
        if best is None or res.cost < best.cost - 1e-12:
            best = res
    assert best is not None  # three starts
    demand, shared = (float(v) for v in best.x)
    if shared * c <= demand:  # 1 / B >= c / D: the pool binds first
        return None

    def predict(m: np.ndarray) -> np.ndarray:
        return network_at(m, demand, c, shared, think)

    return _Law({"servers": c, "demand_s": demand, "shared_demand_s": shared,
                 "think_time_s": think}, predict, np.log(predict(n)) - np.log(x))  # fmt: skip


def _fit(
    name: str, n: np.ndarray, x: np.ndarray, w: np.ndarray, servers: int | None, think: float
) -> _Law | None:
    if name == "mva":
        return _fit_mva(n, x, w, servers, think)
    if name == "shared":  # tried only when servers are given
        return _fit_shared(n, x, w, cast(int, servers), think)
    law = _fit_usl(n, x) if name == "usl" else _fit_amdahl(n, x, w)  # amdahl: 2+ loads always
    return law if law is None or servers is None else _bounded(law, n, x, w, servers, think)


def _bounded(
    law: _Law, n: np.ndarray, x: np.ndarray, w: np.ndarray, servers: int, think: float
) -> _Law:
    """`law` held under the operational bound ``X <= c / D`` of a server with `servers` (c)
    known slots: a law of the curve's shape (Amdahl, USL) knows nothing of the cap, and past
    the data would project throughput no c slots of D seconds each can serve. D is fitted to
    the same steps (the closed network's demand)."""
    _, demand = _fit_demand(n, x, w, [int(servers)], think)
    cap = int(servers) / demand  # a USL peaking below it is left as it was by the minimum

    def predict(m: np.ndarray) -> np.ndarray:
        held: np.ndarray = np.minimum(law.predict(m), cap)
        return held

    return _Law({**law.params, "server_bound_per_s": cap}, predict, np.log(predict(n)) - np.log(x),
                f"held under the servers' bound c/D = {cap:.4g}/s")  # the laws' own note is ""


def _min_steps(name: str, servers: int | None) -> int:
    return {"usl": 4, "amdahl": 2, "shared": 2}.get(name, 1 if servers is not None else 2)


def _params(model: str, servers_known: bool) -> int:
    """Parameters a law fits: the network also fits its server count when none is given."""
    return PARAMS[model] + (1 if model == "mva" and not servers_known else 0)


def _choose(errors: dict[str, float], servers_known: bool = True) -> str:
    """The law to keep, from held-out errors: of the laws within `PARSIMONY` of the best,
    the one with fewest parameters (more freedom must forecast clearly better, not by the
    noise's margin), then the lower error, then `PARAMS`' order."""
    best = min(errors.values())
    close = [m for m, e in errors.items() if round(e, 4) <= round(PARSIMONY * best, 4)]
    return min(close, key=lambda m: (_params(m, servers_known), round(errors[m], 4),
                                     list(PARAMS).index(m)))  # fmt: skip


@dataclass
class CapacityFit:
    """The chosen capacity law with its out-of-sample error (throughput per second, times s)."""

    model: str
    params: dict[str, Any]
    holdout_error: float  # mean absolute relative error of throughput on held-out steps
    candidates: pd.DataFrame
    servers: int | None
    servers_source: str
    think_time_s: float
    measured_max: float
    scatter: float  # in-sample log-scale standard deviation
    dof: int  # its degrees of freedom (points less parameters)
    growth: float  # log-scale error added per doubling past the largest measured load
    note: str = ""
    _laws: dict[str, _Law] = field(default_factory=dict, repr=False)

    # -- predictions -------------------------------------------------------------------------
    def _check(self, n: ArrayLike) -> np.ndarray:
        m: np.ndarray = np.atleast_1d(np.asarray(n, dtype=float))
        if np.any(~(m > 0)):
            raise InputError("concurrency to predict at must be > 0")
        far = m.max() / self.measured_max
        if far > EXTRAPOLATION_LIMIT:
            warnings.warn(
                f"EXTRAPOLATED {far:.1f}x past the largest measured load ({self.measured_max:g}): "
                f"beyond {EXTRAPOLATION_LIMIT:g}x the projection rests on the {self.model} law "
                "alone and is not evidence; measure there instead",
                PerfkitWarning, stacklevel=3,
            )  # fmt: skip
        return m

    @staticmethod
    def _out(values: np.ndarray, scalar: bool) -> np.ndarray | float:
        return float(values[0]) if scalar else values

    @overload
    def predict(self, n: float) -> float: ...
    @overload
    def predict(self, n: np.ndarray | Sequence[float]) -> np.ndarray: ...
    def predict(self, n: ArrayLike) -> np.ndarray | float:
        """Throughput (per second) at concurrency `n` by the chosen law."""
        scalar = np.ndim(n) == 0
        return self._out(self._laws[self.model].predict(self._check(n)), scalar)

    @overload
    def predict_response_time(self, n: float) -> float: ...
    @overload
    def predict_response_time(self, n: np.ndarray | Sequence[float]) -> np.ndarray: ...
    def predict_response_time(self, n: ArrayLike) -> np.ndarray | float:
        """Mean response time (s) at `n` by the response-time law ``R = N / X - Z``."""
        scalar = np.ndim(n) == 0
        m = self._check(n)
        return self._out(m / self._laws[self.model].predict(m) - self.think_time_s, scalar)

    def _sd(self, n: np.ndarray) -> np.ndarray:
        past = np.log2(np.maximum(n / self.measured_max, 1.0))
        return np.sqrt(self.scatter**2 + (self.growth * past) ** 2)

    @overload
    def predict_interval(self, n: float, level: float = 0.95) -> tuple[float, float]: ...
    @overload
    def predict_interval(
        self, n: np.ndarray | Sequence[float], level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def predict_interval(
        self, n: ArrayLike, level: float = 0.95
    ) -> tuple[np.ndarray | float, np.ndarray | float]:
        """(low, high) throughput at `n`: wider the further past the measured loads."""
        scalar = np.ndim(n) == 0
        m = self._check(n)
        dof = max(2, self.dof)
        z = float(stats.t.ppf((1 + level) / 2, dof))
        centre = np.log(self._laws[self.model].predict(m))
        low, high = centre - z * self._sd(m), centre + z * self._sd(m)
        best = self.holdout_error
        for name, law in self._laws.items():  # rivals not clearly worse out of sample
            err = cast(float, self.candidates.loc[name, "holdout_error"])
            if name != self.model and np.isfinite(err) and err <= RIVAL_FACTOR * max(best, 0.01):
                rival = np.log(law.predict(m))
                low = np.minimum(low, rival - z * self.scatter)
                high = np.maximum(high, rival + z * self.scatter)
        return self._out(np.exp(low), scalar), self._out(np.exp(high), scalar)

    def is_extrapolated(self, n: ArrayLike) -> np.ndarray | bool:
        """Whether `n` lies past the largest measured load."""
        out = np.asarray(n) > self.measured_max
        return bool(out) if out.ndim == 0 else out

    def bounds(self, n: ArrayLike) -> np.ndarray | None:
        """The operational bound ``min(N / (D + B + Z), c / D, 1 / B)`` when the law is a
        closed network (B = 0 for ``mva``)."""
        if self.model not in ("mva", "shared"):
            return None
        p = self.params
        shared = p.get("shared_demand_s", 0.0)
        out = bounds(n, p["demand_s"] + shared, p["servers"], p["think_time_s"])
        out = np.minimum(out, p["servers"] / p["demand_s"])
        bound: np.ndarray = np.minimum(out, 1 / shared) if shared > 0 else out
        return bound

    def table(self, n: ArrayLike, level: float = 0.95) -> pd.DataFrame:
        """Per `n`: throughput, its interval, response time and whether it is extrapolated."""
        m = self._check(n)  # one warning for the table
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            low, high = self.predict_interval(m, level)
            x, r = self.predict(m), self.predict_response_time(m)
        far = m / self.measured_max
        label = np.where(far > EXTRAPOLATION_LIMIT, f"extrapolated > {EXTRAPOLATION_LIMIT:g}x",
                         np.where(far > 1, "extrapolated", "measured range"))  # fmt: skip
        return pd.DataFrame({"concurrency": m, "throughput_per_s": x, "low_per_s": low,
                             "high_per_s": high, "response_time_s": r, "range": label})

    @property
    def plateau(self) -> float | None:
        """Throughput as load grows without bound (None for a USL, which falls)."""
        p = self.params
        if self.model == "mva":
            return float(p["servers"] / p["demand_s"])
        if self.model == "shared":
            shared = p["shared_demand_s"]
            return float(min(p["servers"] / p["demand_s"], 1 / shared if shared > 0 else math.inf))
        if self.model == "amdahl":
            limit = math.inf if p["sigma"] == 0 else p["lambda"] / p["sigma"]
            return float(min(limit, p.get("server_bound_per_s", math.inf)))
        return None

    @property
    def peak(self) -> tuple[float, float] | None:
        """(concurrency, throughput) of the USL's peak; None unless a USL with kappa identified."""
        if self.model != "usl":
            return None
        p = self.params
        n = math.sqrt((1 - p["sigma"]) / p["kappa"])
        return n, float(self._laws["usl"].predict(np.array([n]))[0])

    @property
    def uncertain(self) -> bool:
        """Whether the 95 % interval at twice the largest measured load spans a factor over 2."""
        low, high = self.predict_interval(2 * self.measured_max)
        return bool(high / low > 2)

    def describe(self) -> str:
        """One line: the chosen law, its parameters and held-out error, the server cap."""
        p = self.params
        if self.model == "mva":
            law = (f"closed MVA network, {p['servers']} servers ({self.servers_source}), "
                   f"demand {p['demand_s'] * 1000:.3g} ms, think {p['think_time_s']:g} s, "
                   f"plateau {self.plateau:.4g}/s")  # fmt: skip
        elif self.model == "shared":
            law = (f"closed MVA network, {p['servers']} servers ({self.servers_source}), "
                   f"demand {p['demand_s'] * 1000:.3g} ms, beside a shared station of "
                   f"{p['shared_demand_s'] * 1000:.3g} ms (CPU or database), think "
                   f"{p['think_time_s']:g} s, plateau {self.plateau:.4g}/s")  # fmt: skip
        elif self.model == "amdahl":
            law = (f"Amdahl (USL with kappa = 0), sigma {p['sigma']:.3g}, lambda "
                   f"{p['lambda']:.4g}/s, limit {self.plateau:.4g}/s")  # fmt: skip
        else:
            n, x = cast("tuple[float, float]", self.peak)  # a USL's
            law = (f"USL, sigma {p['sigma']:.3g}, kappa {p['kappa']:.3g} ± {p['kappa_se']:.2g}, "
                   f"peak {x:.4g}/s at {n:.3g}")  # fmt: skip
        error = ("not scored" if not np.isfinite(self.holdout_error)
                 else f"held-out error {self.holdout_error:.1%}")  # fmt: skip
        shaky = "; projection uncertain (the laws disagree past the data)" if self.uncertain else ""
        return f"{self.model}: {law}; {error}; measured up to {self.measured_max:g}{shaky}"

    def __repr__(self) -> str:
        return f"CapacityFit({self.describe()})"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(str(name))}</td><td>{row.holdout_error:.1%}</td>"
            f"<td>{row.forecasts}</td><td>{html.escape(str(row.note))}</td></tr>"
            for name, row in self.candidates.iterrows()
        )
        return (f"<p><b>{html.escape(self.describe())}</b></p><table><tr><th>model</th>"
                f"<th>held-out error</th><th>forecasts</th><th>note</th></tr>{rows}</table>")


def fit_capacity(
    concurrency: ArrayLike,
    throughput: ArrayLike,
    response_time_s: ArrayLike | None = None,
    think_time_s: float = 0.0,
    servers: int | None = None,
    *,
    servers_source: str | None = None,
    weights: ArrayLike | None = None,
) -> CapacityFit:
    """Fit USL, Amdahl and a closed MVA network to load steps; keep the best out of sample.

    `concurrency`: users (or requests in flight) per step; `throughput`: per
    second; `response_time_s`: mean response time per step (s), optional: when
    given without think time, Z is estimated by the response-time law
    (``Z = N / X - R``, median, >= 0); `servers`: the server's concurrency cap
    (workers x threads), fitted when None; `weights` (0..1) down-weight steps
    (e.g. where the load generator's own CPU was saturated; the USL candidate is
    `fit_usl`'s unweighted fit, as published). See the module
    docstring for how the model and its interval are chosen.
    """
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    w = np.ones_like(n) if weights is None else np.asarray(weights, dtype=float)
    if not (n.shape == x.shape == w.shape):
        raise InputError("fit_capacity: concurrency, throughput and weights differ in length")
    keep = np.isfinite(n) & np.isfinite(x) & (n > 0) & (x > 0) & (w > 0)
    if response_time_s is not None:
        r = np.asarray(response_time_s, dtype=float)
        if r.shape != n.shape:
            raise InputError("fit_capacity: response_time_s differs in length from concurrency")
        if think_time_s == 0.0 and np.isfinite(r[keep]).any():
            think_time_s = max(0.0, float(np.nanmedian(n[keep] / x[keep] - r[keep])))
            think_time_s = 0.0 if think_time_s < 0.02 * float(np.nanmedian(r[keep])) else \
                think_time_s  # fmt: skip
    n, x, w = n[keep], x[keep], w[keep]
    order = np.argsort(n, kind="stable")
    n, x, w = n[order], x[order], w[order]
    steps = np.unique(n)
    if len(steps) < 2:
        raise InputError(f"fit_capacity needs throughput at 2 or more loads, got {len(steps)}")
    names = ["mva", "amdahl", "usl"] + (["shared"] if servers is not None else [])
    # rolling origin: fit on the k lowest steps, forecast every higher one
    errors: dict[str, list[tuple[int, float, float]]] = {m: [] for m in names}
    for k in _origins(len(steps)):
        train, test = n <= steps[k - 1], n > steps[k - 1]
        for m in (m for m in names if k >= _min_steps(m, servers)):
            # k loads fit every law here (a USL whose kappa is not identified is Amdahl's, a
            # shared station that does not bind is the pool's network)
            law = _fit(m, n[train], x[train], w[train], servers, think_time_s) or \
                _fit(FALLBACK[m], n[train], x[train], w[train], servers, think_time_s)  # fmt: skip
            assert law is not None  # the fallbacks (mva, amdahl) always fit
            e = np.log(law.predict(n[test])) - np.log(x[test])
            d = np.log2(n[test] / steps[k - 1])
            errors[m] += [(k, ei, di) for ei, di in np.column_stack([e, d]).tolist()]
    laws = {m: _fit(m, n, x, w, servers, think_time_s) for m in names}
    scored = [m for m in names if laws[m] is not None and errors[m]]
    common = max((min(k for k, _, _ in errors[m]) for m in scored), default=None)
    rows = []
    for m in names:
        mine = [e for k, e, _ in errors[m] if common is not None and k >= common]
        fitted = laws[m]
        held = float(np.mean(np.abs(np.expm1(mine)))) if mine and fitted else math.nan
        if fitted is not None:
            note = fitted.note
        elif m == "shared":
            note = "the shared station does not bind (1/B above c/D): reduces to mva"
        else:
            note = ("fewer than 4 loads" if len(steps) < 4 else
                    "kappa's 95 % interval holds 0: not identified, reduces to Amdahl")  # fmt: skip
        rows.append({"model": m, "holdout_error": held, "forecasts": len(mine),
                     "params": {} if fitted is None else fitted.params, "note": note})
    candidates = pd.DataFrame(rows).set_index("model")
    ranked = candidates[np.isfinite(candidates["holdout_error"])]
    if len(ranked):
        chosen = _choose(dict(ranked["holdout_error"]), servers is not None)
        note = "chosen by rolling-origin held-out error"
    else:  # too few steps to hold any out (the network with known servers is always scored)
        chosen = "amdahl"
        note = "too few loads to score out of sample: not validated"
    law = laws[chosen]
    assert law is not None  # scored, or amdahl (2+ loads always fit it)
    dof = max(1, len(n) - _params(chosen, servers is not None))
    scatter = max(MIN_SCATTER, float(np.sqrt(np.sum(w * law.log_residuals**2) / dof)))
    held_out = np.array([(e, d) for _, e, d in errors[chosen]]).reshape(-1, 2)
    if len(held_out):
        growth2 = np.mean(np.maximum(held_out[:, 0] ** 2 - scatter**2, 0) / held_out[:, 1] ** 2)
        growth = max(MIN_GROWTH, float(np.sqrt(growth2)))
    else:
        growth = 4 * MIN_GROWTH
    candidates = candidates.astype({"forecasts": int})
    source = servers_source or ("given" if servers is not None else "fitted to the throughput")
    held_error = float(cast(float, candidates.loc[chosen, "holdout_error"]))
    return CapacityFit(chosen, law.params, held_error,
                       candidates, servers if servers is not None else law.params.get("servers"),
                       source, think_time_s, float(n.max()), scatter, dof, growth, note,
                       {m: v for m, v in laws.items() if v is not None})  # fmt: skip
