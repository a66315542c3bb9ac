"""Per-interval deltas of Redis's cumulative counters, with resets and restarts detected.

Redis's counters (``keyspace_hits``, ``total_commands_processed``, each command's ``calls``
and ``usec``...) add up from the server's start or the last ``CONFIG RESETSTAT``. Between
two snapshots each interval gets a ``status``:

- ``restart``: the ``run_id`` changed or ``uptime_s`` went backwards;
- ``reset``: statistics were reset (``CONFIG RESETSTAT``). A counter that went down says
  so, but one that grew back past its earlier value after the reset would not. Two more
  tells: ``config|resetstat``'s own calls grew (Redis counts the reset after it ran, so
  they only ever grow by a reset); and perfkit's own snapshot: each sends, after its
  ``INFO``, one ``SLOWLOG LEN``, ``SLOWLOG GET``, ``LATENCY LATEST``, ``MEMORY STATS`` and
  ``CONFIG GET``, so without a reset each of those commands' calls (and ``info``'s) grows by
  at least one from one snapshot to the next; when any of them does not, the interval
  held a reset. Only the commands the earlier snapshot sent and Redis answered count (an
  ACL or a managed Redis may refuse some, see `perfkit.io.redis.take_snapshot`). A reset
  goes unseen only if every counter and each of those commands, called by others, outgrew
  its earlier value, and ``config|resetstat`` was already 1.
- ``ok`` otherwise.

In a ``reset`` or ``restart`` interval a counter's delta is its later value: what was
counted after the reset (what came between the earlier snapshot and the reset is lost, and
no delta is ever negative or inflated by the earlier sums).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from perfkit.errors import InputError

OWN_COMMANDS = ("info", "slowlog|len", "slowlog|get", "latency|latest", "memory|stats",
                "config|get")  # fmt: skip
COUNTERS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys",
            "total_commands_processed", "total_connections_received", "rejected_connections",
            "total_net_input_bytes", "total_net_output_bytes", "total_error_replies")  # fmt: skip
GAUGES = ("used_memory", "used_memory_peak", "maxmemory", "connected_clients", "uptime_in_seconds")
COMMAND_COUNTERS = ("calls", "usec", "rejected_calls", "failed_calls")


def _snapshots(info: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot: snapshot_time, run_id, uptime_s, oldest first."""
    for column in ("snapshot_time", "run_id", "uptime_s", "field", "number"):
        if column not in info:
            raise InputError(f"expected read_redis(store, 'info') snapshots; {column} is missing")
    snaps = info.groupby("snapshot_time", sort=True)[["run_id", "uptime_s"]].first()
    return snaps.reset_index()


