"""fit_leak against planted truth: known slopes, warm-up, recycling sawtooths; agreement with scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis.leak import MIB, fit_leak, sen

START = pd.Timestamp("2024-10-10", tz="UTC")


def series(pid, hours, slope_mib_h, noise_mib, seed, start_h=0.0, base_mib=300.0, every_s=60,
           warmup_mib=0.0, role="worker", warmup_h=0.1):  # fmt: skip
    rng = np.random.default_rng(seed)
    t = np.arange(0, hours * 3600, every_s) / 3600
    mib = (
        base_mib
        + slope_mib_h * t
        + warmup_mib * (1 - np.exp(-t / warmup_h))
        + rng.normal(0, noise_mib, len(t))
    )
    return pd.DataFrame({"time": START + pd.to_timedelta((start_h + t) * 3600, unit="s"), "pid": pid,
                         "role": role, "rss_bytes": (mib * MIB).astype("int64")})  # fmt: skip


def test_sen_agrees_with_scipy():
    rng = np.random.default_rng(11)
    t = np.sort(rng.uniform(0, 5, 120))
    y = 2.5 * t + rng.standard_t(3, 120)
    slope, low, high, p, _ = sen([t], [y])
    reference = stats.theilslopes(y, t, 0.95)
    assert (slope, low, high) == pytest.approx(
        (reference.slope, reference.low_slope, reference.high_slope)
    )
    assert p == pytest.approx(stats.kendalltau(t, y).pvalue, rel=0.2)


def test_known_slope_is_recovered_and_covered():
    covered = 0
    for seed in range(100):
        fit = fit_leak(series(1, hours=6, slope_mib_h=5.0, noise_mib=3.0, seed=seed)).iloc[0]
        covered += fit["ci_low"] <= 5.0 <= fit["ci_high"]
        assert fit["verdict"] == "leak"
    assert covered >= 93  # nominal 95 %; sd of the count over 100 seeds is about 2


def test_time_to_limit_and_max_requests():
    frame = series(7, hours=6, slope_mib_h=10.0, noise_mib=1.0, seed=3)
    fit = fit_leak(frame, limit_bytes=400 * MIB, requests_per_hour=3600).iloc[0]
    # level at the end is about 300 + 60 = 360 MiB: 40 MiB of headroom at 10 MiB/h
    assert fit["time_to_limit_h"] == pytest.approx(4.0, rel=0.1)
    assert fit["ttl_low_h"] <= fit["time_to_limit_h"] <= fit["ttl_high_h"]
    assert fit["growth_per_request_kib"] == pytest.approx(10 * 1024 / 3600, rel=0.05)
    # from a ~300 MiB start, 100 MiB of headroom at ~2.8 KiB per request
    assert fit["max_requests_for_limit"] == pytest.approx(100 * 1024 / (10 * 1024 / 3600), rel=0.1)


def test_warm_up_plateau_is_not_a_leak():
    for seed in range(10):
        frame = series(2, hours=5, slope_mib_h=0.0, noise_mib=1.0, seed=seed, warmup_mib=120.0)
        fit = fit_leak(frame).iloc[0]
        assert fit["verdict"] == "no leak", fit
        assert fit["warmup_end"] > START


def recycled(slope_mib_h, seed, generations=10, life_h=0.5):
    parts = [series(100 + g, hours=life_h, slope_mib_h=slope_mib_h, noise_mib=1.0, seed=seed * 100 + g,
                    start_h=g * life_h, base_mib=80.0, every_s=30, warmup_mib=8.0, warmup_h=0.01)
             for g in range(generations)]  # fmt: skip
    master = series(1, hours=generations * life_h, slope_mib_h=0.0, noise_mib=0.3, seed=seed, role="master",
                    base_mib=40.0)  # fmt: skip
    return pd.concat([master, *parts], ignore_index=True)


def test_sawtooth_without_leak():
    for seed in range(5):
        fits = fit_leak(recycled(0.0, seed)).set_index("role")
        pooled = fits.loc["workers (pooled)"]
        assert pooled["verdict"] != "leak", pooled  # no leak reported on a control
        assert abs(pooled["slope_mib_per_hour"]) < 1.0
        assert fits.loc["master", "verdict"] == "no leak"
        # the whole memory series drops at every recycle: a naive fit of all workers would not see growth
        assert (fits.loc["worker", "verdict"] != "leak").all()


def test_sawtooth_with_leak_is_found_pooled():
    for seed in range(5):
        pooled = fit_leak(recycled(20.0, seed)).set_index("role").loc["workers (pooled)"]
        assert pooled["verdict"] == "leak"
        assert pooled["ci_low"] <= 20.5 and pooled["ci_high"] >= 20.0  # within 2.5 % of the truth
        assert pooled["slope_mib_per_hour"] == pytest.approx(20.0, rel=0.1)


def test_container_total_and_time_to_its_limit():
    workers = [series(10 + w, hours=6, slope_mib_h=5.0, noise_mib=1.0, seed=w) for w in range(4)]
    master = series(1, hours=6, slope_mib_h=0.0, noise_mib=0.3, seed=9, role="master", base_mib=40)
    frame = pd.concat([master, *workers], ignore_index=True)
    fits = fit_leak(frame, container_limit_bytes=2048 * MIB).set_index("role")
    box = fits.loc["container"]
    assert box["verdict"] == "leak"
    assert box["slope_mib_per_hour"] == pytest.approx(20.0, rel=0.05)  # four workers x 5 MiB/h
    # at the end: 40 + 4 x (300 + 30) = 1,360 MiB; 688 MiB of headroom at 20 MiB/h = 34.4 h
    assert box["container_time_to_limit_h"] == pytest.approx(34.4, rel=0.05)
    assert box["container_ttl_low_h"] <= 34.4 <= box["container_ttl_high_h"]
    assert box["worst_case_mib"] == pytest.approx(40 + 4 * 330, abs=12)  # max sample: noise on top


def test_recycled_workers_do_not_fill_the_container():
    fits = fit_leak(recycled(0.0, 3), container_limit_bytes=1024 * MIB).set_index("role")
    assert fits.loc["container", "verdict"] != "leak"


def test_a_short_run_with_a_small_steep_rise_is_not_called_a_leak():
    # two minutes of a fresh worker filling caches: 12 MiB/h is only 0.4 MiB in all
    frame = series(5, hours=2 / 60, slope_mib_h=12.0, noise_mib=0.02, seed=1, every_s=1)
    fit = fit_leak(frame).iloc[0]
    assert fit["p_value"] < 1e-6 and fit["ci_low"] > 1  # steep and significant...
    assert fit["growth_mib"] == pytest.approx(0.4, abs=0.05)
    assert fit["verdict"] == "inconclusive"  # ...but under the 4 MiB growth floor
    longer = fit_leak(series(5, hours=1, slope_mib_h=12.0, noise_mib=0.5, seed=1)).iloc[0]
    assert longer["verdict"] == "leak"  # the same slope for an hour: 12 MiB
