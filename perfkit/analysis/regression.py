"""Request-level regression comparison: per route, and overall with the traffic mix held fixed.

`compare` applies the statistical core (`perfkit.analysis.significance`:
Mann–Whitney U, bootstrap median ratio, Holm, practical floor) to two
requests frames. `mix_adjusted_change` answers "is the service slower?"
without being fooled by a change of traffic mix: each side's per-route mean
is weighted by the *baseline's* route shares, so a release that moves
traffic to cheap endpoints cannot hide a per-route regression (and one that
moves traffic to expensive endpoints is not blamed for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfkit.analysis.significance import compare_samples


def compare(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    by: str = "route",
    metric: str = "duration_ms",
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs: float = 1.0,
    min_n: int = 20,
    seed: int = 0,
    normalize: bool = False,
) -> pd.DataFrame:
    """The comparison frame per `by` (see DESIGN.md): medians, p95s, ratio with its interval,
    p-values and the verdict; `min_abs` is in the unit of `metric` (1 ms by default).

    With `normalize`, the run-wide shift (`common_shift`: every endpoint a bit slower on a
    busier machine) is divided out of the candidate before testing, so the ratios,
    intervals, tests and verdicts say how each key moved *relative to the rest of the
    service*; ``p50_cand``/``p95_cand`` stay the raw values and ``attrs["shift"]`` holds the
    factor. Use it when runs come from different machines or times; report the shift beside.
    The intervals do not carry the shift's own uncertainty (about 1 % with a few thousand
    requests), so they are that much too narrow.
    """
    if any(type(f).__module__.startswith("dask") for f in (baseline, candidate)):
        from perfkit.analysis.distributed import compare_sketches, totals

        return compare_sketches(
            totals(baseline, by, metric), totals(candidate, by, metric), alpha=alpha,
            correction=correction, min_ratio=min_ratio, min_abs=min_abs, min_n=min_n, seed=seed,
            normalize=normalize,
        )  # fmt: skip
    shift = common_shift(baseline, candidate, by, metric, min_n) if normalize else 1.0
    scaled = candidate.assign(**{metric: candidate[metric] / shift}) if shift != 1.0 else candidate
    out = compare_samples(
        baseline, scaled, by, metric, statistic="median", alpha=alpha, correction=correction,
        min_ratio=min_ratio, min_abs=min_abs, min_n=min_n, seed=seed,
    )  # fmt: skip
    if shift != 1.0:
        for column, q in (("p50_cand", 50), ("p95_cand", 95)):
            raw = candidate.dropna(subset=[metric]).groupby(by, observed=True)[metric]
            out[column] = raw.quantile(q / 100).reindex(out.index).to_numpy()
        out["test"] = out["test"] + f"; relative to the run-wide shift x{shift:.3f}"
    out.attrs["shift"] = shift
    return out


def common_shift(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    by: str = "route",
    metric: str = "duration_ms",
    min_n: int = 20,
) -> float:
    """The run-wide latency factor: the median over keys of the candidate/baseline median
    ratio, each key weighted by its smaller sample (keys under `min_n` left out; 1.0 when
    fewer than three keys qualify). A robust median: a few keys that really changed do not
    move it."""
    stats = ["median", "size"]
    base = baseline.dropna(subset=[metric]).groupby(by, observed=True)[metric].agg(stats)
    cand = candidate.dropna(subset=[metric]).groupby(by, observed=True)[metric].agg(stats)
    both = base.add_suffix("_b").join(cand.add_suffix("_c"), how="inner")
    both = both[(both["size_b"] >= min_n) & (both["size_c"] >= min_n) & (both["median_b"] > 0)]
    if len(both) < 3:
        return 1.0
    logs = np.log(both["median_c"] / both["median_b"]).to_numpy()
    weights = np.minimum(both["size_b"], both["size_c"]).to_numpy(dtype=float)
    order = np.argsort(logs)
    cumulative = np.cumsum(weights[order])
    middle = logs[order][np.searchsorted(cumulative, cumulative[-1] / 2)]
    return float(np.exp(middle))


@dataclass(frozen=True)
class MixAdjusted:
    """Overall mean latency, raw and re-weighted to the baseline's route mix (metric units)."""

    raw_base: float
    raw_cand: float
    adjusted_cand: float
    routes_missing: tuple[str, ...]

    @property
    def raw_ratio(self) -> float:
        return self.raw_cand / self.raw_base

    @property
    def adjusted_ratio(self) -> float:
        return self.adjusted_cand / self.raw_base


def mix_adjusted_change(
    baseline: pd.DataFrame, candidate: pd.DataFrame, by: str = "route", metric: str = "duration_ms"
) -> MixAdjusted:
    """The candidate's overall mean at the baseline's traffic mix, beside the raw means.

    Routes the candidate never served keep their baseline mean (and are listed).
    """
    base = baseline.dropna(subset=[metric]).groupby(by, observed=True)[metric].agg(["mean", "size"])
    cand = candidate.dropna(subset=[metric]).groupby(by, observed=True)[metric].mean()
    weights = base["size"] / base["size"].sum()
    missing = tuple(str(r) for r in base.index.difference(cand.index))
    cand_means = cand.reindex(base.index).fillna(base["mean"])
    return MixAdjusted(
        raw_base=float(baseline[metric].mean()),
        raw_cand=float(candidate[metric].mean()),
        adjusted_cand=float(np.sum(weights * cand_means)),
        routes_missing=missing,
    )
