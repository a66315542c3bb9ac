"""The capacity report: USL from a step load (and from the access log), Gunicorn sizing, growth."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from perfkit.report.display import esc, md, table
from perfkit.report.evidence import Run, load_run
from perfkit.targets import BRIEF, Targets


@dataclass
class CapacityReport:
    run: Run
    targets: Targets
    steps: pd.DataFrame | None
    usl: Any
    log_points: pd.DataFrame | None
    log_usl: Any
    service_s: float
    plan: Any
    growth: Any
    notes: list[str]
    cannot_judge: list[str] = field(default_factory=list)  # what a failed source left unjudged
    held: pd.DataFrame | None = None  # Locust's held user counts, even when too few for a fit
    settle_s: float = 5.0  # each Locust step's first seconds left out (users still ramping)
    capacity: Any = None  # fit_capacity's choice on the step load
    server_cap: Any = None  # the server's concurrency cap and where it came from
    queue_check: Any = None  # Erlang C predicted against the run's own measured response

    def summary(self) -> dict:
        usl = self.usl
        return {
            "report": "capacity", "run": self.run.name,
            "usl": None if usl is None else {
                "sigma": usl.sigma, "kappa": usl.kappa, "lambda": usl.lambda_,
                "peak_concurrency": usl.peak_concurrency, "peak_throughput": usl.peak_throughput,
                "kappa_identified": usl.kappa_identified},
            "capacity": self.capacity_summary(),
            "queue_check": None if self.queue_check is None else {
                "arrival_rate_per_s": self.queue_check.arrival_rate_per_s,
                "servers": self.queue_check.servers,
                "service_ms": self.queue_check.service_ms,
                "service_scv": self.queue_check.service_scv,
                "erlang_c_ms": self.queue_check.erlang_c_ms,
                "per_route_ms": self.queue_check.per_route_ms,
                "measured_ms": self.queue_check.measured_ms,
                "measured_source": self.queue_check.measured_source},
            "target_rate_per_s": self.plan.arrival_rate_per_s if self.plan else None,
            "gunicorn": None if self.plan is None else {
                "workers": self.plan.workers, "threads": self.plan.threads,
                "meets_targets": self.plan.meets_targets, "notes": self.plan.notes},
            "meets_targets": bool(self.plan.meets_targets) if self.plan else None,
            "growth_per_month": None if self.growth is None else self.growth.growth_per_month,
            "capacity_reached": None if self.growth is None or self.growth.reaches is None
            else str(self.growth.reaches.date()),
            "evidence": self.evidence(),
            "verdict_rests_on": self.rests_on(),
            "measured": self.measured(),
            "cannot_judge": list(self.cannot_judge),
            "failed_sources": {k: self.run.problem(k) for k in self.run.problems},
        }  # fmt: skip

    def projection_loads(self) -> list[float]:
        """Where the projection is reported: the largest measured load, twice it, the brief's."""
        top = float(self.capacity.measured_max)
        users = float(self.targets.concurrent_users)
        return sorted({top, 2 * top, *([users] if users <= 4 * top else [])})

    def capacity_summary(self) -> dict | None:
        """The chosen model, its held-out error, the server cap and the projection."""
        fit, cap = self.capacity, self.server_cap
        if fit is None:
            return None
        steps = cast(pd.DataFrame, self.steps)  # what the model was fitted to
        import warnings

        from perfkit.errors import PerfkitWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            table = fit.table(self.projection_loads())
        return {
            "model": fit.model, "holdout_error": _finite(fit.holdout_error),
            "candidates": {m: _finite(e) for m, e in fit.candidates["holdout_error"].items()},
            "servers": fit.servers, "servers_source": fit.servers_source,
            "max_in_flight": None if cap is None else cap.max_in_flight,
            "plateau_per_s": _finite(fit.plateau), "peak": fit.peak, "uncertain": fit.uncertain,
            "measured_max": fit.measured_max,
            "worker_timeouts": (None if "worker_timeouts" not in steps
                                else int(steps["worker_timeouts"].sum())),
            "projection": [{"users": float(r.concurrency), "throughput_per_s": r.throughput_per_s,
                            "low_per_s": r.low_per_s, "high_per_s": r.high_per_s,
                            "response_time_s": r.response_time_s, "range": r.range}
                           for r in table.itertuples()],
        }  # fmt: skip

    def capacity_lines(self) -> list[str]:
        """The verdict's sentences on the chosen model (the same numbers as the summary)."""
        c = self.capacity_summary()
        if c is None:
            return []
        others = ", ".join(f"{m} {_pct(e)}" for m, e in c["candidates"].items() if m != c["model"])
        lines = [f"**Capacity model: {c['model']}**, chosen by held-out error "
                 f"{_pct(c['holdout_error'])} (fitted on the lower steps, scored on the higher; "
                 f"{others}). Server cap: {_servers(c['servers'])} requests at once "
                 f"({esc(c['servers_source'])})."]  # fmt: skip
        if c["plateau_per_s"] is not None:
            how = {"mva": "servers / demand", "amdahl": "lambda / sigma"}.get(
                c["model"], "the pool's servers / demand or the shared station's 1 / demand")
            lines.append(f"As users grow, throughput levels off at {c['plateau_per_s']:,.1f} "
                         f"req/s ({how}).")  # fmt: skip
        if c["peak"] is not None:
            lines.append(f"The USL peaks at {c['peak'][1]:,.1f} req/s with "
                         f"{c['peak'][0]:,.1f} users; past it, more users lower throughput.")
        for p in c["projection"]:
            lines.append(f"- at {p['users']:.0f} users: {p['throughput_per_s']:.1f} req/s "
                         f"[{p['low_per_s']:.1f}, {p['high_per_s']:.1f}], mean response "
                         f"{p['response_time_s'] * 1000:,.0f} ms ({p['range']})")  # fmt: skip
        if c["worker_timeouts"]:
            measured = cast(pd.DataFrame, self.steps)  # counted there
            steps = measured[measured["worker_timeouts"] > 0]
            lines.append(f"**Gunicorn's error log: {c['worker_timeouts']:,} worker timeouts** "
                         f"(`WORKER TIMEOUT`), from the {int(steps['users'].iloc[0])}-user step "
                         "on: requests held a worker past `--timeout` there, and the master "
                         "killed it; the throughput past that load is not all served.")
        if c["uncertain"]:
            lines.append("The projection is **uncertain**: past the measured load the 95 % "
                         "interval spans more than a factor of two (the laws disagree there or "
                         "the steps scatter); measure further rather than trust one curve.")
        if self.usl is not None and not self.usl.kappa_identified:
            lines.append(f"The USL's coherency kappa ({self.usl.kappa:.2e} ± "
                         f"{self.usl.kappa_se:.1e}) is not identified: no peak and no "
                         "retrograde fall are drawn from it.")  # fmt: skip
        return lines

    def evidence(self) -> list[str]:
        """What this run holds that the capacity verdict can use, in words (one per source)."""
        found = []
        history = self.run.locust_history
        if history is not None:
            rows = history[history["name"] == "Aggregated"]
            users = rows["user_count"].dropna()
            stats = cast(pd.DataFrame, self.run.locust_stats)  # read before the history
            total = stats.set_index("name")["request_count"].get("Aggregated")
            span = (rows["time"].max() - rows["time"].min()).total_seconds() if len(rows) else 0
            found.append(
                f"Locust statistics: {_count(total)} requests over {span:.0f} s, "
                f"{users.min():.0f} to {users.max():.0f} users"
                if len(users)
                else "Locust statistics without history rows"
            )
        if self.run.requests is not None:
            count, _, _ = self.run.request_span()
            found.append(f"access log: {count:,} requests")
        if self.growth is not None:
            found.append("traffic history: daily peaks")
        return found

    def rests_on(self) -> str:
        """What the verdict is based on: a model fit, a measurement, or nothing."""
        if self.capacity is not None:
            return (f"the {self.capacity.model} model of the Locust step load, chosen by "
                    "held-out error")  # fmt: skip
        if self.usl is not None:
            return "the USL fit of the Locust step load"
        if self.held is not None and len(self.held):
            return "the throughput Locust measured (no USL fit: fewer than 4 held user counts)"
        if self.log_usl is not None:
            return "the USL fit of the access log's concurrency"
        if self.plan is not None:
            return "the access log's mean response time (Erlang C sizing)"
        if self.held is not None:
            return (f"nothing: Locust held no user count longer than the {self.settle_s:g} s "
                    "settling time, so no steady throughput was measured")  # fmt: skip
        return "nothing: no throughput or service time could be measured"

    def measured(self) -> dict | None:
        """The busiest held Locust step: users, seconds, requests, throughput (req/s)."""
        if self.held is None or not len(self.held):
            return None
        top = self.held.sort_values("throughput_per_s").iloc[-1]
        return {"users": int(top["users"]), "seconds": float(top["seconds"]),
                "requests": int(top["requests"]),
                "throughput_per_s": float(top["throughput_per_s"])}  # fmt: skip

    def verdict(self) -> Any:
        from IPython.display import Markdown

        t = self.targets
        found = self.evidence()
        lines = [f"**Evidence:** {'; '.join(esc(f) for f in found) or 'none that can be used'}. "
                 f"The verdict rests on {self.rests_on()}.\n"]  # fmt: skip
        if self.rests_on().startswith("nothing"):
            lines.append("**Cannot judge capacity from this run.**\n")
        if self.cannot_judge:
            lines.append("**Cannot judge everything: a source could not be read.**\n")
            lines += [f"- {esc(reason)}" for reason in self.cannot_judge]
            lines.append("")
        lines += self.capacity_lines()
        if self.usl is not None and self.usl.kappa_identified:
            peak = self.usl.peak_throughput
            ok = peak * 60 >= t.requests_per_minute
            lines.append(
                f"**{'Enough' if ok else 'Not enough'} headroom for the brief's "
                f"{t.requests_per_minute:.0f} requests/minute:** the step load peaks at "
                f"{peak * 60:,.0f} req/min ({peak:.1f} req/s) with "
                f"{self.usl.peak_concurrency:.0f} requests in flight (USL: contention sigma "
                f"{self.usl.sigma:.3f}, coherency kappa {self.usl.kappa:.2e}, one user alone "
                f"{self.usl.lambda_:.1f} req/s)."
            )
        measured = self.measured()
        if self.usl is not None and measured is not None:
            lines.append(f"The busiest held step measured {measured['throughput_per_s']:.1f} req/s "
                         f"at {measured['users']} users ({measured['requests']:,} requests in "
                         f"{measured['seconds']:.0f} s).")  # fmt: skip
        if self.usl is None and measured is not None:
            rate = measured["throughput_per_s"]
            ok = rate * 60 >= t.requests_per_minute
            lines.append(
                f"**{'Enough' if ok else 'Not shown to be enough'} for the brief's "
                f"{t.requests_per_minute:.0f} requests/minute (measured, not modelled):** "
                f"Locust held {measured['users']} users for {measured['seconds']:.0f} s at "
                f"{rate * 60:,.0f} req/min ({rate:.1f} req/s, {measured['requests']:,} requests). "
                + ("" if ok else "The test did not push that far, which is not the same as "
                   "the service failing to. ")
                + "With fewer than 4 user counts each held longer than the settling time, "
                "there is no USL fit: how far beyond this the service scales is not known; a "
                "step load (several user counts, each held) would say."
            )  # fmt: skip
        if self.plan is None:
            lines.append("\nNo Gunicorn sizing: no service time was measured (a step load "
                         "with 4 or more held user counts measures one, as does a server log "
                         "with request durations).")  # fmt: skip
        if self.plan is not None:
            p = self.plan
            lines.append(
                f"\n**Gunicorn: `{p.command()}`** for {t.concurrent_users} users "
                f"({p.arrival_rate_per_s * 60:.0f} req/min at {self.service_s * 1000:.0f} ms per "
                f"request): mean response {p.response_s * 1000:.0f} ms against the "
                f"{p.target_s * 1000:.0f} ms target, utilisation {p.utilisation:.0%}. "
                + ("Meets the targets." if p.meets_targets else "**Does not meet the targets.**")
            )
            lines += [f"- {n}" for n in p.notes]
        q = self.queue_check
        if q is not None:
            lines.append(
                f"\n**Erlang C on this run** ({q.arrival_rate_per_s:.1f} req/s on {q.servers} "
                f"slots): one mean service time ({q.service_ms:.0f} ms) predicts a "
                f"{q.erlang_c_ms:.0f} ms mean response, the per-route service times (the mix's "
                f"variability C2 {q.service_scv:.2f}) {q.per_route_ms:.0f} ms; measured "
                f"{q.measured_ms:.0f} ms ({q.measured_source}). What remains between the "
                "per-route figure and the clients' is outside the server's log: the listen "
                "backlog, Gunicorn's accept and the network."
            )  # fmt: skip
        if self.growth is not None:
            g = self.growth
            when = "not within a year"
            if g.reaches is not None:
                when = f"on {g.reaches.date()} [{_date(g.reaches_early)}, {_date(g.reaches_late)}]"
            lines.append(f"\nTraffic grows {g.growth_per_month:+.0%} a month; the busiest "
                         f"weekday's peak hour reaches capacity {when}.")  # fmt: skip
        lines += [f"\n{n}" for n in self.notes]
        return Markdown("\n".join(lines))

    def capacity_figure(self) -> Any:
        from perfkit.plots.charts import capacity_curve

        if self.capacity is None:
            return md("{why}", why=self.run.absent(
                "locust", "No step load in this run: no capacity model."))  # fmt: skip
        steps = cast(pd.DataFrame, self.steps)  # what the model was fitted to
        return capacity_curve(steps["users"], steps["throughput_per_s"], self.capacity,
                              "Throughput against users: the chosen model",
                              self.targets.concurrent_users, "Locust steps")  # fmt: skip

    def concurrency_figure(self) -> Any:
        from perfkit.plots.charts import concurrency_sides

        if self.steps is None or "server_in_flight" not in self.steps:
            return md("Client users against server concurrency needs a step load and an access "
                      "log with request times.")  # fmt: skip
        cap = self.server_cap
        return concurrency_sides(self.steps["users"], self.steps["server_in_flight"],
                                 None if cap is None else cap.servers,
                                 "Client users against requests in flight at the server",
                                 "" if cap is None else cap.source)  # fmt: skip

    def candidates_table(self) -> Any:
        if self.capacity is None:
            return md("No step load: no models compared.")
        shown = self.capacity.candidates[["holdout_error", "forecasts", "note"]].reset_index()
        return table(shown, floats="{:.1%}", index=False)

    def usl_figure(self) -> Any:
        from perfkit.plots.charts import usl_curve

        if self.usl is None:
            return md("{why}", why=self.run.absent(
                "locust", "No step load in this run: no USL fit from a load test."))  # fmt: skip
        rate = self.targets.requests_per_minute / 60
        steps = cast(pd.DataFrame, self.steps)  # what the USL was fitted to
        return usl_curve(steps["users"], steps["throughput_per_s"], self.usl,
                         "Throughput against users (Locust step load)", rate,
                         self.targets.concurrent_users, "Locust steps")  # fmt: skip

    def log_usl_figure(self) -> Any:
        from perfkit.plots.charts import usl_curve

        if self.log_usl is None:
            return md("{why}", why=self.run.absent(
                "access log", "Not shown: this run's evidence has no access log "
                f"({'; '.join(self.evidence()) or 'nothing usable'}).")
                if self.run.requests is None else "The access log does not cover enough "
                "distinct concurrency levels for a USL fit of its own.")  # fmt: skip
        points = cast(pd.DataFrame, self.log_points)  # what the USL was fitted to
        return usl_curve(points["concurrency"], points["throughput_per_s"], self.log_usl,
                         "Throughput against requests in flight (from the access log)",
                         source="log intervals")  # fmt: skip

    def sizing_figure(self) -> Any:
        from perfkit.plots.charts import sizing_curve

        if self.plan is None:
            failed = [
                self.run.problem(k) for k in ("locust", "access log") if k in self.run.problems
            ]
            return md("{why}", why="No service time measured: no sizing." + "".join(
                f" Could not be read: {p}" for p in failed))  # fmt: skip
        return sizing_curve(self.plan.arrival_rate_per_s, self.service_s, self.plan,
                            "Response time against workers x threads (Erlang C)")  # fmt: skip

    def growth_figure(self) -> Any:
        if self.growth is None and "traffic" in self.run.problems:
            return md("{why}", why=self.run.absent("traffic", ""))
        if self.growth is None:
            return md(
                "Traffic growth needs at least three weeks of daily peaks (pass `traffic` as "
                "access logs covering them, or a CSV of day,peak_per_s)."
            )
        import plotly.graph_objects as go

        from perfkit.plots.theme import styled

        g = self.growth
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=g.fit["day"], y=g.fit["peak_per_s"], mode="markers",
                                 name="daily peak"))  # fmt: skip
        fig.add_trace(go.Scatter(x=g.fit["day"], y=g.fit["trend_per_s"], name="trend"))
        proj = g.projection
        fig.add_trace(go.Scatter(x=proj["day"], y=proj["busiest_per_s"], name="busiest weekday"))
        fig.add_trace(go.Scatter(x=list(proj["day"]) + list(proj["day"][::-1]),
                                 y=list(proj["high_per_s"]) + list(proj["low_per_s"][::-1]),
                                 fill="toself", line={"width": 0}, name="interval",
                                 opacity=0.2))  # fmt: skip
        fig.add_hline(y=g.capacity_per_s, line_dash="dash", annotation_text="capacity")
        fig.update_layout(yaxis_title="peak-hour req/s", height=380)
        return styled(fig, "Traffic growth and capacity", "robust trend, weekday-aware")

    def steps_table(self) -> Any:
        if self.steps is None:
            return md("{why}", why=self.run.absent("locust", "No Locust step load in this run."))
        columns = ["users", "seconds", "requests", "throughput_per_s", "mean_ms", "in_flight",
                   "server_in_flight", "failures", "worker_timeouts", "interference"]  # fmt: skip
        columns = [c for c in columns if c in self.steps]
        return table(self.steps[columns], floats="{:,.2f}", index=False)

    def trust(self) -> Any:
        """The data-trust section: perfkit's warnings as styled notes, then the table."""
        from perfkit.report.display import notes
        from perfkit.report.overview import _Outputs

        shown = [notes(), table(self.run.trust(), index=False)]  # notes first: not listed twice
        return _Outputs([s for s in shown if s is not None])


