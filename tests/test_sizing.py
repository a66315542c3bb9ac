"""Gunicorn sizing and the highest sustainable rate, checked by simulating the queue itself."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from perfkit.analysis.capacity import USLFit, max_arrival_rate, size_workers
from perfkit.analysis.sizing import recommend_gunicorn
from perfkit.errors import InputError
from perfkit.targets import BRIEF


def simulate_mmc(rate, service, servers, n=150_000, seed=0):
    """Response times of a first-come M/M/c queue, event by event (independent of Erlang C)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    services = rng.exponential(service, n)
    free = [0.0] * servers
    response = np.empty(n)
    for i in range(n):
        start = max(arrivals[i], heapq.heappop(free))
        heapq.heappush(free, start + services[i])
        response[i] = start + services[i] - arrivals[i]
    return response[n // 10 :]  # drop the warm-up


def test_mean_response_sizing_matches_a_simulated_queue():
    # 500 req/min, 90 ms of service: the mean response target is 100 ms
    rate, service = BRIEF.requests_per_minute / 60, 0.09
    needed = size_workers(rate, service, target_wait=0.010).servers
    assert simulate_mmc(rate, service, needed).mean() <= 0.100 * 1.02
    assert simulate_mmc(rate, service, needed - 1).mean() > 0.100


def test_quantile_sizing_and_the_highest_rate_match_a_simulated_queue():
    service, servers, target = 0.05, 4, (0.95, 0.25)
    top = max_arrival_rate(service, servers, target)
    assert 0 < top < servers / service
    at_top = np.percentile(simulate_mmc(top, service, servers, seed=1), 95)
    assert at_top == pytest.approx(0.25, rel=0.04)
    above = np.percentile(simulate_mmc(top * 1.1, service, servers, seed=2), 95)
    assert above > 0.25


def test_brief_plan_for_a_typical_endpoint():
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35)
    # 100 users thinking 10 s send 9.9 req/s, more than 500/min (8.3)
    assert plan.arrival_rate_per_s == pytest.approx(100 / 10.12)
    assert plan.workers <= 5  # 2 x cores + 1 at most
    assert plan.slots >= size_workers(plan.arrival_rate_per_s, 0.120, target_wait=0.08).servers
    assert plan.response_s <= 0.200 and plan.meets_targets
    assert simulate_mmc(plan.arrival_rate_per_s, 0.120, plan.slots).mean() <= 0.200
    assert plan.cpu_cores_needed == pytest.approx(plan.arrival_rate_per_s * 0.120 * 0.35)
    assert plan.command() == f"gunicorn --workers {plan.workers} --threads 1"
    # a slow dashboard on one core: more slots than 2 x 1 + 1 workers, so threads make them up
    slow = recommend_gunicorn(service_time_s=0.400, cores=1, cpu_share=0.1, target_s=0.5)
    assert slow.workers == 3 and slow.threads >= 2
    assert slow.command().endswith("--worker-class gthread")
    assert simulate_mmc(slow.arrival_rate_per_s, 0.400, slow.slots).mean() <= 0.5


def test_usl_and_cpu_limits_are_reported():
    def usl(sigma, kappa, lam):
        return USLFit(sigma, kappa, lam, 0, 0, 0, 0, 1)

    ideal = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35)
    weak = usl(0.3, 0.02, 4.0)  # peaks at 7.7 req/s with 6 in flight
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35, usl=weak)
    assert weak.peak_throughput < plan.arrival_rate_per_s
    assert not plan.meets_targets and any(n.startswith("USL") for n in plan.notes)
    contended = usl(0.1, 0.001, 4.0)  # X(2) = 7.3, X(3) = 9.95 req/s: 3 must be in flight
    plan = recommend_gunicorn(service_time_s=0.120, cores=2, cpu_share=0.35, usl=contended)
    assert ideal.slots == 2 and plan.slots == 3 and plan.meets_targets
    assert plan.usl_throughput_per_s == pytest.approx(contended.predict(3))
    busy = recommend_gunicorn(service_time_s=0.150, cores=1, cpu_share=0.9)
    assert not busy.meets_targets and any(n.startswith("CPU") for n in busy.notes)


def test_a_request_too_slow_alone_is_a_clear_error():
    with pytest.raises(InputError, match="no worker count can fix that"):
        recommend_gunicorn(service_time_s=0.250, cores=4)


def simulate_mgc_log(rate, routes, servers, n=60_000, seed=4):
    """A first-come M/G/c queue of a route mix with fixed service per route, as a server's
    access log (end time, service-only duration as Gunicorn's %(D)s) and the clients' mean."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    names = list(routes)
    pick = rng.choice(len(names), n, p=[routes[r][0] for r in names])
    service = np.array([routes[r][1] for r in names])[pick]
    free = [0.0] * servers
    end = np.empty(n)
    for i in range(n):
        start = max(arrivals[i], heapq.heappop(free))
        heapq.heappush(free, start + service[i])
        end[i] = start + service[i]
    keep = slice(n // 10, None)
    frame = pd.DataFrame({
        "time": pd.to_datetime(end[keep], unit="s", utc=True),
        "duration_ms": service[keep] * 1000, "route": np.array(names)[pick[keep]]})  # fmt: skip
    return frame, float((end - arrivals)[keep].mean() * 1000)


def test_per_route_service_predicts_a_simulated_mixed_queue():
    from perfkit.analysis.sizing import check_queue

    # 80 % of requests take 10 ms, 20 % take 200 ms: mean 48 ms, C2 = 2.5; 2 slots at 80 %
    routes = {"/api/fast": (0.8, 0.010), "/report/slow": (0.2, 0.200)}
    log, client_ms = simulate_mgc_log(rate=0.8 * 2 / 0.048, routes=routes, servers=2)
    check = check_queue(log, servers=2, client_mean_ms=client_ms)
    assert check.service_ms == pytest.approx(48, rel=0.02)
    assert check.service_scv == pytest.approx(2.51, rel=0.05)
    assert abs(check.error["per_route"]) < 0.12  # the route mix's variability, accounted for
    assert check.error["erlang_c"] < -0.25  # one mean, exponential: far too optimistic
    assert list(check.routes.index) == ["/api/fast", "/report/slow"]
    # without the clients' figure the log's own mean is measured: no backlog wait in it
    assert check_queue(log, servers=2).measured_ms == pytest.approx(48, rel=0.02)
