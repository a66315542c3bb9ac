"""The memory-leak report: per-worker trends, recycling, verdict, time to limit, max_requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from perfkit._display import ReportDisplay, count, sizes
from perfkit.report.display import esc, md, table
from perfkit.report.evidence import Run, load_run

MIB = 2**20


@dataclass(repr=False)
class MemoryReport(ReportDisplay):
    """Memory trend fits of one run; methods return what a notebook cell shows."""

    run: Run
    fits: pd.DataFrame | None  # None when the memory samples could not be read
    limit_mib: float | None
    container_limit_mib: float | None
    requests_per_hour: float | None
    recycled: int
    cannot_judge: list[str] = field(default_factory=list)  # what a failed source left unjudged
    generations: pd.DataFrame | None = None  # worker_generations of Gunicorn's error log
    allocations: pd.DataFrame | None = None  # allocation_growth of the run's tracemalloc/

    def _display_facts(self) -> list[tuple[str, object]]:
        facts: list[tuple[str, object]] = [("memory samples", sizes(self.run.memory, "sample"))]
        if self.fits is not None:
            verdicts = self.fits["verdict"].value_counts()
            facts.append(("fits", f"{count(len(self.fits), 'row')}: " + ", ".join(
                f"{n:,} {v}" for v, n in verdicts.items())))  # fmt: skip
            facts.append(("recycled workers", f"{self.recycled:,}"))
        if self.limit_mib is not None:
            facts.append(("limit", f"{self.limit_mib:,.0f} MiB per process"))
        if self.generations is not None:
            facts.append(("worker endings", _endings_text(self.endings())))
        return facts

    def endings(self) -> dict[str, int]:
        """How many workers ended each way by Gunicorn's error log ({} without one)."""
        if self.generations is None:
            return {}
        counts = self.generations["ending"].astype(str).value_counts()
        from perfkit.analysis.workers import ENDINGS

        return {e: int(counts[e]) for e in ENDINGS if e in counts}

    def _display_frame(self) -> pd.DataFrame | None:
        if self.fits is None:
            return None
        columns = [c for c in ("pid", "role", "verdict", "slope_mib_per_hour", "ci_low",
                               "ci_high", "time_to_limit_h") if c in self.fits]
        return self.fits[columns].assign(pid=self.fits["pid"].astype("string").fillna(""))

    def leaks(self) -> pd.DataFrame:
        if self.fits is None:
            return pd.DataFrame(columns=["pid", "role", "verdict"])
        return self.fits[(self.fits["verdict"] == "leak") & (self.fits["role"] != "container")]

    def summary(self) -> dict:
        """The report's figures for ``--json``: the same values the text and table show
        (hours to limit, MiB/hour, KiB per request), unrounded."""

        def value(v: Any) -> float | None:
            return None if v is None or pd.isna(v) else float(v)

        fits = self.fits if self.fits is not None else pd.DataFrame()
        return {
            "report": "memory_leak", "run": self.run.name,
            "leak": None if self.fits is None else bool(len(self.leaks())),
            "leaks": [_name(r) for _, r in self.leaks().iterrows()],
            "recycled_workers": None if self.fits is None else self.recycled,
            "requests_per_worker_hour": value(self.requests_per_hour),
            "processes": {
                _name(r): {"verdict": r["verdict"], "slope": value(r["slope_mib_per_hour"]),
                           "ci": [value(r["ci_low"]), value(r["ci_high"])],
                           "limit_mib": value(r.get("limit_mib")),
                           "time_to_limit_h": value(r.get("time_to_limit_h")),
                           "growth_per_request_kib": value(r.get("growth_per_request_kib")),
                           "max_requests_for_limit": value(r.get("max_requests_for_limit"))}
                for _, r in fits.iterrows()
            },
            "container": self._container(),
            "worker_endings": None if self.generations is None else self.endings(),
            "allocation_sites": self._allocation_summary(),
            "cannot_judge": list(self.cannot_judge),
            "failed_sources": {k: self.run.problem(k) for k in self.run.problems},
        }  # fmt: skip

    def _container(self) -> dict | None:
        """The container row's figures (against the container limit), None without one."""
        if self.fits is None or not (self.fits["role"] == "container").any():
            return None
        row = self.fits[self.fits["role"] == "container"].iloc[0]
        return {key: None if pd.isna(row.get(column)) else float(row[column])
                for key, column in (("slope", "slope_mib_per_hour"), ("limit_mib", "limit_mib"),
                                    ("time_to_limit_h", "time_to_limit_h"),
                                    ("worst_case_mib", "worst_case_mib"))}  # fmt: skip

    def verdict(self) -> Any:
        from IPython.display import Markdown

        if self.fits is None:
            return Markdown("**Cannot judge whether memory leaks:** the memory samples could not "
                            f"be read. {esc(self.run.problem('memory'))}")  # fmt: skip
        lines = []
        if "access log" in self.run.problems:
            lines.append(
                "Growth per request and the `max_requests` advice need the access log, "
                f"which could not be read: {esc(self.run.problem('access log'))}\n"
            )
        leaks = self.leaks()
        workers = self.fits[self.fits["role"] == "worker"]
        if self.generations is not None:  # the log says how workers ended: no guessing
            lines.append(_endings_sentence(self.endings(), self.generations) + "\n")
        elif self.recycled:
            lines.append(f"Gunicorn replaced workers {self.recycled} time(s) during the run "
                         "(`max_requests` recycling): the drops are restarts, not freed memory, "
                         "so worker generations are fitted together.\n")  # fmt: skip
        if len(leaks):
            lines.append(f"**Leak: {len(leaks)} of {len(self.fits)} fitted processes grow.**\n")
            if self.requests_per_hour:
                lines.append(f"Per request: {self.requests_per_hour:,.0f} requests per "
                             "worker-hour (the access log's requests / its hours / workers "
                             "running at once).\n")  # fmt: skip
            for _, row in leaks.iterrows():
                text = (f"- {esc(_name(row))}: {row['slope_mib_per_hour']:+.1f} MiB/hour "
                        f"[{row['ci_low']:.1f}, {row['ci_high']:.1f}]")  # fmt: skip
                if pd.notna(row.get("growth_per_request_kib")):
                    text += f", {row['growth_per_request_kib']:.1f} KiB per request"
                if pd.notna(row.get("time_to_limit_h")):
                    text += f"; {_reaches(row)}"
                if pd.notna(row.get("max_requests_for_limit")):
                    text += (f"; `max_requests` at most {row['max_requests_for_limit']:,.0f} "
                             "keeps a worker under the limit")  # fmt: skip
                lines.append(text)
        else:
            quiet = (workers["verdict"] == "no leak").sum()
            lines.append(
                f"**No leak found.** {quiet} of {len(workers)} workers are flat within their "
                "intervals; the rest are inconclusive (too short or too noisy)."
            )
        box = self.fits[self.fits["role"] == "container"]
        if len(box):
            row = box.iloc[0]
            text = (f"\nThe container as a whole (every process's RSS summed; {row['verdict']}) "
                    f"grows {row['slope_mib_per_hour']:+.1f} MiB/h")  # fmt: skip
            if pd.notna(row.get("time_to_limit_h")):
                text += f" and {_reaches(row)}"
            text += (f"; worst case now (master + workers x largest worker): "
                     f"{row['worst_case_mib']:.0f} MiB.")  # fmt: skip
            lines.append(text)
        return Markdown("\n".join(lines))

    def figure(self) -> Any:
        from perfkit.plots.charts import rss_lines

        if self.fits is None:
            return md("{why}", why=self.run.absent("memory", "No memory samples in this run."))
        memory = cast(pd.DataFrame, self.run.memory)  # what the fits came from
        return rss_lines(memory, self.fits, "RSS per process", self.limit_mib,
                         self.generations)  # fmt: skip

    def fit_table(self) -> Any:
        if self.fits is None:
            return md("{why}", why=self.run.absent("memory", "No memory samples in this run."))
        columns = [c for c in ("pid", "role", "verdict", "slope_mib_per_hour", "ci_low", "ci_high",
                               "p_value", "samples", "level_mib", "limit_mib", "time_to_limit_h",
                               "growth_per_request_kib", "max_requests_for_limit")
                   if c in self.fits]  # fmt: skip
        shown = self.fits[columns].assign(pid=self.fits["pid"].astype("string").fillna(""))
        return table(shown, floats="{:,.3g}")  # the pooled and container rows have no pid

    def growing_sites(self, top: int = 10) -> pd.DataFrame:
        """The `top` allocation sites that are not flat (growing first, fastest first), as
        `perfkit.allocation_growth` ranks them; empty without tracemalloc snapshots."""
        if self.allocations is None:
            return pd.DataFrame(columns=["site", "verdict"])
        order = {"growing": 0, "inconclusive": 1, "warm-up-then-flat": 2}
        shown = self.allocations[self.allocations["verdict"].isin(list(order))]
        ranked = shown.assign(_rank=shown["verdict"].map(order))
        return ranked.sort_values("_rank", kind="stable").drop(columns="_rank").head(top)

    def allocation_sites(self, top: int = 10) -> Any:
        """Under the RSS trend: which allocation sites grow (tracemalloc snapshots of the
        Gunicorn hook, `perfkit.allocation_growth`), as a sentence and a table."""
        from perfkit.report.overview import _Outputs

        if self.allocations is None:
            return md("{why}", why=self.run.absent(
                "allocations", "No tracemalloc snapshots in this run (a tracemalloc/ folder "
                "written by perfkit.collect.tracemalloc_hook)."))  # fmt: skip
        growing = self.allocations[self.allocations["verdict"] == "growing"]
        axis = self.allocations.attrs.get("perfkit", {}).get("axis", "requests")
        slope = "slope_bytes_per_request" if axis == "requests" else "slope_bytes_per_s"
        unit = "bytes per request" if axis == "requests" else "bytes/s"
        if len(growing):
            top_site = growing.iloc[0]
            text = md(f"**{len(growing)} allocation site(s) grow.** The fastest, {{site}}, "
                      f"grows {top_site[slope]:,.0f} {unit} per worker "
                      f"(interval {top_site['ci_low_' + slope[6:]]:,.0f} to "
                      f"{top_site['ci_high_' + slope[6:]]:,.0f}) and holds "
                      f"{top_site['latest_bytes'] / 1024:,.0f} KiB in a worker's last snapshot.",
                      site=top_site["site"])  # fmt: skip
        else:
            warm = int((self.allocations["verdict"] == "warm-up-then-flat").sum())
            text = md(f"**No allocation site grows** ({len(self.allocations):,} sites; "
                      f"{warm} filled during warm-up, then stayed flat).")  # fmt: skip
        columns = ["site", "verdict", "slope_bytes_per_request", "ci_low_bytes_per_request",
                   "ci_high_bytes_per_request", "slope_bytes_per_s", "latest_bytes",
                   "warmup_bytes", "samples", "series"]  # fmt: skip
        return _Outputs([text, table(self.growing_sites(top)[columns], floats="{:,.0f}",
                                     index=False)])  # fmt: skip

    def _allocation_summary(self) -> list[dict] | None:
        """The growing sites for ``--json`` (None without snapshots)."""
        if self.allocations is None:
            return None
        growing = self.allocations[self.allocations["verdict"] == "growing"]
        return [{"site": str(r["site"]), "bytes_per_request": _number(r["slope_bytes_per_request"]),
                 "bytes_per_s": _number(r["slope_bytes_per_s"]),
                 "latest_bytes": _number(r["latest_bytes"])}
                for _, r in growing.iterrows()]  # fmt: skip

    def trust(self) -> Any:
        """The data-trust section: perfkit's warnings as styled notes, then the table."""
        from perfkit.report.display import notes
        from perfkit.report.overview import _Outputs

        shown = [notes(), table(self.run.trust(), index=False)]  # notes first: not listed twice
        return _Outputs([s for s in shown if s is not None])


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _endings_text(endings: dict[str, int]) -> str:
    """'3 recycled, 1 killed' in the order of `perfkit.analysis.workers.ENDINGS`."""
    return ", ".join(f"{n:,} {e.replace('_', ' ')}" for e, n in endings.items()) or "none"


