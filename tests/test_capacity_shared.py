"""The `shared` capacity law (issue 17): a worker pool beside a shared single-server station
(the CPU cores or a database its slots contend for). Truth: a brute-force Markov chain of the
closed network, the pool-only MVA it reduces to, planted networks, and adversarial cases where
the extra station must not be chosen; then the parsimony rule that picks among the laws."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from perfkit.analysis.capacity import fit_capacity, mva
from perfkit.analysis.capacity.mva import network
from perfkit.analysis.capacity.select import _choose
from perfkit.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore::perfkit.errors.PerfkitWarning")  # 8x past 8


def ctmc(population: int, demand: float, servers: int, shared: float, think: float) -> float:
    """X of the closed cycle think -> pool (c servers, D) -> shared station (1 server, B) by
    brute force: every (at the pool, at the shared station) state, its generator's null space
    by least squares; X is the shared station's completion rate. Z = 0: no think station."""
    states = [(p, s) for p in range(population + 1) for s in range(population + 1 - p)
              if think > 0 or p + s == population]  # fmt: skip
    index = {st: i for i, st in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    for (p, s), i in index.items():
        thinking = population - p - s
        moves = [((p - 1, s + 1), min(p, servers) / demand if p else 0.0),
                 ((p, s - 1) if think > 0 else (p + 1, s - 1), 1 / shared if s else 0.0),
                 ((p + 1, s), thinking / think if think > 0 and thinking else 0.0)]  # fmt: skip
        for target, rate in moves:
            if rate:
                q[i, index[target]] += rate
        q[i, i] = -q[i].sum()
    a = np.vstack([q.T, np.ones(len(states))])
    b = np.zeros(len(states) + 1)
    b[-1] = 1
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return float(sum(pi[i] / shared for (_, s), i in index.items() if s))


@pytest.mark.parametrize(("servers", "think"), [(1, 0.0), (3, 0.0), (2, 0.4), (5, 1.5)])
def test_the_network_equals_the_markov_chain(servers, think):
    demand, shared = 0.09, 0.02
    x = network(9, demand, servers, shared, think)
    for n in range(1, 10):
        assert x[n - 1] == pytest.approx(ctmc(n, demand, servers, shared, think), rel=1e-9)


def test_without_a_shared_station_it_is_the_pools_mva_and_its_asymptote_is_the_tighter_cap():
    for servers, think in [(1, 0.0), (4, 0.0), (8, 2.0)]:
        assert network(40, 0.05, servers, 0.0, think) == pytest.approx(
            mva(40, 0.05, servers, think)[0], rel=1e-12)  # fmt: skip
    x = network(2000, 0.018, 8, 0.006, 0.0)  # pool cap 8 / 0.018 = 444/s, shared 1 / 0.006
    assert x[0] == pytest.approx(1 / 0.024)  # one user: D + B, never queued
    assert np.all(np.diff(x) > -1e-9) and x[-1] == pytest.approx(1 / 0.006, rel=1e-3)
    assert np.all(x <= np.minimum(np.arange(1, 2001) / 0.024, 1 / 0.006) * (1 + 1e-12))
    with pytest.raises(InputError, match="bottleneck >= 0"):
        network(5, 0.05, 2, -0.01)


def planted(n, demand, servers, shared):
    return np.array([network(int(k), demand, servers, shared)[-1] for k in n])


def test_eight_slots_on_a_shared_station_are_forecast_from_the_low_steps():
    """gthread's shape: 8 slots of 18 ms beside a 6 ms station. Fitted on 1..8 users the
    pool alone would level off at 8 / D = 444/s; the network with the station recovers D and
    B and forecasts 16..64 users exactly, its plateau 1 / B."""
    low, high = np.array([1.0, 2, 4, 8]), np.array([16.0, 32, 64])
    fit = fit_capacity(low, planted(low, 0.018, 8, 0.006), servers=8)
    assert fit.model == "shared"
    assert fit.params["demand_s"] == pytest.approx(0.018, rel=1e-4)
    assert fit.params["shared_demand_s"] == pytest.approx(0.006, rel=1e-4)
    assert fit.plateau == pytest.approx(1 / 0.006, rel=1e-4)
    assert fit.predict(high) == pytest.approx(planted(high, 0.018, 8, 0.006), rel=1e-3)
    pool_alone = fit._laws["mva"].predict(high)
    assert np.all(pool_alone > 1.5 * planted(high, 0.018, 8, 0.006))
    assert "shared station of 6 ms" in fit.describe()
    assert fit.bounds(np.array([1.0, 1000])) == pytest.approx([1 / 0.024, 1 / 0.006])


def test_a_station_that_does_not_bind_is_not_a_law_of_its_own():
    """2 slots of 80 ms beside a 10 ms station: the pool (25/s) binds long before the station
    (100/s). The station only bends the knee; the extra parameter is dropped (on a noisy host
    it fits the noise: the wild sync2 recording), and the pool's network forecasts the plateau
    within 10 % (its one demand absorbs the knee: 23.5/s for 25)."""
    low, high = np.array([1.0, 2, 4, 8]), np.array([16.0, 64])
    fit = fit_capacity(low, planted(low, 0.08, 2, 0.01), servers=2)
    assert fit.model != "shared" and math.isnan(fit.candidates.loc["shared", "holdout_error"])
    assert fit.candidates.loc["shared", "note"].startswith("the shared station does not bind")
    assert fit.predict(high) == pytest.approx(planted(high, 0.08, 2, 0.01), rel=0.1)
    # without a known server cap there is no pool to set beside the station: not a candidate
    assert "shared" not in fit_capacity(low, planted(low, 0.08, 2, 0.01)).candidates.index


def test_a_plain_pool_with_noise_keeps_the_pools_law():
    """A pool-bound plateau (4 slots of 50 ms) with 4 % seeded noise: the station would fit
    the noise; the chosen law forecasts the plateau within 10 %."""
    rng = np.random.default_rng(17)
    n = np.array([1.0, 2, 4, 8, 16, 32])
    x = np.minimum(n, 4) / 0.05 * np.exp(rng.normal(0, 0.04, len(n)))
    fit = fit_capacity(n[:4], x[:4], servers=4)
    assert fit.model in ("mva", "amdahl")
    assert fit.predict(n[4:]) == pytest.approx([80.0, 80.0], rel=0.1)


@pytest.mark.parametrize(("errors", "want"), [
    ({"mva": 0.10, "shared": 0.09}, "mva"),  # within 1.25x: the fewer parameters
    ({"mva": 0.10, "shared": 0.079}, "shared"),  # 1.27x better: the extra station earns it
    ({"amdahl": 0.050, "usl": 0.040}, "amdahl"),  # exactly 1.25x: still the simpler
    ({"amdahl": 0.050, "usl": 0.0399}, "usl"),
    ({"mva": 0.2, "amdahl": 0.03, "usl": 0.029, "shared": 0.031}, "amdahl"),  # tie on 2: lower
    ({"amdahl": 0.03, "shared": 0.03}, "amdahl"),  # same error, same freedom: the older law
    ({"mva": 0.0, "amdahl": 0.0}, "mva"),
])  # fmt: skip
def test_parsimony_chooses_the_simplest_law_that_forecasts_about_as_well(errors, want):
    assert _choose(errors) == want
    for order in itertools.permutations(errors):  # the table's order does not matter
        assert _choose({m: errors[m] for m in order}) == want


def test_a_network_that_fits_its_server_count_has_two_parameters():
    """With the server count unknown the network fits it beside D: as many parameters as
    Amdahl's law, so on a tie the older law's order decides, not a parsimony it has not earned;
    with the count known it has one and wins the tie."""
    assert _choose({"mva": 0.1, "amdahl": 0.1}, servers_known=False) == "amdahl"
    assert _choose({"mva": 0.1, "amdahl": 0.1}, servers_known=True) == "mva"
    assert _choose({"mva": 0.1, "amdahl": 0.13}, servers_known=False) == "mva"  # lower error
