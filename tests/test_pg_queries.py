"""compare_queries on two real windows of pg_stat_statements; interval spreads from sums of squares."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.analysis.queries import compare_queries
from perfkit.io.pg import read_pg_stat, snapshot_pg


def window(pg, store, sleep_s: float, calls: int = 30):
    snapshot_pg(pg.dsn(), store, views=("statements",))
    for _ in range(calls):
        pg.psql(f"select pg_sleep({sleep_s})")
        pg.psql("select count(*) from pg_class")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    return pg_deltas(read_pg_stat(store, "statements"))


def test_slower_statement_is_regressed_and_the_rest_unchanged(pg, tmp_path):
    base = window(pg, tmp_path / "base", 0.002)
    cand = window(pg, tmp_path / "cand", 0.008)
    table = compare_queries(base, cand)
    sleeps = table[table["query"].str.contains("pg_sleep", na=False)]
    sleep = sleeps.sort_values("n_cand", ascending=False).iloc[0]  # other tests' idle entries aside
    assert sleep["verdict"] == "regressed" and sleep["n_base"] == sleep["n_cand"] == 30
    assert sleep["ratio"] == pytest.approx(4.0, rel=0.5)  # 8 ms against 2 ms, plus overheads
    assert sleep["ci_low"] > 1
    catalog = table[table["query"].str.contains("pg_class", na=False)]
    catalog = catalog.sort_values("n_cand", ascending=False).iloc[0]
    assert catalog["verdict"] in ("unchanged", "improved")  # not regressed by the sleep change
    assert "Welch" in sleep["test"]
    # the interval's spread comes back from the cumulative sums of squares
    rows = cand[cand["query"].str.contains("pg_sleep", na=False) & (cand["calls"] > 0)]
    assert len(rows) == 1 and rows["stddev_exec_time"].iloc[0] >= 0


def test_welch_agrees_with_scipy_on_the_windows_numbers(pg, tmp_path):
    base = window(pg, tmp_path / "b", 0.001, calls=15)
    cand = window(pg, tmp_path / "c", 0.001, calls=15)
    table = compare_queries(base, cand)
    b = base[base["query"].str.contains("pg_sleep", na=False)].sort_values("calls").iloc[-1]
    c = cand[cand["query"].str.contains("pg_sleep", na=False)].sort_values("calls").iloc[-1]
    sleep = table.loc[b["queryid"]]
    sd_b = b["stddev_exec_time"] * np.sqrt(b["calls"] / (b["calls"] - 1))
    sd_c = c["stddev_exec_time"] * np.sqrt(c["calls"] / (c["calls"] - 1))
    expected = stats.ttest_ind_from_stats(c["mean_exec_time"], sd_c, c["calls"], b["mean_exec_time"], sd_b,
                                          b["calls"], equal_var=False).pvalue  # fmt: skip
    assert sleep["p_value"] == pytest.approx(expected, rel=1e-6)
    assert sleep["verdict"] != "regressed"  # A/A: the same sleep on both sides
