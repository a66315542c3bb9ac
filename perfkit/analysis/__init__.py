"""Analyses: pure functions, frames in, result frames or dataclasses out (no I/O, no plots)."""

from perfkit.analysis.calltree import call_tree
from perfkit.analysis.hotspots import HotSpots, hotspots
from perfkit.analysis.sketch import LatencySketch, merge_sketches, sketch_by
from perfkit.analysis.summary import summarize

__all__ = [
    "HotSpots",
    "LatencySketch",
    "call_tree",
    "hotspots",
    "merge_sketches",
    "sketch_by",
    "summarize",
]
