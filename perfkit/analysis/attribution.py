"""Where did an endpoint's change go? Database, external calls or Python, per route.

For each side (baseline, candidate) and route:

- ``total_ms``: the mean request time from the access log.
- ``db_ms`` and ``db_calls``: per profiled request (Werkzeug's
  ProfilerMiddleware writes one dump per request, named by its path), the
  time spent inside the database driver (psycopg, psycopg2, pg8000, asyncpg,
  sqlite3): the cumulative time of every call edge that enters the driver
  from outside it, so nested driver calls count once. This is what the
  application waited for: PostgreSQL's execution plus network and driver.
- ``external_ms`` and ``external_calls``: likewise for HTTP clients
  (requests, httpx, urllib3, http.client); or, when the outbound-call log
  carries the inbound request's path (``inbound_path``, from
  `OutboundLog(context=...)`), the logged call durations per request of
  that route, which cover every request and not only the profiled ones.

Dump and outbound paths are labelled with the same `routes` (Flask rules,
or perfkit's heuristic by default) as `read_access_log` used, so every
source groups by the same route names.
- ``python_ms``: the rest, ``total - db - external``: the application's own
  code, templates, the ORM, and Gunicorn's handling.

The statements table is the database's own view, from `pg_deltas` of each
side's window: per statement, calls per request and execution ms per
request (``mean x calls per request``) over *all* requests served in the
window, and their change. It names the statements behind a ``db_ms`` change
(an N+1 shows as calls per request going up; a dropped index as the mean
going up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from perfkit.analysis.hotspots import classify
from perfkit.io.profile import Profile, read_profile
from perfkit.io.routes import Rule, route_labels, rules_from

DB_PACKAGES = frozenset({"psycopg", "psycopg2", "psycopg_c", "psycopg_pool", "pg8000", "asyncpg",
                         "sqlite3", "_sqlite3"})  # fmt: skip
HTTP_PACKAGES = frozenset({"requests", "httpx", "httpcore", "urllib3", "aiohttp", "http"})
_BUILTIN_OWNER = re.compile(r"of '([\w.]+)' objects|built-in method ([\w.]+)\.\w+>")
LAYERS = ("db", "external", "python")


@dataclass
class Evidence:
    """One side of a comparison: its access log and whatever else was collected in the window.

    `profile`: per-request dumps (ProfilerMiddleware); `outbound`: outbound calls (a ``route``
    column lets them be split per route); `statements`: `pg_deltas` of pg_stat_statements.
    """

    requests: pd.DataFrame
    profile: Profile | None = None
    outbound: pd.DataFrame | None = None
    statements: pd.DataFrame | None = None


@dataclass
class Attribution:
    """`routes`: per route, each side's split and its change; `statements`: per statement,
    calls and ms per request on each side (empty without pg deltas)."""

    routes: pd.DataFrame
    statements: pd.DataFrame


def layer(file: str, name: str) -> str:
    """``db``, ``external`` or ``python`` for a profiled function."""
    group, package = classify(file)
    if group == "builtin":
        owner = _BUILTIN_OWNER.search(name)
        package = (owner[1] or owner[2]).split(".")[0] if owner else ""
    if package in DB_PACKAGES:
        return "db"
    if package in HTTP_PACKAGES:
        return "external"
    return "python"


def attribute(base: Evidence, cand: Evidence, routes: object = None) -> Attribution:
    """The attribution tables (see the module docstring); times in ms per request.

    `routes`: what `read_access_log` was given (a Flask app or rule strings), else None.
    """
    rules = rules_from(routes) if routes is not None else None
    sides = {"base": _side(base, rules), "cand": _side(cand, rules)}
    table = sides["base"].add_suffix("_base").join(sides["cand"].add_suffix("_cand"), how="outer")
    for part in ("total", *LAYERS):
        table[f"{part}_change_ms"] = table[f"{part}_ms_cand"] - table[f"{part}_ms_base"]
    table = table.sort_values("total_change_ms", ascending=False, key=lambda s: s.fillna(-np.inf))
    return Attribution(table, _statements(base, cand))


def _labels(paths: pd.Series, rules: list[Rule] | None) -> np.ndarray:
    labels, _ = route_labels(pa.array(paths.astype(str).tolist(), pa.string()), rules)
    return np.asarray(labels.to_pylist(), dtype=object)


def _side(evidence: Evidence, rules: list[Rule] | None) -> pd.DataFrame:
    if type(evidence.requests).__module__.startswith("dask"):  # exact means from the totals
        from perfkit.analysis.distributed import totals

        groups = totals(evidence.requests)
        out: pd.DataFrame = pd.DataFrame({"n": {k: t.latency_n for k, t in groups.items()},
                            "total_ms": {k: t.total / t.latency_n if t.latency_n else np.nan
                                         for k, t in groups.items()}})  # fmt: skip
        out.index.name = "route"
    else:
        requests = evidence.requests.dropna(subset=["duration_ms"])
        out = cast(  # named aggregations: a frame
            pd.DataFrame,
            requests.groupby("route", observed=True)["duration_ms"].agg(n="size", total_ms="mean"),
        )
    out.index = out.index.astype(str)
    for part in ("db", "external"):
        out[f"{part}_ms"] = np.nan
        out[f"{part}_calls"] = np.nan
    out["profiled"] = 0
    if evidence.profile is not None and len(evidence.profile.dumps):
        per_route = _profile_layers(evidence.profile, rules)
        out = out.join(per_route.add_suffix("_p"), how="left")
        for column in ("db_ms", "db_calls", "external_ms", "external_calls"):
            out[column] = out.pop(f"{column}_p") if f"{column}_p" in out else out[column]
        out["profiled"] = out.pop("profiled_p").fillna(0).astype(int)
    if evidence.outbound is not None and "inbound_path" in evidence.outbound:
        calls = evidence.outbound.dropna(subset=["inbound_path"])
        by_route = calls.groupby(_labels(calls["inbound_path"], rules))["duration_ms"]
        calls = by_route.agg(["sum", "size"]).reindex(out.index, fill_value=0)
        out["external_ms"] = calls["sum"] / out["n"]
        out["external_calls"] = calls["size"] / out["n"]
    known = out[["db_ms", "external_ms"]].notna().any(axis=1)
    measured = out[["db_ms", "external_ms"]].fillna(0).sum(axis=1)
    out["python_ms"] = (out["total_ms"] - measured).where(known)
    return out


def _profile_layers(profile: Profile, rules: list[Rule] | None) -> pd.DataFrame:
    """Per route of the dumps: profiled requests, and ms and calls per request per layer."""
    rows: dict[Any, dict[str, float]] = {}
    dumps = profile.dumps.dropna(subset=["path"])
    for route, group in dumps.groupby(_labels(dumps["path"], rules)):
        sub = read_profile([Path(f) for f in group["file"]])
        entering = _layer_entries(sub)
        n = len(group)
        rows[route] = {
            "profiled": n,
            "db_ms": entering.get(("db", "ms"), 0.0) / n,
            "db_calls": entering.get(("db", "calls"), 0.0) / n,
            "external_ms": entering.get(("external", "ms"), 0.0) / n,
            "external_calls": entering.get(("external", "calls"), 0.0) / n,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _layer_entries(profile: Profile) -> dict[tuple[str, str], float]:
    """Total ms and calls on edges entering each non-Python layer from outside it."""
    functions = profile.functions
    layers = pd.Series(
        [layer(f, n) for f, n in zip(functions["file"], functions["name"], strict=True)],
        index=functions["function"].to_numpy(),
    )
    edges = profile.edges
    caller = layers.reindex(edges["caller"]).to_numpy()
    callee = layers.reindex(edges["callee"]).to_numpy()
    out = {}
    for part in ("db", "external"):
        entry = (callee == part) & (caller != part)
        out[(part, "ms")] = float(edges.loc[entry, "cumtime_s"].sum() * 1000)
        out[(part, "calls")] = float(edges.loc[entry, "ncalls"].sum())
    return out


def _statements(base: Evidence, cand: Evidence) -> pd.DataFrame:
    if base.statements is None or cand.statements is None:
        return pd.DataFrame()
    from perfkit.analysis.queries import window_totals

    sides = []
    for suffix, evidence in (("_base", base), ("_cand", cand)):
        window = window_totals(cast(pd.DataFrame, evidence.statements))  # both checked above
        n = len(evidence.requests)
        per_request = pd.DataFrame({
            "calls_per_request": window["calls"] / n, "mean_ms": window["mean"],
            "ms_per_request": window["total"] / n, "query": window["query"],
        })  # fmt: skip
        sides.append(per_request.add_suffix(suffix))
    table = sides[0].join(sides[1], how="outer")
    table["query"] = table.pop("query_cand").fillna(table.pop("query_base"))
    for column in ("calls_per_request", "ms_per_request"):
        table[[f"{column}_base", f"{column}_cand"]] = table[
            [f"{column}_base", f"{column}_cand"]
        ].fillna(0.0)
    table["change_ms_per_request"] = table["ms_per_request_cand"] - table["ms_per_request_base"]
    order = table["change_ms_per_request"].abs().to_numpy()
    return table.iloc[np.argsort(-order, kind="stable")]
