"""The overview report: targets per route class, slowest endpoints and queries, database health,
external APIs and memory, for one run."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from perfkit._display import ReportDisplay, count, names, sizes
from perfkit.report.display import code, esc, md, table
from perfkit.report.evidence import Run, load_run
from perfkit.targets import BRIEF, Targets


@dataclass(repr=False)
class OverviewReport(ReportDisplay):
    """One run against the targets; methods return what a notebook cell shows."""

    run: Run
    targets: Targets
    slo: pd.DataFrame
    endpoints: pd.DataFrame | None
    health: dict[str, pd.DataFrame]
    external: pd.DataFrame | None
    memory: pd.DataFrame | None
    endpoints_missing: str = ""  # why there are no endpoint figures ("" when there are)
    health_notes: dict[str, str] = field(default_factory=dict)  # section -> why it is not shown
    cannot_judge: list[str] = field(default_factory=list)  # what a failed source left unjudged
    _said: dict[str, set[str]] = field(default_factory=dict, repr=False)  # group -> reasons said
    cache: dict[str, Any] | None = None  # the Redis cache section (`_cache_section`), if any
    cache_missing: str = ""  # why there is no cache section ("" when there is one)

    def summary(self) -> dict:
        judged = "pg" not in self.run.problems
        return {
            "report": "overview", "run": self.run.name,
            "classes": {str(k): {"meets": None if r["meets"] is None else bool(r["meets"]),
                                 "mean_ms": None if pd.isna(r["mean_ms"]) else float(r["mean_ms"]),
                                 "target_ms": float(r["target_ms"]),
                                 "error_rate": None if pd.isna(r["error_rate"])
                                 else float(r["error_rate"])}
                        for k, r in self.slo.iterrows()},
            "failing": [str(k) for k in self.slo.index[self._missed()]],
            "n_plus_one_suspects": len(self.health["n_plus_one"]) if "n_plus_one" in self.health
            else (0 if judged else None),
            "unused_indexes": len(self.health["unused_indexes"])
            if "unused_indexes" in self.health else (0 if judged else None),
            "leaks": None if "memory" in self.run.problems else [] if self.memory is None else [
                str(p) for p in self.memory.loc[self.memory["verdict"] == "leak", "pid"]],
            "cannot_judge": [*self.cannot_judge, *self._untimed()],
            "failed_sources": {k: self.run.problem(k) for k in self.run.problems},
            "workers": self.workers(),
            "cache": None if self.cache is None else self.cache["summary"],
        }  # fmt: skip

    def workers(self) -> dict[str, float | int] | None:
        """Gunicorn's error log: worker restarts, kills, timeouts and errors, with rates per
        hour (`perfkit.analysis.workers.worker_event_rates`); None without the log."""
        if self.run.workers is None:
            return None
        from perfkit.analysis.workers import worker_event_rates

        return worker_event_rates(self.run.workers)

    def _display_facts(self) -> list[tuple[str, object]]:
        facts: list[tuple[str, object]] = [("requests", sizes(self.run.requests, "request"))]
        if len(self.slo):
            missed = [str(k) for k in self.slo.index[self._missed()]]
            facts.append(("route classes", f"{len(self.slo)} judged" + (
                f", missing the target: {names(missed)}" if missed else "")))  # fmt: skip
        if self.endpoints is not None:
            facts.append(("endpoints", count(len(self.endpoints), "endpoint")))
        facts.append(("database", ", ".join(f"{n} {len(f):,}" for n, f in self.health.items()
                                            if f is not None) or "no statistics"))  # fmt: skip
        return facts

    def _display_frame(self) -> pd.DataFrame | None:
        return self.slo if len(self.slo) else None

    def _missed(self) -> pd.Series:
        """Classes known to miss a target (latency not judged is not a miss)."""
        return self.slo["meets"].map(lambda v: v is False or v is np.False_).astype(bool)

    def _untimed(self) -> list[str]:
        """Why latency targets were not judged, when the access log has no request times."""
        requests = self.run.requests
        if requests is None or not len(self.slo) or "meets_latency" not in self.slo:
            return []
        if not self.slo["meets_latency"].map(lambda v: v is None).any():
            return []
        return ["latency targets: the access log has no request times; add the server's "
                "duration field (Gunicorn %(D)s, nginx $request_time, Apache %D)"]

    def verdict(self) -> Any:
        from IPython.display import Markdown

        failing = self.slo[self._missed()]
        lines = []
        if self.cannot_judge:
            lines.append("**Cannot judge everything: a source could not be read.**\n")
            lines += [f"- {esc(reason)}" for reason in self.cannot_judge]
            lines.append("")
        if self._untimed():
            from perfkit.io.logformat import timing_fix

            account = getattr(self.run.requests, "attrs", {}).get("perfkit", {})
            lines.append("**Latency targets cannot be judged:** the access log has no request "
                         "times, so no class is said to meet or miss its latency target (error "
                         "rates still are). To record request times:\n")  # fmt: skip
            lines += [f"- {fix}" for fix in timing_fix(account.get("format", ""),
                                                       account.get("format_string", ""))]
            lines.append("")
        if len(failing):
            lines.append(f"**{len(failing)} of {len(self.slo)} classes miss their target:**\n")
            for name, row in failing.iterrows():
                why = []
                if row["meets_latency"] is False:
                    why.append(f"mean {row['mean_ms']:.0f} ms over {row['target_ms']:.0f} ms")
                if row["meets_errors"] is False:
                    why.append(f"errors {row['error_rate']:.1%} over {row['error_target']:.0%}")
                lines.append(f"- {esc(name)}: " + "; ".join(why))
        elif len(self.slo):
            classes = ", ".join(map(esc, self.slo.index))
            lines.append(f"**Every class judged meets its target** ({classes})."
                         if self.cannot_judge or self._untimed() else
                         f"**Every class meets its target** ({classes}).")  # fmt: skip
        if self.endpoints is not None and self.endpoints["p95_ms"].notna().any():
            slowest = self.endpoints.dropna(subset=["p95_ms"]).head(3)
            named = ", ".join(f"{code(r)} {p:.0f} ms" for r, p in slowest["p95_ms"].items())
            lines.append(f"\nSlowest endpoints by p95: {named}.")
        n1 = self.health.get("n_plus_one")
        if n1 is not None and len(n1):
            lines.append(f"\n**{len(n1)} N+1 suspect statement(s)** (many single-row lookups "
                         "per request).")  # fmt: skip
        unused = self.health.get("unused_indexes")
        if unused is not None and len(unused):
            lines.append(f"\n{len(unused)} index(es) never scanned.")
        if self.memory is not None:
            leaking = self.memory[self.memory["verdict"] == "leak"]
            lines.append("\n**Memory: a process is leaking.**" if len(leaking) else
                         "\nMemory: no leak found.")  # fmt: skip
        if self.cache is not None:
            lines.append("\n" + self._cache_sentence())
        w = self.workers()
        if w is not None:
            serious = w["killed"] or w["timed_out"]
            lines.append(("\n**" if serious else "\n") + "Gunicorn workers: "
                         f"{w['restarts']:,} restarts ({w['restarts_per_hour']:,.1f}/hour), "
                         f"{w['killed']:,} killed by SIGKILL, {w['timed_out']:,} timed out, "
                         f"{w['recycled']:,} recycled by max_requests, {w['errors']:,} errors "
                         f"logged in {w['hours'] * 60:,.1f} minutes of the error log"
                         + (".**" if serious else "."))  # fmt: skip
        return Markdown("\n".join(lines))

    def slo_figure(self) -> Any:
        from perfkit.plots.charts import slo_bars

        if self.slo.empty:
            return md("{why}", why=self.endpoints_missing or "No class to judge.")
        return slo_bars(self.slo, "Targets per route class")

    def slo_table(self) -> Any:
        if self.slo.empty:
            return md("{why}", why=self.endpoints_missing or "No class to judge.")
        return table(self.slo, floats="{:,.3g}")

    def endpoint_table(self, top: int = 12) -> Any:
        if self.endpoints is None:
            return md("{why}", why=self.endpoints_missing)
        return table(self.endpoints.head(top), floats="{:,.1f}")

    def timeline(self) -> Any:
        """p50/p95 over the run; when there is nothing to draw, no figure but a sentence why."""
        from perfkit.plots.charts import latency_timeline, timeline_missing

        if self.run.requests is None:
            return md("{why}", why=self.endpoints_missing)
        figure = latency_timeline(self.run.requests, "Latency over the run")
        if figure is None:
            return md("{why}", why=timeline_missing(self.run.requests))
        return figure

    def _once(self, group: str, why: str) -> Any:
        """`why` as Markdown the first time it is said in section group `group`, else None
        (nothing shown): "No PostgreSQL statistics" once for the database section, not per
        table."""
        said = self._said.setdefault(group, set())
        if why in said:
            return None
        said.add(why)
        return md("{why}", why=why)

    def db_table(self, name: str) -> Any:
        """One table of the database section. Evidence that was not collected is said once for
        the section ("No PostgreSQL statistics in this run."); a source that failed is named
        under each table it leaves out (the file and why)."""
        frame = self.health.get(name)
        views = {n: v for n, v, _, _ in _database_inputs()}
        if frame is None and name in self.health_notes:
            why = self.health_notes[name]
            failed = f"pg {views.get(name)}" in self.run.problems
            return md("{why}", why=why) if failed else self._once("database", why)
        if frame is None:
            if "pg" in self.run.problems:
                return md("{why}", why=self.run.absent("pg", ""))
            return self._once("database", "No PostgreSQL statistics in this run.")
        if frame.empty:
            return md("Nothing found.")
        shown = frame.copy()
        if "query" in shown:
            shown["query"] = shown["query"].astype(str).str.slice(0, 120)
        return table(shown.head(12), floats="{:,.3g}")

    def external_table(self) -> Any:
        if self.external is None:
            return md("{why}", why=self.run.absent("outbound", "No outbound-call log in this run."))
        return table(self.external, floats="{:,.3g}")

    def memory_table(self) -> Any:
        if self.memory is None:
            return md("{why}", why=self.run.absent("memory", "No memory samples in this run."))
        columns = ["pid", "role", "verdict", "slope_mib_per_hour", "ci_low", "ci_high"]
        return table(self.memory[columns], floats="{:,.3g}")

    def _cache_sentence(self) -> str:
        c = cast(dict[str, Any], self.cache)["summary"]
        if c["hit_ratio"] is None:
            return "Redis cache: no lookup (no GET-like command read a key) in the snapshots."
        verdict = "meets" if c["meets"] else "**misses**"
        evicted = f"; {c['evicted_keys']:,} keys evicted" if c["evicted_keys"] else ""
        return (f"Redis cache: hit ratio {c['hit_ratio']:.1%} ({c['hits']:,} hits, "
                f"{c['misses']:,} misses) {verdict} its {c['target']:.0%} target{evicted}.")

    def cache_table(self, name: str = "hit_ratio") -> Any:
        """One table of the cache section: ``hit_ratio`` per interval, ``commands`` (calls
        and µs per call), ``slow`` (the slow log per command, arguments never shown) or
        ``memory`` (used memory against maxmemory, evictions)."""
        if self.cache is None:
            return self._once("cache", self.cache_missing or self.run.absent(
                "redis", "No Redis statistics in this run (collect them with "
                "`perfkit collect redis` into the run's redis/ folder)."))  # fmt: skip
        frame = self.cache[name]
        if name == "hit_ratio":
            head = md("{sentence}", sentence=self._cache_sentence())
            return _Outputs([head, table(frame, floats="{:,.3g}", index=False)])
        if frame.empty:
            return md("Nothing found.")
        return table(frame.head(15), floats="{:,.3g}", index=False)

    def trust(self) -> Any:
        """The data-trust section: perfkit's warnings as styled notes, then the table."""
        from perfkit.report.display import notes

        shown = [notes(), table(self.run.trust(), index=False)]
        return _Outputs([s for s in shown if s is not None])


