"""Tests written to kill surviving mutants (issue 16); see tools/mutate.py.

Planted memory series for `fit_leak`, mostly noiseless and sampled on times that are exact in
binary (multiples of 1/16 h or 1/4 h), so every pairwise slope, level and span is exact and
each verdict rule can be met at its boundary.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis.leak import (
    MAX_POINTS,
    MIB,
    fit_leak,
    recycled_workers,
    sampling_interval,
    sen,
    workers_at_once,
)

T0 = pd.Timestamp("2026-01-05", tz="UTC")


def proc(pid, hours, mib, role="worker", start_h=0.0) -> pd.DataFrame:
    """One process: RSS `mib` (MiB) at `hours` after T0 + `start_h`."""
    hours = np.asarray(hours, dtype=float)
    mib = np.broadcast_to(np.asarray(mib, dtype=float), hours.shape)
    return pd.DataFrame({
        "time": T0 + pd.to_timedelta((start_h + hours) * 3600, unit="s"), "pid": pid,
        "role": role, "rss_bytes": (mib * MIB).astype("int64"),
    })  # fmt: skip


def line(pid, n, step_h, slope, base=100.0, **kw) -> pd.DataFrame:
    """`n` samples every `step_h` hours on the exact line base + slope x t."""
    t = np.arange(n) * step_h
    return proc(pid, t, base + slope * t, **kw)


def only(fits: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(fits), dtype=bool)
    for column, value in where.items():
        mask &= (fits[column] == value).to_numpy()
    assert mask.sum() == 1
    return fits[mask].iloc[0]


# --- the verdict rule at its documented boundaries (defaults: 1 MiB/h, 4 MiB, alpha 0.05) ---


def test_a_slope_exactly_at_the_floor_is_a_leak():
    # 1 MiB/h over 5.5 h: every pairwise slope is exactly 1 = min_mib_per_hour ("at least")
    fit = fit_leak(line(1, 12, 0.5, 1.0)).iloc[0]
    assert fit["slope_mib_per_hour"] == fit["ci_low"] == fit["ci_high"] == 1.0
    assert fit["growth_mib"] == 5.5
    assert fit["verdict"] == "leak"


def test_growth_exactly_at_the_floor_is_a_leak():
    # 2 MiB/h over exactly 2 h: growth 4 MiB = min_growth_mib ("at least")
    fit = fit_leak(line(1, 9, 0.25, 2.0)).iloc[0]
    assert fit["growth_mib"] == 4.0 and fit["span_h"] == 2.0
    assert fit["verdict"] == "leak"
    assert fit_leak(line(1, 9, 0.25, 2.0), min_growth_mib=4.5).iloc[0]["verdict"] == "inconclusive"


def test_an_interval_ending_exactly_at_the_floor_is_not_no_leak():
    # 1 MiB/h over 2.75 h: too little growth for a leak, and the interval [1, 1] does not lie
    # below the floor of 1: inconclusive
    fit = fit_leak(line(1, 12, 0.25, 1.0)).iloc[0]
    assert fit["ci_high"] == 1.0 and fit["growth_mib"] == 2.75
    assert fit["verdict"] == "inconclusive"
    flat = fit_leak(line(1, 12, 0.25, 0.0)).iloc[0]
    assert flat["ci_high"] == 0.0 and flat["verdict"] == "no leak"


def test_a_leak_slower_than_one_mib_per_hour_with_a_lower_floor():
    # 0.5 MiB/h, floor 0.2: the interval [0.5, 0.5] is above 0 (not above 1) -> leak; from
    # 100 MiB to a 101 MiB limit at 0.05 MiB a request (10 requests/h): 20 requests
    fits = fit_leak(line(1, 12, 0.5, 0.5), min_mib_per_hour=0.2, min_growth_mib=0.5,
                    limit_bytes=101.0 * MIB, requests_per_hour=10.0)  # fmt: skip
    fit = fits.iloc[0]
    assert fit["ci_low"] == 0.5 and fit["verdict"] == "leak"
    assert fit["max_requests_for_limit"] == 20.0  # 1 MiB / (0.05 MiB per request)


def test_fewer_than_six_samples_are_inconclusive_six_are_enough():
    # 5 hourly samples rising 10 MiB/h: S = 10, Var S = 5*4*15/18, p = 0.027 and every pairwise
    # slope is 10, yet five samples are too few; six (p = 0.0085) make a leak
    five = fit_leak(line(1, 5, 1.0, 10.0)).iloc[0]
    assert five["samples"] == 5 and five["p_value"] < 0.05 and five["ci_low"] == 10.0
    assert five["verdict"] == "inconclusive"
    six = fit_leak(line(1, 6, 1.0, 10.0)).iloc[0]
    assert six["samples"] == 6 and six["verdict"] == "leak"


def test_a_process_seen_once():
    memory = pd.concat([line(1, 12, 0.5, 0.0, role="master"),
                        proc(2, [1.0], 321.0, role="worker")])  # fmt: skip
    fit = only(fit_leak(memory), pid=2)
    assert fit["role"] == "worker" and fit["samples"] == 1
    assert np.isnan(fit["p_value"]) and fit["verdict"] == "inconclusive"
    assert fit["level_mib"] == 321.0  # its one sample
    assert fit["warmup_end"] == T0 + pd.Timedelta(hours=1)


def test_one_step_in_rss_is_not_a_leak():
    """9 hourly samples at 100 MiB then 9 at 130: 72 of the 153 pairwise slopes are 0, enough to
    hold Sen's lower bound at exactly 0 (scipy agrees) although the trend test is significant."""
    t = np.arange(18.0)
    y = np.where(t < 9, 100.0, 130.0)
    reference = stats.theilslopes(y, t, 0.95)
    assert reference.low_slope == 0.0 and reference.slope > 1.0
    fit = fit_leak(proc(1, t, y)).iloc[0]
    assert fit["ci_low"] == 0.0 and fit["p_value"] < 0.01  # S = 81, z = 80 / sqrt(697)
    assert fit["slope_mib_per_hour"] * fit["span_h"] > 4.0
    assert fit["verdict"] == "inconclusive"


