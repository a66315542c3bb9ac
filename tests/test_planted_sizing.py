"""Planted-bug tests for Gunicorn sizing (issue 16): the branch where requests per minute,
not the concurrent users, set the load (the brief's defaults never take it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfkit.analysis.capacity import USLFit, erlang_c, response_quantile, size_workers
from perfkit.analysis.sizing import recommend_gunicorn
from perfkit.errors import InputError
from perfkit.targets import BRIEF


def test_requests_per_minute_dominate_the_load():
    # 6,000 requests/minute = 100 req/s; 10 users thinking 10 s send under 1 req/s
    targets = BRIEF.with_(requests_per_minute=6000.0, concurrent_users=10)
    service = 0.020
    plan = recommend_gunicorn(service_time_s=service, cores=4, cpu_share=0.5, targets=targets)
    assert plan.arrival_rate_per_s == pytest.approx(100.0)
    needed = size_workers(100.0, service, target_wait=targets.api_ms / 1000 - service).servers
    assert plan.slots >= needed >= 3  # 100 req/s x 20 ms = 2 busy slots on average
    assert plan.utilisation == pytest.approx(100.0 * service / plan.slots)
    assert plan.response_s == pytest.approx(erlang_c(100.0, service, plan.slots).mean_response)
    assert plan.cpu_cores_needed == pytest.approx(100.0 * service * 0.5)


def test_users_dominate_when_they_send_more():
    """The other branch, for contrast: 100 users thinking 10 s send 9.98 req/s > 500/min."""
    plan = recommend_gunicorn(service_time_s=0.020, cores=2, cpu_share=0.5)
    assert plan.arrival_rate_per_s == pytest.approx(100 / 10.02)


def _mean_response(rate: float, service: float, servers: int) -> float:
    """M/M/c mean response (s), infinite when the queue is unstable."""
    return erlang_c(rate, service, servers).mean_response if rate * service < servers else np.inf


def _usl(sigma: float, kappa: float, lam: float) -> USLFit:
    return USLFit(sigma, kappa, lam, 0, 0, 0, 0, 1)


def test_defaults_target_the_api_mean_with_all_service_time_on_the_cpu():
    plan = recommend_gunicorn(service_time_s=0.050, cores=2)
    assert plan.target_s == BRIEF.api_ms / 1000 == 0.2
    assert plan.quantile is None and plan.usl_throughput_per_s is None
    assert plan.usl_peak_concurrency is None
    assert plan.cpu_cores_needed == pytest.approx(plan.arrival_rate_per_s * 0.050)


def test_mean_sizing_takes_the_fewest_slots_that_meet_the_target():
    """100 req/s of 100 ms on 8 cores: the queue, not the cores, sets the slots; one fewer
    misses the 200 ms mean (Erlang C on either side of the answer)."""
    targets = BRIEF.with_(requests_per_minute=6000.0, concurrent_users=10)
    plan = recommend_gunicorn(service_time_s=0.100, cores=8, cpu_share=0.1, targets=targets)
    assert plan.threads == 1 and plan.workers == plan.slots > 10  # 10 busy on average
    assert _mean_response(100.0, 0.100, plan.slots) <= 0.2
    assert _mean_response(100.0, 0.100, plan.slots - 1) > 0.2
    assert plan.meets_targets and plan.notes == []


def test_one_worker_per_core_at_least():
    plan = recommend_gunicorn(service_time_s=0.020, cores=4, cpu_share=0.5)
    assert (plan.workers, plan.threads) == (4, 1)


def test_quantile_sizing_plan():
    """p95 under 400 ms at 100 req/s of 50 ms: the p95 of M/M/c with the plan's slots, checked
    by simulating the queue, meets it."""
    from tests.test_sizing import simulate_mmc

    targets = BRIEF.with_(requests_per_minute=6000.0, concurrent_users=10)
    plan = recommend_gunicorn(service_time_s=0.050, cores=8, cpu_share=0.1, targets=targets,
                              target_s=0.4, quantile=0.95)  # fmt: skip
    assert plan.quantile == 0.95 and plan.target_s == 0.4
    assert plan.response_s == pytest.approx(
        response_quantile(erlang_c(100.0, 0.050, plan.slots), 0.95))  # fmt: skip
    assert plan.response_s <= 0.4 and plan.meets_targets
    assert np.percentile(simulate_mmc(100.0, 0.050, plan.slots, n=60_000), 95) <= 0.4 * 1.05


def test_a_request_whose_p95_alone_is_too_slow_is_an_error_naming_the_quantile():
    # exponential service of mean 100 ms: p95 alone is -ln(0.05) x 100 = 300 ms > 250 ms,
    # although the mean (100 ms) is well under it
    with pytest.raises(InputError, match=r"takes 300 ms \(p95"):
        recommend_gunicorn(service_time_s=0.100, cores=4, target_s=0.25, quantile=0.95)


def test_usl_that_carries_the_load_with_the_ideal_slots_adds_no_note():
    """X(N) = 5.5 N (no contention): 2 in flight carry the 9.9 req/s, as the ideal queue needs."""
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35, usl=_usl(0, 0, 5.5))
    assert plan.slots == 2 and plan.notes == [] and plan.meets_targets
    assert plan.usl_peak_concurrency == float("inf")
    assert plan.usl_throughput_per_s == pytest.approx(11.0)
    # a light load one request in flight carries: still no note
    light = BRIEF.with_(requests_per_minute=60.0, concurrent_users=1)
    plan = recommend_gunicorn(service_time_s=0.120, cores=1, targets=light, usl=_usl(0, 0, 5.0))
    assert plan.notes == []


def test_usl_peak_below_the_load_fails_the_plan():
    weak = _usl(0.3, 0.02, 4.0)
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35, usl=weak)
    assert plan.meets_targets is False
    assert plan.usl_peak_concurrency == pytest.approx(weak.peak_concurrency)


def test_threads_that_wait_on_io_are_not_a_gil_problem():
    """A slow I/O-bound dashboard on one core: threads make up the slots, 10 % CPU each."""
    plan = recommend_gunicorn(service_time_s=0.400, cores=1, cpu_share=0.1, target_s=0.5)
    assert plan.threads >= 2
    assert not any(n.startswith("GIL") for n in plan.notes)
    # a CPU-bound one (60 %) whose tight target (waits under 0.1 ms) needs 4+ slots on 1 core
    busy = recommend_gunicorn(service_time_s=0.100, cores=1, cpu_share=0.6, target_s=0.1001)
    assert busy.threads >= 2 and any(n.startswith("GIL") for n in busy.notes)


def test_the_error_says_what_is_too_slow_in_numbers():
    with pytest.raises(InputError) as p95:
        recommend_gunicorn(service_time_s=0.100, cores=4, target_s=0.25, quantile=0.95)
    assert str(p95.value) == (
        "a request alone takes 300 ms (p95, service time 100 ms), over the 250 ms target: "
        "no worker count can fix that; make the request faster first"
    )
    # as long as the target is too slow too: the queue adds to it
    with pytest.raises(InputError, match=r"^a request alone takes 200 ms \(mean, service time "
                                         r"200 ms\), over the 200 ms target"):  # fmt: skip
        recommend_gunicorn(service_time_s=0.200, cores=4)


def test_never_a_single_worker():
    plan = recommend_gunicorn(service_time_s=0.020, cores=1, cpu_share=0.1)
    assert (plan.workers, plan.threads) == (2, 1)


def test_usl_notes_say_how_many_in_flight():
    """X(N) = 8 N / (1 + 0.1 (N - 1) + 0.2 N (N - 1)) peaks at N = sqrt(0.9 / 0.2) = 2.12:
    2 in flight carry 9.9 req/s, but 3 cores mean 3 workers, past the peak."""
    usl = _usl(0.1, 0.2, 8.0)
    plan = recommend_gunicorn(service_time_s=0.120, cores=3, cpu_share=0.35, usl=usl)
    assert plan.slots == 3
    assert plan.notes == [
        "USL: 3 slots exceed the peak concurrency 2; past it throughput falls, so queueing in "
        "Gunicorn's backlog beats more threads"
    ]
    assert plan.usl_throughput_per_s == pytest.approx(usl.predict(usl.peak_concurrency))
    # contention: 3 must be in flight where the ideal queue needs 2 (X(2) = 7.3, X(3) = 9.95)
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35,
                              usl=_usl(0.1, 0.001, 4.0))  # fmt: skip
    assert plan.notes[0] == (
        f"USL: measured contention means 3 requests must be in flight to carry "
        f"{plan.arrival_rate_per_s:.1f} req/s, more than the 2 an ideal queue needs"
    )


def test_usl_carrying_the_rate_exactly_is_enough():
    """600 requests/minute = 10 req/s; X(2) = 2 x 5 = 10 req/s exactly: 2 in flight suffice."""
    targets = BRIEF.with_(requests_per_minute=600.0, concurrent_users=10)
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35, targets=targets,
                              usl=_usl(0, 0, 5.0))  # fmt: skip
    assert plan.arrival_rate_per_s == 10.0
    assert plan.slots == 2 and plan.notes == []


def test_cpu_limits_at_their_boundaries():
    targets = BRIEF.with_(requests_per_minute=6000.0, concurrent_users=10)
    # 100 req/s x 10 ms x 70 % = 0.7 cores: exactly the headroom of one core, allowed
    at = recommend_gunicorn(service_time_s=0.010, cores=1, cpu_share=0.7, targets=targets)
    assert at.cpu_cores_needed == pytest.approx(0.7) and at.meets_targets
    assert not any(n.startswith("CPU") for n in at.notes)
    over = recommend_gunicorn(service_time_s=0.010, cores=1, cpu_share=0.8, targets=targets)
    assert over.meets_targets is False and over.notes[0].startswith("CPU: the load needs 0.80")
    # two threads at 50 % CPU each make one core's worth: no GIL contention yet
    half = recommend_gunicorn(service_time_s=0.100, cores=1, cpu_share=0.5, target_s=0.1001)
    assert half.threads == 2 and half.notes == []


# --- tests written to kill surviving mutants (issue 16); see tools/mutate.py -------------------


def test_the_error_rounds_each_figure_to_the_millisecond():
    # 900 ms alone against an 850 ms target: every figure printed in whole milliseconds
    with pytest.raises(InputError, match=r"^a request alone takes 900 ms \(mean, service time "
                                         r"900 ms\), over the 850 ms target"):  # fmt: skip
        recommend_gunicorn(service_time_s=0.9, cores=4, target_s=0.85)


def test_the_gil_note_names_the_threads_the_share_and_the_remedy():
    busy = recommend_gunicorn(service_time_s=0.100, cores=1, cpu_share=0.6, target_s=0.1001)
    (note,) = [n for n in busy.notes if n.startswith("GIL")]
    assert f"GIL: {busy.threads} threads per worker at 60% CPU each" in note
    assert "one interpreter lock" in note and "prefer more workers" in note


def test_slots_exactly_at_the_usl_peak_are_not_past_it():
    """X(N) = 10 N / (1 + 0.25 N (N - 1)) peaks at N = sqrt(1 / 0.25) = 2, where the plan's
    two workers (never fewer) sit: no note, the plan carries X(2) = 13.3 req/s."""
    usl = _usl(0.0, 0.25, 10.0)
    assert usl.peak_concurrency == 2.0
    plan = recommend_gunicorn(service_time_s=0.050, cores=1, cpu_share=0.1, usl=usl)
    assert plan.slots == 2 and plan.notes == [] and plan.meets_targets
    assert plan.usl_throughput_per_s == pytest.approx(20 / 1.5)


def _erlang_c_wait(rate: float, service: float, servers: int) -> float:
    """Mean wait in an M/M/c queue, by the textbook formula (Erlang C)."""
    a = rate * service
    top = a**servers / math.factorial(servers) * servers / (servers - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return p_wait * service / (servers - a)


def _log(t0, seconds, routes, durations, **extra):
    import pandas as pd

    frame = pd.DataFrame({"time": [t0 + pd.Timedelta(seconds=s) for s in seconds],
                          "duration_ms": durations, **extra})  # fmt: skip
    if routes is not None:
        frame["route"] = routes
    return frame


def test_check_queue_on_a_planted_log():
    """Four timed requests over 2 s (2 req/s): /a 10, 20, 30 ms (mean 20, variance 100, so
    C2 = 0.25), /b one request of 100 ms (no variance). The mix: mean 40 ms, E[S^2] = 0.75 x
    500 + 0.25 x 10,000 = 2,875, C2 = 2875 / 1600 - 1 = 0.796875. One server: M/M/1 waits
    0.08 x 40 / 0.92 = 3.478 ms; Allen-Cunneen scales that by (1 + C2) / 2 to 3.125 ms.
    A request without a duration, one without a time and a missing status change nothing."""
    import pandas as pd

    from perfkit.analysis.sizing import check_queue

    t0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")
    log = _log(t0, [0, 0.5, 1.0, 2.0, 1.5, 1.2], ["/a", "/b", "/a", "/a", "/b", "/a"],
               [10.0, 100.0, 20.0, 30.0, np.nan, 5.0], status=[200, None, 200, 200, 200, 200])  # fmt: skip
    log.loc[5, "time"] = pd.NaT
    check = check_queue(log, servers=1)
    assert check.arrival_rate_per_s == 2.0 and check.servers == 1
    assert check.service_ms == pytest.approx(40.0)
    assert check.service_scv == pytest.approx(0.796875)
    assert check.routes.index.tolist() == ["/a", "/b"]
    assert check.routes["requests"].tolist() == [3, 1]
    assert check.routes["share"].tolist() == [0.75, 0.25]
    assert check.routes["mean_ms"].tolist() == pytest.approx([20.0, 100.0])
    assert check.routes["scv"].tolist() == pytest.approx([0.25, 0.0])
    wait = 0.08 * 40 / 0.92
    assert _erlang_c_wait(2.0, 0.040, 1) * 1000 == pytest.approx(wait)
    assert check.erlang_c_ms == pytest.approx(40 + wait, rel=1e-9)
    assert check.per_route_ms == pytest.approx(43.125, rel=1e-9)
    assert check.measured_ms == pytest.approx(40.0)
    assert check.measured_source.startswith("the access log's")
    clients = check_queue(log, servers=2, client_mean_ms=45.0)
    assert clients.measured_ms == 45.0 and clients.measured_source.startswith("the clients'")
    assert clients.erlang_c_ms == pytest.approx(40 + _erlang_c_wait(2.0, 0.040, 2) * 1000)
    assert clients.error["erlang_c"] == pytest.approx(clients.erlang_c_ms / 45.0 - 1)


def test_check_queue_without_routes_takes_the_log_as_one():
    """No route column: one group, 'all', whose C2 is the four durations' sample variance
    (5,000 / 3) over the squared mean (1,600)."""
    import pandas as pd

    from perfkit.analysis.sizing import check_queue

    t0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")
    check = check_queue(_log(t0, [0, 0.5, 1.0, 2.0], None, [10.0, 100.0, 20.0, 30.0]), 1)
    assert check.routes.index.tolist() == ["all"] and check.routes["requests"].tolist() == [4]
    assert check.service_scv == pytest.approx(5000 / 3 / 1600)
    assert check.routes["scv"].tolist() == pytest.approx([5000 / 3 / 1600])


def test_check_queue_needs_two_timed_requests_over_some_time():
    import pandas as pd

    from perfkit.analysis.sizing import check_queue

    t0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")
    with pytest.raises(InputError, match=r"^check_queue needs an access log with 2 or more "
                                         r"timed requests$"):  # fmt: skip
        check_queue(_log(t0, [0, 1], ["/a", "/a"], [5.0, np.nan]), 1)
    with pytest.raises(InputError, match=r"^check_queue: the access log's requests span no time$"):
        check_queue(_log(t0, [1, 1], ["/a", "/a"], [5.0, 6.0]), 1)
    # two requests half a second apart are enough: 4 req/s
    assert check_queue(_log(t0, [0, 0.5], ["/a", "/a"], [5.0, 6.0]), 1).arrival_rate_per_s == 4.0
