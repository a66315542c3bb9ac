"""The verdict rule every comparison shares: raw verdicts, the run-wide shift, relative verdicts.

`compare` (requests), `compare_queries` (pg_stat_statements),
`compare_profiles` (functions), `compare_loadtests` (Locust) and the
regression report all end in `judge`, so the API's defaults and the
report's give the same answer. Each comparison computes, per key, its own
test (Mann–Whitney on requests, Welch on statement means, ...) and hands
`judge` a frame with the raw ratio, its interval, the test's p-value and
the standard error of the log ratio.

**Raw verdict** (per key, on raw times): ``regressed``/``improved`` when the
p-value, adjusted across keys (Holm by default), is under `alpha` and the
location ratio's interval excludes 1 on that side with the change clearing
the practical floor (`min_ratio` relative and `min_abs` in the unit), or
the p95 ratio does the same; ``insufficient data`` when a side is too small
to ever reach `alpha`; else ``unchanged``. A key none of whose statistics
rose is never ``regressed``; one none of whose statistics fell, never
``improved``.

**Run-wide shift** (`estimate_shift`): the median over keys of the log
ratio, each key one vote whatever its traffic (so one dominant route that
really changed cannot become the shift). Assumptions: keys are independent,
most did not change, and the log ratio of key ``i`` is ``shift + u_i +
e_i`` with ``e_i`` its sampling error (standard error ``s_i``, known) and
``u_i`` a spread between keys (standard deviation ``tau``: a busier machine
slows CPU-bound routes more than ones waiting on I/O, and two runs of the
same code differ route by route beyond what per-request tests see),
estimated robustly (the 40th percentile of the standardised residuals
equals a normal's, so up to about a fifth of the keys may really have
changed without inflating it). The shift's variance is the median's,
``pi/2 * K / (sum 1/sigma_i)^2`` with ``sigma_i^2 = s_i^2 + tau^2``. With
fewer than `min_keys` keys with enough data a shift cannot be told from a
change: it is not estimated, and keys are judged on raw times.

**Relative verdict**: each key against the shift estimated *without it*
(leave one out, so the two are independent; of an even count of others,
the middle value nearer to the key, which errs towards no change):
``z = (log ratio - shift) /
sqrt(s_i^2 + tau^2 + var(shift))``, the median's and the p95's, combined
by Bonferroni, adjusted across keys; then the raw verdict's rule on the
relative ratios. The shift's and the spread's uncertainty are in every
relative interval.

**The verdict** (``verdict`` column): with `normalize` and an estimated
shift whose interval excludes 1 or that comes with a spread between keys,
a key is ``regressed`` (``improved``) only when raw and relative verdicts
agree. A raw change the relative test finds no different from the rest is
``moved with shift`` when the shift is *material* (its interval excludes 1
and it moved by at least `min_shift`) and the change goes its way, else
``unchanged`` (no bigger than keys differ from run to run, or the two
readings disagree). Without `normalize`, with too few keys, with neither a
shift nor a spread (the relative reading would only add noise), or when the
keys do not move together (a spread above `MAX_SPREAD`, more than real A/A
pairs show: many keys changed, and a "shift" made of them would hide
them), the raw verdict stands. A route whose raw time rose is therefore
never ``improved``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from scipy import stats

Column: TypeAlias = "pd.Series[Any] | np.ndarray"  # one value per key
Triple: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray]

VERDICTS = (
    "regressed", "improved", "moved with shift", "unchanged", "insufficient data", "cannot judge",
)
EXTRA_COLUMNS = [
    "log_se", "p95_log_se", "rel_ratio", "rel_ci_low", "rel_ci_high", "rel_p95_ratio",
    "rel_p_value", "rel_p_adjusted", "raw_verdict", "relative_verdict",
]  # fmt: skip
# tau is fitted on the 40th percentile of |z| (a normal's is 0.524), not the median: with a
# fifth of the keys really changed, that quantile still falls among the unchanged ones
_SPREAD_QUANTILE = 0.4
_NORMAL_QUANTILE_ABS = stats.norm.ppf(0.5 + _SPREAD_QUANTILE / 2)
# The largest spread between endpoints (log scale) two runs of the same code show: real A/A
# pairs recorded here gave 0 to 0.12 (the blog with a CPU hog beside it: 0.117); above
# 0.15 (about +-16 %) the endpoints do not move together and no single shift explains them
MAX_SPREAD = 0.15


@dataclass(frozen=True)
class Shift:
    """The run-wide shift: candidate / baseline for the whole run, with its interval.

    ``factor`` multiplies every key's location (1.0 when not estimated);
    ``spread`` is ``tau``, the standard deviation of the keys' log ratios
    beyond their sampling error; ``material`` says the interval excludes 1
    and the factor moved by at least the floor, so verdicts are relative to it.
    """

    factor: float = 1.0
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    p95_factor: float = float("nan")
    keys: int = 0
    spread: float = float("nan")
    estimated: bool = False
    material: bool = False
    applied: bool = False
    normalized: bool = True
    split: bool = False
    max_spread: float = float("nan")
    min_shift: float = 0.02
    min_keys: int = 5
    what: str = "endpoints"

    @property
    def significant(self) -> bool:
        """Whether the shift's interval excludes 1."""
        return bool(self.estimated and (self.ci_low > 1 or self.ci_high < 1))

    @property
    def direction(self) -> str:
        """``slower``, ``faster`` or ``none`` (not material)."""
        if not self.material:
            return "none"
        return "slower" if self.factor > 1 else "faster"

    def describe(self) -> str:
        """The shift and both of its readings, in plain words (Markdown)."""
        if not self.estimated:
            return (
                f"Only {self.keys} {self.what} have enough data on both sides: too few (under "
                f"{self.min_keys}) to tell a run-wide shift from a change, so each is judged on "
                "its raw times."
            )
        pct = _pct(self.factor)
        interval = f"[{_pct(self.ci_low)}, {_pct(self.ci_high)}]"
        spread = (f"; beyond sampling error they differ from one another by about "
                  f"±{(np.exp(self.spread) - 1) * 100:.0f} %" if self.spread > 0.005 else "")
        if self.split:
            return (
                f"**The {self.what} do not move together:** as a whole they moved {pct} "
                f"{interval} (median of {self.keys}, each one vote), but they differ from one "
                f"another by about ±{(np.exp(self.spread) - 1) * 100:.0f} %, more than two runs "
                f"of the same code do here (±{(np.exp(self.max_spread) - 1) * 100:.0f} %): "
                "many of them changed, and no run-wide shift explains that. Each is judged on "
                "its raw times."
            )
        if self.applied:
            judged = (f" Each of the {self.what} is judged against the others as well as on "
                      "raw times: a change must stand out from the run as a whole to count.")
        elif self.normalized:
            judged = (f" With no shift and no spread beyond sampling error, the {self.what} are "
                      "judged on their raw times.")
        else:
            judged = f" The {self.what} are judged on raw times (normalize is off)."
        if not self.material:
            lead = ("No run-wide shift" if not self.significant else
                    f"A run-wide shift too small to matter (under {self.min_shift:.0%})")
            return (f"{lead}: the {self.what} as a whole moved {pct} {interval} "
                    f"(median of {self.keys}, each one vote{spread}).{judged}")  # fmt: skip
        return (
            f"**The candidate run as a whole is {pct} {interval}** ({self.direction}; median of "
            f"{self.keys} {self.what}, each one vote{spread}). Two readings fit: the whole "
            "machine changed (a busier host, another instance type, a noisy neighbour, a cold "
            "cache), **or** a change touches every request (middleware, the database driver, "
            f"the Python version). An A/A run on the same machines tells them apart.{judged}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["direction"] = self.direction
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                for k, v in out.items()}  # fmt: skip


