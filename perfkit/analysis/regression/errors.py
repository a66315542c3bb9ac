"""Error rates, baseline against candidate: a release that fails more requests regressed too.

Needs only the status column, so it answers on logs without request times
(Apache's and nginx's ``combined``, Gunicorn's default format). Per route
and for the whole run: the share of 5xx answers on each side, their
difference with a 95 % interval (Agresti–Caffo: one success and one failure
added to each side), and Fisher's exact test (two-sided;
`scipy.stats.fisher_exact`), adjusted across routes (Holm by default; the
whole-run row is its own test). Assumptions: requests fail independently
(a burst of failures in one incident counts as many), and each side's mix of
routes is what it is: the whole-run rate moves with the mix, the per-route
rates do not.

Verdict: ``regressed`` (``improved``) when the adjusted p-value is under
`alpha`, the rate rose (fell) by at least `min_diff` (absolute, 0.001 = 0.1
percentage point) and by at least `min_ratio` relative (0.5: half as many
again); ``insufficient data`` when a side has fewer than `min_n` requests or
the counts could never reach `alpha`; else ``unchanged``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = [
    "n_base", "n_cand", "errors_base", "errors_cand", "rate_base", "rate_cand", "diff",
    "diff_ci_low", "diff_ci_high", "rate_ratio", "client_rate_base", "client_rate_cand",
    "p_value", "p_adjusted", "verdict",
]  # fmt: skip
OVERALL = "(all requests)"


def compare_error_rates(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    by: str = "route",
    alpha: float = 0.05,
    correction: str = "holm",
    min_diff: float = 0.001,
    min_ratio: float = 0.5,
    min_n: int = 20,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per `by` key and a last row ``"(all requests)"``: 5xx counts and rates (0-1)
    on each side, the difference with its interval, Fisher's p-value and the verdict (see
    the module docstring); ``client_rate_*`` are the 4xx rates, shown, not judged. With
    ``by="route"``, per endpoint as `compare` keys them."""
    key = by
    if by == "route":
        from perfkit.analysis.regression.requests import ENDPOINT, with_endpoints

        baseline, candidate = with_endpoints(baseline, candidate)
        key = ENDPOINT
    return compare_error_counts(error_counts(baseline, key), error_counts(candidate, key),
                                alpha, correction, min_diff, min_ratio, min_n, confidence,
                                by)  # fmt: skip


def compare_error_counts(
    base: pd.DataFrame, cand: pd.DataFrame, alpha: float = 0.05, correction: str = "holm",
    min_diff: float = 0.001, min_ratio: float = 0.5, min_n: int = 20, confidence: float = 0.95,
    by: str = "route",
) -> pd.DataFrame:  # fmt: skip
    """`compare_error_rates` from per-key counts (columns ``n``, ``errors``, ``client``:
    `error_counts`, or per-partition totals of a Dask frame)."""
    from perfkit.analysis.significance import adjust

    per_key = base.add_suffix("_base").join(cand.add_suffix("_cand"), how="outer").fillna(0)
    overall = per_key.sum().to_frame(OVERALL).T
    rows = []
    for frame in (per_key, overall):
        table = _tested(frame, min_n, alpha, confidence)
        if frame is per_key:
            table["p_adjusted"] = adjust(table["p_value"].to_numpy(), correction)
        else:
            table["p_adjusted"] = table["p_value"]
        rows.append(table)
    out = pd.concat(rows)
    out.index.name = by
    out["verdict"] = _verdicts(out, alpha, min_diff, min_ratio)
    return out[COLUMNS]


def error_counts(frame: pd.DataFrame, by: str = "route") -> pd.DataFrame:
    """Per key: requests with a status (``n``), 5xx (``errors``) and 4xx (``client``)."""
    status = pd.to_numeric(frame["status"], errors="coerce")
    client = (status >= 400) & (status < 500)
    flags = pd.DataFrame({
        "n": status.notna().to_numpy(), "errors": (status >= 500).to_numpy(),
        "client": client.to_numpy(),
    }, index=frame[by].to_numpy(), dtype=float)  # fmt: skip
    return flags.groupby(level=0).sum()  # sorted by key; requests without one left out


def _tested(frame: pd.DataFrame, min_n: int, alpha: float, confidence: float) -> pd.DataFrame:
    from perfkit.analysis.significance import min_p_value

    n1, n2 = frame["n_base"].to_numpy(), frame["n_cand"].to_numpy()
    e1, e2 = frame["errors_base"].to_numpy(), frame["errors_cand"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = e1 / n1, e2 / n2
        a1, a2 = (e1 + 1) / (n1 + 2), (e2 + 1) / (n2 + 2)  # Agresti-Caffo
        half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(
            a1 * (1 - a1) / (n1 + 2) + a2 * (1 - a2) / (n2 + 2)
        )
        ratio = r2 / np.where(n1 > 0, r1, 0.0)  # inf: errors where there were none
    p_values = np.full(len(frame), np.nan)
    for i in range(len(frame)):
        if min(n1[i], n2[i]) < min_n or min_p_value(int(n1[i]), int(n2[i])) > alpha:
            continue
        table = [[int(e2[i]), int(n2[i] - e2[i])], [int(e1[i]), int(n1[i] - e1[i])]]
        p_values[i] = stats.fisher_exact(table).pvalue
    client1, client2 = frame["client_base"] / n1, frame["client_cand"] / n2  # pandas: no warning
    return pd.DataFrame({
        "n_base": n1.astype(int), "n_cand": n2.astype(int), "errors_base": e1.astype(int),
        "errors_cand": e2.astype(int), "rate_base": r1, "rate_cand": r2, "diff": r2 - r1,
        "diff_ci_low": a2 - a1 - half, "diff_ci_high": a2 - a1 + half, "rate_ratio": ratio,
        "client_rate_base": client1.to_numpy(), "client_rate_cand": client2.to_numpy(),
        "p_value": p_values,
    }, index=frame.index)  # fmt: skip


def _verdicts(out: pd.DataFrame, alpha: float, min_diff: float, min_ratio: float) -> np.ndarray:
    significant = out["p_adjusted"] < alpha
    diff, ratio = out["diff"], out["rate_ratio"]
    up = significant & (diff >= min_diff) & ((ratio - 1) >= min_ratio)
    down = significant & (-diff >= min_diff) & ((1 - ratio) >= min_ratio / (1 + min_ratio))
    return np.select([out["p_value"].isna(), up, down],
                     ["insufficient data", "regressed", "improved"], "unchanged")  # fmt: skip
