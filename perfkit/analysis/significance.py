"""Two samples per key, baseline against candidate: the statistical core of every comparison.

`compare`, `compare_queries` and `compare_profiles` all end here. Per key
(a route, a query, a function):

- the change is the ratio of a location statistic, candidate / baseline
  (the median by default; the mean where most values are zero, as for a
  function's time per request), with a percentile bootstrap confidence
  interval; the p95 ratio has one too. Quantiles are resampled exactly
  from their order-statistic distribution (no loop, no index matrix); means
  by resampling in bounded chunks. Seeded: the same input gives the same interval.
- the test is Mann–Whitney U, two-sided (`scipy.stats.mannwhitneyu`): it
  assumes independent observations within and between the sides and
  nothing about their shape, so heavy tails do not fool it.
- p-values are adjusted across keys, Holm (family-wise error) by default or
  Benjamini–Hochberg (false discovery rate).
- the verdict is the shared rule of `perfkit.analysis.regression.verdict`
  (``insufficient data`` when a side has fewer than `min_n` values or the
  sizes cannot reach `alpha` at all, the smallest two-sided U p-value being
  ``2 / C(n1 + n2, n1)``; the rank test gates every raw verdict, so Holm's
  bound on false alarms holds whichever ratio decides; with `normalize`,
  each key against the run-wide shift as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

VERDICTS = ("regressed", "improved", "moved with shift", "unchanged", "insufficient data")
COLUMNS = [
    "n_base", "n_cand", "p50_base", "p50_cand", "p95_base", "p95_cand",
    "ratio", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict", "test",
    "p95_ratio", "p95_ci_low", "p95_ci_high",
]  # fmt: skip
_CHUNK_ELEMENTS = 2_000_000


def compare_samples(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    key: str | Sequence[str],
    value: str,
    statistic: str = "median",
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs: float = 1.0,
    min_n: int = 5,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    normalize: bool = False,
    min_keys: int = 5,
    what: str = "keys",
) -> pd.DataFrame:
    """The comparison frame: one row per key present on either side (see the module docstring),
    judged by the shared rule (`perfkit.analysis.regression.verdict.judge`; `normalize` judges
    each key against the run-wide shift too, ``attrs["shift"]``).

    `value` is the column compared (e.g. ``duration_ms``); `min_abs` is in its
    unit. Keys missing on one side count as insufficient data.
    """
    from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge

    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', not {statistic!r}")
    keys = [key] if isinstance(key, str) else list(key)
    groups_base = _groups(base, keys, value)
    groups_cand = _groups(cand, keys, value)
    rng = np.random.default_rng(seed)
    rows, index = [], []
    for k in sorted(set(groups_base) | set(groups_cand), key=str):
        x, y = groups_base.get(k, np.empty(0)), groups_cand.get(k, np.empty(0))
        rows.append(_one(x, y, statistic, min_n, n_boot, confidence, rng))
        index.append(k)
    out = pd.DataFrame(rows, columns=_STAT_COLUMNS)
    out.index = (
        pd.MultiIndex.from_tuples(index, names=keys)
        if len(keys) > 1
        else pd.Index(index, name=keys[0])
    )
    n1, n2 = out["n_base"].to_numpy(), out["n_cand"].to_numpy()
    small = (n1 < min_n) | (n2 < min_n) | np.array(
        [min_p_value(int(a), int(b)) > alpha for a, b in zip(n1, n2, strict=True)], dtype=bool
    )
    location = ("p50_base", "p50_cand") if statistic == "median" else ("mean_base", "mean_cand")
    out = judge(out, location, alpha=alpha, correction=correction, min_ratio=min_ratio,
                min_abs=min_abs, normalize=normalize, min_keys=min_keys, insufficient=small,
                what=what, confidence=confidence)  # fmt: skip
    out["test"] = f"Mann-Whitney U; bootstrap {statistic} ratio"
    shift = out.attrs["shift"]
    return out[[*COLUMNS, *EXTRA_COLUMNS, "mean_base", "mean_cand"]].pipe(_keep_attrs, shift)


def _keep_attrs(frame: pd.DataFrame, shift: object) -> pd.DataFrame:
    frame.attrs["shift"] = shift
    return frame


_STAT_COLUMNS = [
    "n_base", "n_cand", "p50_base", "p50_cand", "p95_base", "p95_cand", "mean_base", "mean_cand",
    "ratio", "ci_low", "ci_high", "log_se", "p_value",
    "p95_ratio", "p95_ci_low", "p95_ci_high", "p95_log_se",
]  # fmt: skip


def _groups(frame: pd.DataFrame, keys: list[str], value: str) -> dict[Any, np.ndarray]:
    clean = frame[[*keys, value]].dropna(subset=[value])
    by = keys[0] if len(keys) == 1 else keys
    return {
        k: g.to_numpy(dtype=np.float64)
        for k, g in clean.groupby(by, observed=True, sort=False)[value]
    }


def _one(
    x: np.ndarray, y: np.ndarray, statistic: str, min_n: int, n_boot: int, confidence: float,
    rng: np.random.Generator,
) -> list[float]:  # fmt: skip
    (p50_x, p95_x), (p50_y, p95_y) = _percentiles(x), _percentiles(y)
    means = [float(x.mean()) if len(x) else np.nan, float(y.mean()) if len(y) else np.nan]
    head = [len(x), len(y), p50_x, p50_y, p95_x, p95_y, *means]
    if len(x) < min_n or len(y) < min_n:
        return [*head, *[np.nan] * 9]
    center = np.median if statistic == "median" else np.mean
    ratio = _ratio(center(y), center(x))
    low, high, log_se = _bootstrap(x, y, statistic, n_boot, confidence, rng)
    p_value = stats.mannwhitneyu(y, x, alternative="two-sided").pvalue
    tail = [_ratio(p95_y, p95_x), *_bootstrap(x, y, 0.95, n_boot, confidence, rng)]
    return [*head, ratio, low, high, log_se, float(p_value), *tail]


def _percentiles(x: np.ndarray) -> tuple[float, float]:
    if not len(x):
        return (np.nan, np.nan)
    p50, p95 = np.percentile(x, [50, 95])
    return (float(p50), float(p95))


def _ratio(top: float, bottom: float) -> float:
    if bottom == 0:
        return np.nan if top == 0 else np.inf
    return top / bottom


def bootstrap_ratio(
    x: np.ndarray, y: np.ndarray, statistic: str | float, n_boot: int, confidence: float,
    rng: np.random.Generator,
) -> tuple[float, float]:  # fmt: skip
    """Percentile bootstrap interval of statistic(y) / statistic(x); `statistic` is
    ``"median"``, ``"mean"`` or a quantile in (0, 1) (e.g. 0.95 for p95)."""
    low, high, _ = _bootstrap(x, y, statistic, n_boot, confidence, rng)
    return (low, high)


def _bootstrap(
    x: np.ndarray, y: np.ndarray, statistic: str | float, n_boot: int, confidence: float,
    rng: np.random.Generator,
) -> tuple[float, float, float]:  # fmt: skip
    """(low, high, standard error of the log ratio) from the bootstrap draws."""
    if statistic == "mean":
        bx, by = _mean_draws(x, n_boot, rng), _mean_draws(y, n_boot, rng)
    else:
        q = 0.5 if statistic == "median" else float(statistic)
        bx, by = _quantile_draws(x, q, n_boot, rng), _quantile_draws(y, q, n_boot, rng)
    return interval_from_draws(bx, by, confidence)


def interval_from_draws(bx: np.ndarray, by: np.ndarray, confidence: float
                        ) -> tuple[float, float, float]:  # fmt: skip
    """Percentile interval of the draws' ratio by / bx, and the standard deviation of its log
    (NaN when a draw is zero or infinite on either side)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = by / bx
        logs = np.log(ratios)
    ratios = ratios[~np.isnan(ratios)]
    if not len(ratios):
        return (np.nan, np.nan, np.nan)
    tail = round((1 - confidence) / 2 * 100, 9)  # 2.5 for 0.95, not 2.5000000000000022
    # order statistics, no interpolation: a ratio over a zero baseline is inf, and inf - inf
    low, high = np.percentile(ratios, [tail, 100 - tail], method="inverted_cdf")
    finite = logs[np.isfinite(logs)]
    log_se = float(np.std(finite, ddof=1)) if len(finite) == len(logs) and len(logs) > 1 else np.nan
    return (float(low), float(high), log_se)


