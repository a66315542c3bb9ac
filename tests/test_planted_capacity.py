"""Tests written to kill surviving mutants (issue 16); see tools/mutate.py.

Truth: Gunicorn's own log lines and command-line rules, textbook M/M/c results (Erlang C by
its closed form, M/M/1 response time exponential with rate mu - lambda, wait + service as a
numerical convolution), exact MVA checked against a brute-force Markov chain and the
operational laws, and planted data sets with a known answer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from perfkit.analysis.capacity import (
    erlang_c,
    fit_capacity,
    fit_usl,
    max_arrival_rate,
    mva,
    mva_at,
    response_quantile,
    server_concurrency,
    size_workers,
)
from perfkit.analysis.capacity.laws import USLFit
from perfkit.analysis.capacity.mva import bounds, mva_grid
from perfkit.analysis.capacity.select import _server_grid
from perfkit.analysis.capacity.servers import parse_gunicorn_command, parse_gunicorn_log
from perfkit.errors import InputError, PerfkitWarning


def ctmc(population: int, demand: float, servers: int, think: float) -> float:
    """X of the closed network by brute force: the birth-death chain of requests at the
    station, its stationary law by detailed balance (independent of MVA), in logs."""
    logs = [0.0]
    for k in range(1, population + 1):
        up = (population - k + 1) / think
        down = min(k, servers) / demand
        logs.append(logs[-1] + math.log(up / down))
    pi = np.exp(np.array(logs) - max(logs))
    pi /= pi.sum()
    return float(pi @ np.minimum(np.arange(population + 1), servers)) / demand


def erlang_c_closed_form(load: float, servers: int) -> float:
    """P(wait) by the textbook formula (small c, plain floats)."""
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    return top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)


# -- servers: Gunicorn's command and log ---------------------------------------------------------

BOOT = "[2026-01-01 10:00:0{s} +0000] [{pid}] [INFO] Booting worker with pid: {pid}"


def test_gunicorn_command_forms():
    assert parse_gunicorn_command("gunicorn --workers 5 -k gevent app:app") == {
        "workers": 5, "worker_class": "gevent"}  # fmt: skip
    assert parse_gunicorn_command("gunicorn -w=2 --worker-class=Sync app:app") == {
        "workers": 2, "worker_class": "sync"}  # fmt: skip
    # a dotted class path is its last part; Gunicorn's ThreadWorker is "gthread"
    assert parse_gunicorn_command(
        "gunicorn -k gunicorn.workers.gthread.ThreadWorker --threads 3 app:app"
    ) == {"worker_class": "gthread", "threads": 3}
    # a flag with no value after it (the last word) names nothing
    assert parse_gunicorn_command("gunicorn app:app -w") == {}
    assert parse_gunicorn_command("gunicorn app:app") == {}
    # an unbalanced quote: shlex fails, the words are split on blanks
    assert parse_gunicorn_command("gunicorn -w 4 'app:app") == {"workers": 4}
    with pytest.raises(InputError, match=r"--threads 'many' is not a whole number"):
        parse_gunicorn_command("gunicorn --threads many app:app")
    with pytest.raises(InputError, match=r"--workers 'x' is not a whole number"):
        parse_gunicorn_command("gunicorn -w x app:app")


def test_gunicorn_log_counts_the_most_workers_alive_at_once():
    lines = [
        "[2026-01-01 10:00:00 +0000] [99] [INFO] Starting gunicorn 23.0.0",
        "[2026-01-01 10:00:00 +0000] [99] [INFO] Using worker: Sync",
        BOOT.format(s=1, pid=101),
        BOOT.format(s=1, pid=102),
        "[2026-01-01 10:00:02 +0000] [101] [INFO] Worker exiting (pid: 101)",
        BOOT.format(s=3, pid=103),  # 102, 103 alive
        "[2026-01-01 10:00:04 +0000] [99] [ERROR] Worker (pid:102) was sent SIGKILL! Perhaps out of memory?",
        BOOT.format(s=5, pid=104),  # 103, 104 alive
        "[2026-01-01 10:00:06 +0000] [99] [ERROR] Worker (pid:103) exited with code 1.",
        BOOT.format(s=7, pid=105),  # 104, 105 alive
    ]
    assert parse_gunicorn_log("\n".join(lines)) == {"workers": 2, "worker_class": "sync"}
    assert parse_gunicorn_log("\n".join(lines[:4])) == {"workers": 2, "worker_class": "sync"}
    assert parse_gunicorn_log("\n".join([*lines[2:], BOOT.format(s=8, pid=106)])) == {
        "workers": 3}  # fmt: skip
    assert parse_gunicorn_log("[99] [INFO] Listening at: http://127.0.0.1:8000") == {}


def two_streams(seconds: int = 30) -> pd.DataFrame:
    """Two clients back to back, 1 s requests: exactly 2 in flight throughout."""
    start = pd.Timestamp("2026-01-01 00:00:00.250", tz="UTC")
    ends = [start + pd.Timedelta(seconds=i + 1) for i in range(seconds)] * 2
    return pd.DataFrame({"time": ends, "duration_ms": 1000.0})


def test_server_concurrency_from_the_command_and_the_log(tmp_path):
    log = tmp_path / "gunicorn.log"
    log.write_text("\n".join([BOOT.format(s=1, pid=7), BOOT.format(s=1, pid=8),
                              BOOT.format(s=1, pid=9)]))  # fmt: skip
    cap = server_concurrency(error_log=log)
    assert (cap.servers, cap.workers, cap.threads, cap.worker_class) == (3, 3, 1, None)
    assert cap.source == "3 sync workers (Gunicorn's log gunicorn.log)"
    assert cap.max_in_flight is None
    both = server_concurrency(error_log=log, command="gunicorn -w 2 --threads 4 app:app")
    assert (both.servers, both.worker_class, both.threads) == (8, "gthread", 4)
    assert both.source == ("2 gthread workers x 4 threads (Gunicorn's log gunicorn.log, "
                           "the Gunicorn command)")  # fmt: skip
    one = server_concurrency(command="gunicorn -w 1 -k sync --threads 1 app:app")
    assert one.servers == 1 and one.source == "1 sync worker (the Gunicorn command)"
    assert repr(one) == "ServerCap(1 servers: 1 sync worker (the Gunicorn command))"
    with pytest.raises(InputError, match=r"missing\.log: cannot be read"):
        server_concurrency(error_log=tmp_path / "missing.log")
    # a log without boot lines and a command naming nothing: no source used
    quiet = tmp_path / "quiet.log"
    quiet.write_text("[99] [INFO] Listening at: http://127.0.0.1:8000\n")
    none = server_concurrency(error_log=quiet, command="gunicorn app:app")
    assert none.servers is None and none.source.startswith("unknown: no Gunicorn")


def test_server_concurrency_from_the_access_log():
    requests = two_streams()
    low = server_concurrency(requests)
    assert low.servers == 2 and low.max_in_flight == pytest.approx(2.0)
    assert low.source == ("access log: at most 2.00 requests in flight per 5s (a lower bound: "
                          "the load may not have reached the cap)")  # fmt: skip
    # clients with more outstanding than 1.5 x the server held: the server capped them
    hard = server_concurrency(requests, client_max=3.5, interval="10s")
    assert hard.servers == 2
    assert hard.source == ("access log: at most 2.00 requests in flight per 10s (the clients "
                           "had up to 3.5 outstanding, so this is the cap)")  # fmt: skip
    assert "lower bound" in server_concurrency(requests, client_max=3).source  # 3 = 1.5 x 2
    # an async worker class is not capped by workers x threads: the log's count is used
    lazy = server_concurrency(requests, command="gunicorn -w 4 -k gevent app:app")
    assert (lazy.servers, lazy.worker_class, lazy.workers) == (2, "gevent", 4)
    assert lazy.threads is None
    gevent = server_concurrency(command="gunicorn -w 4 -k gevent app:app")
    assert gevent.servers is None and gevent.workers == 4 and gevent.worker_class == "gevent"
    # the Gunicorn figures win over the access log, which is only quoted
    named = server_concurrency(requests, command="gunicorn -w 3 app:app")
    assert named.servers == 3 and named.max_in_flight == pytest.approx(2.0)
    assert named.source.endswith("; the access log held at most 2.00 in flight")
    # a light load rounds up to one server, never zero
    sparse = two_streams(3).iloc[:1]
    assert server_concurrency(sparse).servers == 1
    assert server_concurrency(sparse.iloc[:0]).servers is None  # an empty log is no evidence


# -- laws: USL and M/M/c -------------------------------------------------------------------------


def test_usl_fit_drops_unusable_points_and_counts_the_rest():
    n = [1, 18, 36, 72, 108, 144, 216]
    x = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]  # SPEC SDM91
    clean = fit_usl(n, x)
    dirty = fit_usl([0, *n, 50, np.nan, -4], [10, *x, np.inf, 700, 90])
    assert dirty.n_points == clean.n_points == 7 and dirty.dof == 4
    assert dirty.sigma == pytest.approx(clean.sigma, rel=1e-9)
    assert dirty.kappa == pytest.approx(clean.kappa, rel=1e-9)
    with pytest.raises(InputError, match="got 3"):
        fit_usl([0, 1, 2, 3, np.nan], [1, 1, 2, 3, 4])


def test_usl_fit_recovers_an_exact_curve():
    """Noise-free USL data: the fit is the planted curve (residuals 0), whichever start."""
    sigma, kappa, lam = 0.1, 0.001, 50.0
    n = np.array([2.0, 5, 10, 20, 40, 80])
    x = lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    fit = fit_usl(n, x)
    assert fit.sigma == pytest.approx(sigma, rel=1e-6)
    assert fit.kappa == pytest.approx(kappa, rel=1e-5)
    assert fit.lambda_ == pytest.approx(lam, rel=1e-6)
    assert fit.residual_se < 1e-6 and fit.kappa_identified
    assert fit.predict(n) == pytest.approx(x, rel=1e-6)
    assert type(fit.predict(3)) is float and isinstance(fit.predict([3, 4]), np.ndarray)


def test_usl_repr_names_the_peak_and_an_unidentified_kappa():
    shaky = USLFit(0.1, 0.001, 50.0, 0.01, 0.001, 1.0, 1.0, 4, 7)
    text = repr(shaky)
    n = math.sqrt(0.9 / 0.001)  # 30 users
    peak = f"peak {50 * n / (1 + 0.1 * (n - 1) + 0.001 * n * (n - 1)):.4g} at N = 30"
    assert text.splitlines()[0] == f"<USLFit: {peak} (kappa not identified: do not trust)>"
    assert "sigma (contention): 0.1 ± 0.01" in text and "kappa (coherency): 0.001 ± 0.001" in text
    assert "fit: 7 points" in text
    sure = USLFit(0.1, 0.001, 50.0, 0.01, 0.0001, 1.0, 1.0, 4, 7)
    assert "not identified" not in repr(sure) and sure.kappa_identified
    assert repr(sure).splitlines()[0] == f"<USLFit: {peak}>"
    assert "kappa (coherency): 0.001 ± 0.0001" in repr(sure)
    flat = USLFit(0.1, 0.0, 50.0, 0.01, 0.0, 1.0, 1.0, 4, 7)
    assert repr(flat).splitlines()[0] == (  # lambda / sigma = 500
        "<USLFit: no peak (kappa 0): throughput levels off at 500>"
    )


def test_erlang_c_rejects_bad_input_and_names_the_servers_needed():
    assert erlang_c(1e-9, 1.0, 1).p_wait == pytest.approx(1e-9)  # M/M/1: P(wait) = rho
    for bad in [(0, 1, 1), (1, 0, 2), (1, 1, 0), (-1, 1, 1), (1, -1, 2)]:
        with pytest.raises(InputError, match=r"^erlang_c needs arrival_rate > 0, service_time > 0"):
            erlang_c(*bad)
    with pytest.raises(InputError, match=r"load 2\.5 Erlangs on 2 servers is utilisation 1\.25 "
                       r">= 1.*need more than 3 servers"):  # fmt: skip
        erlang_c(5, 0.5, 2)
    queue = erlang_c(3, 0.5, 2)  # 1.5 Erlangs
    assert queue.p_wait == pytest.approx(erlang_c_closed_form(1.5, 2), rel=1e-12)
    assert queue.mean_wait == pytest.approx(queue.p_wait * 0.5 / 0.5)  # Pw S / (c - A)
    assert queue.mean_response == pytest.approx(queue.mean_wait + 0.5)
    assert (queue.servers, queue.arrival_rate, queue.service_time) == (2, 3, 0.5)
    assert repr(queue).splitlines()[0] == (
        f"<ErlangC: P(wait) {queue.p_wait:.3g} at utilisation 75.0%: mean wait "
        f"{queue.mean_wait:.4g}, mean response {queue.mean_response:.4g}>"
    )


def test_wait_quantile_of_an_m_m_c_queue():
    queue = erlang_c(3, 0.5, 2)  # Pw 0.643, the wait past 0 is Exp(c mu - lambda = 1)
    pw = erlang_c_closed_form(1.5, 2)
    assert queue.wait_quantile(0.9) == pytest.approx(math.log(pw / 0.1) / 1.0, rel=1e-9)
    assert queue.wait_quantile(0.3) == 0.0  # 35.7 % never wait
    assert queue.p_wait_longer(queue.wait_quantile(0.9)) == pytest.approx(0.1)
    # 1 Erlang on 2 servers: Pw = 1/3, the wait past 0 is Exp(c mu - lambda = 4 - 2 = 2)
    assert erlang_c(2, 0.5, 2).wait_quantile(0.9) == pytest.approx(math.log(10 / 3) / 2)


def mixture_quantile(p_wait: float, mu: float, theta: float, q: float) -> float:
    """The q quantile of service ~ Exp(mu) plus, with probability p_wait, a wait ~ Exp(theta):
    the convolution integrated numerically."""

    def cdf(t):
        waited, _ = integrate.quad(lambda w: theta * math.exp(-theta * w)
                                   * (1 - math.exp(-mu * (t - w))), 0, t)  # fmt: skip
        return (1 - p_wait) * (1 - math.exp(-mu * t)) + p_wait * waited

    return optimize.brentq(lambda t: cdf(t) - q, 0, 200)


@pytest.mark.parametrize(("rate", "q"), [(1.0, 0.9), (0.5, 0.95), (1.5, 0.5)])
def test_response_quantile_against_the_convolution(rate, q):
    """Two servers, 1 s service: at rate 1 the wait's rate c mu - lambda equals mu (the
    Erlang-2 case the general formula divides by zero in)."""
    queue = erlang_c(rate, 1.0, 2)
    want = mixture_quantile(erlang_c_closed_form(rate, 2), 1.0, 2 - rate, q)
    assert response_quantile(queue, q) == pytest.approx(want, rel=1e-7)


def test_response_quantile_far_in_the_tail():
    """M/M/1 at 95 % utilisation: response ~ Exp(mu - lambda = 0.05), p99.9 = ln(1000) / 0.05."""
    queue = erlang_c(0.95, 1.0, 1)
    assert response_quantile(queue, 0.999) == pytest.approx(math.log(1000) / 0.05, rel=1e-7)
    # a slow single server, light load: most of the p99 is service (mu is the smaller rate)
    fast = erlang_c(0.1, 10.0, 2)  # theta = 0.2 - 0.1 = 0.1 = mu
    want = mixture_quantile(erlang_c_closed_form(1.0, 2), 0.1, 0.1, 0.99)
    assert response_quantile(fast, 0.99) == pytest.approx(want, rel=1e-7)
    # 50 servers at 99 %: most wait, so even the p10 is well past the p10 of either part alone
    busy = erlang_c(49.5, 1.0, 50)
    want = mixture_quantile(erlang_c_closed_form(49.5, 50), 1.0, 0.5, 0.1)
    assert response_quantile(busy, 0.1) == pytest.approx(want, rel=1e-7)


def test_size_workers_searches_from_the_offered_load():
    with pytest.raises(
        InputError, match=r"^size_workers needs target_wait or target_response_quantile$"
    ):
        size_workers(1.0, 1.0)
    # 2.5 Erlangs: 3 servers is the first stable count, and any wait target > its wait
    three = size_workers(2.5, 1.0, target_wait=10.0)
    assert three.servers == 3
    assert three.p_wait == pytest.approx(erlang_c_closed_form(2.5, 3), rel=1e-12)
    # both targets: the count meeting the stricter; a target met by none up to the limit
    both = size_workers(2.5, 1.0, target_wait=10.0, target_response_quantile=(0.9, 2.5))
    assert response_quantile(both, 0.9) <= 2.5
    assert response_quantile(erlang_c(2.5, 1.0, both.servers - 1), 0.9) > 2.5
    # the first count whose mean wait Pw S / (c - A) is under 1 ms, by the closed form
    first = next(c for c in range(3, 30) if erlang_c_closed_form(2.5, c) / (c - 2.5) <= 1e-3)
    assert size_workers(2.5, 1.0, target_wait=1e-3, max_servers=first).servers == first
    with pytest.raises(InputError, match=f"no server count up to {first - 1} meets the target"):
        size_workers(2.5, 1.0, target_wait=1e-3, max_servers=first - 1)
    assert size_workers(0.01, 1.0, target_wait=1.0).servers == 1
    # a target met exactly is met ("at most"): the mean wait, or the quantile, of 4 servers
    four = erlang_c(2.5, 1.0, 4)
    assert size_workers(2.5, 1.0, target_wait=four.mean_wait).servers == 4
    at_four = (0.9, response_quantile(four, 0.9))
    assert size_workers(2.5, 1.0, target_response_quantile=at_four).servers == 4


def test_max_arrival_rate_of_one_server_in_closed_form():
    """M/M/1: the q quantile of response is -ln(1 - q) / (mu - lambda) <= t, so the highest
    rate is mu + ln(1 - q) / t."""
    for service, q, limit in [(1.0, 0.95, 6.0), (0.1, 0.99, 2.0), (0.02, 0.5, 0.05)]:
        want = 1 / service + math.log(1 - q) / limit
        assert max_arrival_rate(service, 1, (q, limit)) == pytest.approx(want, rel=1e-7)
    # the service alone breaks the target: p95 of Exp(mean 1) is 2.996
    assert max_arrival_rate(1.0, 4, (0.95, 2.9)) == 0.0
    assert max_arrival_rate(1.0, 4, (0.95, 3.1)) > 0.0
    # a target so loose that even a saturated server meets it: just under c / S
    top = max_arrival_rate(0.5, 2, (0.5, 1e12))
    assert 4 * (1 - 1e-6) < top < 4


# -- mva ----------------------------------------------------------------------------------------


def test_mva_rejects_bad_input():
    for bad in [(0, 0.1, 1, 0.0), (3, 0.0, 1, 0.0), (3, 0.1, 0, 0.0), (3, 0.1, 1, -0.5),
                (3, math.nan, 1, 0.0), (3, -0.1, 1, 0.0)]:  # fmt: skip
        with pytest.raises(
            InputError, match=r"^mva needs population >= 1, servers >= 1, demand > 0"
        ):
            mva(*bad)
    x, r = mva(1, 0.2, 1, 0.0)  # the smallest network: one user, never queued
    assert x == pytest.approx([5.0]) and r == pytest.approx([0.2])
    # by default one server and no think time: X = min(N, 1) / D, R = N D
    x, r = mva(3, 0.2)
    assert x == pytest.approx([5.0, 5.0, 5.0]) and r == pytest.approx([0.2, 0.4, 0.6])


def test_mva_grid_pairs_of_different_stations_against_the_markov_chain():
    demand, servers, think = [0.3, 0.2, 0.1, 0.25], [1, 3, 5, 2], 0.4
    xs, rs = mva_grid(9, demand, servers, think)
    assert xs.shape == rs.shape == (4, 9)
    for i, (d, c) in enumerate(zip(demand, servers, strict=True)):
        for n in range(1, 10):
            want = ctmc(n, d, c, think)
            assert xs[i, n - 1] == pytest.approx(want, rel=1e-9), (d, c, n)
            assert rs[i, n - 1] == pytest.approx(n / want - think, rel=1e-9)  # R = N/X - Z


def test_mva_at_interpolates_between_whole_populations():
    demand, servers, think = 0.2, 2, 1.0
    exact = [ctmc(n, demand, servers, think) for n in (1, 2, 3)]
    got = mva_at([0.5, 1, 2.25, 3], demand, servers, think)
    want = [exact[0] / 2, exact[0], 0.75 * exact[1] + 0.25 * exact[2], exact[2]]
    assert got == pytest.approx(want, rel=1e-9)
    assert mva_at(0.4, demand, servers) == pytest.approx([0.4 / demand])  # X(1) = 1/D at Z = 0
    assert bounds(np.array([1, 4]), demand, servers) == pytest.approx([5.0, 10.0])  # Z = 0
    assert bounds([1, 4, 40], demand, servers, think) == pytest.approx(
        [1 / 1.2, 4 / 1.2, 10.0])  # min(N / (D + Z), c / D)  # fmt: skip


def test_size_workers_default_limit_is_ten_thousand():
    # 9,999.5 Erlangs: the search starts at 10,000 servers, the default limit, and stops there
    with pytest.raises(InputError, match="no server count up to 10000 meets"):
        size_workers(9999.5, 1.0, target_wait=-1.0)


def test_max_arrival_rate_edges():
    # exactly the idle server's quantile: any load at all adds a wait, so none fits
    assert max_arrival_rate(1.0, 3, (0.95, -math.log1p(-0.95))) == 0.0
    # a target met just at the top of the search (within 0.5 s): the top is the answer
    top = 2 / 0.5 * (1 - 1e-9)
    at_top = response_quantile(erlang_c(top, 0.5, 2), 0.5)
    assert max_arrival_rate(0.5, 2, (0.5, at_top + 0.5)) == top
    # a slow batch server (1,000 s a job): the rate found to 1e-9 relative, not 1e-7 absolute
    want = 1 / 1000 + math.log(0.05) / 6000
    assert max_arrival_rate(1000.0, 1, (0.95, 6000.0)) == pytest.approx(want, rel=1e-9)


# -- select: fit_capacity -----------------------------------------------------------------------


# a planted closed network (brute-force chain): 2 servers, 74 ms demand, 0.5 s think time
NET = {"demand": 0.074, "servers": 2, "think": 0.5}
STEPS = np.array([1, 2, 4, 8, 16, 32, 48, 64])


def net_x(n) -> np.ndarray:
    return np.array([ctmc(int(k), NET["demand"], NET["servers"], NET["think"]) for k in n])


@pytest.fixture(scope="module")
def net_fit():
    """The planted network fitted with Z known, servers fitted (shared: ~1 s to fit)."""
    return fit_capacity(STEPS, net_x(STEPS), think_time_s=NET["think"])


def test_server_grid_every_count_to_16_then_ten_per_cent_steps():
    assert _server_grid(5) == [1, 2, 3, 4, 5]
    assert _server_grid(5.5) == [1, 2, 3, 4, 5, 6]  # the first count at or past the top
    assert _server_grid(16) == list(range(1, 17))
    # past 16: the next is the larger of one more and 10 % more (rounded down)
    assert _server_grid(40) == [*range(1, 21), 22, 24, 26, 28, 30, 33, 36, 39, 42]
    assert _server_grid(42)[-2:] == [39, 42]


def test_fractional_loads_recover_the_planted_network():
    """Mean users per step need not be whole (ramps, access-log concurrency): between whole
    populations the network's X is interpolated linearly, below 1 user from X(0) = 0."""
    demand, servers, think = 0.05, 3, 0.4
    n = np.array([0.5, 1.5, 2.5, 3.5, 6.5, 12.5, 20.5])
    whole = [0.0] + [ctmc(k, demand, servers, think) for k in range(1, 22)]
    x = np.interp(n, np.arange(22), whole)
    fit = fit_capacity(n, x, think_time_s=think)
    assert fit.model == "mva" and fit.params["servers"] == servers
    assert fit.params["demand_s"] == pytest.approx(demand, rel=1e-6)
    assert fit.holdout_error < 1e-6
    assert fit.predict(n) == pytest.approx(x, rel=1e-6)


