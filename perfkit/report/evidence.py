"""One run's evidence, loaded from a folder laid out as perfkit's recorder writes it (or by paths).

A run folder may hold any of: ``access.log*`` (or ``*.log*``), ``profiles/``
(cProfile dumps, plain or compressed), ``pyspy.json*``, ``pg/`` (a
`snapshot_pg` store), ``memory.csv`` (or ``*.dat``, ``*.prom``),
``locust_stats.csv`` and ``locust_stats_history.csv``, ``outbound.jsonl*``,
Gunicorn's error log (``gunicorn*.log*``, ``error*.log*``; `perfkit.read_gunicorn_log`),
PostgreSQL's server log (``postgresql*.log*``/``.csv*``/``.json*`` or ``pg_log/``;
`perfkit.read_pg_log`; its ``log_line_prefix`` from ``log_line_prefix.txt`` or a copy of
``postgresql.conf`` in the folder, else sniffed), ``redis/`` (a `perfkit collect redis`
store: `perfkit.read_redis`), ``tracemalloc/`` (the Gunicorn hook's snapshots:
`perfkit.read_tracemalloc`), ``lprof/*.lprof`` or ``*.lprof`` (`perfkit.read_line_profile`;
a ``source/`` copy of the code gives each run its own line texts).
An ``access_log_format.txt`` beside the log gives the server's log format
(e.g. Gunicorn's ``access_log_format``): `perfkit.read_access_log` reads it.
``pg/`` may also hold psql CSV exports (`perfkit.io.pg_csv`). Whatever is
missing is None and the reports say so. Each source loads on its own: one
that is present but broken (an `InputError`, naming the file) is recorded in
`Run.problems`, its frame stays None and the rest loads; only a folder where
nothing could be read raises. Any other exception is a bug and propagates.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from perfkit.errors import InputError

if TYPE_CHECKING:
    from perfkit.analysis.attribution import Evidence
    from perfkit.io.profile import Profile


@dataclass
class Run:
    """A run's frames (None when not collected) and where they came from."""

    name: str
    requests: pd.DataFrame | None = None
    profile: Profile | None = None
    pyspy: Profile | None = None
    statements: pd.DataFrame | None = None  # pg_deltas of pg_stat_statements
    pg_store: Path | None = None  # pg/: a snapshot store or a folder of psql CSV exports
    memory: pd.DataFrame | None = None
    redis: dict[str, pd.DataFrame] | None = None  # redis/ (perfkit collect redis): read_redis
    # views info, commandstats, slowlog and latencystats
    locust_stats: pd.DataFrame | None = None
    locust_history: pd.DataFrame | None = None
    outbound: pd.DataFrame | None = None
    allocations: pd.DataFrame | None = None  # tracemalloc/ snapshots (read_tracemalloc)
    workers: pd.DataFrame | None = None  # Gunicorn's error-log events (read_gunicorn_log)
    pg_log: pd.DataFrame | None = None  # PostgreSQL's server log entries (read_pg_log)
    line_profile: pd.DataFrame | None = None  # line_profiler dumps (read_line_profile, by_file)
    sources: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # source -> why it failed
    folder: Path | None = None

    def problem(self, source: str) -> str | None:
        """Why `source` (``memory``, ``pg``, ``locust``...) failed, its files shown from the
        run folder's parent (``soak/memory.csv: ...``); None when it did not fail."""
        message = self.problems.get(source)
        if message is None or self.folder is None:
            return message
        return message.replace(f"{self.folder.parent}/", "")

    def failed(self, source: str, judged: str) -> str | None:
        """A plain-English reason that `judged` could not be judged, when `source` failed."""
        why = self.problem(source)
        if why is None:
            return None
        return f"{judged}: the {LABELS.get(source, source)} could not be read ({why})"

    def absent(self, source: str, nothing: str) -> str:
        """What a section shows when its `source` is missing: the failure, else `nothing`."""
        why = self.problem(source)
        if why is None:
            return nothing
        return f"The {LABELS.get(source, source)} could not be read, so this is not shown: {why}"

    def request_span(self) -> tuple[int, pd.Timestamp, pd.Timestamp]:
        """(requests, first time, last time) of the access log, whichever the engine."""
        frame: Any = self.requests  # pandas or Dask
        if type(frame).__module__.startswith("dask"):
            import dask

            count, first, last = dask.compute(frame.shape[0], frame["time"].min(),
                                              frame["time"].max())  # fmt: skip
            return int(count), first, last
        return len(frame), frame["time"].min(), frame["time"].max()

    def evidence(self) -> Evidence:
        """This run as attribution `Evidence` (a run with an access log)."""
        from perfkit.analysis.attribution import Evidence

        requests = cast(pd.DataFrame, self.requests)
        return Evidence(requests, self.profile, self.outbound, self.statements)

    def trust(self, notes: bool = True) -> pd.DataFrame:
        """The data-trust table: per source, what was read, what was rejected, time range;
        with `notes`, one row per perfkit warning of this notebook not already shown as a
        note (`perfkit.report.display.notes`), its file paths cut to folder and name."""
        rows: list[dict[str, Any]] = []
        if self.requests is not None and type(self.requests).__module__.startswith("dask"):
            count, first, last = self.request_span()
            rows.append({"source": "access log", "records": int(count), "rejected": pd.NA,
                         "from": first, "to": last,
                         "note": f"Dask engine, {self.requests.npartitions} partitions: rejected "
                         "lines are counted per partition, not gathered"})  # fmt: skip
        elif self.requests is not None:
            account = self.requests.attrs.get("perfkit", {})
            rows.append({
                "source": "access log", "records": len(self.requests),
                "rejected": account.get("rejected", 0),
                "from": self.requests["time"].min(), "to": self.requests["time"].max(),
                "note": _rejections(account) + _inferred(account),
            })  # fmt: skip
        if self.profile is not None:
            dumps = self.profile.dumps
            rows.append({"source": "profiles", "records": len(dumps), "rejected": 0,
                         "from": dumps["timestamp"].min(), "to": dumps["timestamp"].max(),
                         "note": f"{dumps['route'].nunique()} routes profiled"})  # fmt: skip
        if self.statements is not None:
            intervals = self.statements["interval_end"].nunique()
            resets = int(self.statements["status"].eq("reset").sum())
            statements = int(self.statements["queryid"].nunique())
            rows.append({
                "source": "pg_stat_statements", "records": statements,
                "rejected": resets, "from": self.statements["interval_start"].min(),
                "to": self.statements["interval_end"].max(),
                "note": f"{intervals} intervals; statement rows inside a statistics reset "
                f"(no delta): {resets}{_hidden(self.statements)}",
            })  # fmt: skip
        if self.redis is not None:
            rows.append(_redis_row(self.redis))
        if self.memory is not None:
            rows.append({"source": "memory samples", "records": len(self.memory), "rejected": 0,
                         "from": self.memory["time"].min(), "to": self.memory["time"].max(),
                         "note": f"{self.memory['pid'].nunique()} processes"})  # fmt: skip
        if self.allocations is not None:
            snaps = self.allocations.drop_duplicates("snapshot")
            sites = self.allocations["traceback"].nunique()
            rows.append({"source": "tracemalloc snapshots", "records": len(snaps),
                         "rejected": 0, "from": snaps["time"].min(), "to": snaps["time"].max(),
                         "note": f"{snaps['pid'].nunique()} processes, "
                         f"{sites:,} allocation sites"})  # fmt: skip
        if self.outbound is not None:
            rows.append({"source": "outbound calls", "records": len(self.outbound), "rejected": 0,
                         "from": self.outbound["time"].min(), "to": self.outbound["time"].max(),
                         "note": f"{self.outbound['host'].nunique()} hosts"})  # fmt: skip
        if self.locust_stats is not None:
            total = self.locust_stats.set_index("name")["request_count"].get("Aggregated", 0)
            rows.append({"source": "Locust", "records": int(total), "rejected": 0,
                         "from": pd.NaT, "to": pd.NaT, "note": "load-test statistics"})  # fmt: skip
        if self.workers is not None:
            kinds = self.workers["kind"].astype(str).value_counts()
            rows.append(_event_log_row("Gunicorn error log", self.workers,
                                       f"{kinds.get('boot', 0)} worker boots, "
                                       f"{kinds.get('error', 0)} errors logged"))  # fmt: skip
        if self.pg_log is not None:
            kinds = self.pg_log["kind"].astype(str).value_counts()
            form = self.pg_log.attrs.get("perfkit", {}).get("format", "")
            rows.append(_event_log_row("PostgreSQL server log", self.pg_log,
                                       f"{kinds.get('statement', 0):,} executions, "
                                       f"{kinds.get('plan', 0):,} plans ({form})"))  # fmt: skip
        if self.line_profile is not None:
            account = self.line_profile.attrs.get("perfkit", {})
            units = ", ".join(f"{u:g} s" for u in account.get("units_s", []))
            stale = len(account.get("source_stale", []))
            rows.append({"source": "line profile", "records": len(self.line_profile),
                         "rejected": 0, "from": pd.NaT, "to": pd.NaT,
                         "note": f"{account.get('dumps', 0)} .lprof dumps, "
                         f"{account.get('functions', 0)} functions, timer unit {units}; "
                         f"source not found for {len(account.get('source_missing', []))} "
                         f"file(s), edited since profiling: {stale} function(s)"})  # fmt: skip
        keys = {"access log": "access log", "profiles": "profiles", "pg_stat_statements": "pg",
                "memory samples": "memory", "outbound calls": "outbound",
                "Locust": "locust", "Gunicorn error log": "gunicorn log",
                "PostgreSQL server log": "pg log", "line profile": "line profile"}  # fmt: skip
        keys["tracemalloc snapshots"] = "allocations"
        keys["Redis statistics"] = "redis"
        for row in rows:
            row["files"] = _shown_sources(self.sources.get(keys[row["source"]], []))
        for source in self.problems:
            rows.append({"source": LABELS.get(source, source), "records": pd.NA,
                         "rejected": pd.NA, "from": pd.NaT, "to": pd.NaT,
                         "note": f"FAILED, not used: {self.problem(source)}",
                         "files": _shown_sources(self.sources.get(source, []))})  # fmt: skip
        if notes:
            from perfkit.report.display import pending_notes

            rows += [{"source": "warning", "records": pd.NA, "rejected": pd.NA,
                      "from": pd.NaT, "to": pd.NaT, "note": text, "files": ""}
                     for text in pending_notes()]  # fmt: skip
        columns = ["source", "records", "rejected", "from", "to", "note", "files"]
        return pd.DataFrame(rows, columns=columns)