def _quantile_draws(x: np.ndarray, q: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap quantiles drawn from their exact distribution over the order statistics.

    The resample's q quantile is taken as its k-th smallest value, k = floor(q (n - 1)) + 1
    (the lower median for q = 0.5). It is at or below the j-th smallest value of
    `x` when at least k of its n draws are: P = BinomialSF(k - 1; n, j / n).
    No resample is materialised, so this costs O(n log n) whatever `n_boot` is.
    """
    ordered = np.sort(x)
    n = len(ordered)
    k = int(np.floor(q * (n - 1))) + 1
    cdf = stats.binom.sf(k - 1, n, np.arange(1, n + 1) / n)
    drawn: np.ndarray = ordered[np.minimum(np.searchsorted(cdf, rng.random(n_boot)), n - 1)]
    return drawn


def _mean_draws(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means by resampling, in chunks of bounded size."""
    n = len(x)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    means = [
        x[rng.integers(0, n, size=(min(per_chunk, n_boot - done), n))].mean(axis=1)
        for done in range(0, n_boot, per_chunk)
    ]
    return np.concatenate(means)


def adjust(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """p-values adjusted across keys: ``"holm"`` or ``"bh"`` (Benjamini–Hochberg); NaN kept."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(len(p), np.nan)
    valid = ~np.isnan(p)
    q = p[valid]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum((m - np.arange(m)) * ranked, 1.0))
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        adjusted = np.minimum.accumulate((m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
        adjusted = np.minimum(adjusted, 1.0)
    else:
        raise ValueError(f"correction must be 'holm' or 'bh', not {method!r}")
    result = np.empty(m)
    result[order] = adjusted
    out[valid] = result
    return out


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided Mann–Whitney p-value samples of these sizes can give."""
    ways = comb(n1 + n2, n1)
    return min(1.0, 2.0 / ways) if ways < 10**300 else 0.0