def _wide(info: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """snapshot_time x field numbers (INFO sections only, not the config rows)."""
    rows = info[(info["section"] != "config") & info["field"].isin(fields)]
    wide = rows.pivot_table(index="snapshot_time", columns="field", values="number",
                            aggfunc="last")  # fmt: skip
    return wide.reindex(columns=list(fields)).astype("float64")


def _calls(commandstats: pd.DataFrame, times: pd.Index) -> pd.DataFrame:
    """snapshot_time x command calls (0 where a command is absent)."""
    if commandstats.empty:
        return pd.DataFrame(0.0, index=times, columns=list(OWN_COMMANDS))
    wide = commandstats.pivot_table(index="snapshot_time", columns="command", values="calls",
                                    aggfunc="last")  # fmt: skip
    return wide.reindex(index=times).fillna(0.0).astype("float64")


def redis_intervals(info: pd.DataFrame, commandstats: pd.DataFrame) -> pd.DataFrame:
    """One row per interval between consecutive snapshots (see the module docstring).

    Columns: ``interval_start``, ``interval_end``, ``interval_s``, ``run_id`` (of the later
    snapshot), ``status`` (``ok``, ``reset``, ``restart``) and ``reason`` (plain words).
    `InputError` with fewer than two snapshots.
    """
    snaps = _snapshots(info)
    if len(snaps) < 2:
        raise InputError("Redis deltas need at least two snapshots (perfkit collect redis "
                         "--count 2 or more)")  # fmt: skip
    times = pd.Index(snaps["snapshot_time"])
    counters = _wide(info, COUNTERS).set_axis(times)
    calls = _calls(commandstats, times)
    earlier, later = snaps.iloc[:-1].reset_index(drop=True), snaps.iloc[1:].reset_index(drop=True)
    restart = (earlier["run_id"].to_numpy() != later["run_id"].to_numpy()) | (
        later["uptime_s"].to_numpy() < earlier["uptime_s"].to_numpy())
    went_down = (counters.diff().iloc[1:] < 0).any(axis=1).to_numpy().copy()
    went_down |= (calls.diff().iloc[1:] < 0).any(axis=1).to_numpy()
    version = info[(info["section"] == "server") & (info["field"] == "redis_version")]
    major = pd.to_numeric(version.groupby("snapshot_time")["value"].last().str.split(".").str[0],
                          errors="coerce").reindex(times)  # fmt: skip
    subcommands = ~(major.iloc[1:] < 7).to_numpy()  # unknown: Redis 7's naming
    stalled = _stalled(calls, _sent(info, times).iloc[:-1], commandstats.empty, subcommands)
    if "config|resetstat" in calls:
        stalled |= (calls["config|resetstat"].diff().iloc[1:] > 0).to_numpy()
    status = np.where(restart, "restart", np.where(went_down | stalled, "reset", "ok"))
    reason = np.where(restart, "server restarted (run_id changed or uptime went back)",
                      np.where(went_down, "statistics reset (a counter went down)",
                               np.where(stalled, "statistics reset (CONFIG RESETSTAT counted, "
                                        "or perfkit's own commands not)", "")))  # fmt: skip
    out = pd.DataFrame({"interval_start": earlier["snapshot_time"],
                        "interval_end": later["snapshot_time"],
                        "run_id": later["run_id"], "status": status, "reason": reason})
    out.insert(2, "interval_s", (out["interval_end"] - out["interval_start"]).dt.total_seconds())
    return out


def _stalled(calls: pd.DataFrame, sent: pd.DataFrame, unknown: bool,
             subcommands: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per interval: whether a command perfkit sent (and Redis answered) at its start did not
    grow in commandstats by its end (a reset the counters cannot show; a command with no calls
    is absent from commandstats: 0). Redis 7 counts sub-commands (``slowlog|len``); Redis 6 only
    the command (``slowlog``, which then grows by every sub-command sent): `subcommands` says,
    per interval, which the server at its end is."""
    if unknown or not len(sent):
        return np.zeros(len(sent), dtype=bool)
    growth = calls.diff().iloc[1:].reset_index(drop=True)
    out = np.zeros(len(sent), dtype=bool)
    for seven in (True, False):
        need: dict[str, np.ndarray] = {}
        for command in OWN_COMMANDS:
            column = command if seven else command.split("|")[0]
            need[column] = need.get(column, 0) + sent[command].to_numpy().astype("int64")
        for column, count in need.items():
            grew = growth[column].to_numpy() if column in growth else np.zeros(len(sent))
            out |= (subcommands == seven) & (grew < count)
    return out


def _sent(info: pd.DataFrame, times: pd.Index) -> pd.DataFrame:
    """snapshot_time x `OWN_COMMANDS`: whether that snapshot sent the command and Redis
    answered (``perfkit`` section of the info view; a store without it: every command)."""
    rows = info[info["section"] == "perfkit"]
    if rows.empty:
        return pd.DataFrame(True, index=times, columns=list(OWN_COMMANDS))
    names = rows["field"].str.removeprefix("sent.")
    table = pd.crosstab(rows["snapshot_time"], names).reindex(index=times,
                                                              columns=list(OWN_COMMANDS))
    return table.fillna(0).astype(bool)


def _deltas(wide: pd.DataFrame, status: np.ndarray) -> pd.DataFrame:
    """Row-wise later - earlier, or the later value where the interval reset or restarted."""
    now = wide.iloc[1:].to_numpy()
    before = wide.iloc[:-1].to_numpy()
    restarted = (status != "ok")[:, None]
    delta = np.where(restarted, now, now - np.nan_to_num(before))
    return pd.DataFrame(delta, columns=wide.columns)


def info_deltas(info: pd.DataFrame, commandstats: pd.DataFrame) -> pd.DataFrame:
    """`redis_intervals` with each INFO counter's delta (`COUNTERS`, counts in the interval)
    and the gauges at its end (`GAUGES`: bytes, clients, seconds), ``maxmemory_policy``."""
    intervals = redis_intervals(info, commandstats)
    counters = _wide(info, COUNTERS)
    deltas = _deltas(counters, intervals["status"].to_numpy())
    gauges = _wide(info, GAUGES).iloc[1:].reset_index(drop=True)
    policy = info[info["field"] == "maxmemory_policy"].groupby("snapshot_time")["value"].last()
    out = pd.concat([intervals, deltas, gauges], axis=1)
    out["maxmemory_policy"] = out["interval_end"].map(policy).astype("string")
    return out


def command_deltas(info: pd.DataFrame, commandstats: pd.DataFrame) -> pd.DataFrame:
    """One row per command per interval it was called in: ``calls``, ``usec``,
    ``rejected_calls``, ``failed_calls`` (deltas), ``usec_per_call`` (µs), ``status``, and
    ``perfkit_calls``: the calls perfkit's own snapshots made (1 per interval for its six
    commands, counted only in ``ok`` intervals)."""
    intervals = redis_intervals(info, commandstats)
    times = pd.Index(sorted(info["snapshot_time"].unique()))
    frames = []
    status = intervals["status"].to_numpy()
    for counter in COMMAND_COUNTERS:
        wide = commandstats.pivot_table(index="snapshot_time", columns="command", values=counter,
                                        aggfunc="last").reindex(times)  # fmt: skip
        delta = _deltas(wide.fillna(0.0).astype("float64"), status)
        delta.index = intervals["interval_end"]
        stacked = cast("pd.Series[float]", delta.stack())
        frames.append(stacked.rename(counter))
    if not frames or not len(commandstats):
        columns = ["interval_start", "interval_end", "status", "command", *COMMAND_COUNTERS,
                   "usec_per_call", "perfkit_calls"]  # fmt: skip
        return pd.DataFrame(columns=columns)
    long = pd.concat(frames, axis=1).reset_index()
    long.columns = ["interval_end", "command", *COMMAND_COUNTERS]
    long = long[long["calls"] > 0]
    out = intervals[["interval_start", "interval_end", "status"]].merge(long, on="interval_end")
    out["usec_per_call"] = out["usec"] / out["calls"]
    out["perfkit_calls"] = np.where(out["command"].isin(OWN_COMMANDS) & (out["status"] == "ok"),
                                    1, 0)  # fmt: skip
    return out.sort_values(["interval_end", "usec"], ascending=[True, False], ignore_index=True)
