"""LatencySketch: merge is exact, quantiles stay within the relative-error bound."""

from __future__ import annotations

import numpy as np
import pytest

from perfkit import LatencySketch, merge_sketches
from perfkit.analysis.sketch import sketch_by

QS = np.array([0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0])


@pytest.mark.parametrize("alpha", [0.005, 0.01, 0.05])
@pytest.mark.parametrize("seed", range(3))
def test_relative_error_bound_against_numpy(alpha, seed):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(3, 1.5, 50_000), rng.pareto(1.5, 5_000) * 100 + 0.01])
    sketch = LatencySketch(alpha).add(values)
    exact = np.quantile(values, QS, method="lower")
    estimate = sketch.quantile(QS)
    assert np.all(np.abs(estimate - exact) <= alpha * exact * (1 + 1e-9))
    # and the bound is not trivially loose: a coarser sketch does worse somewhere
    coarse = LatencySketch(alpha * 8).add(values).quantile(QS)
    assert np.max(np.abs(coarse - exact) / exact) > alpha


def test_merge_equals_sketch_of_the_whole():
    rng = np.random.default_rng(7)
    parts = [rng.lognormal(m, 1, 10_000) for m in (1, 2, 4)] + [np.zeros(10)]
    merged = LatencySketch().add(parts[0])
    for part in parts[1:]:
        merged.merge(LatencySketch().add(part))
    whole = LatencySketch().add(np.concatenate(parts))
    assert merged.count == whole.count == sum(len(p) for p in parts)
    assert merged.offset == whole.offset and np.array_equal(merged.counts, whole.counts)
    assert merged.zero_count == 10
    np.testing.assert_array_equal(merged.quantile(QS), whole.quantile(QS))
    again = LatencySketch.from_dict(merged.to_dict())
    np.testing.assert_array_equal(again.quantile(QS), whole.quantile(QS))


def test_per_route_sketches_merge_across_files():
    import pandas as pd

    rng = np.random.default_rng(3)
    frames = [
        pd.DataFrame(
            {"route": rng.choice(["/a", "/b"], 5000), "duration_ms": rng.lognormal(2, 1, 5000)}
        )
        for _ in range(4)
    ]
    merged = merge_sketches(sketch_by(f) for f in frames)
    everything = pd.concat(frames)
    for route, group in everything.groupby("route"):
        exact = np.quantile(group["duration_ms"], 0.95, method="lower")
        assert abs(merged[route].quantile(0.95) - exact) <= 0.01 * exact


def test_bad_parameters():
    with pytest.raises(ValueError):
        LatencySketch(alpha=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        LatencySketch().add([-1.0])
    with pytest.raises(ValueError, match="same alpha"):
        LatencySketch(0.01).merge(LatencySketch(0.02))
