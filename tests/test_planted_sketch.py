"""Planted-bug tests for the latency sketch (issue 16): the share of values at or under a
threshold against the exact share, within the sketch's bucket resolution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit import LatencySketch, merge_sketches
from perfkit.analysis.sketch import sketch_by


def test_share_at_most_is_bracketed_by_exact_shares():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(3, 1, 20_000), np.zeros(500)])
    sketch = LatencySketch(0.01).add(values)
    for threshold in (0.5, 5.0, 20.0, 50.0, 200.0, 1e4):
        share = sketch.share_at_most(threshold)
        # the bucket holding the threshold counts whole: up to gamma x threshold
        exact_at = np.mean(values <= threshold)
        exact_above = np.mean(values <= threshold * sketch.gamma)
        assert exact_at - 1e-12 <= share <= exact_above + 1e-12, threshold
    assert sketch.share_at_most(1e9) == 1.0
    assert sketch.share_at_most(0.0) == pytest.approx(500 / 20_500)  # the zero bucket only
    assert sketch.share_at_most(1e-300) == pytest.approx(500 / 20_500)
    assert np.isnan(LatencySketch().share_at_most(10.0))


def test_share_at_most_below_every_bucket_is_the_zero_share():
    sketch = LatencySketch(0.01).add([0.0, 10.0, 20.0, 30.0])
    assert sketch.share_at_most(5.0) == pytest.approx(0.25)
    assert sketch.share_at_most(10.0) == pytest.approx(0.5)
    assert sketch.share_at_most(25.0) == pytest.approx(0.75)


def test_quantiles_of_a_small_sample_are_its_lower_order_statistics():
    values = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0])
    sketch = LatencySketch(0.01).add(values)
    qs = np.array([0.0, 0.1, 0.15, 0.5, 0.95, 1.0])
    exact = np.quantile(values, qs, method="lower")
    got = sketch.quantile(qs)
    assert got[0] == 0.0 and got[1] == 0.0  # the zero bucket answers 0
    assert np.all(np.abs(got - exact) <= 0.01 * exact * (1 + 1e-9))
    assert sketch.quantile(0.5) == pytest.approx(8.0, rel=0.01)
    assert isinstance(sketch.quantile(0.5), float)
    with pytest.raises(ValueError, match="quantiles must be in"):
        sketch.quantile(1.5)
    assert np.isnan(LatencySketch().quantile(0.5))


def test_saved_sketches_keep_their_settings_and_merge_their_zeros():
    a = LatencySketch(alpha=0.02, min_value=0.5).add([0.0, 0.2, 1.0, 3.0, 3.0, 100.0])
    b = LatencySketch(alpha=0.02, min_value=0.5).add([0.1, 7.0])
    again = LatencySketch.from_dict(a.to_dict())
    assert (again.alpha, again.min_value, again.zero_count) == (0.02, 0.5, 2)
    assert again.counts.dtype == np.int64 and np.array_equal(again.counts, a.counts)
    merged = merge_sketches([{"/x": again}, {"/x": b}])["/x"]
    assert (merged.alpha, merged.min_value) == (0.02, 0.5)
    assert merged.zero_count == 3 and merged.count == 8
    assert merged.share_at_most(0.5) == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="sketches merge only with the same alpha and min_value"):
        a.merge(LatencySketch(alpha=0.02))
    with pytest.raises(ValueError, match="unknown sketch format_version 2"):
        LatencySketch.from_dict({**a.to_dict(), "format_version": 2})


def test_sketch_by_counts_observed_keys_and_skips_missing_values():
    frame = pd.DataFrame({
        "route": pd.Categorical(["/a", "/a", "/b", "/a"], categories=["/a", "/b", "/unused"]),
        "duration_ms": pd.array([1.0, pd.NA, 4.0, 2.0], dtype="Float64"),
    })  # fmt: skip
    sketches = sketch_by(frame)
    assert sorted(sketches) == ["/a", "/b"]
    assert sketches["/a"].count == 2 and sketches["/b"].count == 1
    assert sketches["/a"].quantile(1.0) == pytest.approx(2.0, rel=0.01)


def test_adding_in_steps_equals_adding_at_once_with_no_spare_buckets():
    rng = np.random.default_rng(5)
    parts = [rng.lognormal(2, 0.3, 100), rng.lognormal(0, 0.2, 50), rng.lognormal(5, 0.1, 30),
             np.array([0.0, 1e-6, 3.0])]  # fmt: skip
    steps = LatencySketch(0.01)
    for part in parts:
        steps.add(part)
    whole = LatencySketch(0.01).add(np.concatenate(parts))
    assert (steps.offset, steps.zero_count) == (whole.offset, whole.zero_count) == (whole.offset, 2)
    assert np.array_equal(steps.counts, whole.counts) and steps.counts.dtype == np.int64
    assert steps.counts[0] > 0 and steps.counts[-1] > 0  # no empty bucket at either end
    same = LatencySketch(0.01).add([10.0]).add([10.0])
    assert same.counts.tolist() == [2]


def test_values_at_the_floor_count_as_zero_and_bad_settings_are_refused():
    sketch = LatencySketch(0.01, min_value=0.5).add([0.5, 0.6, 2.0])
    assert sketch.zero_count == 1 and sketch.share_at_most(0.5) == pytest.approx(1 / 3)
    assert sketch.quantile(0.0) == 0.0
    for alpha in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"alpha must be in \(0, 1\), got {alpha}"):
            LatencySketch(alpha)
    with pytest.raises(ValueError, match="a latency sketch holds non-negative values only"):
        LatencySketch().add([1.0, -0.1])
    with pytest.raises(ValueError, match=r"quantiles must be in \[0, 1\]"):
        LatencySketch().add([1.0]).quantile([0.5, -0.1])