def _count(value: float | None) -> str:
    return "?" if value is None or pd.isna(value) else f"{int(value):,}"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _pct(value: float | None) -> str:
    return "not scored" if value is None else f"{value:.1%}"


def _servers(value: object) -> str:
    return "unknown" if value is None else f"{value}"


def _date(value: pd.Timestamp | None) -> str:
    return "later" if value is None else str(value.date())


def capacity_report(
    run: str | Path | Run,
    targets: Targets = BRIEF,
    cores: int | None = None,
    cpu_share: float = 0.5,
    think_time_s: float = 10.0,
    traffic: str | Path | None = None,
    log_format: str = "auto",
    settle_s: float = 5.0,
    engine: str = "pandas",
) -> CapacityReport:
    """Fit and size from a run folder (Locust step load and/or access log)."""
    from perfkit.analysis.capacity import fit_usl
    from perfkit.analysis.concurrency import concurrency_from_log, locust_steps
    from perfkit.analysis.sizing import recommend_gunicorn
    from perfkit.errors import InputError

    run = run if isinstance(run, Run) else load_run(run, log_format, engine=engine)
    notes: list[str] = []
    steps = usl = log_points = log_usl = plan = growth = held = None
    service_s = float("nan")
    capacity = server_cap = None
    if run.locust_history is not None:
        steps = held = locust_steps(run.locust_history, settle_s=settle_s)
        if len(steps) and steps["users"].nunique() >= 4:
            usl = fit_usl(steps["users"], steps["throughput_per_s"])
            service_s = float(steps.sort_values("users")["mean_ms"].iloc[0]) / 1000
        else:
            steps = None
    account = {} if run.requests is None else getattr(run.requests, "attrs", {})  # Dask: none
    untimed = account.get("perfkit", {}).get("durations") == "absent"
    if untimed:  # requests in flight need each request's time
        notes.append("The access log has no request times (no duration field in its format), "
                     "so requests in flight, the log's throughput curve and its service time "
                     "cannot be measured; add Gunicorn's %(D)s, nginx's $request_time or "
                     "Apache's %D to the log format.")  # fmt: skip
    if run.requests is not None and not untimed:
        log_points = concurrency_from_log(run.requests, "10s").iloc[1:-1]
        log_points = log_points[log_points["requests"] > 0]
        if log_points["concurrency"].round(0).nunique() >= 4:
            try:
                log_usl = fit_usl(log_points["concurrency"], log_points["throughput_per_s"])
            except InputError:
                log_usl = None
            seen = float(log_points["concurrency"].max())
            if log_usl is not None and not log_usl.peak_concurrency <= 10 * seen:
                notes.append(
                    f"The access log reaches {seen:.0f} requests in flight: too few to pin the "
                    "coherency term (kappa) down, so its USL fit is shown for the contention "
                    "term only"
                    + (
                        "; the step load's fit is the one to plan with."
                        if usl is not None
                        else ": a step load (Locust) would give the peak."
                    )
                )
        if math.isnan(service_s):  # no step load: the log's mean
            mean = run.requests["duration_ms"].mean()
            service_s = float(mean.compute() if hasattr(mean, "compute") else mean) / 1000
    queue_check = None
    if steps is not None:
        steps, capacity, server_cap = _capacity(run, steps, log_points is not None)
    elif log_points is not None and isinstance(run.requests, pd.DataFrame):
        queue_check = _queue_check(run)
    if not math.isnan(service_s):
        try:
            plan = recommend_gunicorn(service_s, cores or os.cpu_count() or 1, cpu_share,
                                      targets, think_time_s=think_time_s, usl=usl)  # fmt: skip
        except InputError as exc:
            notes.append(f"Sizing: {exc}")
    if traffic is not None:
        try:
            growth = _growth(traffic, plan, service_s, log_format)
        except InputError as exc:  # the rest of the report stands without the projection
            run.problems["traffic"] = str(exc)
            run.sources["traffic"] = [str(traffic)]
    unjudged = [run.failed("locust", "throughput against users from the step load (USL) and the "
                           "service time it gives the sizing"),
                run.failed("access log", "throughput against requests in flight from the access "
                           "log" + ("" if usl is not None else ", and the sizing's service time")),
                run.failed("traffic", "when traffic growth reaches capacity"),
                "requests in flight and service time from the access log: it has no request "
                "times" if untimed and usl is None else None]  # fmt: skip
    return CapacityReport(run, targets, steps, usl, log_points, log_usl, service_s, plan, growth,
                          notes, [u for u in unjudged if u], held, settle_s, capacity,
                          server_cap, queue_check)  # fmt: skip


