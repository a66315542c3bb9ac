"""perfkit: a Flask + Gunicorn + PostgreSQL service's performance evidence as DataFrames."""

from perfkit.analysis import LatencySketch, merge_sketches, sketch_by, summarize
from perfkit.errors import InputError, PerfkitError, PerfkitWarning
from perfkit.io import list_formats, parse_account, read_access_log, rejected_frame

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "LatencySketch",
    "PerfkitError",
    "PerfkitWarning",
    "__version__",
    "list_formats",
    "merge_sketches",
    "parse_account",
    "read_access_log",
    "rejected_frame",
    "sketch_by",
    "summarize",
]
