"""The regression report: baseline against candidate per endpoint, error rate, statement, function.

Every verdict here comes from the same functions and defaults as the Python
API (`perfkit.compare`, `compare_error_rates`, `compare_queries`,
`compare_profiles`, `compare_loadtests`), which share one verdict rule with
the run-wide shift (`perfkit.analysis.regression.verdict`): the report and
the API cannot disagree. A source that is missing or could not be read
leaves its section saying so; what could not be judged is listed in the
summary's ``cannot_judge`` (a CI gate then exits 2, not 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from perfkit._display import ReportDisplay, count, sizes
from perfkit.errors import InputError
from perfkit.report.display import code, md, table
from perfkit.report.evidence import Run, load_run

if TYPE_CHECKING:
    from perfkit.analysis.distributed import RouteTotals, Totals
    from perfkit.analysis.regression.verdict import Shift


@dataclass(repr=False)
class RegressionReport(ReportDisplay):
    """Every comparison of two runs; methods return what a notebook cell shows."""

    base: Run
    cand: Run
    endpoints: pd.DataFrame | None
    queries: pd.DataFrame | None
    functions: pd.DataFrame | None
    loadtest: pd.DataFrame | None
    mix: Any
    attribution: Any
    alpha: float
    sketches: tuple[Totals, Totals] | None = None  # per-route totals of both sides (Dask engine)
    errors: pd.DataFrame | None = None
    normalize: bool = True
    cannot_judge: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # section -> what went wrong
    plans: pd.DataFrame | None = None  # plan_changes of the runs' PostgreSQL server logs
    lines: pd.DataFrame | None = None  # compare_line_profiles of the runs' .lprof dumps

    # -- display: a short repr (perfkit._display.ReportDisplay) -----------------------------
    def _display_facts(self) -> list[tuple[str, object]]:
        facts: list[tuple[str, object]] = [
            ("requests", f"{sizes(self.base.requests, 'request')} in {self.base.name}, "
                         f"{sizes(self.cand.requests, 'request')} in {self.cand.name}")]
        if self.endpoints is not None:
            verdicts = self.endpoints["verdict"].value_counts()
            facts.append(("endpoints", f"{len(self.endpoints):,} compared: " + ", ".join(
                f"{n:,} {v}" for v, n in verdicts.items())))  # fmt: skip
        for label, frame, unit in (("statements", self.queries, "statement"),
                                   ("functions", self.functions, "function"),
                                   ("load test", self.loadtest, "request name")):
            if frame is not None:  # the functions' frame holds the changes and the top rows
                regressed = int((frame["verdict"] == "regressed").sum())
                facts.append((label, f"{count(frame.attrs.get('functions', len(frame)), unit)} "
                                     f"compared, {regressed:,} regressed"))
        return facts

    def _display_frame(self) -> pd.DataFrame | None:
        if self.endpoints is None:
            return None
        columns = [c for c in ("verdict", "n_base", "n_cand", "p50_base", "p50_cand", "ratio",
                               "ci_low", "ci_high", "p_adjusted") if c in self.endpoints]
        order = self.endpoints["verdict"].map({"regressed": 0, "improved": 1,
                                               "moved with shift": 2, "unchanged": 3})
        ranked = self.endpoints.assign(_o=order.fillna(4)).sort_values("_o", kind="stable")
        return ranked[columns]

    # -- verdicts ------------------------------------------------------------------------
    @property
    def shift(self) -> Shift:
        """The run-wide shift of the endpoints (`perfkit.analysis.regression.Shift`)."""
        from perfkit.analysis.regression.verdict import Shift

        if self.endpoints is None:
            return Shift()
        return self.endpoints.attrs.get("shift", Shift())

    @property
    def timed(self) -> bool:
        """Whether both access logs carry request times (latency can be judged)."""
        return self.endpoints is not None and not self.endpoints.attrs.get("no_metric")

    def regressed(self) -> pd.DataFrame:
        return _with(self.endpoints, "regressed")

    def summary(self) -> dict:
        """Verdicts and key figures, for `perfkit report --json` and CI gates."""
        endpoints = self.endpoints
        queries = self.queries
        return {
            "report": "regression",
            "baseline": self.base.name, "candidate": self.cand.name,
            "regressed": _keys(endpoints, "regressed"),
            "improved": _keys(endpoints, "improved"),
            "moved_with_shift": _keys(endpoints, "moved with shift"),
            "insufficient": _keys(endpoints, "insufficient data"),
            "errors_regressed": _keys(self.errors, "regressed"),
            "errors_improved": _keys(self.errors, "improved"),
            "cannot_judge": list(self.cannot_judge),
            "normalize": self.normalize,
            "shift": self.shift.to_dict(),
            "queries_regressed": [] if queries is None else [
                str(queries.loc[i, "query"])[:200] for q in _keys(queries, "regressed")
                for i in [int(q)] if i in queries.index
            ],
            "queries_shift": None if queries is None else queries.attrs["shift"].to_dict(),
            "functions_regressed": [] if self.functions is None else [
                str(f) for f in self.functions.loc[
                    self.functions["verdict"] == "regressed", "function"]
            ],
            "loadtest_regressed": _keys(self.loadtest, "regressed"),
            "lines_regressed": [] if self.lines is None else [
                f"{r.file}:{r.line_cand} {r.function}" for r in _rows(
                    self.lines[self.lines["verdict"] == "regressed"])],
            "plan_changes": None if self.plans is None else [
                {"statement": str(r.statement)[:200], "change": str(r.change),
                 "base_ms": _num(r.base_ms), "cand_ms": _num(r.cand_ms),
                 "added_ms": _num(r.added_ms)}
                for r in self.plans[self.plans["changed"]].itertuples()],
            "mix_adjusted_ratio": None if self.mix is None else _num(self.mix.adjusted_ratio),
            "raw_ratio": None if self.mix is None else _num(self.mix.raw_ratio),
            "problems": dict(self.problems),
            "endpoints": {} if endpoints is None else {
                str(k): {"verdict": r.verdict, "n_base": int(r.n_base), "n_cand": int(r.n_cand)}
                for k, r in zip(endpoints.index, _rows(endpoints), strict=True)
            } if not self.timed else {
                str(k): {"verdict": r.verdict, "raw_verdict": r.raw_verdict,
                         "relative_verdict": r.relative_verdict, "n_base": int(r.n_base),
                         "n_cand": int(r.n_cand), "median_ratio": _num(r.ratio),
                         "ci": [_num(r.ci_low), _num(r.ci_high)],
                         "relative_ratio": _num(r.rel_ratio),
                         "relative_ci": [_num(r.rel_ci_low), _num(r.rel_ci_high)],
                         "p95_ratio": _num(r.p95_ratio),
                         "p95_ci": [_num(r.p95_ci_low), _num(r.p95_ci_high)]}
                for k, r in zip(endpoints.index, _rows(endpoints), strict=True)
            },
        }  # fmt: skip

    def verdict(self) -> Any:
        """The answer in plain words, first."""
        from IPython.display import Markdown

        lines = [*self._latency_lines(), *self._error_lines(), *self._shift_lines()]
        if self.mix is not None and self.timed:
            lines.append(
                f"\nOverall mean latency at the baseline's traffic mix: "
                f"{_pct(self.mix.adjusted_ratio)} (raw, with the candidate's own mix: "
                f"{_pct(self.mix.raw_ratio)})."
            )
        lines += self._query_lines()
        if self.attribution is not None and self.timed and len(self.regressed()):
            parts = self.attribution.routes.reindex([str(r) for r in self.regressed().index])
            for route, row in parts.iterrows():
                if pd.notna(row.get("db_change_ms")):
                    lines.append(
                        f"\n{code(route)} changed by {row['total_change_ms']:+.1f} ms per "
                        f"request on average (raw): database {row['db_change_ms']:+.1f} ms, "
                        f"external APIs {row['external_change_ms']:+.1f} ms, Python and the "
                        f"rest {row['python_change_ms']:+.1f} ms."
                    )
        if self.cannot_judge:
            lines.append("\n**Could not be judged:**\n")
            lines += [f"- {_escape_md(reason)}" for reason in self.cannot_judge]
        return Markdown("\n".join(lines))

    def _latency_lines(self) -> list[str]:
        if self.endpoints is None:
            return ["**Latency and error rates cannot be judged:** "
                    + _escape_md(self._missing_log()) + "."]  # fmt: skip
        if not self.timed:
            return [self._untimed_text()]
        lines = []
        regressed = self.regressed()
        beyond = " beyond the run-wide shift" if self.shift.applied else ""
        if len(regressed):
            lines.append(f"**{len(regressed)} endpoint{'s' if len(regressed) > 1 else ''} "
                         f"regressed{beyond}:**\n")  # fmt: skip
            for route, row in regressed.iterrows():
                relative = (f"; {_pct(row['rel_ratio'])} [{_pct(row['rel_ci_low'])}, "
                            f"{_pct(row['rel_ci_high'])}] against the shift"
                            if self.shift.applied else "")  # fmt: skip
                lines.append(
                    f"- {code(route)}: median {_pct(row['ratio'])} [{_pct(row['ci_low'])}, "
                    f"{_pct(row['ci_high'])}]{relative}, p95 {_pct(row['p95_ratio'])} "
                    f"({row['p50_base']:.1f} → {row['p50_cand']:.1f} ms median, "
                    f"{row['p95_base']:.0f} → {row['p95_cand']:.0f} ms p95; "
                    f"{int(row['n_base'])} and {int(row['n_cand'])} requests)"
                )
        else:
            tested = int((~self.endpoints["verdict"].isin(["insufficient data"])).sum())
            lines.append(f"**No endpoint regressed{beyond}** ({tested} compared with enough "
                         f"requests, alpha {self.alpha:g} after Holm's correction)." if tested
                         else "**No endpoint could be judged:** none has enough requests with "
                         "a time on both sides.")  # fmt: skip
        improved = _with(self.endpoints, "improved")
        if len(improved):
            better = ", ".join(f"{code(r)} median {_pct(x)}" for r, x in improved["ratio"].items())
            lines.append(f"\n{len(improved)} improved: {better}.")
        few = _with(self.endpoints, "insufficient data")
        gone = few[few["n_cand"] == 0]
        new = few[(few["n_base"] == 0) & (few["n_cand"] > 0)]
        few = few[(few["n_base"] > 0) & (few["n_cand"] > 0)]
        for frame, what in ((gone, "served in the baseline only (gone from the candidate)"),
                            (new, "served in the candidate only (new)"),
                            (few, "had too few requests to judge")):  # fmt: skip
            if len(frame):
                lines.append(f"\n{len(frame)} endpoint(s) {what}: "
                             + ", ".join(f"{code(r)}" for r in frame.index[:8])
                             + (" …" if len(frame) > 8 else "") + ".")  # fmt: skip
        return lines

    def _missing_log(self) -> str:
        reasons = [run.problem("access log") for run in (self.base, self.cand)]
        failed = [f"{run.name}: {why}" for run, why in zip((self.base, self.cand), reasons,
                                                           strict=True) if why]  # fmt: skip
        if failed:
            return "the access log could not be read (" + "; ".join(failed) + ")"
        missing = [run.name for run in (self.base, self.cand) if run.requests is None]
        return "no access log in " + " and ".join(missing)

    def _untimed_text(self) -> str:
        from perfkit.io.logformat import timing_fix

        sides = cast(pd.DataFrame, self.endpoints).attrs.get("no_metric", [])  # compared
        runs = {"baseline": self.base, "candidate": self.cand}
        account = next((_account(runs[s]) for s in sides if _account(runs[s])), {})
        fixes = timing_fix(account.get("format", ""), account.get("format_string", ""))
        return (
            f"**Latency cannot be judged:** the {' and '.join(sides)} access log"
            f"{'s have' if len(sides) > 1 else ' has'} no request times (format "
            f"{code(account.get('format', '?'))}), so no endpoint is called regressed, improved "
            "or unchanged on latency. Traffic, status codes, error rates and bytes are still "
            "compared below. To record request times:\n\n"
            + "\n".join(f"- {fix}" for fix in fixes)
        )

    def _error_lines(self) -> list[str]:
        errors = self.errors
        if errors is None:
            return []
        worse, better = _with(errors, "regressed"), _with(errors, "improved")
        lines = []
        if len(worse):
            lines.append(f"\n**The 5xx error rate regressed** on {len(worse)} "
                         f"{'key' if len(worse) == 1 else 'keys'}:\n")  # fmt: skip
            for key, row in worse.iterrows():
                lines.append(
                    f"- {code(key)}: {row['rate_base']:.2%} → {row['rate_cand']:.2%} "
                    f"({int(row['errors_base'])} of {int(row['n_base'])} → "
                    f"{int(row['errors_cand'])} of {int(row['n_cand'])} requests; difference "
                    f"[{row['diff_ci_low']:+.2%}, {row['diff_ci_high']:+.2%}], Fisher p "
                    f"{row['p_adjusted']:.2g})"
                )
        else:
            whole = errors.iloc[-1]
            lines.append(f"\nNo 5xx error rate regressed (the whole run: {whole['rate_base']:.2%}"
                         f" → {whole['rate_cand']:.2%}).")  # fmt: skip
        if len(better):
            lines.append("\n5xx rate fell on " + ", ".join(code(k) for k in better.index) + ".")
        return lines

    def _shift_lines(self) -> list[str]:
        if not self.timed:
            return []
        shift, endpoints = self.shift, cast(pd.DataFrame, self.endpoints)  # timed: compared
        lines = [f"\n{shift.describe()}"]
        moved = _with(endpoints, "moved with shift")
        if len(moved):
            how = "slower" if shift.factor > 1 else "faster"
            lines.append(
                f"\n{len(moved)} endpoint(s) **moved with the shift** ({how} in raw time, by "
                "about as much as the rest of the run: a change of that endpoint only under the "
                "second reading): " + ", ".join(f"{code(r)} {_pct(x)}"
                                                for r, x in moved["ratio"].items()) + "."
            )  # fmt: skip
        if shift.applied:
            changed = (endpoints["verdict"] == "unchanged") & endpoints["raw_verdict"].isin(
                ["regressed", "improved"])
            disagree = endpoints[changed & endpoints["relative_verdict"].isin(
                ["regressed", "improved"])]  # raw one way, against the rest the other
            if len(disagree):
                lines.append(
                    f"\n{len(disagree)} endpoint(s) on which the two readings disagree (so "
                    "unchanged): " + ", ".join(
                        f"{code(r)} {_pct(x)} in raw time, {_pct(y)} against the rest"
                        for r, x, y in zip(disagree.index, disagree["ratio"],
                                           disagree["rel_ratio"], strict=True)) + "."
                )  # fmt: skip
            within = endpoints[changed & (endpoints["relative_verdict"] == "unchanged")
                               & (endpoints["verdict"] == "unchanged")]
            if len(within):
                lines.append(
                    f"\n{len(within)} endpoint(s) changed in raw time by no more than endpoints "
                    "of these two runs differ from one another, so they are not called changed: "
                    + ", ".join(f"{code(r)} {_pct(x)} (against the rest {_pct(y)})"
                                for r, x, y in zip(within.index, within["ratio"],
                                                   within["rel_ratio"], strict=True)) + "."
                )  # fmt: skip
            against = endpoints[(endpoints["verdict"] == "unchanged")
                                & (endpoints["raw_verdict"] == "unchanged")
                                & endpoints["relative_verdict"].isin(["regressed", "improved"])]
            if len(against):
                lines.append(
                    "\nAgainst the rest of the run but not in raw time (unchanged; a change "
                    "under the first reading only): " + ", ".join(
                        f"{code(r)} {_pct(x)}" for r, x in against["rel_ratio"].items()) + "."
                )  # fmt: skip
        elif shift.material and not shift.normalized:
            within = endpoints[(endpoints["verdict"] == "regressed")
                               & (endpoints["relative_verdict"] != "regressed")]
            if len(within):
                lines.append(
                    f"\n**Raw mode:** {len(within)} of the regressed endpoints are not slower "
                    "than the rest of the run: " + ", ".join(code(r) for r in within.index)
                    + ". With `normalize = True` they would be *moved with shift*."
                )  # fmt: skip
        return lines

    def _query_lines(self) -> list[str]:
        if self.queries is None:
            why = self._section_problem("queries", "pg")
            return ([f"\nSQL statements not compared: {_escape_md(why)}."] if why else []) + \
                self._plan_lines()  # fmt: skip
        slower = _with(self.queries, "regressed")
        shift = self.queries.attrs["shift"]
        beyond = " beyond the shift of database time" if shift.applied else ""
        lines = [f"\n**{len(slower)} SQL statement(s) regressed{beyond}** (pg_stat_statements, "
                 "Welch's test on each window's mean and spread)." if len(slower) else
                 f"\nNo SQL statement regressed{beyond} (pg_stat_statements)."]  # fmt: skip
        if shift.material:
            lines.append(f"\nDatabase time: {shift.describe()}")
        return lines + self._plan_lines()

    def _plan_lines(self) -> list[str]:
        """The statements whose plan changed (PostgreSQL's server logs, auto_explain)."""
        if self.plans is None:
            why = self.problems.get("plans")
            return [f"\nPlans not compared: {_escape_md(why)}."] if why else []
        changed = self.plans[self.plans["changed"]]
        if not len(changed):
            return [f"\nNo statement changed plan ({len(self.plans)} compared, auto_explain)."]
        lines = [f"\n**{len(changed)} statement(s) changed plan** (auto_explain in PostgreSQL's "
                 "server logs), the costliest first:\n"]  # fmt: skip
        for row in changed.head(5).itertuples():
            lines.append(f"- {code(str(row.statement)[:120])}: {_escape_md(row.change)}, "
                         f"{row.base_ms:,.3g} → {row.cand_ms:,.3g} ms per call "
                         f"({row.cand_calls:,} calls)")  # fmt: skip
        return lines

    def plan_table(self, top: int = 12) -> Any:
        """Statements planned in both runs: plan shape before and after, time per call."""
        if self.plans is None:
            why = self.problems.get("plans")
            return md("Plans not compared: {why}.", why=why) if why else md(
                "No auto_explain plans in both runs' PostgreSQL server logs "
                "(postgresql*.log*, pg_log/): plan comparison skipped.")  # fmt: skip
        columns = ["changed", "change", "base_ms", "cand_ms", "ratio", "base_calls",
                   "cand_calls", "added_ms", "misestimate", "statement"]  # fmt: skip
        shown = self.plans[columns].head(top).copy()
        shown["statement"] = shown["statement"].astype(str).str.slice(0, 120)
        return table(shown, floats="{:,.3g}", index=False)

    def _section_problem(self, section: str, source: str) -> str | None:
        if section in self.problems:
            return self.problems[section]
        failed = [f"{run.name}: {run.problem(source)}" for run in (self.base, self.cand)
                  if run.problem(source)]  # fmt: skip
        return "; ".join(failed) or None

    # -- evidence ------------------------------------------------------------------------
    def endpoint_table(self) -> Any:
        if self.endpoints is None:
            return md("No access log to compare: {why}.", why=self._missing_log())
        if not self.timed:
            columns = ["verdict", "n_base", "n_cand"]
            return table(self.endpoints[columns].sort_values("n_base", ascending=False))
        columns = ["verdict", "n_base", "n_cand", "p50_base", "p50_cand", "ratio", "ci_low",
                   "ci_high", "p95_base", "p95_cand", "p95_ratio", "p_adjusted"]  # fmt: skip
        if self.shift.estimated:
            columns[6:6] = ["rel_ratio", "rel_ci_low", "rel_ci_high"]
        order = self.endpoints["verdict"].map({"regressed": 0, "improved": 1,
                                               "moved with shift": 2, "unchanged": 3})  # fmt: skip
        return table(self.endpoints.assign(_o=order.fillna(4)).sort_values(["_o", "ratio"],
                     ascending=[True, False])[columns], floats="{:,.3g}")  # fmt: skip

    def change_figure(self) -> Any:
        if not self.timed:
            return md("No request times: no latency figure.")
        from perfkit.plots.charts import forest

        shift = self.shift
        band = (shift.factor, shift.ci_low, shift.ci_high) if shift.estimated else None
        endpoints = cast(pd.DataFrame, self.endpoints)  # timed: compared
        return forest(endpoints, "Change per endpoint (median, with p95)", shift=band)

    def error_table(self) -> Any:
        if self.errors is None:
            return md("No access log on both sides: error rates not compared.")
        shown = self.errors.copy()
        for column in ("rate_base", "rate_cand", "diff", "diff_ci_low", "diff_ci_high",
                       "client_rate_base", "client_rate_cand"):  # fmt: skip
            shown[column] = shown[column] * 100
        order = shown["verdict"].map({"regressed": 0, "improved": 1}).fillna(2)
        shown = shown.assign(_o=order).sort_values(["_o", "n_base"], ascending=[True, False])
        columns = ["verdict", "n_base", "n_cand", "errors_base", "errors_cand", "rate_base",
                   "rate_cand", "diff_ci_low", "diff_ci_high", "client_rate_base",
                   "client_rate_cand", "p_adjusted"]  # fmt: skip
        renamed = {c: c.replace("rate", "% 5xx").replace("client_% 5xx", "% 4xx")
                   .replace("diff_ci", "diff % ci") for c in columns}  # fmt: skip
        return table(shown[columns].head(20).rename(columns=renamed), floats="{:,.3g}")

    def distributions(self, top: int = 3) -> list:
        """ECDFs of the regressed endpoints (or the most changed ones when none regressed)."""
        if not self.timed:
            return []
        from perfkit.plots.charts import ecdf, ecdf_from_quantiles

        chosen = list(self.regressed().index)
        if not chosen:
            ranked = cast(pd.DataFrame, self.endpoints).dropna(subset=["ratio"])  # timed
            chosen = list((ranked["ratio"] - 1).abs().sort_values(ascending=False).index[:top])
        figures = []
        keyed = None
        for route in chosen[:6]:
            if self.sketches is not None:  # Dask engine: the curves from the merged sketches
                # a route compared (regressed, or with a ratio) has totals on both sides
                base_t, cand_t = (cast("RouteTotals", side.get(route)) for side in self.sketches)
                figures.append(ecdf_from_quantiles(base_t.sketch, cand_t.sketch, f"{route}"))
                continue
            if keyed is None:
                from perfkit.analysis.regression.requests import ENDPOINT, with_endpoints

                keyed = with_endpoints(self.base.requests, self.cand.requests)
            base, cand = (side.loc[side[ENDPOINT].astype(str) == str(route)] for side in keyed)
            figures.append(ecdf(base["duration_ms"], cand["duration_ms"], f"{route}"))
        return figures

    def query_table(self, top: int = 12) -> Any:
        if self.queries is None:
            why = self._section_problem("queries", "pg")
            if why:
                return md("Per-query comparison skipped: {why}.", why=why)
            return md("No pg_stat_statements in one of the runs: per-query comparison skipped.")
        shown = self.queries.copy()
        shown["query"] = shown["query"].astype(str).str.slice(0, 120)
        shown = shown.sort_values("p_adjusted").head(top)
        columns = ["verdict", "n_base", "n_cand", "mean_ms_base", "mean_ms_cand", "ratio",
                   "ci_low", "ci_high", "rel_ratio", "p_adjusted", "query"]  # fmt: skip
        return table(shown[columns], floats="{:,.3g}")

    def function_table(self, top: int = 12) -> Any:
        if self.functions is None:
            why = self._section_problem("functions", "profiles")
            if why:
                return md("Per-function comparison skipped: {why}.", why=why)
            return md("No profiles in one of the runs: per-function comparison skipped.")
        shown = self.functions.head(top).assign(
            contribution_ms=lambda f: f["contribution_s"] * 1000,
            cum_ms_base=lambda f: f["cum_s_base"] * 1000,
            cum_ms_cand=lambda f: f["cum_s_cand"] * 1000,
        )  # fmt: skip
        return table(shown[["name", "group", "contribution_ms", "cum_ms_base", "cum_ms_cand",
                            "verdict", "function"]], floats="{:,.3g}")  # fmt: skip

    def line_table(self, top: int = 12) -> Any:
        """The lines whose time per call changed most (`compare_line_profiles`), in ms."""
        if self.lines is None:
            why = self._section_problem("lines", "line profile")
            if why:
                return md("Per-line comparison skipped: {why}.", why=why)
            return md("No line profile (.lprof) in one of the runs: per-line comparison skipped.")
        shown = self.lines.head(top).assign(
            ms_per_call_base=lambda f: f["time_per_call_s_base"] * 1000,
            ms_per_call_cand=lambda f: f["time_per_call_s_cand"] * 1000,
            change_ms=lambda f: f["change_s"] * 1000,
        )  # fmt: skip
        return table(shown[["function", "line_base", "line_cand", "source", "ms_per_call_base",
                            "ms_per_call_cand", "change_ms", "hits_per_call_base",
                            "hits_per_call_cand", "verdict", "matched_by"]],
                     floats="{:,.3g}")  # fmt: skip

    def loadtest_table(self) -> Any:
        if self.loadtest is None:
            why = self._section_problem("loadtest", "locust")
            if why:
                return md("Load-test comparison skipped: {why}.", why=why)
            return md("No Locust statistics in one of the runs.")
        columns = ["verdict", "n_base", "n_cand", "p50_base", "p50_cand", "ratio", "ci_low",
                   "ci_high", "p95_base", "p95_cand", "p_adjusted"]  # fmt: skip
        return table(self.loadtest[columns], floats="{:,.3g}")

    def attribution_table(self) -> Any:
        if self.attribution is None:
            return md("Attribution needs an access log with request times and profiles (or an "
                      "outbound log) on both sides.")  # fmt: skip
        columns = ["n_base", "n_cand", "total_change_ms", "db_change_ms", "external_change_ms",
                   "python_change_ms", "db_calls_base", "db_calls_cand"]  # fmt: skip
        return table(self.attribution.routes[columns], floats="{:,.2f}")

    def statements_table(self, top: int = 8) -> Any:
        if self.attribution is None or self.attribution.statements.empty:
            return md("No pg_stat_statements on both sides.")
        shown = self.attribution.statements.head(top).copy()
        shown["query"] = shown["query"].astype(str).str.slice(0, 120)
        columns = ["calls_per_request_base", "calls_per_request_cand", "mean_ms_base",
                   "mean_ms_cand", "change_ms_per_request", "query"]  # fmt: skip
        return table(shown[columns], floats="{:,.3g}")

    def flame_diff(self) -> Any:
        if self.base.profile is None or self.cand.profile is None:
            return md("No profiles on both sides: no profile diff.")
        from perfkit.plots import flame_diff

        return flame_diff(self.base.profile, self.cand.profile)

    def trust(self) -> Any:
        frames = []
        for run in (self.base, self.cand):
            frame = run.trust()
            frame.insert(0, "run", run.name)
            frames.append(frame)
        for section, why in self.problems.items():
            frames.append(pd.DataFrame([{"run": "both", "source": section,
                                         "note": f"FAILED, not compared: {why}"}]))  # fmt: skip
        return table(pd.concat(frames, ignore_index=True), index=False)


def _account(run: Run) -> dict:
    requests = run.requests
    return {} if requests is None else dict(requests.attrs.get("perfkit", {}))


def _with(frame: pd.DataFrame | None, verdict: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=[] if frame is None else frame.columns)
    return frame[frame["verdict"] == verdict]


def _keys(frame: pd.DataFrame | None, verdict: str) -> list[str]:
    return [str(k) for k in _with(frame, verdict).index]


def _rows(frame: pd.DataFrame) -> Iterable[Any]:
    """`frame.itertuples()`, its fields as pandas gives them (the stubs type each as any scalar)."""
    return frame.itertuples()


def _escape_md(text: object) -> str:
    from perfkit.report.display import esc

    return esc(text)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def _pct(ratio: float) -> str:
    return "n/a" if pd.isna(ratio) else f"{(ratio - 1) * 100:+.0f} %"


def regression_report(
    baseline: str | Path | Run,
    candidate: str | Path | Run,
    log_format: str = "auto",
    routes: object = None,
    alpha: float = 0.05,
    min_change: float = 0.05,
    min_ms: float = 1.0,
    correction: str = "holm",
    normalize: bool = True,
    engine: str = "pandas",
) -> RegressionReport:
    """Load both runs (folders or `Run`s) and compare everything they have in common, with
    the API's functions and defaults (`min_change`/`min_ms` are the endpoints' floor;
    statements keep `compare_queries`' floor, calibrated on A/A runs, unless `min_change`
    is larger). ``engine="dask"`` reads the access logs lazily and compares sketches."""
    from perfkit.analysis.distributed import (
        compare_sketches,
        error_counts_from_totals,
        is_dask,
        mix_from_totals,
        totals,
    )
    from perfkit.analysis.regression import compare, compare_error_rates, mix_adjusted_change
    from perfkit.analysis.regression.errors import compare_error_counts
    from perfkit.analysis.regression.requests import ENDPOINT, cannot_judge, with_endpoints

    base = baseline if isinstance(baseline, Run) else load_run(baseline, log_format, routes,
                                                                 engine=engine)  # fmt: skip
    cand = candidate if isinstance(candidate, Run) else load_run(candidate, log_format, routes,
                                                                  engine=engine)  # fmt: skip
    options: dict[str, Any] = {"alpha": alpha, "correction": correction, "normalize": normalize}
    report = RegressionReport(base, cand, None, None, None, None, None, None, alpha,
                              normalize=normalize)  # fmt: skip
    if base.requests is not None and cand.requests is not None:
        if is_dask(base.requests) or is_dask(cand.requests):
            keyed = with_endpoints(base.requests, cand.requests)
            base_t, cand_t = (totals(side, ENDPOINT) for side in keyed)
            report.sketches = (base_t, cand_t)
            report.endpoints = compare_sketches(base_t, cand_t, min_abs=min_ms,
                                                min_ratio=min_change, **options)  # fmt: skip
            if all(t.latency_n == 0 for side in report.sketches for t in side.values()):
                report.endpoints = cannot_judge(keyed[0], keyed[1], by=ENDPOINT)
            report.mix = mix_from_totals(base_t, cand_t)
            report.errors = compare_error_counts(
                error_counts_from_totals(base_t), error_counts_from_totals(cand_t), alpha=alpha,
                correction=correction,
            )  # fmt: skip
        else:
            report.endpoints = compare(base.requests, cand.requests, min_abs=min_ms,
                                       min_ratio=min_change, **options)  # fmt: skip
            report.mix = mix_adjusted_change(base.requests, cand.requests)
            report.errors = compare_error_rates(base.requests, cand.requests, alpha=alpha,
                                                correction=correction)  # fmt: skip
        if report.endpoints.attrs.get("no_metric"):
            sides = report.endpoints.attrs["no_metric"]
            logs = " and ".join(sides) + (" access logs have" if len(sides) > 1
                                          else " access log has")  # fmt: skip
            report.cannot_judge.append(
                f"latency: the {logs} no request times; add the server's duration field "
                "(Gunicorn %(D)s, nginx $request_time, Apache %D)"
            )
        elif not (report.endpoints["verdict"] != "insufficient data").any():
            report.cannot_judge.append(
                "latency: no endpoint has enough requests with a time on both sides to be "
                "judged (at least 20 each)"
            )
    else:
        report.cannot_judge.append(f"latency and error rates: {report._missing_log()}")
    _compare_rest(report, base, cand, min_change, routes, options)
    return report


def _compare_rest(report: RegressionReport, base: Run, cand: Run, min_change: float, routes,
                  options: dict) -> None:  # fmt: skip
    """Statements, functions, Locust and attribution, each on its own: an `InputError` in one
    is that section's problem, not the report's."""
    from perfkit.analysis.attribution import attribute
    from perfkit.analysis.distributed import is_dask
    from perfkit.analysis.loadtest_compare import compare_loadtests
    from perfkit.analysis.profile_diff import compare_profiles, request_mix
    from perfkit.analysis.queries import STATEMENT_MIN_RATIO, compare_queries

    # functions, statements and Locust's view of the endpoints cannot be told from drift better
    # than the endpoints themselves
    spread = report.shift.spread if report.timed and report.shift.applied else 0.0
    options = {**options, "min_spread": spread}

    def section(name: str, compute):
        try:
            return compute()
        except InputError as exc:
            report.problems[name] = str(exc)
            return None

    if base.statements is not None and cand.statements is not None:
        report.queries = section("queries", lambda: compare_queries(
            base.statements, cand.statements, min_ratio=max(min_change, STATEMENT_MIN_RATIO),
            **options))  # fmt: skip
    if base.profile is not None and cand.profile is not None:
        mix = None
        if base.requests is not None and not is_dask(base.requests):
            mix = request_mix(base.requests)  # weigh routes by traffic, not by dumps kept
        report.functions = section("functions", lambda: compare_profiles(
            base.profile, cand.profile, min_ratio=min_change, routes=routes, mix=mix,
            **options))  # fmt: skip
    if base.locust_stats is not None and cand.locust_stats is not None:
        report.loadtest = section("loadtest", lambda: compare_loadtests(
            base.locust_stats, cand.locust_stats, min_ratio=min_change, **options))  # fmt: skip
    if base.pg_log is not None and cand.pg_log is not None:
        from perfkit.analysis.regression.plans import plan_changes

        report.plans = section("plans", lambda: plan_changes(base.pg_log, cand.pg_log))
    if base.line_profile is not None and cand.line_profile is not None:
        from perfkit.analysis.regression.lines import compare_line_profiles

        report.lines = section("lines", lambda: compare_line_profiles(
            base.line_profile, cand.line_profile, min_ratio=min_change, **options))  # fmt: skip
    usable = all(run.profile is not None or run.outbound is not None for run in (base, cand))
    if usable and report.timed:
        report.attribution = section("attribution", lambda: attribute(
            base.evidence(), cand.evidence(), routes))  # fmt: skip
