"""The cache in one dictionary: hit ratio against its target, commands, evictions, memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from perfkit.analysis.cache.commands import command_table
from perfkit.analysis.cache.deltas import command_deltas
from perfkit.analysis.cache.hits import hit_ratio, overall_hit_ratio
from perfkit.analysis.cache.memory import evictions, memory_pressure
from perfkit.analysis.cache.slow import slow_entries


def cache_summary(info: pd.DataFrame, commandstats: pd.DataFrame,
                  slowlog: pd.DataFrame | None = None,
                  target: float = 0.9) -> dict[str, Any]:  # fmt: skip
    """The numbers a report states: ``hit_ratio`` over the snapshots (hits / lookups),
    ``hits``, ``misses``, ``target`` and ``meets`` (None without a lookup), ``intervals``,
    ``resets``, ``restarts``, ``calls`` (every command, perfkit's own left out), ``top_command``
    (most server time), ``evicted_keys``, ``peak_used_memory`` and ``maxmemory`` (bytes),
    ``peak_used_share`` and ``slow_entries``."""
    ratios = hit_ratio(info, commandstats)
    ratio = overall_hit_ratio(ratios)
    commands = command_table(command_deltas(info, commandstats), include_perfkit=False)
    pressure = memory_pressure(info, commandstats)
    limit = float(pressure["maxmemory"].max())
    peak = float(pressure["used_memory"].max())
    return {
        "hit_ratio": None if np.isnan(ratio) else ratio,
        "hits": int(ratios["hits"].sum()), "misses": int(ratios["misses"].sum()),
        "target": float(target),
        "meets": None if np.isnan(ratio) else bool(ratio >= target),
        "intervals": len(ratios),
        "resets": int((ratios["status"] == "reset").sum()),
        "restarts": int((ratios["status"] == "restart").sum()),
        "calls": int(commands["calls"].sum()) if len(commands) else 0,
        "top_command": str(commands["command"].iloc[0]) if len(commands) else None,
        "evicted_keys": evictions(pressure),
        "peak_used_memory": peak, "maxmemory": limit,
        "peak_used_share": peak / limit if limit > 0 else None,
        "slow_entries": 0 if slowlog is None or slowlog.empty else len(slow_entries(slowlog)),
    }  # fmt: skip
