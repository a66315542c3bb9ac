"""SLO compliance per route class against the brief's targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.slo import classify_routes, slo_compliance
from perfkit.targets import BRIEF


def test_route_classes():
    routes = pd.Series(["/dashboard", "/api/orders/{id}", "/static/app.css", "/favicon.ico",
                        "/healthz", "/orders/{id}"])  # fmt: skip
    assert classify_routes(routes).tolist() == [
        "dashboard",
        "api",
        "static",
        "static",
        "health",
        "dashboard",
    ]


def test_compliance_per_class_matches_direct_computation():
    rng = np.random.default_rng(8)
    n = 20_000
    route = rng.choice(["/dashboard", "/api/stock", "/static/app.js"], n, p=[0.2, 0.7, 0.1])
    base = np.select([route == "/dashboard", route == "/api/stock"], [420.0, 230.0], 5.0)
    ms = base * rng.lognormal(0, 0.3, n) / np.exp(0.045)  # mean = base
    status = np.where(rng.random(n) < np.where(route == "/api/stock", 0.02, 0.001), 503, 200)
    requests = pd.DataFrame({"route": route, "duration_ms": ms, "status": status})
    outbound = pd.DataFrame({"duration_ms": rng.lognormal(np.log(600), 0.6, 500),
                             "status": np.where(rng.random(500) < 0.05, 429, 200)})  # fmt: skip
    statements = pd.DataFrame({"calls": [1000, 10], "total_exec_time": [1000 * 3.0, 10 * 900.0]})
    table = slo_compliance(requests, outbound=outbound, statements=statements)
    api = requests[requests["route"] == "/api/stock"]
    assert table.loc["api", "mean_ms"] == pytest.approx(api["duration_ms"].mean())
    assert table.loc["api", "error_rate"] == pytest.approx((api["status"] >= 500).mean())
    assert table.loc["api", "within_target"] == pytest.approx((api["duration_ms"] <= 200).mean())
    assert not table.loc["api", "meets_latency"] and not table.loc["api", "meets_errors"]
    assert table.loc["dashboard", "meets"]  # 420 ms mean under 500, 0.1 % errors
    assert table.loc["static", "target_ms"] == BRIEF.static_ms and table.loc["static", "meets"]
    ext = outbound["duration_ms"]
    assert table.loc["external", "p95_ms"] == pytest.approx(np.percentile(ext, 95))
    assert table.loc["external", "meets"] == (np.percentile(ext, 95) <= 2000)
    assert table.loc["external", "error_rate"] == 0.0  # 429 is a rate limit, not an error
    # database: (3,000 + 9,000) ms over 1,010 calls = 11.9 ms mean; 99 % of calls under 50 ms
    assert table.loc["database", "mean_ms"] == pytest.approx(12000 / 1010)
    assert table.loc["database", "within_target"] == pytest.approx(1000 / 1010)
    p95 = slo_compliance(requests, targets=BRIEF.with_(dashboard_ms=450), statistic="p95")
    assert p95.loc["dashboard", "target_ms"] == 450 and not p95.loc["dashboard", "meets"]
    with pytest.raises(TypeError, match="unknown targets"):
        BRIEF.with_(dashbord_ms=1)