def _pct(ratio: float) -> str:
    return "n/a" if not np.isfinite(ratio) else f"{(ratio - 1) * 100:+.1f} %"


def judge(
    table: pd.DataFrame,
    location: tuple[str, str] = ("p50_base", "p50_cand"),
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs: float = 1.0,
    normalize: bool = True,
    min_keys: int = 5,
    min_shift: float = 0.02,
    insufficient: pd.Series | np.ndarray | None = None,
    what: str = "endpoints",
    confidence: float = 0.95,
    votes: tuple[np.ndarray, np.ndarray] | None = None,
    min_spread: float = 0.0,
    max_spread: float = MAX_SPREAD,
) -> pd.DataFrame:
    """Verdicts for a comparison frame (see the module docstring); returns a copy with
    ``p_adjusted``, ``verdict`` and the `EXTRA_COLUMNS` filled and ``attrs["shift"]`` a `Shift`.

    `table` needs ``ratio``, ``ci_low``, ``ci_high``, ``p_value``, ``log_se`` and the
    `location` columns (baseline, candidate; `min_abs` is in their unit); ``p95_*`` columns
    (``p95_base``, ``p95_cand``, ``p95_ratio``, ``p95_ci_low``, ``p95_ci_high``,
    ``p95_log_se``) count when present. `insufficient` marks keys too small to judge (by
    default those without a p-value). `votes` (log ratios, standard errors) estimate the
    shift from other figures than the keys' own ratios (a profile's own times); every key is
    then judged against that one shift, its variance added. `min_spread` is a floor under the
    spread between keys (log scale): the report passes the endpoints' own to functions and
    statements, which cannot be told from drift better than the endpoints that run them.
    A spread above `max_spread` means the keys do not move together (many changed): the
    shift is reported, not applied, and keys are judged on raw times.
    """
    from perfkit.analysis.significance import adjust

    out = table.copy()
    for column in ("p95_base", "p95_cand", "p95_ratio", "p95_ci_low", "p95_ci_high",
                   "p95_log_se", "log_se"):  # fmt: skip
        if column not in out:
            out[column] = np.nan
    p_value = out["p_value"].to_numpy(dtype=float)
    small = np.isnan(p_value)
    if insufficient is not None:
        small |= np.asarray(insufficient, dtype=bool)
    out["p_adjusted"] = p_adjusted = adjust(p_value, correction)
    base_loc, cand_loc = (out[c].to_numpy(dtype=float) for c in location)
    base95, cand95 = (out[c].to_numpy(dtype=float) for c in ("p95_base", "p95_cand"))
    raw = _rule(
        out["ratio"], out["ci_low"], out["ci_high"], cand_loc - base_loc,
        out["p95_ratio"], out["p95_ci_low"], out["p95_ci_high"],
        cand95 - base95, p_adjusted < alpha, small, min_ratio, min_abs,
    )  # fmt: skip
    shift, relative = _relative(out, small, min_keys, min_shift, what, confidence, votes,
                                min_spread)
    out = out.assign(**relative)
    out["rel_p_adjusted"] = rel_adjusted = adjust(relative["rel_p_value"], correction)
    rel = _rule(
        out["rel_ratio"], out["rel_ci_low"], out["rel_ci_high"],
        cand_loc / shift.factor - base_loc,
        out["rel_p95_ratio"], relative["_rel_p95_ci_low"], relative["_rel_p95_ci_high"],
        cand95 / _finite_or(shift.p95_factor, shift.factor) - base95,
        rel_adjusted < alpha, small, min_ratio, min_abs,
    )  # fmt: skip
    out = out.drop(columns=["_rel_p95_ci_low", "_rel_p95_ci_high"])
    out["raw_verdict"], out["relative_verdict"] = raw, rel
    # the second reading only matters when there is something to read: a shift (its interval
    # excludes 1), or keys that differ from run to run beyond their sampling error; and only
    # when the keys move together at all (a spread beyond what A/A runs show is two groups:
    # many keys changed, which no shift explains)
    split = bool(shift.spread > max_spread)  # NaN when no shift was estimated: never above
    applied = bool(normalize and shift.estimated and not split
                   and (shift.significant or shift.spread > 0))  # fmt: skip
    shift = Shift(**{**asdict(shift), "applied": applied, "normalized": normalize,
                     "split": split, "max_spread": max_spread})  # fmt: skip
    out["verdict"] = combine(raw, rel, shift) if applied else raw
    out.attrs["shift"] = shift
    return out