LABELS = {
    "access log": "access log", "profiles": "profiles", "py-spy": "py-spy profile",
    "pg": "PostgreSQL statistics", "memory": "memory samples", "locust": "Locust statistics",
    "outbound": "outbound-call log", "pg tables": "PostgreSQL table statistics",
    "pg indexes": "PostgreSQL index statistics", "pg database": "PostgreSQL database statistics",
    "pg live": "live PostgreSQL server", "traffic": "traffic history",
    "gunicorn log": "Gunicorn error log", "pg log": "PostgreSQL server log",
    "line profile": "line profile (.lprof)",
}  # fmt: skip
LABELS["allocations"] = "tracemalloc snapshots"
LABELS["redis"] = "Redis statistics"
PG_LOGS = ("postgresql*.log*", "postgresql*.csv*", "postgresql*.json*", "pg_log/*.log*",
           "pg_log/*.csv*", "pg_log/*.json*")  # log_directory's default file names
# Gunicorn's --error-logfile (a file named for access, e.g. gunicorn-access.log, is an access log)
ERROR_LOGS = ("*error*.log*", "gunicorn.log*", "gunicorn_*.log*", "gunicorn-*.log*")


def _event_log_row(source: str, events: pd.DataFrame, note: str) -> dict[str, object]:
    """The trust row of a log read as events (Gunicorn's error log, PostgreSQL's)."""
    return {"source": source, "records": len(events),
            "rejected": events.attrs.get("perfkit", {}).get("rejected", 0),
            "from": events["time"].min(), "to": events["time"].max(), "note": note}  # fmt: skip