def _textbook_p(y: np.ndarray) -> float:
    n = len(y)
    s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    z = (abs(s) - 1) / math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    return math.erfc(z / math.sqrt(2))


def test_holm_adjustment_across_processes_at_the_default_alpha():
    """A rise with one swapped pair (S = 13 of 15, p = 0.024) is a leak alone; beside three flat
    processes Holm multiplies its p by 4 (0.098 >= 0.05): inconclusive."""
    t = np.arange(6.0)
    y = 100 + 10 * np.array([0, 1, 2, 3, 5, 4.0])
    p = _textbook_p(y)
    assert 0.0125 < p < 0.05
    alone = fit_leak(proc(1, t, y)).iloc[0]
    assert alone["p_value"] == pytest.approx(p, rel=1e-9)
    assert alone["ci_low"] > 0 and alone["verdict"] == "leak"
    flats = [proc(pid, t, 50.0 + pid) for pid in (2, 3, 4)]
    fits = fit_leak(pd.concat([proc(1, t, y), *flats]))
    one = only(fits, pid=1)
    assert one["p_adjusted"] == pytest.approx(4 * p, rel=1e-9)
    assert one["verdict"] == "inconclusive"
    assert (fits["verdict"] == "no leak").sum() == 3


def test_the_interval_uses_the_confidence_asked_for():
    rng = np.random.default_rng(5)
    t = np.arange(15) / 4
    y = 200 + 8 * t + rng.normal(0, 2, 15)
    for confidence in (0.5, 0.8):
        fit = fit_leak(proc(1, t, y), confidence=confidence).iloc[0]
        # RSS is stored in whole bytes: compare with scipy on the same rounded values
        reference = stats.theilslopes(np.floor(y * MIB) / MIB, t, confidence)
        assert (fit["ci_low"], fit["ci_high"]) == pytest.approx(
            (reference.low_slope, reference.high_slope), rel=1e-9
        )


# --- levels, limits and per-request figures, from exact lines ---


