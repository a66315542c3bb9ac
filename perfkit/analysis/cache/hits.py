"""Is the cache answering? Redis's keyspace hit ratio, interval by interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfkit.analysis.cache.deltas import info_deltas


def hit_ratio(info: pd.DataFrame, commandstats: pd.DataFrame) -> pd.DataFrame:
    """Per interval: ``hits``, ``misses`` (``keyspace_hits`` / ``keyspace_misses`` deltas),
    ``lookups`` and ``hit_ratio`` = hits / (hits + misses) (NaN without a lookup), with the
    interval's ``status`` (resets and restarts counted from the reset, see
    `perfkit.analysis.cache.deltas`)."""
    deltas = info_deltas(info, commandstats)
    out = deltas[["interval_start", "interval_end", "interval_s", "status"]].copy()
    out["hits"] = deltas["keyspace_hits"]
    out["misses"] = deltas["keyspace_misses"]
    out["lookups"] = out["hits"] + out["misses"]
    out["hit_ratio"] = out["hits"] / out["lookups"].where(out["lookups"] > 0)
    return out


def overall_hit_ratio(ratios: pd.DataFrame) -> float:
    """Hits over lookups across every interval of `hit_ratio` (NaN without a lookup)."""
    lookups = float(ratios["lookups"].sum())
    return float(ratios["hits"].sum()) / lookups if lookups > 0 else float(np.nan)