def test_describe_a_planted_network(net_fit):
    fit = net_fit
    assert fit.describe() == (
        "mva: closed MVA network, 2 servers (fitted to the throughput), demand 74 ms, think "
        "0.5 s, plateau 27.03/s; held-out error 0.0%; measured up to 64")  # fmt: skip
    assert repr(fit) == f"CapacityFit({fit.describe()})"
    given = fit_capacity([1, 2, 4], [10, 20, 20], servers=2, servers_source="2 sync workers")
    assert given.describe().startswith("mva: closed MVA network, 2 servers (2 sync workers),")
    assert fit_capacity([1, 2, 4], [10, 20, 20], servers=2).servers_source == "given"
    assert given.servers == fit.servers == 2
    # the operational bound of the fitted network is the planted one's
    assert fit.bounds(STEPS) == pytest.approx(
        np.minimum(STEPS / (0.074 + 0.5), 2 / 0.074), rel=1e-6)  # fmt: skip
    html = fit._repr_html_()
    # origins 4-7 of 8 loads (the USL needs 4): 4 + 3 + 2 + 1 forecasts each
    assert "<tr><td>mva</td><td>0.0%</td><td>10</td><td>servers fitted</td></tr>" in html
    assert "<tr><td>amdahl</td><td>" in html and "<tr><td>usl</td><td>" in html


