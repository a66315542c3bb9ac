"""python check.py BASE CAND [routes...]: API compare vs report."""

import sys
from pathlib import Path

import pandas as pd

import perfkit
from perfkit.report.regression import regression_report

base, cand = sys.argv[1], sys.argv[2]
routes = sys.argv[3:] or None
pd.set_option("display.width", 250)
pd.set_option("display.max_columns", 30)
b = perfkit.read_access_log(
    f"{base}/access.log*",
    format=Path(f"{base}/access_log_format.txt").read_text().strip()
    if __import__("os").path.exists(f"{base}/access_log_format.txt")
    else "auto",
    routes=routes,
)
c = perfkit.read_access_log(
    f"{cand}/access.log*",
    format=Path(f"{cand}/access_log_format.txt").read_text().strip()
    if __import__("os").path.exists(f"{cand}/access_log_format.txt")
    else "auto",
    routes=routes,
)
t = perfkit.compare(b, c)
print(
    t[
        [
            "n_base",
            "n_cand",
            "p50_base",
            "p50_cand",
            "ratio",
            "ci_low",
            "ci_high",
            "p95_ratio",
            "rel_ratio",
            "rel_ci_low",
            "rel_ci_high",
            "raw_verdict",
            "relative_verdict",
            "verdict",
        ]
    ]
    .round(3)
    .to_string()
)
s = t.attrs["shift"]
print("SHIFT:", s.describe())
print("shift dict:", s.to_dict())
e = perfkit.compare_error_rates(b, c)
print(e[["n_base", "n_cand", "errors_base", "errors_cand", "p_adjusted", "verdict"]].to_string())
r = regression_report(base, cand, routes=routes)
summ = r.summary()
api = {str(k): v for k, v in t["verdict"].items()}
rep = {k: v["verdict"] for k, v in summ["endpoints"].items()}
print("API==report endpoints:", api == rep)
if api != rep:
    print(" api", api)
    print(" rep", rep)
print(
    "report regressed:",
    summ["regressed"],
    "moved:",
    summ["moved_with_shift"],
    "errors_regressed:",
    summ["errors_regressed"],
    "cannot_judge:",
    summ["cannot_judge"],
    "insufficient",
    summ["insufficient"],
)
print("---- verdict text ----")
print(r.verdict().data)
