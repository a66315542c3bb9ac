"""Capacity models against published results: USL on SPEC SDM91, Erlang C tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from perfkit import InputError
from perfkit.analysis.capacity import erlang_c, fit_usl, response_quantile, size_workers

# SPEC SDM91 (Sun SPARCcenter 2000), as in Gunther's Guerrilla Capacity Planning and R's usl package
LOAD = [1, 18, 36, 72, 108, 144, 216]
THROUGHPUT = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]


def test_usl_reproduces_the_published_fit():
    fit = fit_usl(LOAD, THROUGHPUT)
    # R usl package (Moding), summary of usl(throughput ~ load, specsdm91)
    assert fit.sigma == pytest.approx(0.0277285, rel=1e-4)
    assert fit.kappa == pytest.approx(0.0001044, rel=1e-3)
    assert fit.lambda_ == pytest.approx(89.9952330, rel=1e-5)
    assert fit.sigma_se == pytest.approx(0.0091217, rel=1e-3)
    assert fit.kappa_se == pytest.approx(0.0000199, rel=1e-2)
    assert fit.lambda_se == pytest.approx(14.2134894, rel=1e-4)
    assert fit.residual_se == pytest.approx(82.8, abs=0.1) and fit.dof == 4
    assert fit.lambda_ / fit.sigma == pytest.approx(
        3245.589, rel=1e-4
    )  # the package's limit.scalability
    assert fit.peak_concurrency == pytest.approx(math.sqrt((1 - fit.sigma) / fit.kappa))
    assert fit.peak_throughput == pytest.approx(fit.predict(fit.peak_concurrency))
    assert fit.predict(fit.peak_concurrency) > fit.predict(fit.peak_concurrency * 1.2)


def test_usl_without_a_measurement_at_one_recovers_planted_coefficients():
    rng = np.random.default_rng(5)
    sigma, kappa, lam = 0.05, 0.0004, 120.0
    n = np.array([4, 8, 16, 24, 32, 48, 64, 96])
    x = lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)) * rng.normal(1, 0.01, len(n))
    fit = fit_usl(n, x)
    assert fit.sigma == pytest.approx(sigma, abs=3 * fit.sigma_se + 1e-3)
    assert fit.kappa == pytest.approx(kappa, abs=3 * fit.kappa_se + 1e-5)
    assert fit.predict(1) == pytest.approx(lam, rel=0.05)
    with pytest.raises(InputError, match="4 or more distinct concurrencies"):
        fit_usl([1, 2, 3], [1, 2, 3])


@pytest.mark.parametrize(
    ("servers", "published"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)]
)
def test_erlang_c_table_for_ten_erlangs(servers, published):
    queue = erlang_c(
        arrival_rate=10 / 180, service_time=180.0, servers=servers
    )  # 10 Erlangs, AHT 3 min
    assert queue.p_wait == pytest.approx(published, abs=5e-5)
    assert queue.utilisation == pytest.approx(10 / servers)
    assert queue.mean_wait == pytest.approx(published * 180 / (servers - 10), rel=1e-3)
    assert queue.p_wait_longer(0) == pytest.approx(queue.p_wait)
    assert queue.p_wait_longer(20) == pytest.approx(
        queue.p_wait * math.exp(-(servers - 10) * 20 / 180)
    )


@pytest.mark.parametrize("load", [0.5, 3.7, 25.0, 180.0])
def test_erlang_c_agrees_with_the_closed_form(load):
    servers = int(load) + 2
    log_term = (
        servers * math.log(load) - gammaln(servers + 1) + math.log(servers / (servers - load))
    )
    log_sum = [k * math.log(load) - gammaln(k + 1) for k in range(servers)]
    top = math.exp(log_term)
    expected = top / (sum(math.exp(v) for v in log_sum) + top)
    assert erlang_c(load, 1.0, servers).p_wait == pytest.approx(expected, rel=1e-9)


def test_unstable_queue_and_sizing():
    with pytest.raises(InputError, match=r"unstable queue: offered load 10 Erlangs on 10 servers"):
        erlang_c(10, 1, 10)
    sized = size_workers(arrival_rate=10, service_time=1, target_wait=0.1)
    assert sized.servers == 13  # 12 servers wait 0.2247 on average, 13 wait 0.0951
    assert erlang_c(10, 1, 12).mean_wait > 0.1 >= sized.mean_wait
    # M/M/1: response time is exponential with rate mu - lambda, an independent check
    single = erlang_c(0.5, 1.0, 1)
    assert response_quantile(single, 0.95) == pytest.approx(-math.log(0.05) / 0.5, rel=1e-6)
    by_p95 = size_workers(arrival_rate=50, service_time=0.1, target_response_quantile=(0.95, 0.35))
    assert response_quantile(by_p95, 0.95) <= 0.35
    assert response_quantile(erlang_c(50, 0.1, by_p95.servers - 1), 0.95) > 0.35
