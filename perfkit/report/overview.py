"""The overview report: targets per route class, slowest endpoints and queries, database health,
external APIs and memory, for one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.report.display import code, esc, md, table
from perfkit.report.evidence import Run, load_run
from perfkit.targets import BRIEF, Targets


@dataclass
class OverviewReport:
    run: Run
    targets: Targets
    slo: pd.DataFrame
    endpoints: pd.DataFrame
    health: dict[str, pd.DataFrame]
    external: pd.DataFrame | None
    memory: pd.DataFrame | None

    def summary(self) -> dict:
        return {
            "report": "overview", "run": self.run.name,
            "classes": {str(k): {"meets": bool(r["meets"]), "mean_ms": float(r["mean_ms"]),
                                 "target_ms": float(r["target_ms"]),
                                 "error_rate": None if pd.isna(r["error_rate"])
                                 else float(r["error_rate"])}
                        for k, r in self.slo.iterrows()},
            "failing": [str(k) for k in self.slo.index[~self.slo["meets"]]],
            "n_plus_one_suspects": len(self.health.get("n_plus_one", [])),
            "unused_indexes": len(self.health.get("unused_indexes", [])),
            "leaks": [] if self.memory is None else [
                str(p) for p in self.memory.loc[self.memory["verdict"] == "leak", "pid"]],
        }  # fmt: skip

    def verdict(self) -> Any:
        from IPython.display import Markdown

        failing = self.slo[~self.slo["meets"]]
        lines = []
        if len(failing):
            lines.append(f"**{len(failing)} of {len(self.slo)} classes miss their target:**\n")
            for name, row in failing.iterrows():
                why = []
                if not row["meets_latency"]:
                    why.append(f"mean {row['mean_ms']:.0f} ms over {row['target_ms']:.0f} ms")
                if not row["meets_errors"]:
                    why.append(f"errors {row['error_rate']:.1%} over {row['error_target']:.0%}")
                lines.append(f"- {esc(name)}: " + "; ".join(why))
        else:
            classes = ", ".join(map(esc, self.slo.index))
            lines.append(f"**Every class meets its target** ({classes}).")
        slowest = self.endpoints.head(3)
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
        return Markdown("\n".join(lines))

    def slo_figure(self):
        from perfkit.plots.charts import slo_bars

        return slo_bars(self.slo, "Targets per route class")

    def slo_table(self) -> Any:
        return table(self.slo, floats="{:,.3g}")

    def endpoint_table(self, top: int = 12) -> Any:
        return table(self.endpoints.head(top), floats="{:,.1f}")

    def timeline(self):
        from perfkit.plots.charts import latency_timeline

        return latency_timeline(self.run.requests, "Latency over the run")

    def db_table(self, name: str) -> Any:
        frame = self.health.get(name)
        if frame is None:
            return md("No PostgreSQL statistics in this run.")
        if frame.empty:
            return md("Nothing found.")
        shown = frame.copy()
        if "query" in shown:
            shown["query"] = shown["query"].astype(str).str.slice(0, 120)
        return table(shown.head(12), floats="{:,.3g}")

    def external_table(self) -> Any:
        if self.external is None:
            return md("No outbound-call log in this run.")
        return table(self.external, floats="{:,.3g}")

    def memory_table(self) -> Any:
        if self.memory is None:
            return md("No memory samples in this run.")
        columns = ["pid", "role", "verdict", "slope_mib_per_hour", "ci_low", "ci_high"]
        return table(self.memory[columns], floats="{:,.3g}")

    def trust(self) -> Any:
        return table(self.run.trust(), index=False)


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
    if run.requests is None:
        raise InputError(f"{run.name}: no access log; the overview needs one")
    if pg_dsn:
        _live_pg(run, pg_dsn, pg_window_s)
    statements = None
    health: dict[str, pd.DataFrame] = {}
    if run.statements is not None:
        statements = db.top_statements(run.statements, n=10_000)
        health["slow"] = db.slow_statements(run.statements, targets.db_ms)
        health["top"] = db.top_statements(run.statements, n=10)
        health["n_plus_one"] = db.n_plus_one(run.statements, run.requests)
        tables, indexes, database = (_view(run.pg_store, v) for v in ("tables", "indexes",
                                                                       "database"))  # fmt: skip
        if tables is not None:
            health["cache"] = db.cache_hit_ratios(tables, database)
            health["seq_scans"] = db.seq_scans_on_large_tables(tables)
            health["dead_tuples"] = db.dead_tuples(tables)
        if indexes is not None:
            health["unused_indexes"] = db.unused_indexes(indexes)
    external = None
    if run.outbound is not None:
        external = outbound_summary(run.outbound, targets.external_ms)
    slo = slo_compliance(run.requests, targets, outbound=run.outbound, statements=statements)
    endpoints = perfkit.summarize(run.requests).sort_values("p95_ms", ascending=False)
    memory = fit_leak(run.memory) if run.memory is not None else None
    return OverviewReport(run, targets, slo, endpoints, health, external, memory)


def _view(store: Path, view: str) -> pd.DataFrame | None:
    """A view of the store, or None when the collector did not keep it (a partial store)."""
    import perfkit
    from perfkit.errors import InputError

    try:
        return perfkit.read_pg_stat(store, view)
    except InputError as exc:
        if "no snapshots" in str(exc):
            return None
        raise


def _live_pg(run: Run, dsn: str, window_s: float) -> None:
    """Two snapshots of the live server, `window_s` apart, as the run's database evidence."""
    import tempfile
    import time

    import perfkit
    from perfkit.analysis.pg_deltas import pg_deltas
    from perfkit.io.pg_stat import redact_dsn

    store = Path(tempfile.mkdtemp(prefix="perfkit-live-pg-"))
    perfkit.snapshot_pg(dsn, store)
    time.sleep(window_s)
    perfkit.snapshot_pg(dsn, store)
    run.pg_store = store
    run.statements = pg_deltas(perfkit.read_pg_stat(store, "statements"))
    run.sources["pg"] = [f"live: {redact_dsn(dsn)}"]
