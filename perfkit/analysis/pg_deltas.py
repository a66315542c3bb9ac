"""Per-interval deltas of pg_stat_statements' cumulative counters, resets detected.

pg_stat_statements only ever adds up, from when an entry was created or the
statistics were last reset. Between two snapshots an entry's change is its
later counters minus its earlier ones, unless something restarted them:

- ``stats_reset`` (pg_stat_statements_info, PostgreSQL 14+) changed: every
  entry restarted; the whole interval is ``reset``;
- an entry's counters went down (reset of that statement, or evicted and
  re-created): that entry is ``reset`` for the interval;
- ``stats_since`` of an entry (PostgreSQL 17) changed: likewise.

A ``reset`` row reports no deltas (NA), never a negative or inflated number.
An entry absent from the earlier snapshot is ``new``: everything it counts
happened in the interval. When ``dealloc`` grew, entries were evicted for
room in the interval: an evicted entry re-created with more calls than it
had cannot be told apart without ``stats_since`` (PostgreSQL 17), so such
intervals carry ``evictions=True``. Times are PostgreSQL's milliseconds.

A role without ``pg_monitor`` (or ``pg_read_all_stats``) sees other roles'
statements with a NULL ``queryid`` and the text ``<insufficient privilege>``:
they cannot be told apart, so they get no rows, but they are counted, in
``attrs["perfkit"]["hidden"]`` of the result (`HiddenStatements`) and a
`PerfkitWarning`, so a report can say how much of the database's work it
does not show.
"""

from __future__ import annotations

import warnings
from typing import Any, TypedDict, TypeVar

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning

KEY = ["queryid", "dbid", "userid", "toplevel"]
COUNTERS = [
    "calls", "total_exec_time", "rows", "plans", "total_plan_time",
    "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written",
    "local_blks_hit", "local_blks_read", "local_blks_dirtied", "local_blks_written",
    "temp_blks_read", "temp_blks_written", "shared_blk_read_time", "shared_blk_write_time",
    "wal_records", "wal_fpi", "wal_bytes",
]  # fmt: skip


class HiddenStatements(TypedDict):
    """Statements the reading role could not see (NULL ``queryid``): what they did, summed."""

    statements: int  # entries hidden in the last snapshot
    calls: int  # calls in the snapshots' span (from the first snapshot to the last)
    total_exec_time: float  # ms, in the same span
    roles: int  # distinct userids among the hidden entries (last snapshot)


def pg_deltas(snapshots: pd.DataFrame) -> pd.DataFrame:
    """One row per statement per interval between consecutive snapshots (see the module docstring).

        Columns: ``interval_start``, ``interval_end``, ``interval_s``, the key
        (``queryid``, ``dbid``, ``userid``, ``toplevel``), ``query``, ``status``
        (``ok``, ``new``, ``reset``), ``evictions``, the counters' deltas,
        ``mean_exec_time`` and ``stddev_exec_time`` (ms per call in the interval,
    the spread from the cumulative sums of squares) and ``rows_per_call``.
    ``attrs["perfkit"]["hidden"]`` counts statements hidden from the reading role
    (`HiddenStatements`; all zero when none were).
    """
    if "snapshot_time" not in snapshots or "calls" not in snapshots:
        raise InputError("pg_deltas needs pg_stat_statements snapshots (snapshot_time, calls, ...)")
    key = [k for k in KEY if k in snapshots]
    counters = [c for c in COUNTERS if c in snapshots]
    hidden = hidden_statements(snapshots)
    frame = snapshots.dropna(subset=["queryid"]).copy()
    if "stddev_exec_time" in frame and "mean_exec_time" in frame:
        # cumulative sum of squared times, so each interval gets its own spread
        frame["sumsq_exec_time"] = frame["calls"] * (
            _floats(frame["stddev_exec_time"]) ** 2 + _floats(frame["mean_exec_time"]) ** 2
        )
        counters = [*counters, "sumsq_exec_time"]
    times = np.sort(frame["snapshot_time"].unique())
    if len(times) < 2:
        raise InputError("pg_deltas needs at least two snapshots")
    frame["interval_start"] = frame["snapshot_time"].map(pd.Series(times[:-1], index=times[1:]))
    later = frame[frame["interval_start"].notna()]
    earlier = frame[[*key, "snapshot_time", *counters, *_optional(frame, "stats_since")]]
    merged = later.merge(
        earlier.rename(columns={"snapshot_time": "interval_start"}),
        on=[*key, "interval_start"], how="left", suffixes=("", "_prev"), indicator=True,
    )  # fmt: skip
    status = _status(merged, frame, counters)
    out = merged[["interval_start", "snapshot_time", *key, "query"]].rename(
        columns={"snapshot_time": "interval_end"}
    )
    out["interval_s"] = (out["interval_end"] - out["interval_start"]).dt.total_seconds()
    out["status"] = status
    out["evictions"] = merged["snapshot_time"].isin(_flagged(_evictions(frame))).to_numpy()
    for column in counters:
        now, before = _floats(merged[column]), _floats(merged[f"{column}_prev"])
        delta = np.where(status == "new", now, now - before)
        out[column] = np.where(status == "reset", np.nan, delta)
    calls = out["calls"].where(out["calls"] > 0)  # no calls in the interval: no means (NaN)
    out["mean_exec_time"] = out["total_exec_time"] / calls
    out["rows_per_call"] = out["rows"] / calls
    if "sumsq_exec_time" in out:
        variance = out["sumsq_exec_time"] / calls - out["mean_exec_time"] ** 2
        out["stddev_exec_time"] = np.sqrt(variance.clip(lower=0))  # rounding can dip below 0
    out = out.sort_values(
        ["interval_end", "total_exec_time"], ascending=[True, False], ignore_index=True
    )
    out.attrs["perfkit"] = {"hidden": hidden}
    if hidden["statements"] or hidden["calls"]:
        warnings.warn(
            f"{hidden['statements']} statement(s) of {hidden['roles']} other role(s) are hidden "
            f"from the role that read pg_stat_statements (NULL queryid): {hidden['calls']} calls"
            f"{hidden_time_text(hidden['total_exec_time'])}; grant it pg_monitor to see them",
            PerfkitWarning,
            stacklevel=2,
        )
    return out