def test_describe_a_planted_amdahl_curve_and_count_the_forecasts():
    """X = 10 N / (1 + 0.1 (N - 1)) at 1..16: Amdahl exactly, limit lambda / sigma = 100/s.
    Rolling origins 1-4 of 5 loads: Amdahl and the network need 2 loads to fit (3 + 2 + 1
    forecasts), the USL 4 (1 forecast, by Amdahl's law: kappa is not in the data)."""
    n = np.array([1, 2, 4, 8, 16])
    fit = fit_capacity(n, 10 * n / (1 + 0.1 * (n - 1)))
    assert fit.describe() == (
        "amdahl: Amdahl (USL with kappa = 0), sigma 0.1, lambda 10/s, limit 100/s; held-out "
        "error 0.0%; measured up to 16")  # fmt: skip
    assert fit.bounds(n) is None and fit.peak is None
    assert fit.dof == 3 and fit.servers is None  # 5 loads less 2 parameters; no network
    assert dict(fit.candidates["forecasts"]) == {"mva": 6, "amdahl": 6, "usl": 1}
    assert np.isnan(fit.candidates.loc["usl", "holdout_error"])  # no USL on all the loads
    assert fit.candidates.loc["usl", "note"] == (
        "kappa's 95 % interval holds 0: not identified, reduces to Amdahl"
    )
    assert fit.candidates.loc["usl", "params"] == {}
    assert fit.candidates.loc["amdahl", "params"]["sigma"] == pytest.approx(0.1, rel=1e-6)
    html = fit._repr_html_()
    assert "<td>kappa&#x27;s 95 % interval holds 0" in html and "<td>6</td>" in html


