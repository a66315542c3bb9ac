"""Which Redis commands were slow? The slow log, entries counted once, arguments redacted."""

from __future__ import annotations

import pandas as pd

from perfkit.errors import InputError


def slow_entries(slowlog: pd.DataFrame) -> pd.DataFrame:
    """Each slow-log entry once (snapshots repeat the entries Redis still holds; an entry
    is its ``run_id`` and ``id``), oldest first: ``started``, ``duration_us``, ``command``,
    ``arg_count``, ``arg_bytes``, ``client_addr`` (values only when stored with
    ``keep_arguments``)."""
    for column in ("run_id", "id", "duration_us", "command"):
        if column not in slowlog:
            raise InputError(f"expected read_redis(store, 'slowlog'); {column} is missing")
    once = slowlog.drop_duplicates(["run_id", "id"], keep="last")
    drop = [c for c in ("snapshot_time", "uptime_s") if c in once]
    return once.drop(columns=drop).sort_values(["started", "id"], ignore_index=True)


def slow_commands(slowlog: pd.DataFrame) -> pd.DataFrame:
    """Per command: ``entries`` in the slow log, ``total_us``, ``mean_us``, ``max_us``,
    ``max_args`` (its largest argument count); longest total first."""
    entries = slow_entries(slowlog)
    if entries.empty:
        return pd.DataFrame(columns=["command", "entries", "total_us", "mean_us", "max_us",
                                     "max_args"])  # fmt: skip
    grouped = entries.groupby("command")
    out = pd.DataFrame({"entries": grouped.size(), "total_us": grouped["duration_us"].sum(),
                        "mean_us": grouped["duration_us"].mean(),
                        "max_us": grouped["duration_us"].max(),
                        "max_args": grouped["arg_count"].max()})  # fmt: skip
    return out.sort_values("total_us", ascending=False).reset_index()
