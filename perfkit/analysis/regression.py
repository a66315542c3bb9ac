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
) -> pd.DataFrame:
    """The comparison frame per `by` (see DESIGN.md): medians, p95s, ratio with its interval,
    p-values and the verdict; `min_abs` is in the unit of `metric` (1 ms by default)."""
    return compare_samples(
        baseline, candidate, by, metric, statistic="median", alpha=alpha, correction=correction,
        min_ratio=min_ratio, min_abs=min_abs, min_n=min_n, seed=seed,
    )  # fmt: skip


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