def test_describe_a_planted_usl_with_its_peak():
    sigma, kappa, lam = 0.05, 0.002, 100.0
    n = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64])
    fit = fit_capacity(n, lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)))
    peak = math.sqrt((1 - sigma) / kappa)
    top = lam * peak / (1 + sigma * (peak - 1) + kappa * peak * (peak - 1))
    text = fit.describe()
    assert text.startswith("usl: USL, sigma 0.05, kappa 0.002 ± ")
    assert f", peak {top:.4g}/s at {peak:.3g}; held-out error 0.0%; measured up to 64" in text
    assert fit.peak == pytest.approx((peak, top), rel=1e-6)
    assert fit.params["lambda"] == pytest.approx(lam, rel=1e-6)
    assert fit.scatter == 0.02 and fit.dof == 7  # exact: the floor; 10 loads less 3


def test_two_loads_are_not_scored():
    fit = fit_capacity([1, 2], [10, 15])  # sigma 1/3: 15 = 10 x 2 / (1 + sigma)
    assert (
        fit.model == "amdahl" and fit.note == "too few loads to score out of sample: not validated"
    )
    text = fit.describe()
    assert "sigma 0.333, lambda 10/s, limit 30/s; not scored; measured up to 2" in text
    assert text.endswith("; projection uncertain (the laws disagree past the data)")
    assert dict(fit.candidates["forecasts"]) == {"mva": 0, "amdahl": 0, "usl": 0}
    assert fit.growth == 0.2  # no forecast to learn from: 4 x the 5 % floor per doubling
    assert fit.candidates.loc["usl", "note"] == "fewer than 4 loads"
    # 2 servers fitted to 2 users: the network never showed its cap
    assert fit.candidates.loc["mva", "note"] == "servers fitted (not reached: a lower bound)"
    # with the servers known the network needs one load to fit: scored from the first origin
    known = fit_capacity([1, 2], [10, 15], servers=4)
    assert known.note == "chosen by rolling-origin held-out error"
    assert known.candidates.loc["mva", "forecasts"] == 1