def _queue_check(run: Run):
    """Erlang C against the run's own clients, when the slots are known (Gunicorn's command)."""
    from perfkit.analysis.capacity import server_concurrency
    from perfkit.analysis.sizing import check_queue
    from perfkit.errors import InputError

    command, error_log = _gunicorn_evidence(run)
    if command is None and error_log is None:
        return None
    try:
        cap = server_concurrency(None, error_log, command)
        if cap.servers is None:
            return None
        client = None
        if run.locust_stats is not None:
            client = run.locust_stats.set_index("name")["mean_ms"].get("Aggregated")
        return check_queue(cast(pd.DataFrame, run.requests), cap.servers,  # a timed log
                           None if client is None or pd.isna(client) else float(client))
    except InputError:
        return None  # an unstable or empty queue: no check rather than a wrong one


def _gunicorn_evidence(run: Run) -> tuple[str | None, Path | None]:
    """The Gunicorn command that served the logged requests (manifest.json) and its error log."""
    import json

    folder = Path(cast(Path, run.folder)) if getattr(run, "folder", None) else None
    if folder is None:
        return None, None
    command: str | None = None
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        commands = [c for c in manifest.get("commands", []) if "gunicorn" in c]
        logged = [c for c in commands if "--access-logfile" in c]
        command = (logged or commands or [None])[0]
    except (OSError, ValueError, AttributeError):
        command = None
    here = [p for p in ("gunicorn.log", "error.log", "gunicorn_error.log") if (folder / p).exists()]
    found = [Path(p) for p in run.sources.get("gunicorn log", [])]  # gunicorn*.log*, error*.log*
    logs = [folder / p for p in here] or found[:1]
    return command, logs[0] if logs else None


