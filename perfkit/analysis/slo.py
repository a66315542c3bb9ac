"""Compliance with the service's targets per route class: dashboard, API, static, external, DB.

Routes are put in classes by regular expressions on the route (first match
wins; everything else is ``dashboard``, the HTML pages). An error is a 5xx
response (4xx are the client's). Response-time targets apply to the mean by
default, as the brief states them ("average response time"); p95 and the
share of requests within the target are shown beside it so a good mean
cannot hide a bad tail.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from perfkit.targets import BRIEF, Targets

DEFAULT_CLASSES: dict[str, str] = {
    "static": r"^/static/|\.(?:css|js|map|png|jpe?g|gif|svg|ico|woff2?|ttf)$",
    "api": r"^/api/",
    "health": r"^/(?:healthz?|ready|livez|metrics)$",
}
COLUMNS = [
    "class", "requests", "mean_ms", "p95_ms", "target_ms", "within_target", "error_rate",
    "error_target", "meets_latency", "meets_errors", "meets",
]  # fmt: skip


def classify_routes(routes: pd.Series, classes: dict[str, str] | None = None) -> pd.Series:
    """The class of each route (``dashboard`` when no pattern matches)."""
    patterns = [(name, re.compile(p)) for name, p in (classes or DEFAULT_CLASSES).items()]
    unique = pd.Series(pd.unique(routes.astype(str)))
    named = {r: next((name for name, p in patterns if p.search(r)), "dashboard") for r in unique}
    return routes.astype(str).map(named)


def slo_compliance(
    requests: pd.DataFrame,
    targets: Targets = BRIEF,
    classes: dict[str, str] | None = None,
    statistic: str = "mean",
    outbound: pd.DataFrame | None = None,
    statements: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per class (and ``external``/``database`` when their frames are given).

    `statistic` (``mean`` or ``p95``) is what `target_ms` judges;
    ``within_target`` is the share of requests (calls) at or under it.
    `statements` is a pg_stat_statements frame or its deltas (``calls``,
    ``mean_exec_time`` or ``total_exec_time``): the database row judges the
    calls-weighted mean execution time, and ``within_target`` is the share of
    calls made by statements whose mean meets 50 ms.
    """
    if statistic not in ("mean", "p95"):
        raise ValueError(f"statistic must be 'mean' or 'p95', not {statistic!r}")
    if type(requests).__module__.startswith("dask"):
        rows = _rows_from_totals(requests, targets, classes, statistic)
        return _finish(rows, outbound, statements, targets)
    route = requests["route"] if "route" in requests else requests["path"]
    frame = pd.DataFrame({
        "class": classify_routes(route, classes),
        "ms": requests["duration_ms"].to_numpy(dtype=float),
        "error": pd.to_numeric(requests["status"], errors="coerce").to_numpy() >= 500,
    })  # fmt: skip
    rows = []
    target_of = {"dashboard": targets.dashboard_ms, "api": targets.api_ms,
                 "static": targets.static_ms}  # fmt: skip
    for name, group in frame.groupby("class", sort=True):
        target = target_of.get(str(name), targets.dashboard_ms)
        rows.append(_row(str(name), group["ms"], group["error"], target, targets, statistic))
    return _finish(rows, outbound, statements, targets)


def _finish(
    rows: list[dict[str, Any]],
    outbound: pd.DataFrame | None,
    statements: pd.DataFrame | None,
    targets: Targets,
) -> pd.DataFrame:
    if outbound is not None and len(outbound):
        status = pd.to_numeric(outbound["status"], errors="coerce")
        error = (status.isna() | (status >= 500)).to_numpy()
        ms = outbound["duration_ms"].astype(float)
        rows.append(_row("external", ms, error, targets.external_ms, targets, "p95"))
    if statements is not None and len(statements):
        rows.append(_database_row(statements, targets))
    return pd.DataFrame(rows, columns=COLUMNS).set_index("class")