def test_a_sync_worker_given_threads_runs_as_gthread():
    """Gunicorn runs gthread when the sync class is given more than one thread (its own
    Config.worker_class_str): 2 workers x 4 threads hold 8 requests, not 2."""
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("worker_class", "sync")
    cfg.set("threads", 4)
    assert cfg.worker_class_str == "gthread"
    cap = server_concurrency(command="gunicorn -w 2 -k sync --threads 4 app:app")
    assert (cap.servers, cap.worker_class, cap.threads) == (8, "gthread", 4)
    assert cap.source == "2 gthread workers x 4 threads (the Gunicorn command)"


def test_origins_every_one_to_four_then_at_most_twelve_spaced():
    from perfkit.analysis.capacity.select import MAX_ORIGINS, _origins

    assert _origins(2) == [1] and _origins(5) == [1, 2, 3, 4]
    many = _origins(100)
    assert many[:4] == [1, 2, 3, 4] and many[-1] == 99  # the last fit leaves one load out
    assert len(many) <= 4 + MAX_ORIGINS and many == sorted(set(many))
    assert all(isinstance(k, int) for k in many)
    gaps = np.diff(many[4:])
    assert gaps.min() >= 8 and gaps.max() <= 10  # 98 / 11 apart, evenly


def test_a_network_without_think_time_has_its_servers_and_demand_in_closed_form():
    """Z = 0: X = min(N, c) / D exactly; c = 3 and D = 50 ms come back from 7 loads."""
    n = np.array([1, 2, 3, 4, 6, 8, 12])
    fit = fit_capacity(n, np.minimum(n, 3) / 0.05)
    assert fit.model == "mva" and fit.params["servers"] == 3
    assert fit.params["demand_s"] == pytest.approx(0.05, rel=1e-12)
    assert fit.plateau == pytest.approx(60.0, rel=1e-12)


