"""Change points in run histories: PELT is exact, steps and creeps are found, noise is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit import change_points
from perfkit.analysis.changepoints import _Cost, _pelt
from perfkit.errors import InputError


def optimal_partitioning(y, model, penalty, min_size):
    """The O(n^2) dynamic programme PELT must agree with, costs by least squares."""
    n = len(y)

    def rss(a, b):
        t = np.arange(a, b, dtype=float)
        design = np.ones((b - a, 1)) if model == "mean" else np.column_stack([np.ones(b - a), t])
        coef, *_ = np.linalg.lstsq(design, y[a:b], rcond=None)
        return float(np.sum((y[a:b] - design @ coef) ** 2))

    best, prev = [-penalty] + [np.inf] * n, [0] * (n + 1)
    for end in range(min_size, n + 1):
        for start in [0, *range(min_size, end - min_size + 1)]:
            if end - start >= min_size and best[start] < np.inf:
                total = best[start] + rss(start, end) + penalty
                if total < best[end] - 1e-9:
                    best[end], prev[end] = total, start
    starts, end = [], n
    while end > 0:
        end = prev[end]
        starts.append(end)
    return sorted(starts)


@pytest.mark.parametrize("model", ["mean", "linear"])
@pytest.mark.parametrize("seed", range(4))
def test_pelt_equals_optimal_partitioning(model, seed):
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(m, 2, k) for m, k in [(10, 15), (16, 12), (12, 20), (20, 9)]])
    y += 0.2 * np.arange(len(y)) * (model == "linear")
    penalty = 3 * np.log(len(y)) * 4
    assert _pelt(_Cost(y, model), len(y), penalty, 3) == optimal_partitioning(y, model, penalty, 3)


def test_a_step_is_found_where_it_happened():
    near = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        y = np.r_[100 + rng.normal(0, 3, 40), 110 + rng.normal(0, 3, 30)]
        found = change_points(y, model="mean").points
        near += len(found) == 1 and abs(found[0] - 40) <= 2
    assert near >= 45  # a 3.3-sd step: one change, within 2 runs, in 48 of 50 measured


def test_a_slow_creep_is_found_near_its_start():
    near = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        nights = pd.date_range("2026-09-01", periods=60, freq="D")
        p95 = np.r_[200 + rng.normal(0, 4, 35), 200 + 1.5 * np.arange(1, 26) + rng.normal(0, 4, 25)]
        result = change_points(pd.Series(p95, index=nights))
        if result.points:
            near += abs((result.points[0] - nights[35]).days) <= 3
            last = result.segments.iloc[-1]
            assert last["slope_per_run"] == pytest.approx(1.5, abs=0.6)
    assert near >= 38  # 85 of 100 in the module's measurement


def test_noise_alone_has_no_change_points():
    quiet = sum(
        change_points(200 + np.random.default_rng(seed).normal(0, 4, 60)).points == []
        for seed in range(100)
    )
    assert quiet >= 95


def test_too_short_a_history_is_a_clear_error():
    with pytest.raises(InputError, match="at least 6 runs"):
        change_points([1.0, 2.0, 3.0])
