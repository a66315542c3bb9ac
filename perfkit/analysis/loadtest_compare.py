"""Two Locust runs compared per request name, from the percentiles Locust keeps.

Locust's stats hold counts and percentiles, not each request's time, so the
rank test of `compare` cannot apply. A sample quantile is asymptotically
normal with standard error ``sqrt(q (1 - q) / n) / f(x_q)``; the density
``f`` at the quantile is read off Locust's neighbouring percentiles (for the
median, ``0.25 / (p75 - p50)``: the right-hand spread, which is the wider one
for right-skewed latencies, so the error is if anything overstated). The
change is the ratio of medians (and of p95s) with a normal interval on the
log scale (delta method); the test is the z-test of the log-ratio of
medians. Locust rounds times (to 10 ms above 100 ms, 100 ms above 1 s), so a
difference smaller than that rounding cannot be seen; the practical floor
covers it. Verdicts as in `perfkit.analysis.significance` (Holm across names).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.significance import COLUMNS, adjust, summary_verdicts


def _log_se(row: pd.Series, q: float, value: str, lower: str, upper: str, span: float) -> float:
    """Standard error of log(quantile q) from the percentiles around it."""
    n = row["request_count"]
    spread = max(row[upper] - row[lower], 1.0)  # Locust's resolution is 1 ms at best
    density = span / spread
    se = np.sqrt(q * (1 - q) / n) / density
    return float(se / row[value]) if row[value] > 0 else np.nan


def compare_loadtests(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs_ms: float = 1.0,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The comparison frame per Locust request name (``Aggregated`` left out), from `read_locust`
    stats of a baseline and a candidate run."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    b = base[base["name"] != "Aggregated"].set_index("name")
    c = cand[cand["name"] != "Aggregated"].set_index("name")
    rows = {}
    for name in sorted(set(b.index) | set(c.index)):
        if name not in b.index or name not in c.index:
            rows[name] = {
                "n_base": int(b.loc[name, "request_count"]) if name in b.index else 0,
                "n_cand": int(c.loc[name, "request_count"]) if name in c.index else 0,
                "p_value": np.nan,
            }
            continue
        x, y = b.loc[name], c.loc[name]
        row = {"n_base": int(x["request_count"]), "n_cand": int(y["request_count"]),
               "p50_base": x["p50_ms"], "p50_cand": y["p50_ms"],
               "p95_base": x["p95_ms"], "p95_cand": y["p95_ms"]}  # fmt: skip
        if min(row["n_base"], row["n_cand"]) < min_n or x["p50_ms"] <= 0 or y["p50_ms"] <= 0:
            rows[name] = {**row, "p_value": np.nan}
            continue
        se50 = np.hypot(_log_se(x, 0.5, "p50_ms", "p50_ms", "p75_ms", 0.25),
                        _log_se(y, 0.5, "p50_ms", "p50_ms", "p75_ms", 0.25))  # fmt: skip
        se95 = np.hypot(_log_se(x, 0.95, "p95_ms", "p90_ms", "p98_ms", 0.08),
                        _log_se(y, 0.95, "p95_ms", "p90_ms", "p98_ms", 0.08))  # fmt: skip
        log50 = np.log(y["p50_ms"] / x["p50_ms"])
        log95 = np.log(y["p95_ms"] / x["p95_ms"]) if x["p95_ms"] > 0 else np.nan
        rows[name] = {
            **row, "ratio": np.exp(log50), "ci_low": np.exp(log50 - z * se50),
            "ci_high": np.exp(log50 + z * se50),
            "p_value": float(2 * stats.norm.sf(abs(log50) / se50)) if se50 > 0 else np.nan,
            "p95_ratio": np.exp(log95), "p95_ci_low": np.exp(log95 - z * se95),
            "p95_ci_high": np.exp(log95 + z * se95),
        }  # fmt: skip
    out = pd.DataFrame.from_dict(rows, orient="index")
    for column in COLUMNS:
        if column not in out:
            out[column] = np.nan
    out.index.name = "name"
    out["p_adjusted"] = adjust(out["p_value"].to_numpy(dtype=float), correction)
    out["verdict"] = summary_verdicts(out, alpha, min_ratio, min_abs_ms, "p50_base", "p50_cand")
    out["test"] = "z-test of log median ratio from Locust percentiles"
    return out[COLUMNS]