def _endings_sentence(endings: dict[str, int], generations: pd.DataFrame) -> str:
    """The verdict's sentence on how workers ended: the serious endings named first."""
    total = sum(endings.values())
    text = f"Gunicorn's error log: {total:,} workers; " + _endings_text(endings) + "."
    killed = generations[generations["ending"].astype(str) == "killed"]
    if len(killed):
        pids = ", ".join(str(p) for p in killed["worker_pid"].head(5))
        text += (f" **{len(killed)} killed by SIGKILL** (worker {pids}): the kernel's OOM "
                 "killer sends it when memory runs out (so does `kill -9`).")
    if endings.get("timed_out"):
        text += (f" {endings['timed_out']} timed out (`--timeout`): a request held the worker "
                 "too long; that kill is not memory's.")
    replaced = sum(n for e, n in endings.items() if e not in ("stopped", "running"))
    if replaced:
        text += (f" Workers were replaced {replaced:,} time(s) during the run: the drops are "
                 "restarts, not freed memory, so worker generations are fitted together.")
    return text


def _hours(value: float) -> str:
    """Hours as the report shows them everywhere (text and table): 3 significant digits."""
    return f"{value:,.3g}"


def _reaches(row: pd.Series) -> str:
    """'reaches L MiB in T h [low, high]' for a row held against its own limit (``limit_mib``)."""
    if row["time_to_limit_h"] == 0:
        return f"is already at or above its {row['limit_mib']:g} MiB limit"
    return (
        f"reaches {row['limit_mib']:g} MiB in {_hours(row['time_to_limit_h'])} h "
        f"[{_hours(row['ttl_low_h'])}, "
        + ("unbounded" if pd.isna(row["ttl_high_h"]) else _hours(row["ttl_high_h"]))
        + "]"
    )


