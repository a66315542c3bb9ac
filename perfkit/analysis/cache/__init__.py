"""Questions about a Redis cache in front of the database, from `perfkit.read_redis` snapshots:
is it answering (hit ratio over time), which commands cost the time, which were slow, is it
out of room (memory against ``maxmemory``, evictions). Deltas survive ``CONFIG RESETSTAT``
and restarts (`perfkit.analysis.cache.deltas`)."""

from perfkit.analysis.cache.commands import command_table
from perfkit.analysis.cache.deltas import command_deltas, info_deltas, redis_intervals
from perfkit.analysis.cache.hits import hit_ratio, overall_hit_ratio
from perfkit.analysis.cache.memory import evictions, memory_pressure
from perfkit.analysis.cache.slow import slow_commands, slow_entries
from perfkit.analysis.cache.summary import cache_summary

__all__ = ["cache_summary", "command_deltas", "command_table", "evictions", "hit_ratio",
           "info_deltas", "memory_pressure", "overall_hit_ratio", "redis_intervals",
           "slow_commands", "slow_entries"]