def combine(raw: np.ndarray, relative: np.ndarray, shift: Shift) -> np.ndarray:
    """The verdict when the shift is applied: regressed/improved only when raw and relative
    verdicts agree; a raw change the relative test finds no different from the rest ``moved
    with shift`` when the shift is material and in its direction, else ``unchanged`` (no
    bigger than routes here differ from run to run, or the two readings disagree)."""
    # object, not a fixed-width string array: "moved with shift" must fit
    raw, relative = np.asarray(raw, dtype=object), np.asarray(relative)
    out = raw.copy()
    moved = np.isin(raw, ["regressed", "improved"]) & (relative != raw)
    out[moved] = "unchanged"
    # with a material shift: its way, and the relative reading finds it no different
    along = raw == {"slower": "regressed", "faster": "improved"}.get(shift.direction)
    out[moved & along & (relative == "unchanged")] = "moved with shift"
    return out


def _finite_or(value: float, fallback: float) -> float:
    return value if np.isfinite(value) else fallback


def _rule(
    ratio: Column, ci_low: Column, ci_high: Column, change: Column, p95_ratio: Column,
    p95_ci_low: Column, p95_ci_high: Column, p95_change: Column, significant: Column,
    small: Column, min_ratio: float, min_abs: float,
) -> np.ndarray:  # fmt: skip
    """The raw verdict's rule on arrays (see the module docstring)."""
    ratio, p95_ratio = np.asarray(ratio, dtype=float), np.asarray(p95_ratio, dtype=float)
    # comparisons with NaN (missing tails): silent on NumPy 2, some older builds warn
    with np.errstate(invalid="ignore"):  # pragma: no mutate
        practical = (np.abs(change) >= min_abs) & (
            np.isinf(ratio) | (np.abs(ratio - 1) >= min_ratio)
        )
        up = practical & (np.asarray(ci_low, dtype=float) > 1)
        down = practical & (np.asarray(ci_high, dtype=float) < 1)
        tail = (np.abs(p95_change) >= min_abs) & (np.abs(p95_ratio - 1) >= min_ratio)
        up |= tail & (np.asarray(p95_ci_low, dtype=float) > 1)
        down |= tail & (np.asarray(p95_ci_high, dtype=float) < 1)
        nothing_rose = (ratio <= 1) & ~(p95_ratio > 1)
        nothing_fell = (ratio >= 1) & ~(p95_ratio < 1)
    up &= ~(nothing_rose & ~nothing_fell)  # every statistic fell: not a regression
    down &= ~(nothing_fell & ~nothing_rose)  # every statistic rose: not an improvement
    return np.select(
        [small, significant & up, significant & down],
        ["insufficient data", "regressed", "improved"], "unchanged",
    ).astype(object)  # fmt: skip


