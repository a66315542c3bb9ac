"""compare on requests frames with planted regressions; traffic-mix adjustment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit import compare
from perfkit.analysis.regression import mix_adjusted_change


def requests(seed, shares, medians, n=6000, slow=None):
    rng = np.random.default_rng(seed)
    routes = rng.choice(list(shares), size=n, p=list(shares.values()))
    factor = np.array([(slow or {}).get(r, 1.0) for r in routes])
    duration = np.array([medians[r] for r in routes]) * factor * rng.lognormal(0, 0.5, n)
    return pd.DataFrame({"route": pd.Categorical(routes), "duration_ms": duration})


MEDIANS = {"/dashboard": 300.0, "/api/orders": 40.0, "/api/stock": 25.0, "/healthz": 2.0}
MIX = {"/dashboard": 0.2, "/api/orders": 0.3, "/api/stock": 0.3, "/healthz": 0.2}


def test_planted_route_regression_is_found_and_others_are_not():
    base = requests(1, MIX, MEDIANS)
    cand = requests(2, MIX, MEDIANS, slow={"/api/orders": 1.25})
    table = compare(base, cand)
    assert table.loc["/api/orders", "verdict"] == "regressed"
    assert table.loc["/api/orders", "ci_low"] < 1.25 < table.loc["/api/orders", "ci_high"]
    assert set(table.drop(index="/api/orders")["verdict"]) == {"unchanged"}
    assert list(table.columns[:12]) == [
        "n_base",
        "n_cand",
        "p50_base",
        "p50_cand",
        "p95_base",
        "p95_cand",
        "ratio",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "verdict",
    ]


def test_a_mix_shift_cannot_hide_a_regression():
    cheap_mix = {"/dashboard": 0.05, "/api/orders": 0.2, "/api/stock": 0.45, "/healthz": 0.3}
    base = requests(3, MIX, MEDIANS, n=20000)
    cand = requests(4, cheap_mix, MEDIANS, n=20000, slow={"/dashboard": 1.3})
    adjusted = mix_adjusted_change(base, cand)
    assert adjusted.raw_ratio < 0.8  # raw: the release looks much faster
    # re-weighted to the baseline mix: 20 % of traffic 30 % slower, the rest unchanged
    expected = (0.2 * 1.3 * 300 + 0.3 * 40 + 0.3 * 25 + 0.2 * 2) / (
        0.2 * 300 + 0.3 * 40 + 0.3 * 25 + 0.2 * 2
    )
    assert adjusted.adjusted_ratio == pytest.approx(expected, rel=0.05)
    assert adjusted.adjusted_ratio > 1.15 and adjusted.routes_missing == ()
