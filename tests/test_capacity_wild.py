"""fit_capacity on real step loads recorded here (tests/data/wild/capacity, see its README):
a Flask view under Gunicorn (2 and 4 sync workers, gthread 2 x 4) driven by Locust without
wait, and pgbench TPC-B at scale 1. Fitted on the lower half of the steps, the upper half is
predicted: throughput within 15 %, mean latency within 20 %, inside the 95 % intervals."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfkit
from perfkit.analysis.capacity import fit_capacity, server_concurrency
from perfkit.analysis.capacity.servers import parse_gunicorn_command, parse_gunicorn_log
from perfkit.analysis.concurrency import concurrency_from_log, flag_interference, locust_steps
from perfkit.errors import PerfkitWarning

HERE = Path(__file__).parent / "data" / "wild" / "capacity"
SERVERS = {"sync2": 2, "sync4": 4, "gthread": 8}


def steps_of(name: str) -> pd.DataFrame:
    history = perfkit.read_locust(HERE / name / "locust", table="history")
    steps = locust_steps(history, settle_s=4)
    cpu = pd.read_csv(HERE / name / "cpu.csv") if (HERE / name / "cpu.csv").exists() else None
    return flag_interference(steps, (HERE / name / "locust_warnings.log").read_text(), cpu)


def cap_of(name: str, requests=None):
    command = (HERE / name / "command.txt").read_text().splitlines()[0]
    return server_concurrency(requests, HERE / name / "gunicorn.log", command)


@pytest.mark.parametrize("name", list(SERVERS))
def test_the_server_cap_comes_from_gunicorn_and_the_log_agrees(name):
    requests = perfkit.read_access_log(HERE / name / "access.log.gz")
    cap = cap_of(name, requests)
    assert cap.servers == SERVERS[name], cap
    assert "Gunicorn" in cap.source and f"{cap.max_in_flight:.2f}" in cap.source
    # the server never held more requests than its slots, though Locust had 64 outstanding
    assert cap.max_in_flight <= SERVERS[name] * 1.03
    assert cap.max_in_flight >= SERVERS[name] * 0.9


def test_the_access_log_alone_shows_the_two_worker_cap():
    requests = perfkit.read_access_log(HERE / "sync2" / "access.log.gz")
    cap = server_concurrency(requests, client_max=64)
    assert cap.servers == 2 and cap.source.startswith("access log: at most ")
    assert 1.9 <= cap.max_in_flight <= 2.06 and f"{cap.max_in_flight:.2f}" in cap.source
    assert "so this is the cap" in cap.source
    low = server_concurrency(requests)  # without the client's count: only a lower bound
    assert "lower bound" in low.source
    log = parse_gunicorn_log((HERE / "gthread" / "gunicorn.log").read_text())
    assert log == {"workers": 2, "worker_class": "gthread"}  # the log never names threads
    assert parse_gunicorn_command("gunicorn -w 3 --threads=4 app:app") == {
        "workers": 3, "threads": 4}  # fmt: skip


def held_out(name: str):
    """Fitted on the lower four steps: (fit, upper steps, predicted X, R, interval)."""
    steps = steps_of(name)
    assert list(steps["users"]) == [1, 2, 4, 8, 16, 32, 48, 64]
    low, high = steps.iloc[:4], steps.iloc[4:]
    cap = cap_of(name)
    fit = fit_capacity(low["users"], low["throughput_per_s"], low["mean_ms"] / 1000,
                       servers=cap.servers, servers_source=cap.source,
                       weights=low["weight"])  # fmt: skip
    users = high["users"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)  # 64 users is 8x the fitted 8
        x, r = fit.predict(users), fit.predict_response_time(users)
        interval = fit.predict_interval(users)
    return fit, high, x, r, interval


@pytest.mark.parametrize("name", list(SERVERS))
def test_the_upper_half_lies_inside_the_intervals(name):
    fit, high, _, _, (lo, hi) = held_out(name)
    measured = high["throughput_per_s"].to_numpy()
    assert np.all((lo < measured) & (measured < hi)), (fit, lo, hi, measured)
    assert fit.peak is None  # no retrograde curve from these plateaus


def within(name: str) -> None:
    fit, high, x, r, _ = held_out(name)
    measured_x = high["throughput_per_s"].to_numpy()
    measured_r = high["mean_ms"].to_numpy() / 1000
    # the server's bound c/D holds whichever law's shape won: a plateau, never a peak or a
    # rise past what the slots can serve
    assert fit.model in ("mva", "amdahl") and np.isfinite(fit.plateau)
    assert np.all(np.abs(x / measured_x - 1) < 0.15), (x, measured_x)
    assert np.all(np.abs(r / measured_r - 1) < 0.20), (r, measured_r)


def test_two_sync_workers_upper_half_within_15_and_20_percent():
    within("sync2")


@pytest.mark.parametrize("name", ["sync4", "gthread"])
def test_more_slots_upper_half_within_15_and_20_percent(name):
    within(name)


@pytest.mark.parametrize("name", list(SERVERS))
def test_each_step_is_explained_by_the_servers_own_log(name):
    """Little's law at the server: Locust's throughput = requests the server held / their mean
    duration (access log, per step). Where a step falls below the plateau, the server's own
    service time rose: the machine slowed the server, the load did not."""
    steps = steps_of(name)
    requests = perfkit.read_access_log(HERE / name / "access.log.gz")
    per_s = concurrency_from_log(requests, "1s")["concurrency"]
    for row in steps.itertuples():
        inside = requests[(requests["time"] >= row.start) & (requests["time"] < row.end)]
        held = float(per_s[(per_s.index >= row.start) & (per_s.index < row.end)].mean())
        server_x = held / (inside["duration_ms"].mean() / 1000)
        assert server_x == pytest.approx(row.throughput_per_s, rel=0.06), row.users
        assert held <= SERVERS[name] * 1.03


def test_the_recorded_pgbench_series_lies_inside_the_intervals():
    steps = pd.read_csv(HERE / "pgbench" / "steps.csv")
    n, x = steps["clients"].to_numpy(float), steps["tps"].to_numpy(float)
    assert list(n) == [1, 2, 4, 8, 16, 32, 48, 64]
    fit = fit_capacity(n[:5], x[:5], steps["latency_ms"].to_numpy()[:5] / 1000)
    low, high = fit.predict_interval(n[5:])
    assert np.all((low < x[5:]) & (x[5:] < high)), (fit, low, high, x[5:])
    # pgbench's own latency obeys the response-time law (closed loop, no think time)
    assert steps["latency_ms"].to_numpy() / 1000 == pytest.approx(n / x, rel=0.05)


@pytest.mark.parametrize("name", ["sync2", "sync4"])
def test_the_issues_failure_is_reproduced_by_the_bare_usl_and_avoided(name):
    """Issue 17 on real data: the USL fitted to the lower half reads the plateau's first steps
    as a peak (its kappa "significant" on 1 degree of freedom) and falls far below the
    measured plateau; fit_capacity's choice stays near it."""
    from perfkit.analysis.capacity import fit_usl

    fit, high, x, _, _ = held_out(name)
    measured = high["throughput_per_s"].to_numpy()
    low = steps_of(name).iloc[:4]
    usl = fit_usl(low["users"], low["throughput_per_s"])
    usl_error = np.abs(usl.predict(high["users"].to_numpy()) / measured - 1)
    assert usl_error[-1] > 0.5  # 64 users: more than half the plateau missing
    assert np.mean(np.abs(x / measured - 1)) < 0.5 * np.mean(usl_error)
    assert fit.candidates.loc["usl", "forecasts"] == 0  # 4 steps: the USL cannot be scored