def test_limits_levels_and_requests_on_exact_lines():
    """60 MiB/h from 100 MiB every quarter hour: pid 1 (15 samples) ends at 310 MiB, pid 3 (30
    samples) at 535; pid 2 is flat at 150. Limit 600.25 MiB, 1000 requests/h per worker (0.06
    MiB a request). The headroom for requests counts from the level of the first tenth of the
    samples (at least one): 100 MiB for pid 1, median(100, 115, 130) = 115 for pid 3."""
    memory = pd.concat([line(1, 15, 0.25, 60.0), line(2, 15, 0.25, 0.0, base=150.0),
                        line(3, 30, 0.25, 60.0)])  # fmt: skip
    fits = fit_leak(memory, limit_bytes=600.25 * MIB, requests_per_hour=1000.0)
    assert fits["pid"].tolist() == [1, 2, 3]
    assert fits["limit_mib"].tolist() == [600.25] * 3
    one, flat, three = (fits.iloc[i] for i in range(3))
    assert one["verdict"] == three["verdict"] == "leak" and flat["verdict"] == "no leak"
    assert one["level_mib"] == pytest.approx(310.0, abs=1e-9)
    assert one["time_to_limit_h"] == pytest.approx((600.25 - 310) / 60, rel=1e-9)
    assert three["level_mib"] == pytest.approx(535.0, abs=1e-9)
    assert three["samples"] == 30 and three["warmup_end"] == T0
    assert one["growth_per_request_kib"] == pytest.approx(60 / 1000 * 1024, rel=1e-12)
    assert flat["growth_per_request_kib"] == 0.0
    assert one["max_requests_for_limit"] == 8337  # (600.25 - 100) / 0.06 = 8337.5
    assert three["max_requests_for_limit"] == 8087  # (600.25 - 115) / 0.06 = 8087.5
    assert np.isnan(flat["max_requests_for_limit"])  # no leak: no request budget
    assert np.isnan(flat["time_to_limit_h"])


def test_a_process_that_starts_late_grows_over_its_own_span():
    # pid 2 starts 1 h in and rises 12 MiB/h for 2 h: growth 24 MiB over a 2 h span
    memory = pd.concat([line(1, 13, 0.25, 0.0), line(2, 9, 0.25, 12.0, start_h=1.0)])
    late = only(fit_leak(memory), pid=2)
    assert late["span_h"] == 2.0 and late["growth_mib"] == pytest.approx(24.0, rel=1e-12)
    assert late["warmup_end"] == T0 + pd.Timedelta(hours=1)


def test_rows_columns_and_integer_pids():
    """Rows come sorted by pid; ``verdict`` follows ``role``; process pids stay integers
    beside the pooled and container rows (which have none); no role column gives role ''."""
    workers = [line(pid, 16, 1 / 16, 16.0, start_h=i) for i, pid in enumerate((30, 20, 10))]
    memory = pd.concat([line(5, 48, 1 / 16, 0.0, role="master"), *workers])
    fits = fit_leak(memory, container_limit_bytes=4096 * MIB)
    assert list(fits.columns[:3]) == ["pid", "role", "verdict"]
    assert fits["role"].tolist() == ["master", "worker", "worker", "worker",
                                     "workers (pooled)", "container"]  # fmt: skip
    pids = fits["pid"].tolist()
    assert pids[:4] == [5, 10, 20, 30]
    assert pd.isna(pids[4]) and pd.isna(pids[5])
    # with the pooled row alone, and with the container row alone (worker 10 only: no turnover)
    pooled = fit_leak(memory)
    box = fit_leak(memory[memory["pid"].isin([5, 10])], container_limit_bytes=4096 * MIB)
    assert box["role"].tolist() == ["master", "worker", "container"]
    for table, n in ((fits, 4), (pooled, 4), (box, 2)):
        assert all(isinstance(p, (int, np.integer)) for p in table["pid"][:n])  # not 5.0
    assert pd.isna(fits.iloc[4]["warmup_end"])  # pooled: no one warm-up
    plain = fit_leak(memory.drop(columns="role"))
    assert plain["role"].tolist() == [""] * 4 and len(plain) == 4


