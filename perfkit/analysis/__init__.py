"""Analyses: pure functions, frames in, result frames or dataclasses out (no I/O, no plots)."""

from perfkit.analysis.sketch import LatencySketch, merge_sketches, sketch_by
from perfkit.analysis.summary import summarize

__all__ = ["LatencySketch", "merge_sketches", "sketch_by", "summarize"]