def estimate_shift(
    log_ratio: Column, log_se: Column, min_keys: int = 5, min_shift: float = 0.02,
    what: str = "endpoints", confidence: float = 0.95, min_spread: float = 0.0,
) -> Shift:  # fmt: skip
    """The run-wide shift from per-key log ratios and their standard errors (NaN keys left
    out); see the module docstring."""
    r, s = _votes(log_ratio, log_se)
    if len(r) < min_keys:
        return Shift(keys=len(r), min_keys=min_keys, what=what)
    center = float(np.median(r))
    tau = max(min_spread, _spread(r - _leave_one_out_median(r), s,
                                  lambda t: _median_variance(s, t, len(s) - 1)))
    variance = _median_variance(s, tau, len(s))
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(variance)
    low, high = np.exp(center - half), np.exp(center + half)
    factor = float(np.exp(center))
    material = bool((low > 1 or high < 1) and abs(factor - 1) >= min_shift)
    return Shift(factor, float(low), float(high), keys=len(r), spread=float(tau),
                 estimated=True, material=material, min_keys=min_keys, what=what,
                 min_shift=min_shift)  # fmt: skip


def _votes(log_ratio: Column, log_se: Column) -> tuple[np.ndarray, np.ndarray]:
    r, s = np.asarray(log_ratio, dtype=float), np.asarray(log_se, dtype=float)
    keep = np.isfinite(r) & np.isfinite(s) & (s > 0)  # s = 0: time resolution, not precision
    return r[keep], s[keep]


def _median_variance(
    s: np.ndarray, tau: float, k: int | np.ndarray, total: float | np.ndarray | None = None
) -> float | np.ndarray:
    """Variance of the median of `k` independent normals of sds sqrt(s^2 + tau^2):
    pi/2 * k / (sum 1/sigma)^2 (`total`: that sum, when given)."""
    if total is None:
        total = np.sum(1 / np.sqrt(s**2 + tau**2))  # s > 0: votes
    return np.pi / 2 * k / np.maximum(total, 1e-300) ** 2


