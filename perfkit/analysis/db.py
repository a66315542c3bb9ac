"""Database insights from PostgreSQL's statistics (pure functions on perfkit's pg frames).

Thresholds are parameters with the brief's defaults (a 50 ms query target).
Each function says what it flags and why, so a report can print the rule
next to the finding.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

QUERY_TARGET_MS = 50.0


def _usable(deltas: pd.DataFrame) -> pd.DataFrame:
    """Rows with real deltas (``ok``/``new``), summed over intervals per statement."""
    rows = deltas[deltas["status"].isin(["ok", "new"])]
    key = [k for k in ("queryid", "dbid", "userid", "toplevel") if k in rows]
    wanted = ("calls", "total_exec_time", "rows", "shared_blks_hit", "shared_blks_read",
              "total_plan_time")  # fmt: skip
    numbers = [c for c in wanted if c in rows]
    summed = rows.groupby(key, dropna=False, observed=True).agg(
        {
            **dict.fromkeys(numbers, "sum"),
            "query": "first",
            "interval_start": "min",
            "interval_end": "max",
        }
    )
    summed = summed.reset_index()
    calls = summed["calls"].where(summed["calls"] > 0)
    summed["mean_exec_time"] = summed["total_exec_time"] / calls
    summed["rows_per_call"] = summed["rows"] / calls
    return summed


def top_statements(deltas: pd.DataFrame, by: str = "total_exec_time", n: int = 10) -> pd.DataFrame:
    """The `n` statements with the most `by` (``total_exec_time``, ``mean_exec_time``, ``calls``)
    over the intervals of `deltas`, with their share of the total execution time."""
    summed = _usable(deltas)
    total = summed["total_exec_time"].sum()
    summed["time_share"] = summed["total_exec_time"] / total if total else np.nan
    return summed.nlargest(n, by).reset_index(drop=True)


def slow_statements(deltas: pd.DataFrame, target_ms: float = QUERY_TARGET_MS) -> pd.DataFrame:
    """Statements whose mean execution time over the window exceeds `target_ms` (ms)."""
    summed = _usable(deltas)
    slow = summed[summed["mean_exec_time"] > target_ms].copy()
    slow["over_target"] = slow["mean_exec_time"] / target_ms
    return slow.sort_values("mean_exec_time", ascending=False, ignore_index=True)


def n_plus_one(
    deltas: pd.DataFrame,
    requests: pd.DataFrame | None = None,
    min_calls: int = 100,
    max_rows_per_call: float = 1.5,
    min_calls_per_request: float = 5.0,
) -> pd.DataFrame:
    """N+1 suspects: statements run many times returning about one row each.

    A statement is suspect when it ran at least `min_calls` times with at most
    `max_rows_per_call` rows per call, and it is a single-row lookup (a
    SELECT filtered by a parameter). When the access log of the same window
    is given (`requests`, a requests frame), ``calls_per_request`` is its calls
    over the requests in the window; suspects need at least
    `min_calls_per_request` of them.
    """
    summed = _usable(deltas)
    lookup = (
        summed["query"].fillna("").str.contains(r"(?is)^\s*select\b.*\bwhere\b.*\$\d", regex=True)
    )
    suspects = summed[
        (summed["calls"] >= min_calls) & (summed["rows_per_call"] <= max_rows_per_call) & lookup
    ]
    suspects = suspects.copy()
    if requests is not None and len(suspects):
        start, end = suspects["interval_start"].min(), suspects["interval_end"].max()
        times = requests["time"]
        window = ((times >= start) & (times <= end)).sum()
        window = window.compute() if hasattr(window, "compute") else window  # a Dask frame
        suspects["requests_in_window"] = int(window)
        suspects["calls_per_request"] = suspects["calls"] / window if window else np.nan
        suspects = suspects[suspects["calls_per_request"] >= min_calls_per_request]
    return suspects.sort_values("calls", ascending=False, ignore_index=True)


def cache_hit_ratios(tables: pd.DataFrame, database: pd.DataFrame | None = None) -> pd.DataFrame:
    """Buffer cache hit ratio per table (heap and index blocks) and database, latest snapshot."""
    latest = _latest(tables)
    heap = latest["heap_blks_hit"] + latest["heap_blks_read"]
    out = pd.DataFrame(
        {
            "scope": "table",
            "name": latest["schemaname"] + "." + latest["relname"],
            "hit_ratio": (latest["heap_blks_hit"] + latest["idx_blks_hit"].fillna(0))
            / (heap + latest["idx_blks_hit"].fillna(0) + latest["idx_blks_read"].fillna(0)).where(
                lambda s: s > 0
            ),
            "blocks_read": latest["heap_blks_read"] + latest["idx_blks_read"].fillna(0),
        }
    )
    if database is not None:
        db = _latest(database)
        total = (db["blks_hit"] + db["blks_read"]).where(lambda s: s > 0)
        out = pd.concat(
            [
                out,
                pd.DataFrame(
                    {
                        "scope": "database",
                        "name": db["datname"],
                        "hit_ratio": db["blks_hit"] / total,
                        "blocks_read": db["blks_read"],
                    }
                ),
            ]
        )
    return out.sort_values("hit_ratio", ignore_index=True)


def seq_scans_on_large_tables(tables: pd.DataFrame, min_rows: int = 10_000) -> pd.DataFrame:
    """Tables of at least `min_rows` live rows read more by sequential scans than by index."""
    latest = _latest(tables)
    big = latest[
        (latest["n_live_tup"] >= min_rows) & (latest["seq_scan"] > latest["idx_scan"].fillna(0))
    ]
    out = big[
        ["schemaname", "relname", "n_live_tup", "seq_scan", "seq_tup_read", "idx_scan"]
    ].copy()
    out["rows_read_per_scan"] = out["seq_tup_read"] / out["seq_scan"].where(out["seq_scan"] > 0)
    return out.sort_values("seq_tup_read", ascending=False, ignore_index=True)


def unused_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Indexes never scanned since statistics began, not counting primary keys and unique ones."""
    latest = _latest(indexes)
    plain = latest[~latest["indisprimary"].astype(bool) & ~latest["indisunique"].astype(bool)]
    unused = plain[plain["idx_scan"].fillna(0) == 0]
    return unused[["schemaname", "relname", "indexrelname", "index_bytes", "indexdef"]].sort_values(
        "index_bytes", ascending=False, ignore_index=True
    )


