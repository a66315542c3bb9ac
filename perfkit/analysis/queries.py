"""`compare_queries`: statements of a baseline window against a candidate window.

pg_stat_statements keeps counts, means and standard deviations, not each
call's time, so the rank test of `compare` cannot apply. Per statement the
windows' calls, mean and standard deviation (from `pg_deltas`: counters
summed over the window's ``ok``/``new`` intervals, spread from the sums of
squares) feed Welch's t-test (unequal variances; with thousands of calls the
mean is near normal whatever the times' shape). The change is the ratio of
means with the Welch interval of the difference divided by the baseline mean.
Columns follow the comparison frame; percentiles are NA (the view has none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge
from perfkit.analysis.significance import COLUMNS

KEY = "queryid"
STATEMENT_MIN_RATIO = 0.25  # the practical floor for statements (see compare_queries)


def window_totals(deltas: pd.DataFrame) -> pd.DataFrame:
    rows = deltas[deltas["status"].isin(["ok", "new"])].copy()
    rows["sumsq_exec_time"] = rows.get("sumsq_exec_time", np.nan)
    summed = rows.groupby(KEY).agg(
        calls=("calls", "sum"), total=("total_exec_time", "sum"), sumsq=("sumsq_exec_time", "sum"),
        query=("query", "first"),
    )  # fmt: skip
    summed["mean"] = summed["total"] / summed["calls"].where(summed["calls"] > 0)
    variance = summed["sumsq"] / summed["calls"].where(summed["calls"] > 0) - summed["mean"] ** 2
    summed["sd"] = np.sqrt(
        variance.clip(lower=0) * summed["calls"] / (summed["calls"] - 1).where(summed["calls"] > 1)
    )
    return summed


def compare_queries(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = STATEMENT_MIN_RATIO,
    min_abs_ms: float = 0.1,
    min_calls: int = 10,
    confidence: float = 0.95,
    normalize: bool = True,
    min_keys: int = 5,
    min_spread: float = 0.0,
) -> pd.DataFrame:
    """Per queryid: calls, mean ms on each side, ratio with interval, Welch p-values, and the
    verdict by the shared rule (`perfkit.analysis.regression.verdict`): with `normalize`,
    against the shift of database time across statements (``attrs["shift"]``)."""
    b, c = window_totals(base), window_totals(cand)
    table = b.add_suffix("_base").join(c.add_suffix("_cand"), how="outer")
    rows = []
    for _, r in table.iterrows():
        n1, n2 = r["calls_base"], r["calls_cand"]
        row = {
            "n_base": n1,
            "n_cand": n2,
            "mean_ms_base": r["mean_base"],
            "mean_ms_cand": r["mean_cand"],
        }
        if not (n1 >= min_calls and n2 >= min_calls):
            rows.append(
                {**row, "ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
            )
            continue
        m1, m2, s1, s2 = r["mean_base"], r["mean_cand"], r["sd_base"], r["sd_cand"]
        test = stats.ttest_ind_from_stats(m2, s2, n2, m1, s1, n1, equal_var=False)
        se = np.sqrt(s1**2 / n1 + s2**2 / n2)
        dof = (
            se**4 / ((s1**2 / n1) ** 2 / (n1 - 1) + (s2**2 / n2) ** 2 / (n2 - 1))
            if se > 0
            else np.inf
        )
        half = stats.t.ppf(0.5 + confidence / 2, dof) * se
        row.update(ratio=m2 / m1 if m1 else np.nan, p_value=float(test.pvalue))
        row.update(ci_low=(m2 - m1 - half) / m1 + 1, ci_high=(m2 - m1 + half) / m1 + 1)
        # delta method: the standard error of log(m2 / m1)
        if m1 and m2:
            row["log_se"] = np.sqrt(s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2))
        rows.append(row)
    out = pd.DataFrame(rows, index=table.index)
    out = judge(out, ("mean_ms_base", "mean_ms_cand"), alpha=alpha, correction=correction,
                min_ratio=min_ratio, min_abs=min_abs_ms, normalize=normalize,
                min_keys=min_keys, what="statements", confidence=confidence,
                min_spread=min_spread)  # fmt: skip
    out["test"] = "Welch t from pg_stat_statements mean/stddev"
    for column in ("p50_base", "p50_cand", "p95_base", "p95_cand", *COLUMNS[-3:]):
        out[column] = np.nan  # pg_stat_statements keeps no percentiles
    out["query"] = table["query_cand"].fillna(table["query_base"])
    shift = out.attrs["shift"]
    out = out[[*COLUMNS, *EXTRA_COLUMNS, "mean_ms_base", "mean_ms_cand", "query"]]
    out.attrs["shift"] = shift
    return out
