"""compare_loadtests: Locust stats of two runs, calibrated on A/A and powered on planted changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfkit.analysis.loadtest_compare import compare_loadtests

PERCENTILES = (50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100)


def locust_round(ms: np.ndarray) -> np.ndarray:
    """Locust's bucketing of response times: 1 ms below 100, 10 ms below 1 s, 100 ms above."""
    return np.where(ms < 100, np.round(ms), np.where(ms < 1000, np.round(ms, -1), np.round(ms, -2)))


def locust_stats(rng, names: dict[str, tuple[float, int]], factors=None) -> pd.DataFrame:
    rows = []
    for name, (median, n) in names.items():
        ms = locust_round(median * (factors or {}).get(name, 1.0) * rng.lognormal(0, 0.5, n))
        ordered = np.sort(ms)
        row = {"name": name, "request_count": n}
        for q in PERCENTILES:  # Locust: the smallest time with at least q % of requests at or under
            index = min(int(np.ceil(q / 100 * n)) - 1, n - 1)
            row[f"p{str(q).replace('.', '_')}_ms"] = ordered[max(index, 0)]
        rows.append(row)
    rows.append({"name": "Aggregated", "request_count": sum(n for _, n in names.values())})
    return pd.DataFrame(rows)


NAMES = {"/dashboard": (320.0, 900), "/api/orders": (45.0, 3000), "/api/stock": (28.0, 2500),
         "/api/shipments": (140.0, 1200), "/static/app.js": (3.0, 800)}  # fmt: skip


def test_aa_runs_raise_no_alarm():
    rng = np.random.default_rng(1)
    raw = alarms = 0
    for _ in range(100):
        table = compare_loadtests(locust_stats(rng, NAMES), locust_stats(rng, NAMES))
        raw += int((table["p_value"] < 0.05).sum())
        alarms += bool((table["verdict"] != "unchanged").any())
    assert raw <= 0.05 * 500 + 3 * np.sqrt(500 * 0.05 * 0.95)  # conservative, as designed
    assert alarms <= 5


def test_planted_changes_are_found():
    rng = np.random.default_rng(2)
    found = 0
    for _ in range(20):
        table = compare_loadtests(
            locust_stats(rng, NAMES),
            locust_stats(rng, NAMES, factors={"/api/orders": 1.25, "/dashboard": 0.8}),
        )
        found += table.loc["/api/orders", "verdict"] == "regressed"
        found += table.loc["/dashboard", "verdict"] == "improved"
        assert table.loc["/api/orders", "ci_low"] <= 1.25 * 1.05
        assert (table.drop(index=["/api/orders", "/dashboard"])["verdict"] != "regressed").all()
    assert found >= 38
    assert "Aggregated" not in table.index
    assert table.loc["/api/orders", "test"].startswith("z-test")


def test_names_on_one_side_are_insufficient():
    rng = np.random.default_rng(3)
    base = locust_stats(rng, NAMES)
    cand = locust_stats(rng, {**NAMES, "/api/new": (10.0, 500)})
    table = compare_loadtests(base, cand)
    assert table.loc["/api/new", "verdict"] == "insufficient data"
    assert table.loc["/api/new", "n_base"] == 0 and table.loc["/api/new", "n_cand"] == 500
    assert np.isnan(table.loc["/api/new", "ratio"])


def test_interval_covers_the_true_ratio_where_rounding_allows():
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(50):
        table = compare_loadtests(
            locust_stats(rng, NAMES), locust_stats(rng, NAMES, factors=dict.fromkeys(NAMES, 1.2))
        ).drop(index="/static/app.js")  # 3 ms in 1 ms steps: rounding hides a 20 % change
        covered += int(((table["ci_low"] <= 1.2) & (table["ci_high"] >= 1.2)).sum())
    assert covered >= 0.9 * 200  # measured 96 % over 200 runs
