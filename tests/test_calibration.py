"""Calibration of `compare` on a realistic service: 50 routes, heavy tails, skewed traffic.

Each route's latency is log-normal (median 5-400 ms, log-sd 0.4-0.9) and
its traffic follows a power law (8,000 requests on the busiest route, ~50 on
the quietest), as in an hour of a real service. A/A pairs come from the same
distributions; planted regressions scale every request of a route (so its
p95 moves by the same factor) or slow only its tail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit import compare

ROUTES = 50
COUNTS = np.maximum(np.round(8000 * np.arange(1, ROUTES + 1) ** -1.3).astype(int), 30)
MEDIANS = np.geomspace(5, 400, ROUTES)[np.random.default_rng(0).permutation(ROUTES)]
SIGMAS = 0.4 + 0.5 * (np.arange(ROUTES) % 5) / 4


def run(rng, factors=None, tail=None) -> pd.DataFrame:
    """One run's requests; `factors` scales routes, `tail` = {route: (share, factor)} slows
    a random share of a route's requests."""
    parts = []
    for r in range(ROUTES):
        ms = MEDIANS[r] * rng.lognormal(0, SIGMAS[r], COUNTS[r]) * (factors or {}).get(r, 1.0)
        if tail and r in tail:
            share, factor = tail[r]
            ms[rng.random(COUNTS[r]) < share] *= factor
        parts.append(pd.DataFrame({"route": f"/r{r:02d}", "duration_ms": ms}))
    return pd.concat(parts, ignore_index=True)


def test_aa_pairs_flag_at_or_below_the_nominal_rate():
    rng = np.random.default_rng(2026)
    raw_hits = keys = runs_flagged_holm = runs_flagged_bh = 0
    for _ in range(40):
        base, cand = run(rng), run(rng)
        holm = compare(base, cand, min_n=20)
        bh = compare(base, cand, min_n=20, correction="bh")
        raw_hits += int((holm["p_value"] < 0.05).sum())
        keys += len(holm)
        runs_flagged_holm += bool((holm["verdict"] != "unchanged").any())
        runs_flagged_bh += bool((bh["verdict"] != "unchanged").any())
    # the unadjusted test itself is calibrated: 5 % of 2,000 keys is 100 (sd 9.7)
    assert keys == 2000
    assert 70 <= raw_hits <= 130
    # with Holm (or BH, equal under the global null) a run has a false alarm at most 5 % of the
    # time: 2 of 40 expected; 6 or more has probability 1.4 % at exactly 5 %
    assert runs_flagged_holm <= 5
    assert runs_flagged_bh <= 5


@pytest.mark.parametrize(
    ("route", "factor"),
    [(0, 1.10), (4, 1.25), (12, 1.50)],  # 8,000, ~980 and ~290 requests a side
)
def test_planted_p95_regressions_are_found_and_nothing_else(route, factor):
    rng = np.random.default_rng(route)
    found = clean = covered = 0
    for _ in range(20):
        base, cand = run(rng), run(rng, factors={route: factor})
        table = compare(base, cand, min_n=20)
        key = f"/r{route:02d}"
        found += table.loc[key, "verdict"] == "regressed"
        clean += bool((table.drop(index=key)["verdict"] == "unchanged").all())
        covered += table.loc[key, "p95_ci_low"] <= factor <= table.loc[key, "p95_ci_high"]
    assert found >= 19  # power at these sizes is above 99 %
    assert clean >= 18  # Holm: a false alarm elsewhere in at most ~5 % of runs
    assert covered >= 16  # the p95 ratio's 95 % interval holds the true factor


def test_a_slower_tail_with_the_same_median_is_regressed():
    rng = np.random.default_rng(5)
    share, slow = 0.08, 3.0  # 8 % of requests take 3x as long: a cache miss, a retry
    draws = rng.lognormal(0, SIGMAS[1], 2_000_000)
    slowed = draws * np.where(rng.random(draws.size) < share, slow, 1.0)
    true_p95 = np.percentile(slowed, 95) / np.percentile(draws, 95)
    true_p50 = np.median(slowed) / np.median(draws)
    assert true_p95 > 1.3 and true_p50 < 1.06  # the median alone hardly moves
    found = clean = covered = 0
    for _ in range(10):
        base, cand = run(rng), run(rng, tail={1: (share, slow)})
        table = compare(base, cand, min_n=20)
        row = table.loc["/r01"]
        found += row["verdict"] == "regressed"
        covered += row["p95_ci_low"] <= true_p95 <= row["p95_ci_high"]
        clean += bool((table.drop(index="/r01")["verdict"] == "unchanged").all())
    assert found >= 9 and covered >= 8
    assert clean >= 8  # Holm: a false alarm elsewhere in about 1 run in 20


def test_every_statistic_agrees_with_scipy():
    rng = np.random.default_rng(11)
    base, cand = run(rng), run(rng, factors={3: 1.3})
    table = compare(base, cand, min_n=20)
    for key, row in table.iterrows():
        x = base.loc[base["route"] == key, "duration_ms"].to_numpy()
        y = cand.loc[cand["route"] == key, "duration_ms"].to_numpy()
        assert row["p_value"] == pytest.approx(stats.mannwhitneyu(y, x).pvalue, rel=1e-10)
        assert row["p95_ratio"] == pytest.approx(np.percentile(y, 95) / np.percentile(x, 95))
    holm = stats.false_discovery_control  # BH reference; Holm checked in test_significance
    bh = compare(base, cand, min_n=20, correction="bh")
    assert bh["p_adjusted"].to_numpy() == pytest.approx(holm(bh["p_value"].to_numpy()))