def _redis_row(views: dict[str, pd.DataFrame]) -> dict[str, object]:
    """The trust row of a Redis store: snapshots, and the resets and restarts in between."""
    info = views["info"]
    times = info["snapshot_time"]
    note = f"{times.nunique()} snapshots"
    if times.nunique() >= 2:
        from perfkit.analysis.cache import redis_intervals

        status = redis_intervals(info, views["commandstats"])["status"].value_counts()
        note += (f", {int(status.sum())} intervals; statistics resets: {status.get('reset', 0)}, "
                 f"server restarts: {status.get('restart', 0)} (counted from the reset)")
    else:
        note += ": one snapshot, no interval to count (collect two or more)"
    return {"source": "Redis statistics", "records": int(times.nunique()), "rejected": 0,
            "from": times.min(), "to": times.max(), "note": note}  # fmt: skip


def _shown_sources(sources: list[str], limit: int = 3) -> str:
    """File names (not full paths), at most `limit`, and how many more."""
    names = [s if s.startswith("live:") else Path(s).name for s in sources]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _rejections(account: dict) -> str:
    """The format (and the format file it came from), and for rejected lines their reasons
    with counts and one example."""
    fmt = f"format {account.get('format', '?')}"
    if account.get("format_file"):
        files = ", ".join(Path(f).name for f in str(account["format_file"]).split(", "))
        fmt += f" (from {files})"
    if not account.get("rejected"):
        return f"{fmt}; no line rejected"
    reasons = "; ".join(f"{n} x {r}" for r, n in list(account.get("reasons", {}).items())[:3])
    example = (account.get("rejected_lines") or [{}])[0]
    where = f"{Path(str(example.get('file', ''))).name}:{example.get('line', '?')}"
    return f"{fmt}; rejected: {reasons} (e.g. {where})"


