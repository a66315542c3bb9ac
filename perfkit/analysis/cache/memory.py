"""Is the cache out of room? Used memory against ``maxmemory``, and evictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfkit.analysis.cache.deltas import info_deltas


def memory_pressure(info: pd.DataFrame, commandstats: pd.DataFrame) -> pd.DataFrame:
    """Per interval: ``used_memory`` and ``maxmemory`` at its end (bytes; ``maxmemory`` 0 is
    no limit), ``used_share`` (used / maxmemory, NaN without a limit), ``maxmemory_policy``,
    and the keys evicted and expired in it (``evicted_keys``, ``expired_keys``)."""
    deltas = info_deltas(info, commandstats)
    out = deltas[["interval_start", "interval_end", "status", "used_memory", "maxmemory",
                  "maxmemory_policy", "evicted_keys", "expired_keys"]].copy()  # fmt: skip
    limit = out["maxmemory"].where(out["maxmemory"] > 0)
    out.insert(5, "used_share", out["used_memory"] / limit)
    return out


def evictions(pressure: pd.DataFrame) -> int:
    """Keys evicted over the whole of `memory_pressure` (0 when none)."""
    return int(np.nansum(pressure["evicted_keys"].to_numpy(dtype="float64")))
