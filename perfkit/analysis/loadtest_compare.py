"""Two Locust runs compared per request name, from the percentiles Locust keeps.

Locust's stats hold counts and percentiles, not each request's time, so the
rank test of `compare` cannot apply. A sample quantile is asymptotically
normal with standard error ``sqrt(q (1 - q) / n) / f(x_q)``; the density
``f`` at the quantile is read off Locust's neighbouring percentiles (for the
median, ``0.25 / (p75 - p50)``: the right-hand spread, which is the wider one
for right-skewed latencies, so the error is if anything overstated). The
change is the ratio of medians (and of p95s) with a normal interval on the
log scale (delta method); the test is the z-test of the log-ratio of
medians. Locust rounds each time before counting it (to 1 ms under 100 ms,
10 ms under 1 s, 100 ms under 10 s, 1 s above), so a percentile it reports is
known to half that step: the rounding's variance (``step^2 / 12`` a side) is
added to the sampling error, and 3 -> 4 ms is not read as +33 %. Verdicts by
the shared rule (`perfkit.analysis.regression.verdict`, Holm across names).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge
from perfkit.analysis.significance import COLUMNS


def _log_se(row: pd.Series, q: float, value: str, lower: str, upper: str, span: float) -> float:
    """Standard error of log(quantile q) from the percentiles around it."""
    n = row["request_count"]
    spread = max(row[upper] - row[lower], 1.0)  # Locust's resolution is 1 ms at best
    density = span / spread
    se = np.sqrt(q * (1 - q) / n) / density
    step = _rounding_step(float(row[value]))
    total = np.sqrt(se**2 + step**2 / 12)
    return float(total / row[value]) if row[value] > 0 else np.nan


def _rounding_step(ms: float) -> float:
    """The step Locust rounds a response time of `ms` to before counting it."""
    for limit, step in ((100, 1.0), (1000, 10.0), (10000, 100.0)):
        if ms < limit:
            return step
    return 1000.0


def compare_loadtests(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs_ms: float = 1.0,
    min_n: int = 30,
    confidence: float = 0.95,
    normalize: bool = True,
    min_keys: int = 5,
    min_spread: float = 0.0,
) -> pd.DataFrame:
    """The comparison frame per Locust request (``Aggregated`` left out), from `read_locust`
    stats of a baseline and a candidate run, judged by the shared rule.

    Locust keys its rows by type and name: a name used by several types (``GET`` and
    ``POST /auth/login``) gives one row per type, keyed ``"GET /auth/login"``; other rows
    keep their name.
    """
    z = stats.norm.ppf(0.5 + confidence / 2)
    b, c = _keyed(base, cand)
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
            "ci_high": np.exp(log50 + z * se50), "log_se": se50, "p95_log_se": se95,
            "p_value": float(2 * stats.norm.sf(abs(log50) / se50)) if se50 > 0 else np.nan,
            "p95_ratio": np.exp(log95), "p95_ci_low": np.exp(log95 - z * se95),
            "p95_ci_high": np.exp(log95 + z * se95),
        }  # fmt: skip
    out = pd.DataFrame.from_dict(rows, orient="index")
    for column in COLUMNS:
        if column not in out:
            out[column] = np.nan
    out.index.name = "name"
    out = judge(out, ("p50_base", "p50_cand"), alpha=alpha, correction=correction,
                min_ratio=min_ratio, min_abs=min_abs_ms, normalize=normalize,
                min_keys=min_keys, what="requests", confidence=confidence,
                min_spread=min_spread)  # fmt: skip
    out["test"] = "z-test of log median ratio from Locust percentiles"
    shift = out.attrs["shift"]
    out = out[[*COLUMNS, *EXTRA_COLUMNS]]
    out.attrs["shift"] = shift
    return out


def _keyed(base: pd.DataFrame, cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both sides indexed by request: the name, or "TYPE name" for a name several types share."""
    sides = [s[s["name"] != "Aggregated"] for s in (base, cand)]
    if not all("type" in s for s in sides):
        return tuple(s.set_index("name") for s in sides)  # type: ignore[return-value]
    both = pd.concat(sides)
    types = both.groupby("name")["type"].nunique()
    shared = set(types.index[types > 1])

    def key(frame: pd.DataFrame) -> pd.DataFrame:
        names = frame["name"].astype(str)
        typed = frame["type"].fillna("").astype(str) + " " + names
        return frame.set_index(typed.where(names.isin(shared), names).rename("name"))

    return key(sides[0]), key(sides[1])