def _spread(
    residuals: np.ndarray, s: np.ndarray, extra: Callable[[float], float | np.ndarray]
) -> float:
    """tau >= 0, in two stages. A robust one (the 40th percentile of |z| equals a normal's,
    0.524) marks the keys that stand out (|z| > 2.5) and leaves them out. On the others,
    z^2 clipped at 2.5^2 (so a changed key the first stage missed weighs little): a test
    of heterogeneity (their sum against its law under tau = 0, one-sided 5 %; 0 when it does
    not reject, so noise alone never widens the intervals), then Paule-Mandel's moment
    equation (the mean equals a normal's), which lets the precise keys set the spread."""

    def z(tau: float) -> np.ndarray:
        out: np.ndarray = np.abs(residuals) / np.sqrt(s**2 + tau**2 + extra(tau))  # s > 0: votes
        return out

    rough = _solve(lambda t: float(np.quantile(z(t), _SPREAD_QUANTILE)) - _NORMAL_QUANTILE_ABS,
                   residuals)  # fmt: skip
    inliers = z(rough) <= _CLIP
    n = int(inliers.sum())
    if n < 2:
        return rough
    clipped = np.minimum(z(0.0)[inliers] ** 2, _CLIP**2).sum()
    if clipped <= n * _CLIPPED_MEAN + _HETEROGENEITY_Z * np.sqrt(n * _CLIPPED_VAR):
        return 0.0
    return _solve(lambda t: float(np.mean(np.minimum(z(t)[inliers] ** 2, _CLIP**2)))
                  - _CLIPPED_MEAN, residuals)  # fmt: skip


def _clipped_moments(c: float) -> tuple[float, float]:
    """Mean and variance of min(Z^2, c^2) for a standard normal Z."""
    inside = 2 * stats.norm.cdf(c) - 1
    tail = 1 - inside
    density = stats.norm.pdf(c)
    second = inside - 2 * c * density + c**2 * tail
    fourth = 3 * inside - 2 * density * (c**3 + 3 * c) + c**4 * tail
    return second, fourth - second**2


_CLIP = 2.5
_CLIPPED_MEAN, _CLIPPED_VAR = _clipped_moments(_CLIP)
_HETEROGENEITY_Z = stats.norm.ppf(0.95)


def _solve(excess: Callable[[float], float], residuals: np.ndarray) -> float:
    """The smallest tau >= 0 where the decreasing function `excess` reaches 0 (bisection)."""
    if excess(0.0) <= 0:
        return 0.0
    low, high = 0.0, float(np.max(np.abs(residuals))) * 4 + 1e-12
    for _ in range(60):
        middle = (low + high) / 2
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    return high


