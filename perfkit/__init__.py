"""perfkit: a Flask + Gunicorn + PostgreSQL service's performance evidence as DataFrames."""

from perfkit.analysis import (
    LatencySketch,
    call_tree,
    hotspots,
    merge_sketches,
    sketch_by,
    summarize,
)
from perfkit.analysis.capacity import USLFit, erlang_c, fit_usl, size_workers
from perfkit.analysis.leak import fit_leak
from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.analysis.profile_diff import compare_profiles
from perfkit.analysis.regression import compare, mix_adjusted_change
from perfkit.errors import InputError, PerfkitError, PerfkitWarning
from perfkit.io import list_formats, parse_account, read_access_log, rejected_frame
from perfkit.io.jsonl import read_jsonl
from perfkit.io.loadtest import read_ab, read_locust, read_wrk
from perfkit.io.memory import read_memory
from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.io.profile import Profile, read_profile
from perfkit.report.snakeviz import open_snakeviz

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "LatencySketch",
    "PerfkitError",
    "PerfkitWarning",
    "Profile",
    "USLFit",
    "__version__",
    "call_tree",
    "compare",
    "compare_profiles",
    "erlang_c",
    "fit_leak",
    "fit_usl",
    "hotspots",
    "list_formats",
    "merge_sketches",
    "mix_adjusted_change",
    "open_snakeviz",
    "parse_account",
    "pg_deltas",
    "read_ab",
    "read_access_log",
    "read_jsonl",
    "read_locust",
    "read_memory",
    "read_pg_stat",
    "read_profile",
    "read_wrk",
    "rejected_frame",
    "size_workers",
    "sketch_by",
    "snapshot_pg",
    "summarize",
]