def test_a_curve_law_held_under_known_servers_says_so():
    """Amdahl exactly (sigma 0.1, lambda 10/s) on 1..16 users with 64 slots known: the bound
    c / D uses D fitted as the network's (geometric mean of N / X without think time)."""
    n = np.arange(1, 17)
    x = 10 * n / (1 + 0.1 * (n - 1))
    fit = fit_capacity(n, x, servers=64)
    cap = 64 / math.exp(np.mean(np.log(n / x)))
    assert fit.model == "amdahl" and fit.scatter == 0.02  # exact: the floor
    assert fit.servers == 64
    assert fit.params["server_bound_per_s"] == pytest.approx(cap, rel=1e-9)
    assert (
        fit.candidates.loc["amdahl", "note"] == f"held under the servers' bound c/D = {cap:.4g}/s"
    )
    assert fit.candidates.loc["mva", "note"] == "servers given"
    assert fit.plateau == pytest.approx(100.0, rel=1e-6)  # lambda / sigma, under the bound


def test_interval_is_the_scatter_then_grows_per_doubling_past_the_data(net_fit):
    """A planted network fitted exactly: the in-sample scatter and the growth per doubling
    are their floors (2 % and 5 % on the log scale); no rival is within 2x of its error, so
    the interval is the network's X x exp(+-t sd), t on 8 - 2 degrees of freedom."""
    fit = net_fit
    assert fit.dof == 6 and fit.scatter == 0.02 and fit.growth == 0.05
    n = np.array([16.0, 128.0, 512.0])
    truth = net_x(n)
    sd = np.sqrt(0.02**2 + (0.05 * np.array([0, 1, 3])) ** 2)
    with pytest.warns(PerfkitWarning, match="EXTRAPOLATED 8.0x"):
        low, high = fit.predict_interval(n)
    t = stats.t.ppf(0.975, 6)
    assert low == pytest.approx(truth * np.exp(-t * sd), rel=1e-6)
    assert high == pytest.approx(truth * np.exp(t * sd), rel=1e-6)
    # scalars in, floats out; arrays (even of one) in, arrays out
    one = fit.predict_interval(16)
    assert type(one[0]) is float and type(one[1]) is float
    assert one == pytest.approx((low[0], high[0]), rel=1e-12)
    assert type(fit.predict(16)) is float and type(fit.predict_response_time(16)) is float
    assert fit.predict([16]).shape == fit.predict_response_time([16]).shape == (1,)
    assert fit.predict_interval([16])[0].shape == (1,)
    assert fit.predict_response_time(16) == pytest.approx(16 / truth[0] - 0.5, rel=1e-6)
    with pytest.raises(InputError, match=r"^concurrency to predict at must be > 0$"):
        fit.predict(0)
    with pytest.raises(InputError, match="must be > 0"):
        fit.predict_interval([4, np.nan])
    with pytest.warns(PerfkitWarning, match="rests on the mva law alone and is not evidence; "
                      "measure there instead"):  # fmt: skip
        fit.predict(300)


def test_table_rows_at_a_level(net_fit):
    fit = net_fit
    n = np.array([8.0, 64.0, 96.0, 512.0])
    with pytest.warns(PerfkitWarning) as seen:  # one warning, for the 512
        table = fit.table(n, level=0.5)
    assert len(seen) == 1
    assert list(table.columns) == ["concurrency", "throughput_per_s", "low_per_s", "high_per_s",
                                   "response_time_s", "range"]  # fmt: skip
    truth = net_x(n)
    sd = np.sqrt(0.02**2 + (0.05 * np.log2(np.maximum(n / 64, 1))) ** 2)
    t = stats.t.ppf(0.75, 6)
    assert table["concurrency"].tolist() == n.tolist()
    assert table["throughput_per_s"].to_numpy() == pytest.approx(truth, rel=1e-6)
    assert table["low_per_s"].to_numpy() == pytest.approx(truth * np.exp(-t * sd), rel=1e-6)
    assert table["high_per_s"].to_numpy() == pytest.approx(truth * np.exp(t * sd), rel=1e-6)
    assert table["response_time_s"].to_numpy() == pytest.approx(n / truth - 0.5, rel=1e-6)
    assert table["range"].tolist() == ["measured range", "measured range", "extrapolated",
                                       "extrapolated > 4x"]  # fmt: skip
    default = fit.table([32.0])  # a 95 % interval by default
    t95 = stats.t.ppf(0.975, 6)
    assert default["high_per_s"].iloc[0] == pytest.approx(
        net_x([32])[0] * math.exp(t95 * 0.02), rel=1e-6)  # fmt: skip
    assert fit.table([8, 32])["concurrency"].dtype == float  # whole numbers in, a float column
    assert fit.is_extrapolated(64) is False and fit.is_extrapolated(64.5) is True
    assert fit.is_extrapolated([32, 64, 65]).tolist() == [False, False, True]