def test_a_missing_value_elsewhere_drops_no_sample():
    memory = line(1, 12, 0.5, 1.0).assign(cmd=["gunicorn", None] * 6)
    assert fit_leak(memory).iloc[0]["samples"] == 12


def test_long_series_are_thinned_to_max_points_keeping_both_ends():
    n = MAX_POINTS + 500
    fit = fit_leak(line(1, n, 1 / 16, 2.0)).iloc[0]
    assert fit["samples"] == MAX_POINTS
    assert fit["span_h"] == (n - 1) / 16  # the first and the last sample are kept
    assert fit["warmup_end"] == T0
    assert fit["slope_mib_per_hour"] == 2.0 and fit["verdict"] == "leak"


def test_a_warmup_through_the_whole_first_half_starts_the_fit_at_the_midpoint():
    # 41 samples every 1/16 h: the first 20 climb from 100 to 195, then a flat 200 +- 0.1;
    # no cut up to 40 % finds the line, so the fit keeps the second half, midpoint included
    k = np.arange(41)
    y = np.where(k < 20, 100 + 5.0 * k, 200 + np.where(k % 2, 0.1, -0.1))
    fit = fit_leak(proc(1, k / 16, y)).iloc[0]
    assert fit["warmup_end"] == T0 + pd.Timedelta(hours=20 / 16)
    assert fit["samples"] == 21


# --- pooled workers ---


@pytest.mark.parametrize(("n", "level"), [(15, 114.0), (30, 128.0)])
def test_pooled_workers_level_span_and_growth(n, level):
    """Three workers one after another, each `n` samples every 1/16 h rising 1 MiB a sample
    (16 MiB/h) from 100 MiB. Pooled: slope 16, span the median life (n-1)/16 h, growth n-1 MiB,
    and the level the median over workers of their last tenth's median (at least one sample):
    114 for 15 samples, median(127, 128, 129) = 128 for 30."""
    memory = pd.concat([line(10 + i, n, 1 / 16, 16.0, start_h=i * n / 16) for i in range(3)])
    fits = fit_leak(memory)
    pooled = only(fits, role="workers (pooled)")
    assert pooled["samples"] == 3 * n
    assert pooled["slope_mib_per_hour"] == 16.0
    assert pooled["span_h"] == (n - 1) / 16
    assert pooled["growth_mib"] == pytest.approx(n - 1, rel=1e-12)
    assert pooled["level_mib"] == level
    assert pd.isna(pooled["warmup_end"])


def test_which_workers_get_a_pooled_row():
    seq = pd.concat([line(10, 40, 1 / 16, 0.0), line(11, 40, 1 / 16, 0.0, start_h=2.5)])
    assert "workers (pooled)" in fit_leak(seq)["role"].tolist()  # two in turn: recycled
    assert "workers (pooled)" not in fit_leak(seq, pool_workers=False)["role"].tolist()
    both = pd.concat([line(10, 40, 1 / 16, 0.0), line(11, 40, 1 / 16, 0.0)])
    assert len(fit_leak(both)) == 2  # always two at once: none recycled
    assert len(fit_leak(line(10, 40, 1 / 16, 0.0))) == 1  # a single worker
    master = line(1, 40, 1 / 16, 0.0, role="master")
    assert fit_leak(master)["role"].tolist() == ["master"]  # no workers at all


def test_a_worker_replaced_a_second_after_its_predecessor_is_recycling():
    # sampled every second for 100 s: worker 10 from 0 to 50 s, worker 11 from 51 s on
    secs = np.arange(101)
    memory = pd.concat([proc(10, secs[secs <= 50] / 3600, 300.0),
                        proc(11, secs[secs > 50] / 3600, 300.0)])  # fmt: skip
    assert fit_leak(memory)["role"].tolist() == ["worker", "worker", "workers (pooled)"]


# --- the container row ---


def test_the_container_needs_two_sampling_rounds():
    two = pd.concat([proc(1, [0.0, 0.25], 40.0, role="master"), proc(2, [0.0, 0.25], 300.0)])
    fits = fit_leak(two, container_limit_bytes=1024 * MIB)
    box = only(fits, role="container")
    assert box["samples"] == 2 and box["verdict"] == "inconclusive"
    assert box["level_mib"] == 340.0 and box["worst_case_mib"] == 340.0
    assert box["limit_mib"] == 1024.0


