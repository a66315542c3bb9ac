"""The regression report: baseline against candidate per endpoint, per query and per function."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.report.display import code, md, table
from perfkit.report.evidence import Run, load_run


@dataclass
class RegressionReport:
    """Every comparison of two runs; methods return what a notebook cell shows."""

    base: Run
    cand: Run
    endpoints: pd.DataFrame
    queries: pd.DataFrame | None
    functions: pd.DataFrame | None
    loadtest: pd.DataFrame | None
    mix: Any
    attribution: Any
    alpha: float
    sketches: tuple | None = None  # per-route totals of both sides (the Dask engine)

    # -- verdicts ------------------------------------------------------------------------
    def regressed(self) -> pd.DataFrame:
        return self.endpoints[self.endpoints["verdict"] == "regressed"]

    def summary(self) -> dict:
        """Verdicts and key figures, for `perfkit report --json` and CI gates."""

        def rows(frame: pd.DataFrame | None, verdict: str) -> list[str]:
            if frame is None or frame.empty:
                return []
            return [str(k) for k in frame.index[frame["verdict"] == verdict]]

        queries = self.queries
        return {
            "report": "regression",
            "baseline": self.base.name, "candidate": self.cand.name,
            "regressed": rows(self.endpoints, "regressed"),
            "improved": rows(self.endpoints, "improved"),
            "insufficient": rows(self.endpoints, "insufficient data"),
            "queries_regressed": [] if queries is None else [
                str(queries.loc[q, "query"])[:200] for q in rows(queries, "regressed")
                for q in [int(q)] if q in queries.index
            ],
            "functions_regressed": [] if self.functions is None else [
                str(f) for f in self.functions.loc[
                    self.functions["verdict"] == "regressed", "function"]
            ],
            "mix_adjusted_ratio": self.mix.adjusted_ratio,
            "common_shift": self.common_shift(),
            "run_shift": float(self.endpoints.attrs.get("shift", 1.0)),
            "raw_ratio": self.mix.raw_ratio,
            "endpoints": {
                str(k): {"verdict": r.verdict, "n_base": int(r.n_base), "n_cand": int(r.n_cand),
                         "median_ratio": _num(r.ratio), "ci": [_num(r.ci_low), _num(r.ci_high)],
                         "p95_ratio": _num(r.p95_ratio),
                         "p95_ci": [_num(r.p95_ci_low), _num(r.p95_ci_high)]}
                for k, r in zip(self.endpoints.index, self.endpoints.itertuples(), strict=True)
            },
        }  # fmt: skip

    def verdict(self) -> Any:
        """The answer in plain words, first."""
        lines = []
        regressed = self.regressed()
        if len(regressed):
            lines.append(f"**{len(regressed)} endpoint{'s' if len(regressed) > 1 else ''} "
                         f"regressed:**\n")  # fmt: skip
            for route, row in regressed.iterrows():
                lines.append(
                    f"- {code(route)}: p95 {_pct(row['p95_ratio'])} "
                    f"[{_pct(row['p95_ci_low'])}, {_pct(row['p95_ci_high'])}], median "
                    f"{_pct(row['ratio'])} [{_pct(row['ci_low'])}, {_pct(row['ci_high'])}] "
                    f"({row['p95_base']:.0f} → {row['p95_cand']:.0f} ms at p95; "
                    f"{int(row['n_base'])} and {int(row['n_cand'])} requests)"
                )
        else:
            tested = int((self.endpoints["verdict"] != "insufficient data").sum())
            lines.append(f"**No endpoint regressed** ({tested} compared with enough requests, "
                         f"alpha {self.alpha:g} after Holm's correction).")  # fmt: skip
        improved = self.endpoints[self.endpoints["verdict"] == "improved"]
        if len(improved):
            better = ", ".join(f"{code(r)} median {_pct(x)}" for r, x in improved["ratio"].items())
            lines.append(f"\n{len(improved)} improved: {better}.")
        few = self.endpoints[self.endpoints["verdict"] == "insufficient data"]
        if len(few):
            lines.append(f"\n{len(few)} endpoint(s) had too few requests to judge: "
                         + ", ".join(f"{code(r)}" for r in few.index[:8]) + ".")  # fmt: skip
        factor = self.endpoints.attrs.get("shift", 1.0)
        if abs(factor - 1) >= 0.02:
            lines.append(
                f"\nThe candidate run as a whole was {_pct(factor)} against the baseline (the "
                "median endpoint); each endpoint is judged relative to that run-wide shift, "
                "which a busier or quieter machine causes as easily as code does. Set "
                "`normalize = False` to judge raw times."
            )
        shift = self.common_shift()
        if shift is not None:
            lines.append(
                f"\n**Every endpoint moved together:** {shift['share']:.0%} of the "
                f"{shift['endpoints']} compared endpoints are slower by a similar amount (median "
                f"{_pct(shift['median_ratio'])}). Routes that share little code rarely slow down "
                "together because of a code change; a busier machine, a different instance "
                "type or a cold database does that. An A/A run on the same machines tells them "
                "apart."
            )
        lines.append(
            f"\nOverall mean latency at the baseline's traffic mix: "
            f"{_pct(self.mix.adjusted_ratio)} (raw, with the candidate's own mix: "
            f"{_pct(self.mix.raw_ratio)})."
        )
        if self.queries is not None:
            slower = self.queries[self.queries["verdict"] == "regressed"]
            lines.append(f"\n**{len(slower)} SQL statement(s) regressed** (pg_stat_statements, "
                         "Welch's test on each window's mean and spread)." if len(slower) else
                         "\nNo SQL statement regressed (pg_stat_statements).")  # fmt: skip
        if self.attribution is not None and len(regressed):
            parts = self.attribution.routes.reindex([str(r) for r in regressed.index])
            for route, row in parts.iterrows():
                if pd.notna(row.get("db_change_ms")):
                    lines.append(
                        f"\n{code(route)} changed by {row['total_change_ms']:+.1f} ms per "
                        f"request on average: database {row['db_change_ms']:+.1f} ms, external "
                        f"APIs {row['external_change_ms']:+.1f} ms, Python and the rest "
                        f"{row['python_change_ms']:+.1f} ms."
                    )
        from IPython.display import Markdown

        return Markdown("\n".join(lines))

    def common_shift(self, share: float = 0.8) -> dict | None:
        """A run-wide shift: at least `share` of the endpoints with enough data moved the same
        way by more than the practical floor (None otherwise)."""
        judged = self.endpoints.dropna(subset=["ratio"])
        if len(judged) < 4:
            return None
        up = (judged["ci_low"] > 1).mean()
        down = (judged["ci_high"] < 1).mean()
        moved = max(up, down)
        if moved < share:
            return None
        return {"share": float(moved), "endpoints": len(judged),
                "median_ratio": float(judged["ratio"].median())}  # fmt: skip

    # -- evidence ------------------------------------------------------------------------
    def endpoint_table(self) -> Any:
        columns = ["verdict", "n_base", "n_cand", "p50_base", "p50_cand", "ratio", "ci_low",
                   "ci_high", "p95_base", "p95_cand", "p95_ratio", "p_adjusted"]  # fmt: skip
        order = self.endpoints["verdict"].map({"regressed": 0, "improved": 1, "unchanged": 2})
        return table(self.endpoints.assign(_o=order.fillna(3)).sort_values(["_o", "ratio"],
                     ascending=[True, False])[columns], floats="{:,.3g}")  # fmt: skip

    def change_figure(self):
        from perfkit.plots.charts import forest

        return forest(self.endpoints, "Change per endpoint (median, with p95)")

    def distributions(self, top: int = 3) -> list:
        """ECDFs of the regressed endpoints (or the most changed ones when none regressed)."""
        from perfkit.plots.charts import ecdf, ecdf_from_quantiles

        chosen = list(self.regressed().index)
        if not chosen:
            ranked = self.endpoints.dropna(subset=["ratio"])
            chosen = list((ranked["ratio"] - 1).abs().sort_values(ascending=False).index[:top])
        figures = []
        for route in chosen[:6]:
            if self.sketches is not None:  # Dask engine: the curves from the merged sketches
                base_t, cand_t = (side.get(route) for side in self.sketches)
                figures.append(ecdf_from_quantiles(base_t.sketch, cand_t.sketch, f"{route}"))
                continue
            base = self.base.requests.loc[self.base.requests["route"].astype(str) == str(route)]
            cand = self.cand.requests.loc[self.cand.requests["route"].astype(str) == str(route)]
            figures.append(ecdf(base["duration_ms"], cand["duration_ms"], f"{route}"))
        return figures

    def query_table(self, top: int = 12) -> Any:
        if self.queries is None:
            return md("No pg_stat_statements in one of the runs: per-query comparison skipped.")
        shown = self.queries.copy()
        shown["query"] = shown["query"].astype(str).str.slice(0, 120)
        shown = shown.sort_values("p_adjusted").head(top)
        columns = ["verdict", "n_base", "n_cand", "mean_ms_base", "mean_ms_cand", "ratio",
                   "ci_low", "ci_high", "p_adjusted", "query"]  # fmt: skip
        return table(shown[columns], floats="{:,.3g}")

    def function_table(self, top: int = 12) -> Any:
        if self.functions is None:
            return md("No profiles in one of the runs: per-function comparison skipped.")
        shown = self.functions.head(top)
        return table(shown[["name", "group", "cum_s_base", "cum_s_cand", "change_s",
                            "contribution", "verdict", "function"]], floats="{:,.4g}")  # fmt: skip

    def attribution_table(self) -> Any:
        if self.attribution is None:
            return md("Attribution needs an access log and profiles (or an outbound log) on "
                      "both sides.")  # fmt: skip
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

    def flame_diff(self):
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
        return table(pd.concat(frames, ignore_index=True), index=False)


def _num(value: object) -> float | None:
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
    """Load both runs (folders or `Run`s) and compare everything they have in common.
    ``engine="dask"`` reads the access logs lazily and compares them through sketches."""
    from perfkit.analysis.attribution import attribute
    from perfkit.analysis.distributed import compare_sketches, is_dask, mix_from_totals, totals
    from perfkit.analysis.loadtest_compare import compare_loadtests
    from perfkit.analysis.profile_diff import compare_profiles
    from perfkit.analysis.queries import compare_queries
    from perfkit.analysis.regression import compare, mix_adjusted_change

    base = baseline if isinstance(baseline, Run) else load_run(baseline, log_format, routes,
                                                                 engine=engine)  # fmt: skip
    cand = candidate if isinstance(candidate, Run) else load_run(candidate, log_format, routes,
                                                                  engine=engine)  # fmt: skip
    if base.requests is None or cand.requests is None:
        from perfkit.errors import InputError

        missing = base.name if base.requests is None else cand.name
        raise InputError(f"{missing}: no access log; the regression report needs one per run")
    options = {"alpha": alpha, "correction": correction, "min_ratio": min_change}
    sketches = None
    if is_dask(base.requests) or is_dask(cand.requests):
        sketches = (totals(base.requests), totals(cand.requests))
        endpoints = compare_sketches(*sketches, min_abs=min_ms, normalize=normalize, **options)
        mix = mix_from_totals(*sketches)
    else:
        endpoints = compare(base.requests, cand.requests, min_abs=min_ms, normalize=normalize,
                            **options)  # fmt: skip
        mix = mix_adjusted_change(base.requests, cand.requests)
    queries = functions = loadtest = None
    if base.statements is not None and cand.statements is not None:
        queries = compare_queries(base.statements, cand.statements, **options)
    if base.profile is not None and cand.profile is not None:
        functions = compare_profiles(base.profile, cand.profile, **options)
    if base.locust_stats is not None and cand.locust_stats is not None:
        loadtest = compare_loadtests(base.locust_stats, cand.locust_stats, **options)
    usable = (base.profile is not None or base.outbound is not None) and (
        cand.profile is not None or cand.outbound is not None
    )
    attribution = attribute(base.evidence(), cand.evidence(), routes) if usable else None
    return RegressionReport(base, cand, endpoints, queries, functions, loadtest, mix, attribution,
                            alpha, sketches)  # fmt: skip