def _rows_from_totals(
    requests: Any, targets: Targets, classes: dict[str, str] | None, statistic: str
) -> list[dict[str, Any]]:  # requests: a Dask frame
    """Per-class rows from per-route totals of a Dask frame: counts, errors and means exact,
    p95 and the share within target from the merged sketches (1 % relative error)."""
    from perfkit.analysis.distributed import RouteTotals, totals

    groups = totals(requests)
    names = classify_routes(pd.Series([str(k) for k in groups]), classes)
    merged: dict[str, RouteTotals] = {}
    for (_, group), name in zip(groups.items(), names, strict=True):
        merged.setdefault(name, RouteTotals(sketch=type(group.sketch)(group.sketch.alpha)))
        merged[name].merge(group)
    target_of = {"dashboard": targets.dashboard_ms, "api": targets.api_ms,
                 "static": targets.static_ms}  # fmt: skip
    rows: list[dict[str, Any]] = []
    for name in sorted(merged):
        t = merged[name]
        target = target_of.get(name, targets.dashboard_ms)
        mean = t.total / t.latency_n if t.latency_n else np.nan
        p95 = float(t.sketch.quantile(0.95)) if t.latency_n else np.nan
        judged = mean if statistic == "mean" else p95
        error_rate = t.errors / t.count if t.count else np.nan
        errors_ok = bool(error_rate <= targets.error_rate)
        latency_ok = bool(judged <= target) if t.latency_n else None
        rows.append({
            "class": name, "requests": t.latency_n, "mean_ms": mean, "p95_ms": p95,
            "target_ms": target,
            "within_target": t.sketch.share_at_most(target) if t.latency_n else np.nan,
            "error_rate": error_rate, "error_target": targets.error_rate,
            "meets_latency": latency_ok, "meets_errors": errors_ok,
            "meets": _both(latency_ok, errors_ok),
        })  # fmt: skip
    return rows


def _row(
    name: str,
    ms: pd.Series[float],
    error: pd.Series[bool] | np.ndarray,
    target: float,
    targets: Targets,
    statistic: str,
) -> dict[str, Any]:
    ms = ms.dropna()
    mean = float(ms.mean()) if len(ms) else np.nan
    p95 = float(np.percentile(ms, 95)) if len(ms) else np.nan
    judged = mean if statistic == "mean" else p95
    error_rate = float(np.mean(error)) if len(error) else np.nan
    latency_ok = bool(judged <= target) if len(ms) else None  # no request times: cannot judge
    errors_ok = bool(error_rate <= targets.error_rate)
    return {
        "class": name, "requests": len(ms), "mean_ms": mean, "p95_ms": p95,
        "target_ms": target, "within_target": float((ms <= target).mean()) if len(ms) else np.nan,
        "error_rate": error_rate, "error_target": targets.error_rate,
        "meets_latency": latency_ok, "meets_errors": errors_ok,
        "meets": _both(latency_ok, errors_ok),
    }  # fmt: skip


def _both(latency_ok: bool | None, errors_ok: bool) -> bool | None:
    """Meets both targets: False when either fails, None when latency cannot be judged."""
    if errors_ok is False or latency_ok is False:
        return False
    return None if latency_ok is None else True


def _database_row(statements: pd.DataFrame, targets: Targets) -> dict[str, Any]:
    calls = statements["calls"].astype(float)
    if "total_exec_time" in statements:
        total = statements["total_exec_time"].astype(float)
    else:
        total = statements["mean_exec_time"].astype(float) * calls
    per_statement = total / calls.where(calls > 0)
    mean = float(total.sum() / calls.sum()) if calls.sum() else np.nan
    within = (
        float(calls[per_statement <= targets.db_ms].sum() / calls.sum()) if calls.sum() else np.nan
    )
    ok = bool(mean <= targets.db_ms)
    return {
        "class": "database", "requests": int(calls.sum()), "mean_ms": mean, "p95_ms": np.nan,
        "target_ms": targets.db_ms, "within_target": within, "error_rate": np.nan,
        "error_target": np.nan, "meets_latency": ok, "meets_errors": True, "meets": ok,
    }  # fmt: skip