def _leave_one_out_median(r: np.ndarray) -> np.ndarray:
    """For each element, the median of the others (of an even count, the middle value
    nearer to the element: with 5 keys of which 2 changed, the average of the two middle
    ones would drag every residual towards the changed keys)."""
    k = len(r)
    order = np.argsort(r)  # ties: either order, the others' values are the same
    ranked = r[order]
    position = np.empty_like(order)
    position[order] = np.arange(k)

    def rest(i: int) -> np.ndarray:  # the i-th smallest of the others
        return ranked[np.where(i < position, i, np.minimum(i + 1, k - 1))]

    m = k - 1
    if m % 2:
        return rest(m // 2)
    low, high = rest(m // 2 - 1), rest(m // 2)  # of the two middle values, the nearer one:
    return np.where(np.abs(r - low) <= np.abs(r - high), low, high)  # a change stays in view


def _relative(out: pd.DataFrame, small: np.ndarray, min_keys: int, min_shift: float, what: str,
              confidence: float, votes: tuple[Column, Column] | None, min_spread: float,
              ) -> tuple[Shift, dict[str, np.ndarray]]:  # fmt: skip
    """The shift and each key's relative ratio, interval and p-value (LOO shift, or the
    shift of `votes`)."""
    z_crit = stats.norm.ppf(0.5 + confidence / 2)
    ok = ~small
    with np.errstate(divide="ignore"):  # a ratio of 0: log -inf
        r50 = np.where(ok, np.log(out["ratio"].to_numpy(dtype=float)), np.nan)
        r95 = np.where(ok, np.log(out["p95_ratio"].to_numpy(dtype=float)), np.nan)
    s50, s95 = (out[c].to_numpy(dtype=float) for c in ("log_se", "p95_log_se"))
    if votes is not None:
        shift = estimate_shift(*votes, min_keys, min_shift, what, confidence, min_spread)
        center50, z50, half50 = _against_votes(r50, s50, shift, votes, z_crit)
        center95 = z95 = half95 = np.full(len(r50), np.nan)
    else:
        shift = estimate_shift(r50, s50, min_keys, min_shift, what, confidence, min_spread)
        center50, z50, half50 = _against_shift(r50, s50, shift.estimated, z_crit, min_spread)
        center95, z95, half95 = _against_shift(r95, s95, shift.estimated, z_crit, min_spread)
    tails = _votes(r95, s95)[0]
    if shift.estimated and len(tails) >= min_keys:
        shift = Shift(**{**asdict(shift), "p95_factor": float(np.exp(np.median(tails)))})
    p50 = 2 * stats.norm.sf(np.abs(z50))
    p95 = 2 * stats.norm.sf(np.abs(z95))
    p_rel = np.where(np.isnan(p95), p50, np.minimum(1.0, 2 * np.fmin(p50, p95)))
    p_rel = np.where(ok, p_rel, np.nan)
    relative = {
        "rel_ratio": np.exp(center50),
        "rel_ci_low": np.exp(center50 - half50), "rel_ci_high": np.exp(center50 + half50),
        "rel_p95_ratio": np.exp(center95),
        "_rel_p95_ci_low": np.exp(center95 - half95), "_rel_p95_ci_high": np.exp(center95 + half95),
        "rel_p_value": p_rel,
    }  # fmt: skip
    return shift, relative


def _against_votes(r: np.ndarray, s: np.ndarray, shift: Shift, votes: tuple[Column, Column],
                   z_crit: float) -> Triple:  # fmt: skip
    """Per key: log ratio minus a shift estimated from other figures, with its variance."""
    if not shift.estimated:
        center, se = r, s
    else:
        _, sv = _votes(*votes)
        center = r - np.log(shift.factor)
        se = np.sqrt(s**2 + shift.spread**2 + _median_variance(sv, shift.spread, len(sv)))
    with np.errstate(divide="ignore", invalid="ignore"):
        # no error known (a NaN standard error): no z either, never a certain +-inf
        z = np.where(se > 0, center / se, np.where(np.isnan(se), np.nan,
                     np.where(center == 0, 0.0, np.sign(center) * np.inf)))  # fmt: skip
    return center, z, z_crit * se


def _against_shift(r: np.ndarray, s: np.ndarray, estimated: bool, z_crit: float,
                   min_spread: float = 0.0) -> Triple:  # fmt: skip
    """Per key: log ratio minus the leave-one-out shift, its z and its interval half-width.
    Without an estimated shift the relative reading is the raw one (shift 1, no extra error)."""
    center, se = r.copy(), s.copy()
    votes = np.isfinite(r) & np.isfinite(s) & (s > 0)
    if estimated and votes.sum() >= 2:
        rv, sv = r[votes], s[votes]
        loo = _leave_one_out_median(rv)
        k = len(rv)
        tau = max(min_spread, _spread(rv - loo, sv, lambda t: _median_variance(sv, t, k - 1)))
        inverse = 1 / np.sqrt(sv**2 + tau**2)  # s > 0: votes
        # the median of the k - 1 others: pi/2 (k - 1) / (sum of the others' 1/sigma)^2
        variance = np.pi / 2 * (k - 1) / (inverse.sum() - inverse) ** 2
        center[votes] = rv - loo
        se[votes] = np.sqrt(sv**2 + tau**2 + variance)
        others = np.isfinite(r) & ~votes  # e.g. an infinite ratio: against the full shift
        center[others] = r[others] - np.median(rv)
    with np.errstate(divide="ignore", invalid="ignore"):
        # no error known (a NaN standard error): no z either, never a certain +-inf
        z = np.where(se > 0, center / se, np.where(np.isnan(se), np.nan,
                     np.where(center == 0, 0.0, np.sign(center) * np.inf)))  # fmt: skip
    return center, z, z_crit * se