def _inferred(account: dict) -> str:
    """The route parameters inferred from the log's own paths, the largest three named."""
    inferred = (account.get("routes") or {}).get("inferred") or []
    if not inferred:
        return ""
    top = sorted(inferred, key=lambda p: -p.get("requests", 0))[:3]
    named = ", ".join(f"{p['template']} from {p['values']:,} values" for p in top)
    more = f" and {len(inferred) - 3} more" if len(inferred) > 3 else ""
    return f"; routes inferred from the data: {named}{more}"


def resolve(path: str | Path) -> Path:
    """`path` under the loaders' rule (`perfkit.io.paths.locate`): as given from the working
    directory, else from the project root (so the notebooks' ``data/...`` defaults work from
    JupyterLab, whose kernels start in ``notebooks/``)."""
    from perfkit.io.paths import locate

    return locate(path)


def _first(folder: Path, patterns: tuple[str, ...], taken: tuple[str, ...] = ()) -> list[str]:
    """The files of the first pattern that matches any file not already `taken` by another
    source (an access log is never a file the error-log or server-log patterns took)."""
    for pattern in patterns:
        found = [f for f in sorted(glob.glob(str(folder / pattern))) if f not in taken]
        if found:
            return found
    return []


def load_run(
    folder: str | Path,
    log_format: str = "auto",
    routes: object = None,
    name: str | None = None,
    engine: str = "pandas",
) -> Run:
    """Read every artifact found in `folder` (see the module docstring); with
    ``engine="dask"`` the access log is a lazy Dask frame (the rest is small)."""
    import perfkit
    from perfkit.analysis.pg_deltas import pg_deltas

    folder = resolve(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such run folder (expected a folder of collected evidence)")
    run = Run(name or folder.name, folder=folder)
    access = _first(folder, ("access.log*", "access*.log*", "*access*.log*"))
    errors = _first(folder, ERROR_LOGS, tuple(access))
    server = _first(folder, PG_LOGS, tuple(access))
    logs = access or _first(folder, ("*.log.gz", "*.log"), (*errors, *server))
    if logs:

        def requests() -> None:  # an access_log_format.txt beside the log is read there
            run.requests = perfkit.read_access_log(logs, format=log_format, routes=routes,
                                                   engine=engine)  # fmt: skip

        _load(run, "access log", logs, requests)
    dumps = _first(folder, ("profiles/*.prof*", "*.prof", "*.prof.*"))
    if dumps:
        _load(run, "profiles", dumps, lambda: setattr(run, "profile", perfkit.read_profile(dumps)))
    spy = _first(folder, ("pyspy.json*", "*.speedscope.json*"))
    if spy:
        _load(run, "py-spy", spy, lambda: setattr(run, "pyspy", perfkit.read_profile(spy)))
    pg = folder / "pg"
    if pg.is_dir():

        def statements() -> None:
            run.statements = pg_deltas(perfkit.read_pg_stat(pg, "statements"))
            run.pg_store = pg

        _load(run, "pg", [str(pg)], statements)
    memory = _first(folder, ("memory.csv", "rss*.csv", "*.dat", "*.prom"))
    if memory:
        _load(run, "memory", memory, lambda: setattr(run, "memory", perfkit.read_memory(memory)))
    snapshots = folder / "tracemalloc"  # the Gunicorn hook's tracemalloc-*.pickle* files
    if snapshots.is_dir():
        from perfkit.io.allocations import read_tracemalloc

        _load(run, "allocations", [str(snapshots)],
              lambda: setattr(run, "allocations", read_tracemalloc(snapshots)))  # fmt: skip
    from perfkit.io.loadtest import locust_prefixes

    pairs = locust_prefixes(folder)  # any <prefix>_stats.csv + <prefix>_stats_history.csv
    if pairs or (folder / "locust_stats.csv").exists():  # a lone half: its error is shown

        def locust() -> None:  # several pairs: an InputError listing them, kept in problems
            run.locust_stats = perfkit.read_locust(folder, table="stats")
            run.locust_history = perfkit.read_locust(folder, table="history")

        files = [f"{p}_stats.csv" for p in pairs] or [str(folder / "locust_stats.csv")]
        _load(run, "locust", files, locust)
    outbound = _first(folder, ("outbound.jsonl*",))
    if outbound:
        _load(run, "outbound", outbound,
              lambda: setattr(run, "outbound", perfkit.read_jsonl(outbound)))  # fmt: skip
    redis = folder / "redis"
    if redis.is_dir():

        def redis_views() -> None:
            from perfkit.io.redis import read_redis

            run.redis = {v: read_redis(redis, v)
                         for v in ("info", "commandstats", "slowlog", "latencystats")}

        _load(run, "redis", [str(redis)], redis_views)
    if server:
        prefix = _log_line_prefix(folder)
        _load(run, "pg log", server,
              lambda: setattr(run, "pg_log", perfkit.read_pg_log(server, prefix=prefix)))
    if errors:
        _load(run, "gunicorn log", errors,
              lambda: setattr(run, "workers", perfkit.read_gunicorn_log(errors)))  # fmt: skip
    lprof = _first(folder, ("lprof/*.lprof*", "*.lprof*"))
    if lprof:  # line_profiler dumps, kept per dump: the replicates compare_line_profiles tests
        from perfkit.io.line_profile import read_line_profile

        code = folder / "source"  # this run's copy of the profiled code: its own line texts
        _load(run, "line profile", lprof, lambda: setattr(run, "line_profile", read_line_profile(
            lprof, by_file=True, source_root=code if code.is_dir() else None)))  # fmt: skip
    if not run.sources:
        raise InputError(
            f"{folder}: no evidence found (access.log*, profiles/, pg/, memory.csv...)"
        )
    if set(run.problems) == set(run.sources):
        raise InputError(f"{folder}: no source could be read: " + "; ".join(
            f"{LABELS.get(k, k)}: {v}" for k, v in run.problems.items()))  # fmt: skip
    return run


def _log_line_prefix(folder: Path) -> str | None:
    """The server's ``log_line_prefix`` when the run folder says it: ``log_line_prefix.txt``
    (verbatim) or a ``postgresql.conf`` copy (its last setting); None: sniff the common ones."""
    import re

    given = folder / "log_line_prefix.txt"
    if given.is_file():
        return given.read_text().rstrip("\n")
    conf = folder / "postgresql.conf"
    if conf.is_file():
        found = re.findall(r"^\s*log_line_prefix\s*=\s*'((?:[^']|'')*)'", conf.read_text(),
                           re.MULTILINE)  # fmt: skip
        if found:
            return found[-1].replace("''", "'")
    return None


def _hidden(statements: pd.DataFrame) -> str:
    """What pg_deltas counted but could not show: other roles' statements (no pg_monitor)."""
    from perfkit.analysis.pg_deltas import hidden_time_text

    hidden = statements.attrs.get("perfkit", {}).get("hidden", {})
    if not hidden.get("statements") and not hidden.get("calls"):
        return ""
    return (f"; HIDDEN from the role that read them (it lacks pg_monitor): "
            f"{hidden['statements']} statements of {hidden['roles']} other role(s), "
            f"{hidden['calls']:,} calls{hidden_time_text(hidden['total_exec_time'])}")


def _load(run: Run, source: str, files: list[str], load: Callable[[], None]) -> None:
    """Run `load` (which sets the run's frames for `source`); an `InputError` is recorded in
    ``run.problems`` and the source's frames stay None. Any other exception propagates."""
    run.sources[source] = [str(f) for f in files]
    try:
        load()
    except InputError as exc:
        run.problems[source] = str(exc)
        for name in _FRAMES.get(source, ()):
            setattr(run, name, None)


_FRAMES = {
    "access log": ("requests",), "profiles": ("profile",), "py-spy": ("pyspy",),
    "pg": ("statements", "pg_store"), "memory": ("memory",),
    "locust": ("locust_stats", "locust_history"), "outbound": ("outbound",),
    "gunicorn log": ("workers",), "pg log": ("pg_log",), "line profile": ("line_profile",),
}  # fmt: skip
_FRAMES["allocations"] = ("allocations",)
_FRAMES["redis"] = ("redis",)
