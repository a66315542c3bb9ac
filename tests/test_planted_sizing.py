"""Planted-bug tests for Gunicorn sizing (issue 16): the branch where requests per minute,
not the concurrent users, set the load (the brief's defaults never take it)."""

from __future__ import annotations

import pytest

from perfkit.analysis.capacity import erlang_c, size_workers
from perfkit.analysis.sizing import recommend_gunicorn
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
