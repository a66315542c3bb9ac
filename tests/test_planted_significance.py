"""Planted-bug tests for the statistical core (issue 16): the exact bootstrap order-statistic
sampler against brute-force resampling, Holm and Benjamini-Hochberg on a worked example, and
the bootstrap interval's level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.significance import (
    _quantile_draws,
    adjust,
    bootstrap_ratio,
    compare_samples,
    interval_from_draws,
)


def _exact_resample_law(x: np.ndarray, statistic) -> dict[float, float]:
    """P(statistic(resample) = v) over all n^n equally likely resamples of `x` (brute force)."""
    n = len(x)
    every = np.arange(n**n)[:, None] // n ** np.arange(n) % n  # each row: one resample's indices
    values = statistic(x[every])
    found, counts = np.unique(values, return_counts=True)
    return dict(zip(found.tolist(), (counts / n**n).tolist(), strict=True))


@pytest.mark.parametrize(
    ("n", "q", "statistic"),
    [
        (5, 0.5, lambda r: np.median(r, axis=1)),  # odd n: the median is an order statistic
        (6, 0.5, lambda r: np.percentile(r, 50, axis=1, method="lower")),  # the lower median
        (6, 0.9, lambda r: np.percentile(r, 90, axis=1, method="lower")),
    ],
    ids=["median-of-5", "lower-median-of-6", "p90-of-6"],
)
def test_order_statistic_sampler_matches_brute_force_resampling(n, q, statistic):
    x = np.array([3.0, 10.0, 11.0, 20.0, 50.0, 51.0, 90.0])[:n]
    law = _exact_resample_law(x, statistic)
    draws = _quantile_draws(x, q, 200_000, np.random.default_rng(1))
    assert set(np.unique(draws)) <= set(law)
    for value, probability in law.items():
        # 200,000 draws: a frequency's sd is at most 0.0011; 0.006 is over 5 sd
        assert np.mean(draws == value) == pytest.approx(probability, abs=0.006), value


def test_holm_and_bh_on_a_worked_example():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.045])
    # five valid p-values; ranked 0.005, 0.01, 0.03, 0.04, 0.045
    # Holm: x5, x4, x3, x2, x1 = 0.025, 0.04, 0.09, 0.08, 0.045; running max
    holm = adjust(p, "holm")
    assert holm[[0, 1, 2, 3, 5]] == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.09])
    # BH: x5/1, x5/2, x5/3, x5/4, x5/5 = 0.025, 0.025, 0.05, 0.05, 0.045; running min from the top
    bh = adjust(p, "bh")
    assert bh[[0, 1, 2, 3, 5]] == pytest.approx([0.025, 0.045, 0.045, 0.025, 0.045])
    assert np.isnan(holm[4]) and np.isnan(bh[4])
    # capped at 1
    assert adjust(np.array([0.6, 0.5]), "holm") == pytest.approx([1.0, 1.0])
    assert adjust(np.array([0.6, 0.5]), "bh") == pytest.approx([0.6, 0.6])


def test_interval_from_draws_takes_the_level_asked_for():
    by, bx = np.arange(1.0, 1001.0), np.ones(1000)
    # order statistics: the 2.5 % and 97.5 % points of 1..1000 are its 25th and 975th values
    # exactly ((1 - 0.95) / 2 is a hair over 0.025 in binary floating point: the 26th once)
    low, high, _ = interval_from_draws(bx, by, 0.95)
    assert (low, high) == (25.0, 975.0)
    low, high, _ = interval_from_draws(bx, by, 0.80)
    assert (low, high) == (100.0, 900.0)


def test_bootstrap_interval_level_matches_brute_force_resampling():
    """The median ratio's 80 % interval against a plain numpy bootstrap of the same data."""
    rng = np.random.default_rng(7)
    x, y = 20 * rng.lognormal(0, 0.3, 101), 24 * rng.lognormal(0, 0.3, 101)
    out = compare_samples(pd.DataFrame({"k": "a", "v": x}), pd.DataFrame({"k": "a", "v": y}),
                          "k", "v", n_boot=20_000, confidence=0.80, seed=3)  # fmt: skip
    brute = np.random.default_rng(11)
    ratios = (np.median(y[brute.integers(0, 101, (20_000, 101))], axis=1)
              / np.median(x[brute.integers(0, 101, (20_000, 101))], axis=1))  # fmt: skip
    low, high = np.percentile(ratios, [10, 90])
    assert out.loc["a", "ci_low"] == pytest.approx(low, rel=0.01)
    assert out.loc["a", "ci_high"] == pytest.approx(high, rel=0.01)
    # and the 95 % interval is wider, by about what the normal quantiles say
    assert np.percentile(ratios, 2.5) < low * 0.985 and np.percentile(ratios, 97.5) > high * 1.015