def hidden_statements(snapshots: pd.DataFrame) -> HiddenStatements:
    """What the entries with a NULL ``queryid`` did over `snapshots` (see `HiddenStatements`).

    Their calls and time in an interval are the change of their sums; a sum
    that went down (a reset, an eviction) counts what the later snapshot holds.
    """
    none = HiddenStatements(statements=0, calls=0, total_exec_time=0.0, roles=0)
    if "queryid" not in snapshots or not snapshots["queryid"].isna().any():
        return none
    times = np.sort(snapshots["snapshot_time"].unique())
    rows = snapshots[snapshots["queryid"].isna()]
    columns = ["calls", *_optional(rows, "total_exec_time")]
    sums = _floats(rows.groupby("snapshot_time")[columns].sum()).reindex(times, fill_value=0.0)
    change = sums.diff().iloc[1:]
    spent = change.where(change >= 0, sums.iloc[1:])  # a reset in the interval: what is there since
    last = rows[rows["snapshot_time"] == times[-1]]
    return HiddenStatements(
        statements=len(last),
        calls=int(spent["calls"].sum()),
        # without the column their time is unknown (NaN), not none
        total_exec_time=float(spent["total_exec_time"].sum()) if "total_exec_time" in spent
        else np.nan,
        roles=int(last["userid"].nunique()) if "userid" in last else 0,
    )  # fmt: skip


def _optional(frame: pd.DataFrame, *columns: str) -> list[str]:
    return [c for c in columns if c in frame]


_Columns = TypeVar("_Columns", "pd.Series[Any]", pd.DataFrame)


def _floats(values: _Columns) -> _Columns:
    """`values` (a Series or a frame) as float64: counters may come as integers, Decimals
    (PostgreSQL's numeric) or objects with None."""
    return values.astype("float64")


def _status(merged: pd.DataFrame, frame: pd.DataFrame, counters: list[str]) -> np.ndarray:
    new = (merged["_merge"] == "left_only").to_numpy()
    went_down = np.zeros(len(merged), dtype=bool)
    for column in counters:  # float comparisons: NaN (no earlier value) is never "down"
        went_down |= (_floats(merged[column]) < _floats(merged[f"{column}_prev"])).to_numpy()
    if "stats_since" in merged:
        went_down |= (merged["stats_since"] != merged["stats_since_prev"]).to_numpy() & ~new
    everything = merged["snapshot_time"].isin(_flagged(_global_resets(frame))).to_numpy()
    return np.where(everything | went_down, "reset", np.where(new, "new", "ok"))


def _flagged(flags: dict[Any, bool]) -> list[Any]:
    """The snapshot times whose flag is true."""
    return [time for time, flag in flags.items() if flag]


def _per_snapshot(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("snapshot_time")[column].first()


def _global_resets(frame: pd.DataFrame) -> dict[Any, bool]:
    """snapshot_time -> whether stats_reset changed since the previous snapshot."""
    if "stats_reset" not in frame:
        return {}
    reset = _per_snapshot(frame, "stats_reset")  # every snapshot of `frame`, in time order
    changed = reset.ne(reset.shift()) & reset.shift().notna()
    flags: dict[Any, bool] = changed.to_dict()
    return flags


def _evictions(frame: pd.DataFrame) -> dict[Any, bool]:
    """snapshot_time -> whether pg_stat_statements evicted entries since the previous snapshot."""
    if "dealloc" not in frame:
        return {}
    dealloc = _floats(_per_snapshot(frame, "dealloc"))
    flags: dict[Any, bool] = (dealloc > dealloc.shift()).to_dict()
    return flags


def hidden_time_text(ms: float) -> str:
    """What follows "N calls" about hidden statements' time: ", 12.5 ms not shown", or
    " not shown (their time unknown)" when the snapshots have no ``total_exec_time``."""
    return " not shown (their time unknown)" if ms != ms else f", {ms:,.1f} ms not shown"