def test_few_degrees_of_freedom_use_at_least_two():
    """Amdahl exactly on 3 loads: 1 degree of freedom; the t quantile is taken at 2."""
    n = np.array([1.0, 2.0, 4.0])
    fit = fit_capacity(n, 10 * n / (1 + 0.1 * (n - 1)))
    assert fit.model == "amdahl" and fit.dof == 1
    low, high = fit.predict_interval(4.0)
    assert math.log(high / low) == pytest.approx(2 * stats.t.ppf(0.975, 2) * 0.02, rel=1e-9)


def test_a_rival_within_twice_the_error_widens_the_interval():
    """Light load on 8 known slots (think 1 s, demand 50 ms, 1-4 users): the network fits
    exactly, Amdahl's law (held under c / D) within 0.1 %: a rival. At each measured load the
    interval is the union of both laws' bands, X x exp(+-t s)."""
    demand, servers, think = 0.05, 8, 1.0
    n = np.array([1.0, 2.0, 3.0, 4.0])
    x = np.array([ctmc(int(k), demand, servers, think) for k in n])
    fit = fit_capacity(n, x, think_time_s=think, servers=servers)
    assert fit.model == "mva" and fit.dof == 3 and fit.scatter == 0.02
    assert fit.candidates.loc["amdahl", "holdout_error"] <= 0.02  # 2 x the 1 % floor
    p = fit.candidates.loc["amdahl", "params"]
    rival = np.minimum(p["lambda"] * n / (1 + p["sigma"] * (n - 1)), p["server_bound_per_s"])
    assert np.any(rival < x) and np.any(rival > x)  # on both sides of the network
    band = math.exp(stats.t.ppf(0.975, 3) * 0.02)
    low, high = fit.predict_interval(n)
    assert low == pytest.approx(np.minimum(x, rival) / band, rel=1e-9)
    assert high == pytest.approx(np.maximum(x, rival) * band, rel=1e-9)


def test_server_concurrency_edges(tmp_path):
    # a log with bytes that are not UTF-8 (a worker's stray output) is still read
    log = tmp_path / "gunicorn.log"
    log.write_bytes(b"\xff\xfe garbage\n" + BOOT.format(s=1, pid=7).encode() + b"\n")
    assert server_concurrency(error_log=log).servers == 1
    with pytest.raises(
        InputError, match=r"missing\.log: cannot be read \(No such file or directory\)$"
    ):
        server_concurrency(error_log=tmp_path / "missing.log")
    # gthread without a thread count (the log never names it): the access log decides
    gthread = tmp_path / "gthread.log"
    gthread.write_text("[1] [INFO] Using worker: gthread\n" + BOOT.format(s=1, pid=7) + "\n")
    cap = server_concurrency(two_streams(), error_log=gthread)
    assert (cap.servers, cap.worker_class, cap.workers, cap.threads) == (2, "gthread", 1, None)
    assert cap.source.startswith("access log: at most 2.00 requests in flight per 5s")
    # requests that took no time held nothing in flight: no evidence of a cap
    instant = two_streams().assign(duration_ms=0.0)
    none = server_concurrency(instant)
    assert none.servers is None and none.max_in_flight == 0.0
    assert none.source == "unknown: no Gunicorn command or log and no access log"


def test_amdahl_candidate_keeps_its_parameters_in_range():
    """Amdahl's serial share sigma lies in [0, 1] and lambda > 0: superlinear steps give
    sigma 0, falling ones sigma 1 (flat at lambda); a slow service (0.5/s) is fitted too."""
    n = np.array([1.0, 2.0, 4.0])
    slow = fit_capacity(n, 0.5 * n / (1 + 0.2 * (n - 1)))
    assert slow.model == "amdahl"
    assert slow.params["lambda"] == pytest.approx(0.5, rel=1e-6)
    assert slow.params["sigma"] == pytest.approx(0.2, rel=1e-6)
    superlinear = fit_capacity(n, [10.0, 25.0, 60.0]).candidates.loc["amdahl", "params"]
    assert 0.0 <= superlinear["sigma"] < 1e-9
    falling = fit_capacity(n, [10.0, 8.0, 6.0]).candidates.loc["amdahl", "params"]
    assert 1.0 - 1e-9 < falling["sigma"] <= 1.0


