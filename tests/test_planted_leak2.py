"""Where a memory series' warm-up ends (`leak._after_warmup`): planted series with a known
end, and random ones against the docstring's rule written out plainly (issue 16).

Planted series use a deterministic +-0.1 MiB zig-zag as noise, so every residual, the noise
scale (1.4826 * 0.1) and the cut the rule picks are known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis import leak

START = pd.Timestamp("2026-01-01")


def series(hours: np.ndarray, mib: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "time": START + pd.to_timedelta(hours, unit="h"), "_h": hours, "_mib": mib,
    })  # fmt: skip


def planted(n: int = 200, slope: float = 2.0, below: float = 0.0, until: float = 0.0,
            span: float = 10.0) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """A line of `slope` MiB/h with +-0.1 zig-zag; samples before `until` (fraction of the
    span) sit `below` MiB under it."""
    t = np.linspace(0.0, span, n)
    y = 100 + slope * t + np.where(np.arange(n) % 2, 0.1, -0.1)
    y[t < until * span] -= below
    return series(t, y), t


def when(t: float) -> pd.Timestamp:
    return START + pd.to_timedelta(t, unit="h")


def test_no_warmup_keeps_everything():
    group, t = planted()
    kept, end = leak._after_warmup(group)
    assert len(kept) == len(group) and end == when(t[0])


@pytest.mark.parametrize("until", [0.1, 0.2, 0.3, 0.4])
def test_a_slow_warmup_ends_at_the_first_cut_after_it(until):
    group, t = planted(below=20.0, until=until)
    kept, end = leak._after_warmup(group)
    first = t[t >= until * 10.0 - 1e-9][0]  # the first sample on the line
    assert end == when(first) and len(kept) == int((t >= first).sum())
    np.testing.assert_array_equal(kept["_h"].to_numpy(), t[t >= first])


@pytest.mark.parametrize(("until", "start"), [(0.01, 0.01), (0.03, 0.03), (0.045, 0.045),
                                              (0.06, 0.1)])  # fmt: skip
def test_a_fast_warmup_drops_the_leading_samples_below_the_line(until, start):
    # under half the first tenth: that tenth's median is on the line, the leading samples
    # are dropped one by one; more than half: the fit starts at the next cut
    group, t = planted(below=20.0, until=until)
    _, end = leak._after_warmup(group)
    assert end == when(t[t >= start * 10.0 - 1e-9][0])


def test_the_leading_samples_bound_is_one_and_a_half_noise_deviations():
    # noise = 1.4826 * 0.1; the first sample's residual is -0.1 - below: bound -0.2224
    group, t = planted(below=0.1, until=0.05)  # -0.2: kept
    assert leak._after_warmup(group)[1] == when(t[0])
    group, t = planted(below=0.15, until=0.05)  # -0.25: dropped; the second, -0.05: kept
    assert leak._after_warmup(group)[1] == when(t[1])


def test_a_warmup_longer_than_the_cuts_keeps_the_second_half():
    group, t = planted(below=20.0, until=0.55)
    kept, end = leak._after_warmup(group)
    assert end == when(t[t >= 5.0][0]) and (kept["_h"] >= 5.0).all()


def test_a_sparse_first_tenth_is_skipped():
    # two samples in the first tenth, both on the line: too few to judge, so the fit starts
    # at the next cut
    t = np.concatenate([[0.0, 0.2], np.linspace(1.0, 10.0, 119)])  # 66 in the 2nd half
    y = 100 + 2 * t + np.where(np.arange(len(t)) % 2, 0.1, -0.1)
    kept, end = leak._after_warmup(series(t, y))
    assert end == when(1.0) and len(kept) == 119


def test_short_series_are_kept_whole():
    group, _ = planted(n=19, below=20.0, until=0.5)
    kept, end = leak._after_warmup(group)
    assert len(kept) == 19 and end == when(0.0)
    group, _ = planted(n=20, below=20.0, until=0.5)
    assert len(leak._after_warmup(group)[0]) < 20


def reference(t: np.ndarray, y: np.ndarray) -> float:
    """The docstring's rule: the hour the kept part starts."""
    if len(t) < 20:
        return t[0]
    span = t[-1] - t[0]
    half = t >= t[0] + span / 2
    th, yh = t[half], y[half]
    slope = np.median([(yh[j] - yh[i]) / (th[j] - th[i])
                       for i in range(len(th)) for j in range(i + 1, len(th))])  # fmt: skip
    res = y - slope * t
    level = np.median(res[half])
    noise = 1.4826 * np.median(np.abs(res[half] - level))
    for cut in (0.0, 0.1, 0.2, 0.3, 0.4):
        window = [i for i in range(len(t)) if cut * span <= t[i] - t[0] < (cut + 0.1) * span]
        if len(window) < 3:
            continue
        se = np.sqrt(np.pi / 2) * noise / np.sqrt(len(window))
        if np.median(res[window]) - level >= -4 * se:
            later = [i for i in range(len(t)) if t[i] - t[0] >= cut * span]
            on_line = [i for i in later if res[i] - level >= -1.5 * noise]
            return t[on_line[0]] if on_line else t[later[0]]
    return t[t >= t[0] + 0.5 * span][0]


