"""Which allocation sites grow: tracemalloc snapshots over time, fitted per site.

`allocation_growth` reads `perfkit.read_tracemalloc`'s frame: one row per site with its slope in
bytes per request and bytes per second, interval and verdict.
"""

from perfkit.analysis.allocations.growth import VERDICTS, allocation_growth, snapshot_series

__all__ = ["VERDICTS", "allocation_growth", "snapshot_series"]
