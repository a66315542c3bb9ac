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
- the verdict is ``insufficient data`` when a side has fewer than `min_n`
  values or when the sizes cannot reach `alpha` at all (the smallest
  two-sided U p-value is ``2 / C(n1 + n2, n1)``); ``regressed`` or
  ``improved`` only when the adjusted p-value is below `alpha` and either
  the location ratio's interval excludes 1 on that side with the change
  clearing the practical floor (at least `min_ratio` relative and `min_abs`
  in the value's unit), or the p95 ratio does the same (a slower tail with
  an unchanged median); otherwise ``unchanged``. The rank test gates every
  verdict, so Holm's bound on false alarms holds whichever ratio decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
import pandas as pd
from scipy import stats

VERDICTS = ("regressed", "improved", "unchanged", "insufficient data")
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
) -> pd.DataFrame:
    """The comparison frame: one row per key present on either side (see the module docstring).

    `value` is the column compared (e.g. ``duration_ms``); `min_abs` is in its
    unit. Keys missing on one side count as insufficient data.
    """
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', not {statistic!r}")
    keys = [key] if isinstance(key, str) else list(key)
    groups_base = _groups(base, keys, value)
    groups_cand = _groups(cand, keys, value)
    rng = np.random.default_rng(seed)
    rows, index = [], []
    for k in sorted(set(groups_base) | set(groups_cand), key=str):
        x, y = groups_base.get(k, np.empty(0)), groups_cand.get(k, np.empty(0))
        rows.append(_one(x, y, statistic, min_n, alpha, n_boot, confidence, rng))
        index.append(k)
    out = pd.DataFrame(rows, columns=[*COLUMNS[:10], *COLUMNS[-3:]])
    out.index = (
        pd.MultiIndex.from_tuples(index, names=keys)
        if len(keys) > 1
        else pd.Index(index, name=keys[0])
    )
    out["p_adjusted"] = adjust(out["p_value"].to_numpy(), correction)
    out["verdict"] = _verdicts(
        out, statistic, alpha, min_ratio, min_abs, min_n, groups_base, groups_cand
    )
    out["test"] = f"Mann-Whitney U; bootstrap {statistic} ratio"
    return out[COLUMNS]


def _groups(frame: pd.DataFrame, keys: list[str], value: str) -> dict:
    clean = frame[[*keys, value]].dropna(subset=[value])
    by = keys[0] if len(keys) == 1 else keys
    return {
        k: g.to_numpy(dtype=np.float64)
        for k, g in clean.groupby(by, observed=True, sort=False)[value]
    }


def _one(x, y, statistic, min_n, alpha, n_boot, confidence, rng) -> list:
    (p50_x, p95_x), (p50_y, p95_y) = _percentiles(x), _percentiles(y)
    head = [len(x), len(y), p50_x, p50_y, p95_x, p95_y]
    if len(x) < min_n or len(y) < min_n:
        return [*head, *[np.nan] * 7]
    center = np.median if statistic == "median" else np.mean
    ratio = _ratio(center(y), center(x))
    low, high = bootstrap_ratio(x, y, statistic, n_boot, confidence, rng)
    p_value = stats.mannwhitneyu(y, x, alternative="two-sided").pvalue
    tail = [_ratio(p95_y, p95_x), *bootstrap_ratio(x, y, 0.95, n_boot, confidence, rng)]
    return [*head, ratio, low, high, float(p_value), *tail]


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
    x: np.ndarray, y: np.ndarray, statistic: str | float, n_boot: int, confidence: float, rng
) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(y) / statistic(x); `statistic` is
    ``"median"``, ``"mean"`` or a quantile in (0, 1) (e.g. 0.95 for p95)."""
    if statistic == "mean":
        bx, by = _mean_draws(x, n_boot, rng), _mean_draws(y, n_boot, rng)
    else:
        q = 0.5 if statistic == "median" else float(statistic)
        bx, by = _quantile_draws(x, q, n_boot, rng), _quantile_draws(y, q, n_boot, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = by / bx
    ratios = ratios[~np.isnan(ratios)]
    if not len(ratios):
        return (np.nan, np.nan)
    tail = (1 - confidence) / 2 * 100
    # order statistics, no interpolation: a ratio over a zero baseline is inf, and inf - inf
    low, high = np.percentile(ratios, [tail, 100 - tail], method="inverted_cdf")
    return (float(low), float(high))


def _quantile_draws(x: np.ndarray, q: float, n_boot: int, rng) -> np.ndarray:
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
    return ordered[np.minimum(np.searchsorted(cdf, rng.random(n_boot)), n - 1)]


def _mean_draws(x: np.ndarray, n_boot: int, rng) -> np.ndarray:
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


def _tail_change(row, min_ratio: float, min_abs: float) -> tuple[bool, bool]:
    """Whether p95 moved up / down by more than the floor with its interval excluding 1."""
    change = row.p95_cand - row.p95_base
    if not abs(change) >= min_abs or not abs(row.p95_ratio - 1) >= min_ratio:
        return (False, False)
    return (bool(row.p95_ci_low > 1), bool(row.p95_ci_high < 1))


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided Mann–Whitney p-value samples of these sizes can give."""
    ways = comb(n1 + n2, n1)
    return min(1.0, 2.0 / ways) if ways < 10**300 else 0.0


def _verdicts(
    out, statistic, alpha, min_ratio, min_abs, min_n, groups_base, groups_cand
) -> list[str]:
    center = np.median if statistic == "median" else np.mean
    verdicts = []
    for k, row in zip(out.index, out.itertuples(index=False), strict=True):
        n1, n2 = int(row.n_base), int(row.n_cand)
        if n1 < min_n or n2 < min_n or min_p_value(n1, n2) > alpha:
            verdicts.append("insufficient data")
            continue
        change = center(groups_cand[k]) - center(groups_base[k])
        practical = abs(change) >= min_abs and (
            np.isinf(row.ratio) or abs(row.ratio - 1) >= min_ratio
        )
        significant = row.p_adjusted < alpha
        tail_up, tail_down = _tail_change(row, min_ratio, min_abs)
        if significant and ((practical and row.ci_low > 1) or tail_up):
            verdicts.append("regressed")
        elif significant and ((practical and row.ci_high < 1) or tail_down):
            verdicts.append("improved")
        else:
            verdicts.append("unchanged")
    return verdicts


def summary_verdicts(
    out: pd.DataFrame, alpha: float, min_ratio: float, min_abs: float, base: str, cand: str
) -> np.ndarray:
    """Verdicts for tests on summaries (Welch from means, z from percentiles): the rules of
    `compare_samples` on columns already computed - `base`/`cand` are the location columns
    (e.g. ``mean_ms_base``), and p95 columns count when present and filled."""
    change = (out[cand] - out[base]).abs()
    practical = (change >= min_abs) & ((out["ratio"] - 1).abs() >= min_ratio)
    up, down = practical & (out["ci_low"] > 1), practical & (out["ci_high"] < 1)
    if "p95_ratio" in out:
        tail = ((out["p95_cand"] - out["p95_base"]).abs() >= min_abs) & (
            (out["p95_ratio"] - 1).abs() >= min_ratio
        )
        up |= tail & (out["p95_ci_low"] > 1)
        down |= tail & (out["p95_ci_high"] < 1)
    significant = out["p_adjusted"] < alpha
    return np.select(
        [out["p_value"].isna(), significant & up, significant & down],
        ["insufficient data", "regressed", "improved"], "unchanged",
    )  # fmt: skip