def test_random_warmups_follow_the_rule():
    rng = np.random.default_rng(16)
    for trial in range(150):
        n = int(rng.integers(20, 90))
        t = np.sort(rng.uniform(0, 10, n)) + trial
        noise = rng.uniform(0.1, 2.0)
        y = 50 + rng.uniform(-1, 3) * t + rng.normal(0, noise, n)
        until = rng.uniform(0, 0.6)
        depth = rng.uniform(0, 1.5) * noise  # near the rule's bounds
        y[t - t[0] < until * 10] -= depth * np.linspace(2, 0.5, int((t - t[0] < until * 10).sum()))
        kept, end = leak._after_warmup(series(t, y))
        want = reference(t, y)
        assert end == when(want), trial
        np.testing.assert_array_equal(kept["_h"].to_numpy(), t[t >= want])


def test_a_flat_noiseless_series_still_shows_its_warmup():
    # no noise at all (a constant after warm-up): any step below the line is warm-up
    t = np.linspace(0.0, 10.0, 200)
    y = np.where(t < 3.0, 99.5, 100.0)
    kept, end = leak._after_warmup(series(t, y))
    assert end == when(t[t >= 3.0][0]) and (kept["_mib"] == 100.0).all()


def sen_by_hand(times, values, confidence):
    """Pooled Theil-Sen slope, Sen's interval ranks and the stratified Mann-Kendall p."""
    slopes, s, var, n_total = [], 0.0, 0.0, 0
    for t, y in zip(times, values, strict=True):
        n_total += len(t)
        if len(t) < 2:
            continue
        for i in range(len(t)):
            for j in range(i + 1, len(t)):
                if t[j] != t[i]:
                    slopes.append((y[j] - y[i]) / (t[j] - t[i]))
                    s += np.sign((y[j] - y[i]) * (t[j] - t[i]))
        n = len(t)
        ties = [c for c in np.unique(t, return_counts=True)[1] if c > 1]
        var += (n * (n - 1) * (2 * n + 5) - sum(c * (c - 1) * (2 * c + 5) for c in ties)) / 18
    pairs = sorted(slopes)
    c = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(var)
    m = len(pairs)
    low = pairs[max(round((m - c) / 2) - 1, 0)]
    high = pairs[min(round((m + c) / 2), m - 1)]
    z = (s - np.sign(s)) / np.sqrt(var)
    return np.median(pairs), low, high, 2 * stats.norm.sf(abs(z)), n_total


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_sen_against_scipy_and_by_hand(confidence):
    rng = np.random.default_rng(int(confidence * 100))
    t = np.round(np.sort(rng.uniform(0, 5, 40)), 1)  # some tied times
    y = 0.3 * t + rng.normal(0, 0.5, 40)
    got = leak.sen([t], [y], confidence)
    ref = stats.theilslopes(y, t, confidence)
    assert got[:3] == pytest.approx((ref.slope, ref.low_slope, ref.high_slope), rel=1e-12)
    assert got == pytest.approx(sen_by_hand([t], [y], confidence), rel=1e-9)
    t2, y2 = np.arange(15.0), 5 - 0.2 * np.arange(15.0) + rng.normal(0, 1, 15)
    pooled = leak.sen([t, t2, np.array([1.0])], [y, y2, np.array([2.0])], confidence)
    want = sen_by_hand([t, t2, np.array([1.0])], [y, y2, np.array([2.0])], confidence)
    assert pooled == pytest.approx(want, rel=1e-9)
    assert pooled[4] == 56


def test_sen_without_pairs():
    out = leak.sen([np.array([1.0]), np.array([2.0, 2.0])], [np.array([3.0]), np.array([1.0, 2.0])])
    assert np.isnan(out[:4]).all() and out[4] == 3


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_sen_on_short_series(n):
    # Sen's ranks at their clipped ends; Kendall's S = 0 (p = 1) for the zig-zag
    rng = np.random.default_rng(n)
    t, y = np.arange(float(n)), rng.normal(0, 1, n)
    assert leak.sen([t], [y]) == pytest.approx(sen_by_hand([t], [y], 0.95), rel=1e-12)
    both = ([t, np.array([0.0, 2.0])], [y, np.array([1.0, 2.0])])
    assert leak.sen(*both) == pytest.approx(sen_by_hand(*both, 0.95), rel=1e-12)
    flat = leak.sen([np.arange(3.0)], [np.array([0.0, 1.0, 0.0])])
    assert flat[3] == 1.0 and flat[0] == 0.0