def _brute_ratio_interval(x, y, statistic, n_boot, confidence, seed):
    rng = np.random.default_rng(seed)
    bx = statistic(x[rng.integers(0, len(x), (n_boot, len(x)))])
    by = statistic(y[rng.integers(0, len(y), (n_boot, len(y)))])
    tail = (1 - confidence) / 2 * 100
    return np.percentile(by / bx, [tail, 100 - tail])


def test_mean_ratio_interval_matches_brute_force_resampling():
    """Mostly-zero values (a function's time per request) are compared on their means."""
    rng = np.random.default_rng(21)
    x = np.where(rng.random(300) < 0.7, 0.0, rng.exponential(2.0, 300))
    y = np.where(rng.random(300) < 0.7, 0.0, rng.exponential(3.0, 300))
    out = compare_samples(pd.DataFrame({"k": "f", "v": x}), pd.DataFrame({"k": "f", "v": y}),
                          "k", "v", statistic="mean", n_boot=20_000, confidence=0.9, seed=2)
    assert out.loc["f", "mean_base"] == pytest.approx(x.mean())
    assert out.loc["f", "mean_cand"] == pytest.approx(y.mean())
    assert out.loc["f", "ratio"] == pytest.approx(y.mean() / x.mean())
    low, high = _brute_ratio_interval(x, y, lambda r: r.mean(axis=1), 20_000, 0.9, 5)
    assert out.loc["f", "ci_low"] == pytest.approx(low, rel=0.01)
    assert out.loc["f", "ci_high"] == pytest.approx(high, rel=0.01)


def test_bootstrap_ratio_of_a_tail_quantile_matches_brute_force_resampling():
    rng = np.random.default_rng(8)
    x, y = rng.lognormal(3, 0.5, 400), rng.lognormal(3.2, 0.5, 400)
    low, high = bootstrap_ratio(x, y, 0.95, 20_000, 0.9, np.random.default_rng(4))
    lower_p95 = lambda r: np.percentile(r, 95, axis=1, method="lower")  # noqa: E731
    ref_low, ref_high = _brute_ratio_interval(x, y, lower_p95, 20_000, 0.9, 6)
    assert low == pytest.approx(ref_low, rel=0.015)
    assert high == pytest.approx(ref_high, rel=0.015)
    assert low < np.percentile(y, 95) / np.percentile(x, 95) < high


def test_mean_draws_in_chunks_are_exactly_n_boot():
    """5,000 values: resampled 400 at a time (2,000,000 elements a chunk), 1,000 draws in all."""
    from perfkit.analysis.significance import _mean_draws

    x = np.random.default_rng(0).exponential(1.0, 5000)
    draws = _mean_draws(x, 1000, np.random.default_rng(1))
    assert draws.shape == (1000,)
    # each draw a mean of 5,000 resampled values: sd = sd(x) / sqrt(5000) ~ 0.014
    assert np.std(draws) == pytest.approx(np.std(x) / np.sqrt(5000), rel=0.1)
    assert abs(np.mean(draws) - x.mean()) < 0.003
