"""plotly figure builders, one per result kind, one shared theme (no statistics, no I/O)."""

from perfkit.plots.flame import flame, flame_diff

__all__ = ["flame", "flame_diff"]