class _Outputs:
    """Several displayable objects shown as one cell output (HTML parts in order)."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def _repr_html_(self) -> str:
        return "".join(p._repr_html_() if hasattr(p, "_repr_html_") else p.data for p in self.parts)


def overview_report(
    run: str | Path | Run,
    targets: Targets = BRIEF,
    log_format: str = "auto",
    pg_dsn: str | None = None,
    pg_window_s: float = 10.0,
    engine: str = "pandas",
) -> OverviewReport:
    """Everything one run says about the service against its targets.

    With `pg_dsn` (read it from the environment, never pass a secret as a notebook
    parameter) the database section comes from the live server instead: two snapshots
    `pg_window_s` apart, in a read-only session, into a temporary store. The DSN is shown
    only with its password removed.
    """
    import perfkit
    from perfkit.analysis import db
    from perfkit.analysis.leak import fit_leak
    from perfkit.analysis.outbound import outbound_summary
    from perfkit.analysis.slo import slo_compliance
    from perfkit.errors import InputError

    run = run if isinstance(run, Run) else load_run(run, log_format, engine=engine)
    if run.requests is None and "access log" not in run.problems:
        raise InputError(f"{run.name}: no access log; the overview needs one")
    if pg_dsn:
        _live_pg(run, pg_dsn, pg_window_s)
    unjudged = [run.failed("access log", "targets per route class and the slowest endpoints"),
                run.failed("pg", "the database target, slow statements, N+1 suspects, cache hit "
                           "ratios, sequential scans and unused indexes"),
                run.failed("pg live", "the live database section"),
                run.failed("outbound", "the external-API target"),
                run.failed("memory", "memory leaks")]  # fmt: skip
    statements = None
    health: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    if run.statements is not None:
        statements = db.top_statements(run.statements, n=10_000)
        health["slow"] = db.slow_statements(run.statements, targets.db_ms)
        health["top"] = db.top_statements(run.statements, n=10)
        health["n_plus_one"] = db.n_plus_one(run.statements, run.requests)
        frames = {}
        for view in ("tables", "indexes", "database"):
            try:
                frames[view] = _view(cast(Path, run.pg_store), view)  # beside the statements
            except InputError as exc:  # a damaged snapshot or export of this view
                frames[view] = None
                run.problems[f"pg {view}"] = str(exc)
                run.sources[f"pg {view}"] = [str(run.pg_store)]
        database = frames["database"]
        for view in ("tables", "indexes"):
            judged = ", ".join(_HEALTH_NAMES[n] for n, v, _, _ in _database_inputs() if v == view)
            unjudged.append(run.failed(f"pg {view}", judged))
        for name, view, needed, compute in _database_inputs():
            frame = frames[view]
            if f"pg {view}" in run.problems:
                notes[name] = run.absent(f"pg {view}", "")
                continue
            if frame is None:
                notes[name] = f"No {_VIEW_NAMES[view]} snapshots in this run's pg/ folder."
                continue
            lacking = [c for c in needed if c not in frame]
            if lacking:
                notes[name] = (f"The {_VIEW_NAMES[view]} snapshots lack {', '.join(lacking)}: "
                               f"{_HEALTH_NAMES[name]} not shown. {_FIX[view]}")  # fmt: skip
                continue
            if name == "cache":  # the database rows when its snapshots have the block counters
                usable = database is not None and {"datname", "blks_hit", "blks_read"} <= set(
                    database.columns)  # fmt: skip
                health[name] = compute(frame, database if usable else None)
            else:
                health[name] = compute(frame)
    external = None
    if run.outbound is not None:
        external = outbound_summary(run.outbound, targets.external_ms)
    requests, endpoints, why = run.requests, None, ""
    if requests is None:  # the log failed: the database and external classes are still judged
        requests = pd.DataFrame({"route": pd.Series(dtype=str), "status": pd.Series(dtype=int),
                                 "duration_ms": pd.Series(dtype=float)})  # fmt: skip
        why = run.absent("access log", "No access log in this run.")
    slo = slo_compliance(requests, targets, outbound=run.outbound, statements=statements)
    if run.requests is not None:
        endpoints = perfkit.summarize(run.requests).sort_values("p95_ms", ascending=False)
    memory = fit_leak(run.memory) if run.memory is not None else None
    unjudged.append(run.failed("redis", "the cache hit-ratio target"))
    cache, cache_missing = _cache_section(run, targets)
    return OverviewReport(run, targets, slo, endpoints, health, external, memory, why, notes,
                          [u for u in unjudged if u], cache=cache,
                          cache_missing=cache_missing)  # fmt: skip


def _cache_section(run: Run, targets: Targets) -> tuple[dict[str, Any] | None, str]:
    """The cache section's frames and summary from the run's Redis snapshots, computed by
    the same functions as the API (`perfkit.analysis.cache`); (None, why) without them."""
    from perfkit.analysis import cache
    from perfkit.errors import InputError

    if run.redis is None:
        return None, ""
    info, commandstats, slowlog = run.redis["info"], run.redis["commandstats"], run.redis["slowlog"]
    try:
        summary = cache.cache_summary(info, commandstats, slowlog, targets.cache_hit_ratio)
    except InputError as exc:  # fewer than two snapshots
        return None, f"The run's Redis statistics cannot be judged: {exc}."
    return {
        "summary": summary,
        "hit_ratio": cache.hit_ratio(info, commandstats),
        "commands": cache.command_table(cache.command_deltas(info, commandstats),
                                        include_perfkit=False,
                                        latencystats=run.redis.get("latencystats")),
        "slow": cache.slow_commands(slowlog),
        "memory": cache.memory_pressure(info, commandstats),
    }, ""  # fmt: skip


def _database_inputs():
    from perfkit.analysis import db

    return (
        ("cache", "tables", ("schemaname", "relname", "heap_blks_read", "heap_blks_hit",
                             "idx_blks_read", "idx_blks_hit"), db.cache_hit_ratios),
        ("seq_scans", "tables", ("schemaname", "relname", "n_live_tup", "seq_scan",
                                 "seq_tup_read", "idx_scan"), db.seq_scans_on_large_tables),
        ("dead_tuples", "tables", ("schemaname", "relname", "n_live_tup", "n_dead_tup"),
         db.dead_tuples),
        ("unused_indexes", "indexes", ("schemaname", "relname", "indexrelname", "idx_scan",
                                       "indisprimary", "indisunique", "index_bytes", "indexdef"),
         db.unused_indexes),
    )  # fmt: skip


_HEALTH_NAMES = {"cache": "cache hit ratios", "seq_scans": "sequential scans on large tables",
                 "dead_tuples": "dead rows", "unused_indexes": "unused indexes"}  # fmt: skip
_VIEW_NAMES = {"tables": "pg_stat_user_tables", "indexes": "pg_stat_user_indexes",
               "database": "pg_stat_database"}  # fmt: skip
_FIX = {
    "tables": "Export the table statistics joined with their I/O counters: `\\copy (select now() "
    "as snapshot_time, * from pg_stat_user_tables join pg_statio_user_tables using (relid, "
    "schemaname, relname)) to 'tables.csv' csv header`, or collect with `perfkit collect pg`.",
    "indexes": "Export the index statistics with what pg_index knows: `\\copy (select now() as "
    "snapshot_time, s.*, i.indisunique, i.indisprimary, pg_relation_size(s.indexrelid) as "
    "index_bytes, pg_get_indexdef(s.indexrelid) as indexdef from pg_stat_user_indexes s join "
    "pg_index i using (indexrelid)) to 'indexes.csv' csv header`, or collect with "
    "`perfkit collect pg`.",
}


def _view(store: Path, view: str) -> pd.DataFrame | None:
    """A view of the pg/ folder (store or exports), or None when it holds no snapshot of it."""
    import perfkit
    from perfkit.io.pg_stat import ViewMissing

    try:
        return perfkit.read_pg_stat(store, view)
    except ViewMissing:
        return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def dsn_from_env(name: str | None) -> str | None:
    """The PostgreSQL connection string held by environment variable `name`, or None when
    `name` is empty or the variable is unset or empty.

    Only a value libpq parses as a connection string (key=value or a
    ``postgresql://`` URL) is returned; any other value (``HOME``, a cloud key...)
    raises `InputError` naming the variable, never showing its value.
    """
    from perfkit.errors import InputError
    from perfkit.io.redact import parse_dsn

    if not name:
        return None
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise InputError(
            "pg_dsn_env: expected the name of an environment variable (letters, digits and "
            f"'_'), got {str(name)[:80]!r}"
        )
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    parsed = parse_dsn(value)
    if not parsed:
        raise InputError(
            f"pg_dsn_env: environment variable {name} does not hold a PostgreSQL connection "
            "string (expected libpq's key=value pairs such as host=... dbname=..., or a "
            "postgresql:// URL); its value is not shown"
        )
    return value


def _live_pg(run: Run, dsn: str, window_s: float) -> None:
    """Two snapshots of the live server, `window_s` apart, as the run's database evidence;
    a server that cannot be read is recorded in ``run.problems["pg live"]``."""
    import tempfile
    import time

    import perfkit
    from perfkit.analysis.pg_deltas import pg_deltas
    from perfkit.errors import InputError
    from perfkit.io.redact import redact_dsn, scrub_dsn_secrets

    shown = [f"live: {redact_dsn(dsn)}"]
    store = Path(tempfile.mkdtemp(prefix="perfkit-live-pg-"))
    try:
        perfkit.snapshot_pg(dsn, store)
        time.sleep(window_s)
        perfkit.snapshot_pg(dsn, store)
        statements = pg_deltas(perfkit.read_pg_stat(store, "statements"))
    except InputError as exc:  # libpq's words may quote parts of the DSN: its secrets masked
        run.problems["pg live"] = scrub_dsn_secrets(str(exc), dsn)
        run.sources["pg live"] = shown
        return
    run.pg_store = store
    run.statements = statements
    run.problems.pop("pg", None)  # the live server replaces the folder's statistics
    run.sources["pg"] = shown