def test_held_out_error_scatter_and_growth_by_hand():
    """2 known servers, X = 10, 20, 20 then 25 at 1, 2, 4, 8 users: without think time the
    network's forecast from any origin is the plateau 20/s (D = 0.1 s from 1 or 2 users), so
    the rolling forecasts are exact but for the last step, 20 % low: held-out error (from
    origin 2, where Amdahl's law can be scored too) (0 + 0.2 + 0.2) / 3; the in-sample scatter
    and the growth per doubling follow from the same numbers."""
    n = np.array([1.0, 2.0, 4.0, 8.0])
    x = np.array([10.0, 20.0, 20.0, 25.0])
    fit = fit_capacity(n, x, servers=2)
    assert fit.model == "mva" and fit.holdout_error == pytest.approx(2 / 15, rel=1e-9)
    assert dict(fit.candidates["forecasts"]) == {"mva": 3, "amdahl": 3, "usl": 0, "shared": 3}
    assert fit.candidates.loc["usl", "note"].startswith("kappa's 95 % interval holds 0")
    demand = math.exp(np.mean(np.log(np.minimum(n, 2) / x)))  # least squares in logs
    assert fit.params["demand_s"] == pytest.approx(demand, rel=1e-12)
    scatter = math.sqrt(np.sum((np.log(np.minimum(n, 2) / demand) - np.log(x)) ** 2) / 3)
    assert fit.dof == 3 and fit.scatter == pytest.approx(scatter, rel=1e-9)
    # every forecast of the network (log error, doublings past its origin): 3 from origin 1
    e = np.log([1, 1, 0.8, 1, 0.8, 0.8])
    d = np.array([1.0, 2, 3, 1, 2, 1])
    growth = math.sqrt(np.mean(np.maximum(e**2 - scatter**2, 0) / d**2))
    assert fit.growth == pytest.approx(growth, rel=1e-9)


def test_junk_rows_and_their_order_change_nothing():
    """Rows with no usable load, throughput or weight are dropped; the order does not matter."""
    n = np.array([1.0, 2, 3, 4, 6, 8, 12])
    x = np.minimum(n, 3) / 0.05
    clean = fit_capacity(n, x)
    junk_n = [*n[::-1], 0.0, 5.0, np.nan, 1000.0, 7.0, -2.0]
    junk_x = [*x[::-1], 20.0, 0.0, 30.0, np.nan, 60.0, 20.0]
    weights = [1.0] * 7 + [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    dirty = fit_capacity(junk_n, junk_x, weights=weights)
    assert dirty.params == pytest.approx(clean.params, rel=1e-12)
    assert dirty.measured_max == 12.0 and dirty.dof == clean.dof == 5
    assert dirty.holdout_error == pytest.approx(clean.holdout_error, abs=1e-12)
    with pytest.raises(
        InputError, match=r"^fit_capacity: concurrency, throughput and weights differ in length$"
    ):
        fit_capacity(n, x, weights=[1.0, 1.0])
    with pytest.raises(
        InputError, match=r"^fit_capacity: response_time_s differs in length from concurrency$"
    ):
        fit_capacity(n, x, response_time_s=[0.1, 0.2])


def test_think_time_from_response_times_by_the_response_time_law():
    """Z = N / X - R (median over steps): a network without think time gives Z = 0; a Z
    under 2 % of the median response time is noise, 0; R over N / X (impossible) gives 0."""
    n = np.array([1.0, 2, 3, 4, 6, 8, 12])
    x = np.minimum(n, 3) / 0.05
    r = n / x  # the response-time law with Z = 0
    assert fit_capacity(n, x, response_time_s=r).think_time_s == 0.0
    assert fit_capacity(n, x, response_time_s=0.99 * r).think_time_s == 0.0  # 1 %: noise
    assert fit_capacity(n, x, response_time_s=1.2 * r).think_time_s == 0.0  # never negative
    assert fit_capacity(n, x, response_time_s=np.full(7, np.nan)).think_time_s == 0.0
    # 3 % of R is kept as think time: Z = median(N / X - R), with one step's R missing
    r3 = 0.97 * r
    r3[0] = np.nan
    kept = fit_capacity(n[:4], x[:4], response_time_s=r3[:4], servers=3)  # 4 loads, c known
    assert kept.think_time_s == pytest.approx(float(np.median((n / x - r3)[1:4])), rel=1e-12)
    # a think time given is kept; rows dropped for their throughput drop their R too
    given = fit_capacity(n[:3], x[:3], 0.5 * r[:3], think_time_s=0.25, servers=3)
    assert given.think_time_s == 0.25
    dropped = fit_capacity([*n, 5.0], [*x, 0.0], [*r, 100.0])
    assert dropped.think_time_s == 0.0


def test_a_cap_never_reached_is_the_smallest_that_fits():
    """X = N / D exactly at 1-8 users: every c >= 8 explains the steps alike; the network takes
    the smallest, 8, and says it is only a lower bound."""
    n = np.array([1.0, 2.0, 4.0, 8.0])
    mva_row = fit_capacity(n, n / 0.1).candidates.loc["mva"]
    assert mva_row["params"]["servers"] == 8
    assert mva_row["params"]["demand_s"] == pytest.approx(0.1, rel=1e-12)
    assert mva_row["note"] == "servers fitted (not reached: a lower bound)"


def test_a_worker_class_given_by_its_dotted_path_is_its_kind():
    """Gunicorn's own table of worker classes is the truth: each class path is the kind of its
    short name; uvicorn's workers are asynchronous, so workers x threads caps nothing."""
    from gunicorn.workers import SUPPORTED_WORKERS

    from perfkit.analysis.capacity.servers import worker_kind

    for short, path in SUPPORTED_WORKERS.items():
        assert worker_kind(path) == worker_kind(short), (short, path)
        assert parse_gunicorn_command(f"gunicorn -k {path} app:app")["worker_class"] == \
            worker_kind(short)  # fmt: skip
    assert worker_kind("uvicorn.workers.UvicornWorker") == "uvicorn"
    assert worker_kind("gevent_pywsgi") == "gevent" and worker_kind("my.Custom") == "custom"
    log = "[2026-01-01 10:00:00 +0000] [7] [INFO] Using worker: gunicorn.workers.ggevent.GeventWorker"
    assert parse_gunicorn_log(log) == {"worker_class": "gevent"}
    for worker in ("uvicorn.workers.UvicornWorker", "gunicorn.workers.ggevent.GeventWorker",
                   "asgi"):  # fmt: skip
        cap = server_concurrency(command=f"gunicorn -w 2 -k {worker} app:app")
        assert cap.servers is None and cap.workers == 2, (worker, cap)
    sync = server_concurrency(command="gunicorn -w 2 -k gunicorn.workers.sync.SyncWorker app:app")
    assert (sync.servers, sync.worker_class) == (2, "sync")