def _capacity(run: Run, steps: pd.DataFrame, timed_log: bool):
    """The steps with the server's in-flight count and interference flags, the chosen
    capacity law and the server cap (from Gunicorn's command or log, else the access log)."""
    from perfkit.analysis.capacity import fit_capacity, server_concurrency
    from perfkit.analysis.concurrency import concurrency_from_log, flag_interference
    from perfkit.errors import InputError

    command, error_log = _gunicorn_evidence(run)
    requests = run.requests if timed_log and isinstance(run.requests, pd.DataFrame) else None
    try:
        cap = server_concurrency(requests, error_log, command, float(steps["users"].max()))
    except InputError:
        cap = server_concurrency(requests, None, None, float(steps["users"].max()))
    if requests is not None:
        per_s = concurrency_from_log(requests, "1s")["concurrency"]
        steps = steps.assign(server_in_flight=[
            float(per_s[(per_s.index >= a) & (per_s.index < b)].mean())
            for a, b in zip(steps["start"], steps["end"], strict=True)])  # fmt: skip
    steps = flag_interference(steps)  # Locust's log is not in a run folder: weights 1
    if run.workers is not None:  # Gunicorn's error log: the master's WORKER TIMEOUT lines
        times = run.workers.loc[run.workers["kind"].astype(str) == "timeout", "time"]
        steps = steps.assign(worker_timeouts=[
            int(((times >= a) & (times < b)).sum())
            for a, b in zip(steps["start"], steps["end"], strict=True)])  # fmt: skip
    try:
        fit = fit_capacity(steps["users"], steps["throughput_per_s"], steps["mean_ms"] / 1000,
                           servers=cap.servers, servers_source=cap.source,
                           weights=steps["weight"])  # fmt: skip
    except InputError:
        fit = None
    return steps, fit, cap


def _growth(traffic, plan, service_s, log_format):
    from perfkit.analysis.capacity import max_arrival_rate
    from perfkit.analysis.growth import daily_peaks, project_growth
    from perfkit.report.evidence import resolve

    path = resolve(traffic)
    if path.suffix == ".csv":
        frame = pd.read_csv(path, parse_dates=["day"])
        daily = frame.set_index("day")["peak_per_s"]
    else:
        import perfkit

        daily = daily_peaks(perfkit.read_access_log(traffic, format=log_format))
    capacity = max_arrival_rate(service_s, plan.slots, (0.5, plan.target_s)) if plan else None
    return project_growth(daily, capacity) if capacity else None
