"""Summaries and comparisons of Dask request frames through mergeable sketches: no raw row moves.

Each partition is reduced where it lies to, per route: the count, the 4xx
and 5xx counts, the sum and the maximum of the latency, and a
`LatencySketch`; the reductions are added up in a tree (counts, sums and
maxima exactly; sketches by adding bucket counts). Counts and error rates
are therefore exact, means exact to rounding, and percentiles within the
sketch's relative error (``alpha``, 1 % by default) of the exact lower
order statistic.

`compare_sketches` is the rank test and the bootstrap on the sketches
themselves: Mann–Whitney U on the bucketed values (every value replaced
by its bucket's representative; ties within a bucket are ties), which is
exactly what ``scipy.stats.mannwhitneyu`` (asymptotic, continuity
corrected) computes on those values, and order-statistic bootstrap
intervals drawn from bucket ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.sketch import LatencySketch
from perfkit.analysis.summary import PERCENTILES

if TYPE_CHECKING:
    from perfkit.analysis.regression.requests import MixAdjusted


@dataclass
class RouteTotals:
    """Exact totals and a sketch for one group."""

    count: int = 0
    errors: int = 0
    client_errors: int = 0
    latency_n: int = 0
    total: float = 0.0
    maximum: float = float("-inf")
    sketch: LatencySketch = field(default_factory=LatencySketch)

    def merge(self, other: RouteTotals) -> RouteTotals:
        self.count += other.count
        self.errors += other.errors
        self.client_errors += other.client_errors
        self.latency_n += other.latency_n
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)
        self.sketch.merge(other.sketch)
        return self


Totals = dict[Hashable, RouteTotals]  # per group (route, ...): its totals


def partition_totals(frame: pd.DataFrame, by: str, metric: str, alpha: float) -> Totals:
    """Per group of one partition: its `RouteTotals` (only three columns are touched)."""
    keys = frame[by]
    codes, groups = pd.factorize(keys.astype(str) if isinstance(keys.dtype, pd.CategoricalDtype)
                                 else keys, use_na_sentinel=True)  # fmt: skip
    status = pd.to_numeric(frame["status"], errors="coerce").to_numpy(dtype="float64")
    values = frame[metric].to_numpy(dtype="float64", na_value=np.nan)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(groups) + 1))
    out: Totals = {}
    for g, key in enumerate(groups):
        rows = order[bounds[g] : bounds[g + 1]]
        v, s = values[rows], status[rows]
        present = v[~np.isnan(v)]
        out[key] = RouteTotals(
            count=len(rows), errors=int((s >= 500).sum()),
            client_errors=int(((s >= 400) & (s < 500)).sum()),
            latency_n=len(present), total=float(present.sum()),
            maximum=float(present.max()) if len(present) else float("-inf"),
            sketch=LatencySketch(alpha).add(present),
        )  # fmt: skip
    return out


def merge_totals(parts: Sequence[Totals]) -> Totals:
    merged: Totals = {}
    for part in parts:
        for key, totals in part.items():
            if key in merged:
                merged[key].merge(totals)
            else:
                merged[key] = RouteTotals(sketch=LatencySketch(totals.sketch.alpha)).merge(totals)
    return merged


def totals(frame: Any, by: str = "route", metric: str = "duration_ms", alpha: float = 0.01
           ) -> Totals:  # fmt: skip
    """Per-group totals of a Dask frame, reduced partition by partition in a tree."""
    import dask

    parts = [dask.delayed(partition_totals)(p, by, metric, alpha) for p in frame.to_delayed()]
    while len(parts) > 1:  # a tree of merges, eight at a time
        parts = [dask.delayed(merge_totals)(parts[i : i + 8]) for i in range(0, len(parts), 8)]
    return cast(Totals, dask.compute(parts[0])[0])


def summarize_totals(groups: Totals, percentiles: Sequence[float] = PERCENTILES) -> pd.DataFrame:
    """The `summarize` table from merged totals."""
    rows = {}
    for key, t in groups.items():
        row = {
            "count": t.count, "error_rate": t.errors / t.count,
            "client_error_rate": t.client_errors / t.count,
            "mean_ms": t.total / t.latency_n if t.latency_n else np.nan,
        }  # fmt: skip
        quantiles = t.sketch.quantile([p / 100 for p in percentiles]) if t.latency_n else None
        for i, p in enumerate(percentiles):
            row[f"p{p:g}_ms"] = float(quantiles[i]) if quantiles is not None else np.nan
        row["max_ms"] = t.maximum if t.latency_n else np.nan
        rows[key] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    return out.sort_values("count", ascending=False, kind="stable")


def is_dask(frame: object) -> bool:
    """Whether `frame` is a Dask collection (checked without importing Dask)."""
    return type(frame).__module__.startswith("dask")


def _binned(sketch: LatencySketch) -> tuple[np.ndarray, np.ndarray]:
    """(representative value, count) per occupied bucket, ascending."""
    occupied = np.flatnonzero(sketch.counts)
    values = 2 * sketch.gamma ** (occupied + sketch.offset) / (sketch.gamma + 1)
    counts = sketch.counts[occupied]
    if sketch.zero_count:
        values = np.concatenate([[0.0], values])
        counts = np.concatenate([[sketch.zero_count], counts])
    return values, counts


def mannwhitney_binned(x: LatencySketch, y: LatencySketch) -> float:
    """Two-sided asymptotic Mann–Whitney p-value of y against x on bucketed
    values (tie-corrected, continuity-corrected: scipy's ``method="asymptotic"``)."""
    vx, cx = _binned(x)
    vy, cy = _binned(y)
    values = np.union1d(vx, vy)
    nx = np.zeros(len(values))
    ny = np.zeros(len(values))
    nx[np.searchsorted(values, vx)] = cx
    ny[np.searchsorted(values, vy)] = cy
    n1, n2 = nx.sum(), ny.sum()
    below_x = np.cumsum(nx) - nx
    u = float(np.sum(ny * (below_x + nx / 2)))  # U of y: x values below, ties count half
    ties = nx + ny
    total = n1 + n2
    variance = n1 * n2 / 12 * ((total + 1) - np.sum(ties**3 - ties) / (total * (total - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / np.sqrt(variance)
    return float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))


def quantile_draws_binned(
    sketch: LatencySketch, q: float, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap draws of the `q` quantile from the bucket counts (see
    `significance._quantile_draws`: the same order-statistic law, on bucket ranks)."""
    values, counts = _binned(sketch)
    n = int(counts.sum())
    k = int(np.floor(q * (n - 1))) + 1
    cumulative = np.cumsum(counts)
    cdf = stats.binom.sf(k - 1, n, cumulative / n)  # P(resampled quantile <= bucket's top rank)
    drawn: np.ndarray = values[
        np.minimum(np.searchsorted(cdf, rng.random(n_boot)), len(values) - 1)
    ]
    return drawn


def compare_sketches(
    base: Totals, cand: Totals, alpha: float = 0.05, correction: str = "holm",
    min_ratio: float = 0.05, min_abs: float = 1.0, min_n: int = 20, n_boot: int = 2000,
    confidence: float = 0.95, seed: int = 0, normalize: bool = True, min_keys: int = 5,
) -> pd.DataFrame:  # fmt: skip
    """The comparison frame from per-group totals of two runs (see the module docstring),
    judged by the shared rule with the run-wide shift, as `compare` does on raw rows
    (``attrs["shift"]``)."""
    from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge
    from perfkit.analysis.significance import COLUMNS, interval_from_draws, min_p_value

    rng = np.random.default_rng(seed)
    rows = {}
    for key in sorted(set(base) | set(cand), key=str):
        x, y = base.get(key), cand.get(key)
        n1 = x.latency_n if x else 0
        n2 = y.latency_n if y else 0
        row: dict[str, Any] = {"n_base": n1, "n_cand": n2}
        for side, t in (("base", x), ("cand", y)):
            p50, p95 = t.sketch.quantile([0.5, 0.95]) if t and t.latency_n else (np.nan, np.nan)
            row[f"p50_{side}"], row[f"p95_{side}"] = float(p50), float(p95)
        if n1 < min_n or n2 < min_n or min_p_value(n1, n2) > alpha:
            rows[key] = {**row, "p_value": np.nan}
            continue
        assert x is not None and y is not None  # n1, n2 >= min_n
        row["ratio"] = row["p50_cand"] / row["p50_base"] if row["p50_base"] else np.nan
        row["p95_ratio"] = row["p95_cand"] / row["p95_base"] if row["p95_base"] else np.nan
        for q, prefix in ((0.5, ""), (0.95, "p95_")):
            low, high, log_se = interval_from_draws(
                quantile_draws_binned(x.sketch, q, n_boot, rng),
                quantile_draws_binned(y.sketch, q, n_boot, rng), confidence,
            )  # fmt: skip
            row[f"{prefix}ci_low"], row[f"{prefix}ci_high"] = low, high
            row[f"{prefix}log_se"] = log_se
        row["p_value"] = mannwhitney_binned(x.sketch, y.sketch)
        rows[key] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    for column in [*COLUMNS, "log_se", "p95_log_se"]:
        if column not in out:
            out[column] = np.nan
    out = judge(out, ("p50_base", "p50_cand"), alpha=alpha, correction=correction,
                min_ratio=min_ratio, min_abs=min_abs, normalize=normalize, min_keys=min_keys,
                what="endpoints", confidence=confidence)  # fmt: skip
    out["test"] = "Mann-Whitney U on sketch buckets; bootstrap from bucket ranks"
    out.index.name = "route"
    shift = out.attrs["shift"]
    out = out[[*COLUMNS, *EXTRA_COLUMNS]]
    out.attrs["shift"] = shift
    return out


def mix_from_totals(base: Totals, cand: Totals) -> MixAdjusted:
    """`regression.mix_adjusted_change` from per-group totals (means and counts are exact)."""
    from perfkit.analysis.regression.requests import MixAdjusted

    n = {k: t.latency_n for k, t in base.items() if t.latency_n}
    weights = {k: v / sum(n.values()) for k, v in n.items()}
    base_mean = {k: base[k].total / base[k].latency_n for k in n}
    cand_mean = {k: cand[k].total / cand[k].latency_n for k in n if k in cand and cand[k].latency_n}
    missing = tuple(str(k) for k in n if k not in cand_mean)

    def overall(groups: Totals) -> float:
        count = sum(t.latency_n for t in groups.values())
        return sum(t.total for t in groups.values()) / count if count else float("nan")

    adjusted = sum(weights[k] * cand_mean.get(k, base_mean[k]) for k in n)
    return MixAdjusted(overall(base), overall(cand), adjusted, missing)


def error_counts_from_totals(groups: Totals) -> pd.DataFrame:
    """`regression.errors.error_counts` from per-group totals (exact counts)."""
    return pd.DataFrame(
        {"n": [t.count for t in groups.values()], "errors": [t.errors for t in groups.values()],
         "client": [t.client_errors for t in groups.values()]},
        index=pd.Index([str(k) for k in groups], name="route"), dtype=float,
    ).sort_index()  # fmt: skip
