"""The statistical core: agreement with scipy, calibration on A/A, power on planted changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis.significance import adjust, compare_samples, min_p_value


def frames(seed, routes=30, n=300, factors=None):
    rng = np.random.default_rng(seed)
    factors = factors or {}
    base, cand = [], []
    for r in range(routes):
        median = 20 * (1 + r % 7)
        base.append(pd.DataFrame({"route": f"/r{r}", "ms": median * rng.lognormal(0, 0.7, n)}))
        cand.append(
            pd.DataFrame(
                {"route": f"/r{r}", "ms": median * factors.get(r, 1.0) * rng.lognormal(0, 0.7, n)}
            )
        )
    return pd.concat(base), pd.concat(cand)


def test_p_values_match_scipy():
    base, cand = frames(1, routes=5)
    out = compare_samples(base, cand, "route", "ms")
    for route in out.index:
        x = base.loc[base["route"] == route, "ms"].to_numpy()
        y = cand.loc[cand["route"] == route, "ms"].to_numpy()
        assert out.loc[route, "p_value"] == pytest.approx(
            stats.mannwhitneyu(y, x).pvalue, rel=1e-12
        )
        assert out.loc[route, "ratio"] == pytest.approx(np.median(y) / np.median(x))
        assert out.loc[route, "p95_base"] == pytest.approx(np.percentile(x, 95))


def test_adjustments_match_their_definitions():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.001])
    bh = adjust(p, "bh")
    valid = ~np.isnan(p)
    assert bh[valid] == pytest.approx(stats.false_discovery_control(p[valid], method="bh"))
    holm = adjust(p, "holm")
    q = p[valid]
    order = np.argsort(q)
    expected = np.maximum.accumulate([(len(q) - i) * q[order[i]] for i in range(len(q))])
    assert holm[valid][order] == pytest.approx(np.minimum(expected, 1))
    assert np.isnan(holm[4])


def test_aa_runs_stay_quiet():
    runs_with_alarm = 0
    for seed in range(20):
        base, cand = frames(seed)
        out = compare_samples(base, cand, "route", "ms", n_boot=400)
        runs_with_alarm += bool((out["verdict"] != "unchanged").any())
    # Holm keeps the chance of any false alarm in a run at or under 5 %: about 1 run in 20;
    # 4 or more would happen by chance less than 2 % of the time
    assert runs_with_alarm <= 3


def test_planted_regressions_are_found():
    base, cand = frames(7, n=1000, factors={0: 1.5, 5: 1.25, 9: 0.7})
    out = compare_samples(base, cand, "route", "ms")
    assert out.loc["/r0", "verdict"] == "regressed"
    assert out.loc["/r5", "verdict"] == "regressed"
    assert out.loc["/r9", "verdict"] == "improved"
    assert out.loc["/r0", "ci_low"] < 1.5 < out.loc["/r0", "ci_high"]
    others = out.drop(index=["/r0", "/r5", "/r9"])
    assert (others["verdict"] == "unchanged").all()


def test_bootstrap_interval_covers_the_truth():
    covered = 0
    for seed in range(40):
        base, cand = frames(100 + seed, routes=1, n=200, factors={0: 1.2})
        out = compare_samples(base, cand, "route", "ms", n_boot=1000, seed=seed)
        covered += out["ci_low"].iloc[0] <= 1.2 <= out["ci_high"].iloc[0]
    assert covered >= 34  # nominal 95 %: 38 of 40 expected, 34 is ~3 sd below


def test_small_samples_are_insufficient_not_guessed():
    base = pd.DataFrame({"k": ["a"] * 3 + ["b"] * 8, "v": [1.0, 2, 3, *list(range(8))]})
    cand = pd.DataFrame({"k": ["a"] * 3 + ["b"] * 8, "v": [10.0, 20, 30, *list(range(100, 108))]})
    out = compare_samples(base, cand, "k", "v", min_n=2)
    assert min_p_value(3, 3) == pytest.approx(0.1)
    assert out.loc["a", "verdict"] == "insufficient data"  # 3 vs 3 can never reach 5 %
    assert out.loc["b", "verdict"] == "regressed"


def test_practical_floor():
    rng = np.random.default_rng(3)
    base = pd.DataFrame({"k": "a", "v": 100 + rng.normal(0, 0.5, 5000)})
    cand = pd.DataFrame({"k": "a", "v": 102 + rng.normal(0, 0.5, 5000)})  # +2 %: significant, small
    out = compare_samples(base, cand, "k", "v")
    assert out.loc["a", "p_adjusted"] < 1e-6
    assert out.loc["a", "verdict"] == "unchanged"