def duplicate_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Groups of indexes with the same structure on the same table (method, columns, operator
    classes, options, expressions, predicate); primary keys and unique indexes are kept, never
    listed as the duplicate to drop."""
    latest = _latest(indexes).copy()
    shape = [c for c in ("index_method", "indkey", "indclass", "indoption", "index_expressions",
                         "index_predicate") if c in latest]  # fmt: skip
    if not shape:  # e.g. a CSV export of pg_indexes: compare definitions without their names
        latest["definition_shape"] = [
            re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON ", "", d) for d in latest["indexdef"].fillna("")
        ]
        shape = ["definition_shape"]
    rows = []
    for _, group in latest.groupby(["relid", *shape], dropna=False):
        if len(group) < 2:
            continue
        ranked = group.sort_values(["indisprimary", "indisunique"], ascending=False)
        keep = ranked.iloc[0]
        for _, index in ranked.iloc[1:].iterrows():
            if not (index["indisprimary"] or index["indisunique"]):
                rows.append({"relname": index["relname"], "index": index["indexrelname"],
                             "duplicate_of": keep["indexrelname"], "definition": index["indexdef"],
                             "index_bytes": index["index_bytes"]})  # fmt: skip
    return pd.DataFrame(
        rows, columns=["relname", "index", "duplicate_of", "definition", "index_bytes"]
    )


def dead_tuples(tables: pd.DataFrame, min_ratio: float = 0.1, min_dead: int = 1000) -> pd.DataFrame:
    """Tables whose dead rows are at least `min_ratio` of all rows (and `min_dead` rows)."""
    latest = _latest(tables)
    total = (latest["n_live_tup"] + latest["n_dead_tup"]).where(lambda s: s > 0)
    out = latest.assign(dead_ratio=latest["n_dead_tup"] / total)
    out = out[(out["dead_ratio"] >= min_ratio) & (out["n_dead_tup"] >= min_dead)]
    columns = ["schemaname", "relname", "n_live_tup", "n_dead_tup", "dead_ratio", "last_autovacuum"]
    return out[[c for c in columns if c in out]].sort_values(
        "dead_ratio", ascending=False, ignore_index=True
    )


def problem_sessions(
    activity: pd.DataFrame, long_query_s: float = 30.0, idle_tx_s: float = 10.0
) -> pd.DataFrame:
    """Sessions running a query longer than `long_query_s` or idle in a transaction longer than
    `idle_tx_s` (they hold locks and block vacuum), latest snapshot."""
    latest = _latest(activity)
    long_running = (latest["state"] == "active") & (latest["query_age_s"] > long_query_s)
    idle_tx = latest["state"].fillna("").str.startswith("idle in transaction") & (
        latest["state_age_s"] > idle_tx_s
    )
    out = latest[long_running | idle_tx].copy()
    out["problem"] = np.where(long_running[out.index], "long-running query", "idle in transaction")
    columns = ["pid", "usename", "application_name", "state", "problem", "query_age_s",
               "state_age_s", "xact_age_s", "wait_event_type", "wait_event", "query"]  # fmt: skip
    return out[[c for c in columns if c in out]].reset_index(drop=True)


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    if "snapshot_time" not in frame or frame.empty:
        return frame
    latest: pd.DataFrame = frame[frame["snapshot_time"] == frame["snapshot_time"].max()]
    return latest