def test_locust_cpu_warnings_down_weight_their_steps():
    history = perfkit.read_locust(HERE / "sync2" / "locust", table="history")
    steps = locust_steps(history, settle_s=4)
    when = steps["start"].iloc[2] + pd.Timedelta(seconds=3)  # inside the 4-user step
    # Locust 2.47's own message (locust/runners.py), as its --logfile writes it
    line = (f"[{when:%Y-%m-%d %H:%M:%S},123] vm/WARNING/locust.runners: CPU usage above 90%! "
            "This may constrain your throughput and may even give inconsistent response time "
            "measurements!")  # fmt: skip
    log = (HERE / "sync2" / "locust_warnings.log").read_text() + line + "\n"
    flagged = flag_interference(steps, log, pd.read_csv(HERE / "sync2" / "cpu.csv"))
    assert list(flagged["weight"]) == [1, 1, 0.25, 1, 1, 1, 1, 1]
    assert "Locust warned its CPU" in flagged["interference"].iloc[2]
    # the shared machine was busy in every step: said, but no step singled out for it
    assert flagged.attrs["machine_saturated_throughout"]
    assert all("the machine was" in why for why in flagged["interference"])
    fit = fit_capacity(flagged["users"], flagged["throughput_per_s"], servers=2,
                       weights=flagged["weight"])  # fmt: skip
    assert fit.model == "mva" and fit.plateau == pytest.approx(24, rel=0.1)