def test_one_sampling_round_gives_no_container_figures():
    once = pd.concat([proc(1, [0.0], 40.0, role="master"), proc(2, [0.0], 300.0)])
    fits = fit_leak(once, container_limit_bytes=1024 * MIB)
    assert fits["role"].tolist() == ["master", "worker"]
    assert not {"worst_case_mib", "limit_mib", "container_time_to_limit_h"} & set(fits.columns)


def test_staggered_sampling_sums_each_round():
    # every 5 min for 2 h; the master is sampled 2 min after the worker in each round
    rounds = np.arange(24) * 5 / 60
    memory = pd.concat([proc(1, rounds + 2 / 60, 40.0, role="master"), proc(2, rounds, 300.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated pandas spellings either
        fits = fit_leak(memory, container_limit_bytes=1024 * MIB)
    box = only(fits, role="container")
    assert box["samples"] == 24 and box["level_mib"] == 340.0
    assert box["slope_mib_per_hour"] == 0.0 and box["verdict"] == "no leak"
    assert box["span_h"] == pytest.approx(23 * 5 / 60, rel=1e-12)


@pytest.mark.parametrize("twice", [False, True], ids=["once", "rows-written-twice"])
def test_processes_seen_once_each_are_summed_by_the_minute(twice):
    """Ten short-lived processes, one a minute, each sampled once (no interval to learn from):
    one-minute rounds, ten container samples over 9 minutes."""
    memory = pd.concat([proc(pid, [pid / 60], 100.0 + pid) for pid in range(10)])
    if twice:
        memory = pd.concat([memory, memory])
    box = only(fit_leak(memory, container_limit_bytes=1024 * MIB), role="container")
    assert box["samples"] == 10
    assert box["span_h"] == pytest.approx(9 / 60, rel=1e-12)
    assert box["slope_mib_per_hour"] == pytest.approx(60.0, rel=1e-9)  # 1 MiB a minute


def test_rows_written_twice_keep_the_sampling_interval():
    rounds = np.arange(12) * 5 / 60
    memory = pd.concat([proc(1, rounds, 40.0, role="master"), proc(2, rounds, 300.0)])
    doubled = pd.concat([memory, memory])
    box = only(fit_leak(doubled, container_limit_bytes=1024 * MIB), role="container")
    assert box["samples"] == 12 and box["level_mib"] == 340.0
    assert sampling_interval(doubled) == pd.Timedelta(minutes=5)
    assert sampling_interval(doubled[doubled["pid"] == 1].iloc[[0, 12]]) == pd.Timedelta(seconds=1)


# --- helpers keyed by another column than pid ---


def test_a_key_other_than_pid():
    """Processes keyed by `name` (no pid column), sampled every 1/16 h for 2 h: two workers at
    once, 300 MiB at most, one of them replaced after 1 h, and a 40 MiB master."""
    frames = [
        line(0, 33, 1 / 16, 0.0, base=40.0, role="master"),
        line(0, 33, 1 / 16, 0.0, base=300.0),
        line(0, 17, 1 / 16, 0.0, base=250.0),
        line(0, 16, 1 / 16, 0.0, base=260.0, start_h=17 / 16),
    ]
    names = ["master", "w1", "w2a", "w2b"]  # fmt: skip
    memory = pd.concat(
        [f.drop(columns="pid").assign(name=n) for f, n in zip(frames, names, strict=True)]
    )
    workers = memory[memory["role"] == "worker"]
    assert workers_at_once(workers, by="name") == 2.0
    assert workers_at_once(workers.iloc[0:0], by="name") == 0.0
    assert recycled_workers(memory, by="name") == 1
    fits = fit_leak(memory, by="name", container_limit_bytes=4096 * MIB)
    assert only(fits, role="container")["worst_case_mib"] == 40 + 2 * 300


def test_sen_refuses_unpaired_series():
    t = np.arange(5.0)
    with pytest.raises(ValueError, match="zip"):
        sen([t, t], [t])