def _name(row: pd.Series) -> str:
    return f"{row['role']} {row['pid']}" if pd.notna(row["pid"]) else str(row["role"])


def memory_report(
    run: str | Path | Run,
    limit_mib: float | None = None,
    container_limit_mib: float | None = None,
    log_format: str = "auto",
    min_mib_per_hour: float = 1.0,
    engine: str = "pandas",
) -> MemoryReport:
    """Fit every process of a run; requests per worker-hour come from its access log if any."""
    from perfkit.analysis.leak import fit_leak, recycled_workers, workers_at_once
    from perfkit.errors import InputError

    run = run if isinstance(run, Run) else load_run(run, log_format, engine=engine)
    if run.memory is None and "memory" in run.problems:  # the report says so; the gate cannot
        return MemoryReport(run, None, limit_mib, container_limit_mib, None, 0,
                            [cast(str, run.failed("memory", "memory leaks"))])  # fmt: skip
    if run.memory is None:
        raise InputError(f"{run.name}: no memory samples (memory.csv, *.dat or *.prom)")
    per_hour = None
    workers = run.memory[run.memory["role"].astype(str) == "worker"]
    if run.requests is not None and len(workers):
        count, first, last = run.request_span()
        hours = (last - first).total_seconds() / 3600
        alive = workers_at_once(workers)
        per_hour = count / hours / max(alive, 1) if hours > 0 else None
    fits = fit_leak(
        run.memory, limit_bytes=limit_mib * MIB if limit_mib else None,
        min_mib_per_hour=min_mib_per_hour, requests_per_hour=per_hour,
        container_limit_bytes=container_limit_mib * MIB if container_limit_mib else None,
    )  # fmt: skip
    generations = None
    if run.workers is not None:
        from perfkit.analysis.workers import worker_generations

        generations = worker_generations(run.workers)
    allocations = None
    if run.allocations is not None:  # the same call as the API: perfkit.allocation_growth
        from perfkit.analysis.allocations import allocation_growth

        allocations = allocation_growth(run.allocations)
    return MemoryReport(run, fits, limit_mib, container_limit_mib, per_hour,
                        recycled_workers(run.memory), generations=generations,
                        allocations=allocations)  # fmt: skip
