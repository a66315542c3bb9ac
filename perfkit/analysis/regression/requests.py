"""Request-level regression comparison: per route, and overall with the traffic mix held fixed.

`compare` applies the statistical core (`perfkit.analysis.significance`:
Mann–Whitney U, bootstrap median ratio, Holm, practical floor) and the
shared verdict rule with the run-wide shift
(`perfkit.analysis.regression.verdict`) to two requests frames.
`mix_adjusted_change` answers "is the service slower?" without being
fooled by a change of traffic mix: each side's per-route mean
is weighted by the *baseline's* route shares, so a release that moves
traffic to cheap endpoints cannot hide a per-route regression (and one that
moves traffic to expensive endpoints is not blamed for it).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from perfkit.analysis.significance import compare_samples

ENDPOINT = "endpoint"


def shared_routes(*frames: Any) -> set[str]:
    """Routes that several methods share in any of `frames` (GET and POST ``/auth/login``;
    pandas or Dask frames)."""
    pairs = []
    for frame in frames:
        if "method" not in frame or "route" not in frame:
            continue
        part = frame[["method", "route"]].astype(str).drop_duplicates()
        pairs.append(part.compute() if hasattr(part, "compute") else part)
    if not pairs:
        return set()
    both = pd.concat(pairs).drop_duplicates()
    counts = both.groupby("route")["method"].nunique()
    return set(counts.index[counts > 1])


def endpoint_column(frame: pd.DataFrame, shared: set[str]) -> pd.Series:
    """Each request's endpoint: its route, or "METHOD route" for a route in `shared` (a Flask
    endpoint is a rule *and* a method: a login form and the login itself differ)."""
    route = frame["route"]
    if not shared or "method" not in frame:
        return route
    pairs = pd.MultiIndex.from_arrays([frame["method"].astype(str), route.astype(str)])
    codes, uniques = pd.factorize(pairs)
    labels = pd.Index([f"{m} {r}" if r in shared else r for m, r in uniques])
    endpoints = labels.dropna().unique()
    found = endpoints.get_indexer(labels)[codes]
    found[route.isna().to_numpy()] = -1  # a request without a route has no endpoint (pandas
    # 2.2's astype(str) spells a missing route "nan")
    return pd.Series(pd.Categorical.from_codes(found, endpoints).remove_unused_categories(),
                     index=frame.index)  # fmt: skip


def with_endpoints(*frames: Any) -> list[Any]:
    """`frames` with an ``endpoint`` column keyed alike on every side (pandas or Dask)."""
    shared = shared_routes(*frames)
    out = []
    for frame in frames:
        if hasattr(frame, "map_partitions"):
            out.append(frame.map_partitions(
                lambda part: part.assign(**{ENDPOINT: endpoint_column(part, shared)
                                            .astype(str)})))  # fmt: skip
        else:
            out.append(frame.assign(**{ENDPOINT: endpoint_column(frame, shared)}))
    return out


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
    normalize: bool = True,
    min_keys: int = 5,
) -> pd.DataFrame:
    """The comparison frame per `by`: medians, p95s, ratios with their intervals, the rank
    test, and the verdict by the shared rule (`perfkit.analysis.regression.verdict`);
    `min_abs` is in the unit of `metric` (1 ms by default). With ``by="route"`` a route that
    several methods share gives one row per method (``"POST /auth/login"``).

    ``ratio``/``ci_*``/``p_value``/``p_adjusted`` and ``raw_verdict`` are on raw times;
    ``rel_*`` and ``relative_verdict`` against the run-wide shift (``attrs["shift"]``, a
    `Shift`: estimated from at least `min_keys` keys with `min_n` requests a side, each one
    vote). With `normalize` (the default, as in the report) a material shift makes the
    verdict need both readings: ``regressed`` is slower beyond the shift, ``moved with
    shift`` slower in raw time only. Requests without a `metric` value are left out: a frame
    with none at all cannot be judged (every key ``insufficient data``,
    ``attrs["no_metric"]`` set).
    """
    key = by
    if by == "route":  # one row per endpoint: "METHOD route" where methods share a route
        baseline, candidate = with_endpoints(baseline, candidate)
        key = ENDPOINT
    if any(type(f).__module__.startswith("dask") for f in (baseline, candidate)):
        from perfkit.analysis.distributed import compare_sketches, totals

        return compare_sketches(
            totals(baseline, key, metric), totals(candidate, key, metric), alpha=alpha,
            correction=correction, min_ratio=min_ratio, min_abs=min_abs, min_n=min_n, seed=seed,
            normalize=normalize, min_keys=min_keys,
        )  # fmt: skip
    if not (_has(baseline, metric) and _has(candidate, metric)):
        return cannot_judge(baseline, candidate, key, metric).rename_axis(by)
    out = compare_samples(
        baseline, candidate, key, metric, alpha=alpha, correction=correction, min_ratio=min_ratio,
        min_abs=min_abs, min_n=min_n, seed=seed, normalize=normalize, min_keys=min_keys,
        what="endpoints",
    )  # fmt: skip
    out = out.drop(columns=["mean_base", "mean_cand"]).pipe(_with_attrs, out.attrs)
    named: pd.DataFrame = out.rename_axis(by)
    return named


def _has(frame: pd.DataFrame, metric: str) -> bool:
    return metric in frame and bool(frame[metric].notna().any())


def cannot_judge(
    baseline: pd.DataFrame, candidate: pd.DataFrame, by: str = "route", metric: str = "duration_ms"
) -> pd.DataFrame:
    """The comparison frame when a side has no `metric` at all (a log without request times):
    request counts per key, every verdict ``cannot judge``, ``attrs["no_metric"]`` naming
    the sides without it."""
    from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, Shift
    from perfkit.analysis.significance import COLUMNS

    def sizes(frame: Any) -> pd.Series:
        # observed=True is pandas 3's default (the mutant without it is equivalent here) but
        # not pandas 2.2's, which pyproject allows: a category without requests is no key
        size = frame.groupby(by, observed=True).size()  # pragma: no mutate
        return cast(pd.Series, size.compute() if hasattr(size, "compute") else size)

    counts = pd.DataFrame({"n_base": sizes(baseline), "n_cand": sizes(candidate)}
                          ).fillna(0).astype(int)  # fmt: skip
    counts.index = counts.index.astype(str)
    counts.index.name = by
    out = counts.reindex(columns=[*COLUMNS, *EXTRA_COLUMNS])
    out["verdict"] = out["raw_verdict"] = out["relative_verdict"] = "cannot judge"
    out["test"] = f"no {metric} in the log: latency cannot be compared"
    out.attrs["no_metric"] = [name for name, frame in (("baseline", baseline),
                              ("candidate", candidate)) if not _has(frame, metric)]  # fmt: skip
    out.attrs["shift"] = Shift()
    return out


def _with_attrs(frame: pd.DataFrame, attrs: dict[Hashable | None, Any]) -> pd.DataFrame:
    frame.attrs.update(attrs)
    return frame


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

    Routes the candidate never served keep their baseline mean (and are listed); with
    ``by="route"``, per endpoint as `compare` keys them.
    """
    if by == "route":
        baseline, candidate = with_endpoints(baseline, candidate)
        by = ENDPOINT
    timed_base, timed_cand = baseline.dropna(subset=[metric]), candidate.dropna(subset=[metric])
    # observed=True: pandas 3's default, not pandas 2.2's (see cannot_judge)
    base = timed_base.groupby(by, observed=True)[metric].agg(["mean", "size"])  # pragma: no mutate
    cand = timed_cand.groupby(by, observed=True)[metric].mean()  # pragma: no mutate
    weights = base["size"] / base["size"].sum()
    missing = tuple(str(r) for r in base.index.difference(cand.index))
    cand_means = cand.reindex(base.index).fillna(base["mean"])
    return MixAdjusted(
        raw_base=float(baseline[metric].mean()),
        raw_cand=float(candidate[metric].mean()),
        adjusted_cand=float(np.sum(weights * cand_means)),
        routes_missing=missing,
    )
