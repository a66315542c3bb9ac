"""Which Redis commands cost the time? Calls and µs per call per command."""

from __future__ import annotations

import pandas as pd


def command_table(deltas: pd.DataFrame, include_perfkit: bool = True,
                  latencystats: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Per command over every interval of `command_deltas`: ``calls``, ``usec`` (server time,
    µs), ``usec_per_call``, ``share_of_time`` (of all commands' µs), ``failed_calls``,
    ``rejected_calls`` and ``perfkit_calls``; largest time first. Without `include_perfkit`,
    perfkit's own snapshot calls are subtracted (their time stays: Redis does not split it).
    With `latencystats` (``read_redis(store, "latencystats")``, Redis 7), ``p50_usec``,
    ``p99_usec`` and ``p99.9_usec`` of the last snapshot: Redis's percentiles since its
    start or last reset, not per interval."""
    columns = ["calls", "usec", "failed_calls", "rejected_calls", "perfkit_calls"]
    if deltas.empty:
        return pd.DataFrame(columns=["command", *columns, "usec_per_call", "share_of_time"])
    table = deltas.groupby("command")[columns].sum()
    if not include_perfkit:
        table["calls"] = table["calls"] - table["perfkit_calls"]
        table = table[table["calls"] > 0]
    table["usec_per_call"] = table["usec"] / table["calls"].where(table["calls"] > 0)
    total = float(table["usec"].sum())
    table["share_of_time"] = table["usec"] / total if total > 0 else 0.0
    table = table.sort_values("usec", ascending=False)
    if latencystats is not None and not latencystats.empty:
        last = latencystats[latencystats["snapshot_time"] == latencystats["snapshot_time"].max()]
        wide = last.pivot_table(index="command", columns="percentile", values="usec",
                                aggfunc="last")  # fmt: skip
        for percentile in (50.0, 99.0, 99.9):
            if percentile in wide:
                table[f"p{percentile:g}_usec"] = wide[percentile].reindex(table.index)
    return table.reset_index()
