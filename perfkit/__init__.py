"""perfkit: a Flask + Gunicorn + PostgreSQL service's performance evidence as DataFrames.

Names load on first use (PEP 562), so ``import perfkit`` stays light and a
script that only reads access logs never imports scipy or plotly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "LatencySketch": "perfkit.analysis.sketch",
    "call_tree": "perfkit.analysis.calltree",
    "change_points": "perfkit.analysis.changepoints",
    "hotspots": "perfkit.analysis.hotspots",
    "merge_sketches": "perfkit.analysis.sketch",
    "sketch_by": "perfkit.analysis.sketch",
    "summarize": "perfkit.analysis.summary",
    "InputError": "perfkit.errors",
    "PerfkitError": "perfkit.errors",
    "PerfkitWarning": "perfkit.errors",
    "Profile": "perfkit.io.profile",
    "USLFit": "perfkit.analysis.capacity",
    "compare": "perfkit.analysis.regression",
    "compare_error_rates": "perfkit.analysis.regression",
    "estimate_shift": "perfkit.analysis.regression",
    "Shift": "perfkit.analysis.regression",
    "concurrency_from_log": "perfkit.analysis.concurrency",
    "compare_loadtests": "perfkit.analysis.loadtest_compare",
    "compare_profiles": "perfkit.analysis.profile_diff",
    "compare_queries": "perfkit.analysis.queries",
    "erlang_c": "perfkit.analysis.capacity",
    "fit_leak": "perfkit.analysis.leak",
    "fit_usl": "perfkit.analysis.capacity",
    "fit_capacity": "perfkit.analysis.capacity",
    "list_formats": "perfkit.io",
    "locust_steps": "perfkit.analysis.concurrency",
    "mix_adjusted_change": "perfkit.analysis.regression",
    "open_snakeviz": "perfkit.report.snakeviz",
    "parse_account": "perfkit.io",
    "pg_deltas": "perfkit.analysis.pg_deltas",
    "read_ab": "perfkit.io.loadtest",
    "read_access_log": "perfkit.io",
    "read_jsonl": "perfkit.io.jsonl",
    "read_locust": "perfkit.io.loadtest",
    "read_memory": "perfkit.io.memory",
    "read_gunicorn_log": "perfkit.io.gunicorn_log",
    "read_line_profile": "perfkit.io.line_profile",
    "compare_line_profiles": "perfkit.analysis.regression.lines",
    "line_heat": "perfkit.report.lines",
    "read_pg_log": "perfkit.io.pg_log",
    "plan_changes": "perfkit.analysis.regression.plans",
    "worker_generations": "perfkit.analysis.workers",
    "read_pg_stat": "perfkit.io.pg",
    "read_redis": "perfkit.io.redis",
    "read_tracemalloc": "perfkit.io.allocations",
    "read_memray": "perfkit.io.allocations",
    "allocation_growth": "perfkit.analysis.allocations",
    "snapshot_redis": "perfkit.io.redis",
    "cache_summary": "perfkit.analysis.cache",
    "redis_intervals": "perfkit.analysis.cache",
    "read_profile": "perfkit.io.profile",
    "read_wrk": "perfkit.io.loadtest",
    "rejected_frame": "perfkit.io",
    "size_workers": "perfkit.analysis.capacity",
    "snapshot_pg": "perfkit.io.pg",
    "daily_peaks": "perfkit.analysis.growth",
    "project_growth": "perfkit.analysis.growth",
    "slo_compliance": "perfkit.analysis.slo",
    "recommend_gunicorn": "perfkit.analysis.sizing",
    "max_arrival_rate": "perfkit.analysis.capacity",
    "Targets": "perfkit.targets",
    "attribute": "perfkit.analysis.attribution",
    "Evidence": "perfkit.analysis.attribution",
}

if TYPE_CHECKING:  # the names above, as type checkers and editors see them (kept alike by a test)
    from perfkit.analysis.allocations import allocation_growth as allocation_growth
    from perfkit.analysis.attribution import Evidence as Evidence
    from perfkit.analysis.attribution import attribute as attribute
    from perfkit.analysis.cache import cache_summary as cache_summary
    from perfkit.analysis.cache import redis_intervals as redis_intervals
    from perfkit.analysis.calltree import call_tree as call_tree
    from perfkit.analysis.capacity import USLFit as USLFit
    from perfkit.analysis.capacity import erlang_c as erlang_c
    from perfkit.analysis.capacity import fit_capacity as fit_capacity
    from perfkit.analysis.capacity import fit_usl as fit_usl
    from perfkit.analysis.capacity import max_arrival_rate as max_arrival_rate
    from perfkit.analysis.capacity import size_workers as size_workers
    from perfkit.analysis.changepoints import change_points as change_points
    from perfkit.analysis.concurrency import concurrency_from_log as concurrency_from_log
    from perfkit.analysis.concurrency import locust_steps as locust_steps
    from perfkit.analysis.growth import daily_peaks as daily_peaks
    from perfkit.analysis.growth import project_growth as project_growth
    from perfkit.analysis.hotspots import hotspots as hotspots
    from perfkit.analysis.leak import fit_leak as fit_leak
    from perfkit.analysis.loadtest_compare import compare_loadtests as compare_loadtests
    from perfkit.analysis.pg_deltas import pg_deltas as pg_deltas
    from perfkit.analysis.profile_diff import compare_profiles as compare_profiles
    from perfkit.analysis.queries import compare_queries as compare_queries
    from perfkit.analysis.regression import Shift as Shift
    from perfkit.analysis.regression import compare as compare
    from perfkit.analysis.regression import compare_error_rates as compare_error_rates
    from perfkit.analysis.regression import estimate_shift as estimate_shift
    from perfkit.analysis.regression import mix_adjusted_change as mix_adjusted_change
    from perfkit.analysis.regression.lines import compare_line_profiles as compare_line_profiles
    from perfkit.analysis.regression.plans import plan_changes as plan_changes
    from perfkit.analysis.sizing import recommend_gunicorn as recommend_gunicorn
    from perfkit.analysis.sketch import LatencySketch as LatencySketch
    from perfkit.analysis.sketch import merge_sketches as merge_sketches
    from perfkit.analysis.sketch import sketch_by as sketch_by
    from perfkit.analysis.slo import slo_compliance as slo_compliance
    from perfkit.analysis.summary import summarize as summarize
    from perfkit.analysis.workers import worker_generations as worker_generations
    from perfkit.errors import InputError as InputError
    from perfkit.errors import PerfkitError as PerfkitError
    from perfkit.errors import PerfkitWarning as PerfkitWarning
    from perfkit.io import list_formats as list_formats
    from perfkit.io import parse_account as parse_account
    from perfkit.io import read_access_log as read_access_log
    from perfkit.io import rejected_frame as rejected_frame
    from perfkit.io.allocations import read_memray as read_memray
    from perfkit.io.allocations import read_tracemalloc as read_tracemalloc
    from perfkit.io.gunicorn_log import read_gunicorn_log as read_gunicorn_log
    from perfkit.io.jsonl import read_jsonl as read_jsonl
    from perfkit.io.line_profile import read_line_profile as read_line_profile
    from perfkit.io.loadtest import read_ab as read_ab
    from perfkit.io.loadtest import read_locust as read_locust
    from perfkit.io.loadtest import read_wrk as read_wrk
    from perfkit.io.memory import read_memory as read_memory
    from perfkit.io.pg import read_pg_stat as read_pg_stat
    from perfkit.io.pg import snapshot_pg as snapshot_pg
    from perfkit.io.pg_log import read_pg_log as read_pg_log
    from perfkit.io.profile import Profile as Profile
    from perfkit.io.profile import read_profile as read_profile
    from perfkit.io.redis import read_redis as read_redis
    from perfkit.io.redis import snapshot_redis as snapshot_redis
    from perfkit.report.lines import line_heat as line_heat
    from perfkit.report.snakeviz import open_snakeviz as open_snakeviz
    from perfkit.targets import Targets as Targets

# subpackages reachable as attributes after a plain ``import perfkit`` (``perfkit.plots.flame``)
_SUBPACKAGES = ("analysis", "collect", "io", "plots", "report", "sandbox")

__all__ = ["__version__", *sorted(_EXPORTS)]


# the packages of the reports extra that perfkit imports (perfkit.report.run checks them), and
# a package of an extra (not in the core install) -> the extra that brings it
_REPORTS = (
    "plotly",
    "IPython",
    "ipykernel",
    "nbformat",
    "nbconvert",
    "papermill",
    "jupyter_client",
)
_EXTRAS: dict[str, str] = {
    **dict.fromkeys(_REPORTS, "reports"),
    **dict.fromkeys(("snakeviz", "tornado"), "lab"),
    **dict.fromkeys(("dask", "distributed"), "dask"),
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the installed distribution's (pyproject.toml), read once
        globals()[name] = _version()
        return globals()[name]
    if name in _SUBPACKAGES:  # imported on first use; the import binds it in this namespace
        return _import(f"perfkit.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perfkit' has no attribute {name!r}")
    value = getattr(_import(module), name)
    globals()[name] = value
    return value


def _import(module: str) -> Any:
    """`module`, or a ModuleNotFoundError naming the extra to install when a package of one
    is missing (``perfkit.plots`` in a core install needs ``perfkit[reports]``)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        message = f"{module} needs {exc.name}, of the {extra} extra: pip install 'perfkit[{extra}]'"
        raise ModuleNotFoundError(message, name=exc.name) from exc


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBPACKAGES])


def _version() -> str:
    """The version in the installed distribution's metadata ("0+unknown" when run from
    sources that were never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("perfkit")
    except PackageNotFoundError:
        return "0+unknown"
