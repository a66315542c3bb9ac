"""Planted-bug tests for the leak verdict (issue 16): the Mann-Kendall p-value against the
textbook formula on a small worked series, and ``p_adjusted < alpha`` at its boundary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.leak import (
    MIB,
    fit_leak,
    recycled_workers,
    sampling_interval,
    sen,
    workers_at_once,
)

# ten hourly samples (MiB): 37 rising pairs, 8 falling, so Kendall's S = 29
WORKED = np.array([300, 302, 301, 305, 303, 306, 309, 307, 310, 304.0])


def _textbook_mann_kendall(y: np.ndarray) -> float:
    """Two-sided p-value: S = sum of sign(y_j - y_i) over i < j, Var S = n(n-1)(2n+5)/18
    (no ties), Z = (S - 1)/sd for S > 0, (S + 1)/sd for S < 0, 0 for S = 0."""
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    sd = math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    z = (s - 1) / sd if s > 0 else (s + 1) / sd if s < 0 else 0.0
    return math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))


@pytest.mark.parametrize("sign", [1, -1], ids=["rising", "falling"])
def test_mann_kendall_p_value_matches_the_textbook_formula(sign):
    y = sign * WORKED
    expected = _textbook_mann_kendall(y)
    # by hand: Var S = 10 * 9 * 25 / 18 = 125, Z = 28 / sqrt(125) = 2.5044, p = 0.01227
    assert expected == pytest.approx(0.012266, rel=1e-4)
    slope, low, high, p_value, n = sen([np.arange(10.0)], [y])
    assert n == 10
    assert p_value == pytest.approx(expected, rel=1e-9)
    assert slope == sign * 1.0  # the median of the 45 pairwise slopes (MiB per hour)
    assert low < slope < high


def _leaking(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = np.arange(60) / 60  # a sample a minute for an hour
    mib = 300 + 20 * hours + rng.normal(0, 0.5, 60)  # planted: 20 MiB per hour
    return pd.DataFrame({
        "time": pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(hours * 3600, unit="s"),
        "pid": 7, "role": "worker", "rss_bytes": (mib * MIB).astype("int64"),
    })  # fmt: skip


def test_leak_needs_p_adjusted_strictly_under_alpha():
    memory = _leaking()
    p = float(fit_leak(memory)["p_adjusted"].iloc[0])
    assert 0 < p < 1e-6
    at = fit_leak(memory, alpha=p).iloc[0]
    assert at["p_adjusted"] == p and at["verdict"] == "inconclusive"
    above = fit_leak(memory, alpha=np.nextafter(p, 1)).iloc[0]
    assert above["verdict"] == "leak"
    assert above["ci_low"] < 20 < above["ci_high"]


def test_recycled_workers_are_those_gone_before_the_last_round():
    """Sampled every 10 s for 10 min: worker 10 ends at 200 s, worker 13 at 590 s (not in the
    last round), 11 and 12 live to the end; the master never counts."""
    start = pd.Timestamp("2026-01-05", tz="UTC")
    lives = {1: ("master", 0, 600), 10: ("worker", 0, 200), 11: ("worker", 210, 600),
             12: ("worker", 0, 600), 13: ("worker", 0, 590)}  # fmt: skip
    memory = pd.concat([
        pd.DataFrame({"time": start + pd.to_timedelta(np.arange(begin, end + 1, 10), unit="s"),
                      "pid": pid, "role": role, "rss_bytes": 100 * MIB})
        for pid, (role, begin, end) in lives.items()
    ], ignore_index=True)  # fmt: skip
    assert recycled_workers(memory) == 2
    assert recycled_workers(memory[memory["time"] <= start + pd.Timedelta(seconds=150)]) == 0
    assert recycled_workers(memory[memory["role"] == "master"]) == 0


def _flat(pid, role, mib, seconds, start_s=0, step_s=60):
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    times = t0 + pd.to_timedelta(np.arange(start_s, start_s + seconds, step_s), unit="s")
    return pd.DataFrame({"time": times, "pid": pid, "role": role,
                         "rss_bytes": np.asarray(mib, dtype=float) * MIB})  # fmt: skip


def test_sampling_interval_and_workers_at_once():
    two = pd.concat([_flat(10, "worker", 300, 600), _flat(11, "worker", 320, 600, start_s=20),
                     _flat(1, "master", 40, 600, start_s=5)])  # fmt: skip
    assert sampling_interval(two) == pd.Timedelta(seconds=60)
    assert workers_at_once(two[two["role"] == "worker"]) == 2.0
    # a repeated sample (same time) is no interval; a single sample a pid gives the 1 s default
    repeated = pd.concat([two, two.iloc[:3]])
    assert sampling_interval(repeated) == pd.Timedelta(seconds=60)
    assert sampling_interval(two.groupby("pid").head(1)) == pd.Timedelta(seconds=1)
    # a worker recycled mid-run: its successor is not a third worker at once
    recycled = pd.concat([_flat(10, "worker", 300, 300), _flat(12, "worker", 300, 300,
                                                               start_s=300),
                          _flat(11, "worker", 320, 600, start_s=20)])  # fmt: skip
    assert workers_at_once(recycled) == 2.0


def test_container_worst_case_and_warm_up_end():
    """Master 40 MiB, two workers at 300 and 320 MiB: the worst case is 40 + 2 x 320. The
    workers warm up by 60 MiB over the first 20 minutes of two hours, then stay flat."""
    minutes = np.arange(120)
    warm = np.where(minutes < 20, 60 * minutes / 20, 60.0)
    memory = pd.concat([_flat(1, "master", np.full(120, 40.0), 7200),
                        _flat(10, "worker", 240 + warm, 7200),
                        _flat(11, "worker", 260 + warm, 7200)], ignore_index=True)  # fmt: skip
    fits = fit_leak(memory, container_limit_bytes=2048 * MIB).set_index("role")
    box = fits.loc["container"]
    assert box["worst_case_mib"] == pytest.approx(40 + 2 * 320)
    start = memory["time"].min()
    warmup = box["warmup_end"] - start
    assert pd.Timedelta(minutes=10) <= warmup <= pd.Timedelta(minutes=40)
    assert warmup % pd.Timedelta(minutes=1) == pd.Timedelta(0)  # on a sampling round
    assert box["level_mib"] == pytest.approx(40 + 300 + 320)
    # without roles, every process counts as a worker: 3 at once, each up to 320 MiB
    plain = fit_leak(memory.drop(columns="role"), container_limit_bytes=2048 * MIB)
    assert plain["worst_case_mib"].dropna().tolist() == pytest.approx([3 * 320])


def test_categorical_pids_boundaries_and_time_to_limit():
    """pids as a categorical with unused categories change nothing; a worker last seen half
    a sampling interval before the end is still running; limits already passed give 0 h."""
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    lives = {1: ("master", 0, 600), 10: ("worker", 5, 595), 11: ("worker", 0, 600),
             12: ("worker", 0, 200)}  # fmt: skip
    memory = pd.concat([
        pd.DataFrame({"time": t0 + pd.to_timedelta(np.arange(begin, end + 1, 10), unit="s"),
                      "pid": pid, "role": role,
                      "rss_bytes": (100.0 + (pid == 11) * np.arange(begin, end + 1, 10) / 60) * MIB})
        for pid, (role, begin, end) in lives.items()
    ], ignore_index=True)  # fmt: skip
    as_category = memory.assign(pid=pd.Categorical(memory["pid"], categories=[99, 1, 10, 11, 12]))
    for frame in (memory, as_category):
        assert recycled_workers(frame) == 1  # 12 only: 10 ends 5 s (half a round) before
        fits = fit_leak(frame, limit_bytes=105 * MIB, container_limit_bytes=4096 * MIB)
        box = fits[fits["role"] == "container"].iloc[0]
        assert box["worst_case_mib"] == pytest.approx(100 + 2 * 110)  # mostly 2 workers at once
        grows = fits[fits["pid"] == 11].iloc[0]  # 1 MiB a minute: 60 MiB/h, at 110 MiB
        assert grows["slope_mib_per_hour"] == pytest.approx(60.0)
        assert grows["time_to_limit_h"] == 0.0  # already over 105 MiB
        flat = fits[fits["pid"] == 1].iloc[0]
        assert np.isnan(flat["time_to_limit_h"])  # not growing: never
    slow = memory[memory["pid"] == 11].assign(
        rss_bytes=lambda f: (100 + (f["time"] - t0).dt.total_seconds() / 3600 * 0.5) * MIB)
    fit = fit_leak(slow, limit_bytes=101 * MIB).iloc[0]  # 0.5 MiB/h, 1 MiB short of the limit
    assert fit["time_to_limit_h"] == pytest.approx((101 - fit["level_mib"]) / 0.5, rel=1e-6)
    master = fit_leak(memory[memory["role"] == "master"], container_limit_bytes=4096 * MIB)
    assert master.loc[master["role"] == "container", "worst_case_mib"].tolist() == [100.0]
