"""In-flight concurrency and throughput from access logs and from Locust step loads."""

from __future__ import annotations

import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from perfkit import fit_usl, read_access_log
from perfkit.analysis.concurrency import concurrency_from_log, locust_steps
from tests.servers import gunicorn


def requests_frame(end_s: np.ndarray, duration_ms: np.ndarray) -> pd.DataFrame:
    origin = pd.Timestamp("2026-11-02 09:00", tz="Europe/London")
    return pd.DataFrame(
        {"time": origin + pd.to_timedelta(end_s, unit="s"), "duration_ms": duration_ms}
    )


def test_in_flight_area_is_exact_against_brute_force():
    rng = np.random.default_rng(4)
    end = np.sort(rng.uniform(0, 120, 400)) + rng.uniform(0, 1e-3, 400)  # sub-second times
    duration = rng.exponential(3000, 400)  # some requests span several 10 s intervals
    out = concurrency_from_log(requests_frame(end, duration), "10s")
    start = end - duration / 1000
    origin = requests_frame(np.zeros(1), np.zeros(1))["time"].iloc[0]
    assert (out.index.second % 10 == 0).all() and (out.index.microsecond == 0).all()
    for row in out.itertuples():
        a = (row.Index - origin).total_seconds()
        b = a + 10
        overlap = np.clip(np.minimum(end, b) - np.maximum(start, a), 0, None).sum()
        assert row.concurrency == pytest.approx(overlap / 10, abs=1e-9)
        assert row.requests == int(((end >= a) & (end < b)).sum())
    assert (out["concurrency"] * 10).sum() == pytest.approx(duration.sum() / 1000)
    assert str(out.index.tz) == "Europe/London"


def test_littles_law_agrees_on_a_stationary_queue():
    rng = np.random.default_rng(9)
    arrivals = np.cumsum(rng.exponential(1 / 20, 12_000))  # 20 req/s for 10 minutes
    duration = rng.exponential(200, arrivals.size)  # 200 ms: 4 in flight on average
    out = concurrency_from_log(requests_frame(arrivals + duration / 1000, duration), "1min")
    full = out.iloc[1:-1]
    assert full["concurrency"].mean() == pytest.approx(4.0, rel=0.05)
    assert np.allclose(full["concurrency"], full["little_concurrency"], rtol=0.05)


def test_real_gunicorn_closed_loop_has_the_clients_in_flight(tmp_path):
    """Six clients, each sending its next request as soon as the last answered, to a
    Gunicorn with eight threads: about six requests are in flight the whole time."""
    log = tmp_path / "access.log"
    fmt = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
    options = ("--workers", "1", "--threads", "8", "--access-logfile", str(log),
               "--access-logformat", fmt)  # fmt: skip
    with gunicorn(*options) as (_, port):
        stop = time.monotonic() + 4.0

        def client():
            while time.monotonic() < stop:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sleep?ms=60") as r:
                    r.read()

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    frame = read_access_log(log, format=fmt, on_bad_lines="error")
    out = concurrency_from_log(frame, "1s")
    assert out.attrs["time_resolution_s"] == 1.0  # Gunicorn's %(t)s: whole seconds
    busy = out.iloc[1:-1]  # whole seconds inside the run
    assert len(busy) >= 2
    # whole-second log times move a request's area between neighbouring seconds, not out
    assert busy["concurrency"].between(4.5, 6.6).all()
    assert busy["concurrency"].mean() == pytest.approx(5.6, abs=0.5)
    assert (out["concurrency"].sum()) == pytest.approx(frame["duration_ms"].sum() / 1000)
    assert np.allclose(busy["concurrency"], busy["little_concurrency"], rtol=0.1)
    assert busy["throughput_per_s"].mean() == pytest.approx(
        busy["concurrency"].mean() / (busy["mean_ms"].mean() / 1000), rel=0.1
    )


def locust_history(steps, seconds_per_step=30, row_every=2.0):
    """A Locust stats_history as Locust writes it: running totals with a running mean."""
    rows, total, mean, t = [], 0, 0.0, 0.0
    for users, rate, ms in steps:
        for _ in range(int(seconds_per_step / row_every)):
            t += row_every
            new = rate * row_every
            mean = (mean * total + ms * new) / (total + new)
            total += new
            rows.append({"time": pd.Timestamp("2026-11-02", tz="UTC") + pd.Timedelta(seconds=t),
                         "name": "Aggregated", "user_count": users, "requests_per_s": rate,
                         "total_request_count": total, "total_mean_ms": mean,
                         "total_failure_count": 0})  # fmt: skip
    return pd.DataFrame(rows)


def test_locust_steps_recover_each_steps_throughput_and_response():
    steps = [(1, 9.5, 105.0), (4, 35.0, 114.0), (16, 90.0, 177.0), (32, 96.0, 333.0)]
    out = locust_steps(locust_history(steps), settle_s=6)
    assert out["users"].tolist() == [1, 4, 16, 32]
    for (_users, rate, ms), row in zip(steps, out.itertuples(), strict=True):
        assert row.throughput_per_s == pytest.approx(rate)
        assert row.mean_ms == pytest.approx(ms)
        assert row.in_flight == pytest.approx(rate * ms / 1000)


def test_usl_fitted_from_a_days_log_recovers_the_planted_law():
    """Ten hours whose load rises and falls; each minute's throughput follows a known USL and
    durations follow from Little's law: the fit on the log alone recovers the law."""
    sigma, kappa, lam = 0.05, 0.0008, 12.0
    rng = np.random.default_rng(21)
    ends, durations = [], []
    for minute in range(600):
        users = 1 + 40 * (0.5 - 0.5 * np.cos(2 * np.pi * minute / 600))
        rate = lam * users / (1 + sigma * (users - 1) + kappa * users * (users - 1))
        count = rng.poisson(rate * 60)
        arrive = minute * 60 + rng.uniform(0, 60, count)
        duration = rng.exponential(users / rate, count)
        ends.append(arrive + duration)
        durations.append(duration * 1000)
    frame = requests_frame(np.concatenate(ends), np.concatenate(durations))
    points = concurrency_from_log(frame, "5min").iloc[1:-1]
    fit = fit_usl(points["concurrency"], points["throughput_per_s"])
    # over five seeds: sigma within 0.001, kappa within 3 %, lambda within 0.5 %
    assert fit.sigma == pytest.approx(sigma, abs=0.004)
    assert fit.kappa == pytest.approx(kappa, rel=0.1)
    assert fit.lambda_ == pytest.approx(lam, rel=0.02)
    assert fit.peak_concurrency == pytest.approx(np.sqrt((1 - sigma) / kappa), rel=0.05)
