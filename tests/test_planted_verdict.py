"""The run-wide shift's pieces against independent computations (issue 16).

Each private helper of `perfkit.analysis.regression.verdict` is checked against its
docstring's formula written out plainly: the leave-one-out median by a Python loop over the
sorted others, the bisection by scipy's brentq, the spread's two stages (normal quantile,
clipped moments by numerical integration, Paule-Mandel's equation) by brentq, and the
per-key relative reading key by key. A planted spread between keys checks the estimate itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from perfkit.analysis.regression import verdict as v

CLIP = 2.5


def loo_median(r: np.ndarray) -> np.ndarray:
    """For each element the median of the others; of an even count, the nearer middle one
    (the lower on a tie)."""
    out = []
    for i in range(len(r)):
        others = sorted(np.delete(r, i))
        m = len(others)
        if m % 2:
            out.append(others[m // 2])
        else:
            low, high = others[m // 2 - 1], others[m // 2]
            out.append(low if abs(r[i] - low) <= abs(r[i] - high) else high)
    return np.array(out)


def clipped_moments(c: float) -> tuple[float, float]:
    """Mean and variance of min(Z^2, c^2), by quadrature."""

    def moment(power: int) -> float:
        inside = integrate.quad(lambda x: x ** (2 * power) * stats.norm.pdf(x), -c, c)[0]
        return inside + c ** (2 * power) * 2 * stats.norm.sf(c)

    first = moment(1)
    return first, moment(2) - first**2


def root(f, top: float) -> float:
    """The tau >= 0 where the decreasing f crosses 0 (0 when f(0) <= 0)."""
    return 0.0 if f(0.0) <= 0 else optimize.brentq(f, 0.0, top, xtol=1e-15, rtol=1e-14)


def ref_spread(res: np.ndarray, s: np.ndarray, extra) -> tuple[float, str]:
    """The spread as `_spread`'s docstring states it, and which stage answered."""
    mean, var = clipped_moments(CLIP)
    top = 10 * float(np.max(np.abs(res))) + 1.0

    def z(t: float) -> np.ndarray:
        return np.abs(res) / np.sqrt(s**2 + t**2 + extra(t))

    q40 = stats.norm.ppf(0.7)  # P(|Z| <= q) = 0.4
    rough = root(lambda t: float(np.quantile(z(t), 0.4)) - q40, top)
    keep = z(rough) <= CLIP
    n = int(keep.sum())
    if n < 2:
        return rough, "rough"
    total = float(np.sum(np.minimum(z(0.0)[keep] ** 2, CLIP**2)))
    if total <= n * mean + stats.norm.ppf(0.95) * np.sqrt(n * var):
        return 0.0, "homogeneous"
    return root(lambda t: float(np.mean(np.minimum(z(t)[keep] ** 2, CLIP**2))) - mean, top), "pm"


def median_var(s: np.ndarray, tau: float, k: float) -> float:
    return np.pi / 2 * k / np.sum(1 / np.sqrt(s**2 + tau**2)) ** 2


def test_the_constants_are_the_normals():
    mean, var = clipped_moments(CLIP)
    assert pytest.approx(mean, rel=1e-9) == v._CLIPPED_MEAN
    assert pytest.approx(var, rel=1e-9) == v._CLIPPED_VAR
    for c in (0.5, 1.0, 3.0):
        assert v._clipped_moments(c) == pytest.approx(clipped_moments(c), rel=1e-9)
    draws = np.random.default_rng(0).standard_normal(400_000)
    assert np.mean(np.abs(draws) <= v._NORMAL_QUANTILE_ABS) == pytest.approx(0.4, abs=0.003)
    assert pytest.approx(1.6448536, abs=1e-6) == v._HETEROGENEITY_Z


@pytest.mark.parametrize("k", range(2, 10))
def test_leave_one_out_median_is_the_loop(k):
    rng = np.random.default_rng(k)
    for trial in range(30):
        r = rng.normal(size=k) if trial % 3 else rng.integers(0, 3, size=k).astype(float)
        np.testing.assert_array_equal(v._leave_one_out_median(r), loo_median(r))


def test_leave_one_out_median_worked_example():
    # odd count of others: of 0.9, [0.0, 0.1, 0.5] -> 0.1
    r = np.array([0.0, 0.1, 0.5, 0.9])
    np.testing.assert_array_equal(v._leave_one_out_median(r), [0.5, 0.5, 0.1, 0.1])
    # even: of 0.0, [0.25, 0.5, 0.75, 1] -> 0.5 (nearer than 0.75); of 0.5, 0.25 and 0.75
    # are equally near -> the lower
    r = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(v._leave_one_out_median(r), [0.5, 0.5, 0.25, 0.5, 0.5])
    np.testing.assert_array_equal(v._leave_one_out_median(np.array([3.0, 1.0])), [1.0, 3.0])


@pytest.mark.parametrize("target", [0.0, 1e-6, 0.013, 0.7, 3.9])
def test_solve_is_brentq(target):
    residuals = np.array([0.2, -1.0, 0.5])  # bisection bracket: 4 * max|r| = 4
    excess = lambda t: np.exp(-t) - np.exp(-target)  # noqa: E731 (decreasing, root at target)
    got = v._solve(excess, residuals)
    assert got == pytest.approx(root(excess, 10.0), abs=1e-12)
    assert excess(got) <= 0  # the upper side of the crossing
    assert v._solve(lambda t: -1.0 - t, residuals) == 0.0
    assert v._solve(lambda t: 0.0 * t, residuals) == 0.0


def test_solve_a_flat_stretch_gives_its_smallest_point():
    # excess > 0 below 1, 0 on [1, 2]: the smallest tau where it reaches 0 is 1
    got = v._solve(lambda t: max(1.0 - t, 0.0) - max(t - 2.0, 0.0) * 0, np.array([1.0]))
    assert got == pytest.approx(1.0, abs=1e-12)


def _cases():
    rng = np.random.default_rng(16)
    for k in (3, 4, 5, 8, 12, 30, 80):
        for tau in (0.0, 0.05, 0.3):
            s = rng.uniform(0.01, 0.1, size=k)
            res = rng.normal(0, np.sqrt(s**2 + tau**2))
            if k >= 8:
                res[: k // 6] += 2.0  # changed keys
            yield res, s
    yield np.array([0.5]), np.array([0.1])  # one key, one inlier: the rough stage answers
    for seed in (4, 64, 73, 98):  # heterogeneity test near its bound: the clip decides it
        rng = np.random.default_rng(seed)
        k, tau = int(rng.integers(5, 40)), rng.uniform(0, 0.08)
        s = rng.uniform(0.01, 0.1, k)
        yield rng.normal(0, np.sqrt(s**2 + tau**2)), s


def test_spread_is_its_docstring():
    stages = set()
    for res, s in _cases():
        for extra in (lambda t: 0.0, lambda t, s=s: median_var(s, t, len(s) - 1)):
            want, stage = ref_spread(res, s, extra)
            stages.add(stage)
            assert v._spread(res, s, extra) == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert stages == {"rough", "homogeneous", "pm"}


def test_spread_recovers_a_planted_tau():
    rng = np.random.default_rng(7)
    for tau in (0.05, 0.2):
        s = rng.uniform(0.01, 0.05, size=600)
        res = rng.normal(0, np.sqrt(s**2 + tau**2))
        res[:60] += 1.5  # a tenth changed: left out
        assert v._spread(res, s, lambda t: 0.0) == pytest.approx(tau, rel=0.12)
    s = np.full(600, 0.05)
    assert v._spread(rng.normal(0, 0.05, 600), s, lambda t: 0.0) < 0.02


def test_median_variance_formula():
    s = np.array([0.1, 0.2, 0.4])
    assert v._median_variance(s, 0.3, 3) == pytest.approx(median_var(s, 0.3, 3), rel=1e-12)
    assert v._median_variance(s, 0.0, 7, total=2.0) == pytest.approx(np.pi / 2 * 7 / 4)
    wide = np.array([2.0, 4.0, 8.0])  # imprecise keys: the sum of 1/sigma under 1
    assert v._median_variance(wide, 0.0, 3) == pytest.approx(median_var(wide, 0.0, 3), rel=1e-12)


def test_against_votes_is_its_formula():
    votes = (np.log([1.1, 1.2, 1.15, np.nan, 1.3]), np.array([0.02, 0.03, 0.01, 0.02, 0.0]))
    r, s = np.log([1.5, 1.1, 0.9, 1.2]), np.array([0.05, 0.0, 0.02, 0.0])
    r[3] = 0.0
    shift = v.Shift(factor=1.12, spread=0.03, estimated=True)
    center, z, half = v._against_votes(r, s, shift, votes, 2.0)
    se = np.sqrt(s**2 + 0.03**2 + median_var(np.array([0.02, 0.03, 0.01]), 0.03, 3))
    np.testing.assert_allclose(center, r - np.log(1.12), rtol=1e-12)
    np.testing.assert_allclose(z, center / se, rtol=1e-12)
    np.testing.assert_allclose(half, 2.0 * se, rtol=1e-12)
    center, z, half = v._against_votes(r, s, v.Shift(), votes, 2.0)  # no shift: the raw reading
    np.testing.assert_array_equal(center, r)
    np.testing.assert_array_equal(half, 2.0 * s)
    assert z[0] == pytest.approx(r[0] / 0.05) and z[1] == np.inf and z[3] == 0.0
    assert v._against_votes(-r, s, v.Shift(), votes, 2.0)[1][1] == -np.inf


def ref_against_shift(r, s, estimated, z_crit, min_spread=0.0):
    n = len(r)
    center, se = r.astype(float).copy(), s.astype(float).copy()
    votes = [i for i in range(n) if np.isfinite(r[i]) and np.isfinite(s[i]) and s[i] > 0]
    if estimated and len(votes) >= 2:
        rv, sv = r[votes], s[votes]
        k = len(votes)
        tau = max(
            min_spread, ref_spread(rv - loo_median(rv), sv, lambda t: median_var(sv, t, k - 1))[0]
        )
        loo = loo_median(rv)
        for j, i in enumerate(votes):
            others = np.delete(sv, j)
            var = median_var(others, tau, k - 1)
            center[i] = rv[j] - loo[j]
            se[i] = np.sqrt(sv[j] ** 2 + tau**2 + var)
        for i in range(n):
            if i not in votes and np.isfinite(r[i]):
                center[i] = r[i] - np.median(rv)
    z = np.empty(n)
    for i in range(n):
        if se[i] > 0:
            z[i] = center[i] / se[i]
        elif np.isnan(se[i]):
            z[i] = np.nan
        else:
            z[i] = 0.0 if center[i] == 0 else np.sign(center[i]) * np.inf
    return center, z, z_crit * se


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("estimated", [True, False])
def test_against_shift_key_by_key(seed, estimated):
    rng = np.random.default_rng(seed)
    k = 5 + seed * 3
    s = rng.uniform(0.01, 0.08, size=k)
    r = 0.1 + rng.normal(0, np.sqrt(s**2 + (0.04 * (seed % 3)) ** 2))
    r[0] += 0.5  # one changed key
    s[1] = 0.0  # time resolution: not a vote, judged against the full shift
    r[2], s[2] = np.inf, 0.05  # no vote, not finite: left as is
    r[3] = np.nan  # no ratio
    z_crit = stats.norm.ppf(0.975)
    default = v._against_shift(r, s, estimated, z_crit)
    for g, w in zip(default, ref_against_shift(r, s, estimated, z_crit), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    for min_spread in (0.0, 0.1):
        got = v._against_shift(r, s, estimated, z_crit, min_spread)
        want = ref_against_shift(r, s, estimated, z_crit, min_spread)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_against_shift_one_vote_is_the_raw_reading():
    r, s = np.array([0.3, 0.1, np.nan, 0.0]), np.array([0.1, 0.0, 0.1, 0.0])
    center, z, half = v._against_shift(r, s, True, 2.0)
    np.testing.assert_array_equal(center, r)
    np.testing.assert_array_equal(half, 2 * s)
    assert z[0] == pytest.approx(3.0) and z[1] == np.inf and z[3] == 0.0  # no change, no error


@pytest.mark.parametrize("seed", range(4))
def test_estimate_shift_is_its_docstring(seed):
    rng = np.random.default_rng(100 + seed)
    k = 6 + 5 * seed
    s = rng.uniform(0.01, 0.06, size=k)
    r = np.log(1.08) + rng.normal(0, np.sqrt(s**2 + (0.03 * seed) ** 2))
    r_in, s_in = np.append(r, [np.nan, 0.2]), np.append(s, [0.1, 0.0])  # left out
    for confidence, min_spread in ((0.95, 0.0), (0.9, 0.05)):
        shift = v.estimate_shift(r_in, s_in, min_keys=5, min_shift=0.02, confidence=confidence,
                                 min_spread=min_spread)  # fmt: skip
        tau = max(
            min_spread, ref_spread(r - loo_median(r), s, lambda t: median_var(s, t, k - 1))[0]
        )
        half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(median_var(s, tau, k))
        center = np.median(r)
        assert shift.estimated and shift.keys == k
        assert shift.factor == pytest.approx(np.exp(center), rel=1e-12)
        assert shift.ci_low == pytest.approx(np.exp(center - half), rel=1e-9)
        assert shift.ci_high == pytest.approx(np.exp(center + half), rel=1e-9)
        assert shift.spread == pytest.approx(tau, rel=1e-9, abs=1e-12)
        want = (shift.ci_low > 1 or shift.ci_high < 1) and abs(shift.factor - 1) >= 0.02
        assert shift.material == want
        assert (shift.min_keys, shift.min_shift, shift.what) == (5, 0.02, "endpoints")
    few = v.estimate_shift(r[:4], s[:4], min_keys=5)
    assert not few.estimated and few.keys == 4 and few.min_keys == 5
    assert few.what == "endpoints" and v.estimate_shift(r[:4], s[:4], 4, what="routes").estimated
    assert v.estimate_shift(r[:5], s[:5]).estimated  # default: 5 keys are enough
    named = v.estimate_shift(r, s, 3, 0.07, "queries")
    assert (named.min_keys, named.min_shift, named.what) == (3, 0.07, "queries")
    assert v.estimate_shift(r[:2], s[:2], 3, what="queries").what == "queries"


def test_material_needs_the_floor_and_the_interval():
    s = np.full(40, 0.001)
    r = np.log(1.03) + np.random.default_rng(1).normal(0, 0.001, 40)
    assert v.estimate_shift(r, s, min_shift=0.02).material
    assert not v.estimate_shift(r, s, min_shift=0.04).material  # under the floor
    assert not v.estimate_shift(r, s * 100, min_shift=0.02).material  # interval holds 1
    assert v.estimate_shift(-r, s, min_shift=0.02).material  # a speed-up too


def fisher_by_hand(e1: int, n1: int, e2: int, n2: int) -> float:
    """Two-sided Fisher p: the hypergeometric tables no likelier than the one observed."""
    law = stats.hypergeom(n1 + n2, e1 + e2, n2)
    seen = law.pmf(e2)
    support = np.arange(max(0, e1 + e2 - n1), min(n2, e1 + e2) + 1)
    probs = law.pmf(support)
    return float(min(1.0, probs[probs <= seen * (1 + 1e-7)].sum()))


def counts(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["n_base", "errors_base", "client_base", "n_cand",
                                       "errors_cand", "client_cand"])  # fmt: skip


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_error_rates_tested_by_hand(confidence):
    from perfkit.analysis.regression.errors import _tested

    frame = counts([
        (200, 4, 10, 180, 15, 3),  # rose
        (50, 0, 0, 60, 3, 6),  # from none: ratio infinite
        (40, 0, 1, 40, 0, 0),  # none on either side: ratio undefined
        (300, 30, 0, 250, 5, 0),  # fell
    ])  # fmt: skip
    out = _tested(frame, 20, 0.05, confidence)
    z = stats.norm.ppf(0.5 + confidence / 2)
    for i, (n1, e1, c1, n2, e2, c2) in enumerate(frame.itertuples(index=False)):
        row = out.iloc[i]
        a1, a2 = (e1 + 1) / (n1 + 2), (e2 + 1) / (n2 + 2)
        half = z * np.sqrt(a1 * (1 - a1) / (n1 + 2) + a2 * (1 - a2) / (n2 + 2))
        assert (row["n_base"], row["errors_cand"]) == (n1, e2)
        assert row["rate_base"] == pytest.approx(e1 / n1)
        assert row["rate_cand"] == pytest.approx(e2 / n2)
        assert row["diff"] == pytest.approx(e2 / n2 - e1 / n1)
        assert row["diff_ci_low"] == pytest.approx(a2 - a1 - half, rel=1e-12)
        assert row["diff_ci_high"] == pytest.approx(a2 - a1 + half, rel=1e-12)
        assert row["client_rate_base"] == pytest.approx(c1 / n1)
        assert row["client_rate_cand"] == pytest.approx(c2 / n2)
        assert row["p_value"] == pytest.approx(fisher_by_hand(e1, n1, e2, n2), rel=1e-9)
    assert out["rate_ratio"].iloc[0] == pytest.approx((15 / 180) / (4 / 200))
    assert out["rate_ratio"].iloc[1] == np.inf and np.isnan(out["rate_ratio"].iloc[2])
    for column in ("n_base", "n_cand", "errors_base", "errors_cand"):
        assert out[column].dtype.kind == "i"  # counts stay counts


def test_error_rates_tested_at_the_size_bounds():
    from perfkit.analysis.regression.errors import _tested

    frame = counts([(20, 1, 0, 20, 9, 0), (19, 1, 0, 40, 9, 0), (3, 0, 0, 3, 3, 0),
                    (4, 0, 0, 4, 4, 0)])  # fmt: skip
    p = _tested(frame, 20, 0.05, 0.95)["p_value"].to_numpy()
    assert p[0] == pytest.approx(fisher_by_hand(1, 20, 9, 20)) and np.isnan(p[1:]).all()
    # 3 against 3: the smallest p is 2 / C(6, 3) = 0.1: tested from alpha 0.1 on
    p = _tested(frame, 3, 0.1, 0.95)["p_value"].to_numpy()
    assert p[2] == pytest.approx(fisher_by_hand(0, 3, 3, 3)) and not np.isnan(p).any()
    p = _tested(frame, 3, 0.099, 0.95)["p_value"].to_numpy()
    assert np.isnan(p[2]) and p[3] == pytest.approx(fisher_by_hand(0, 4, 4, 4))
    assert np.isnan(_tested(frame, 4, 0.1, 0.95)["p_value"].to_numpy()[2])


def rule_by_key(ratio, lo, hi, change, p95, p95_lo, p95_hi, p95_change, sig, small, mr, ma):
    """The raw verdict as the module docstring states it, one key at a time."""
    if small:
        return "insufficient data"
    practical = abs(change) >= ma and (np.isinf(ratio) or abs(ratio - 1) >= mr)
    tail = abs(p95_change) >= ma and abs(p95 - 1) >= mr  # False when p95 is NaN
    up = (practical and lo > 1) or (tail and p95_lo > 1)
    down = (practical and hi < 1) or (tail and p95_hi < 1)
    rose, fell = ratio > 1 or p95 > 1, ratio < 1 or p95 < 1
    if sig and up and rose:  # a key none of whose statistics rose is never regressed
        return "regressed"
    if sig and down and fell:
        return "improved"
    return "unchanged"


def test_rule_is_the_docstring_key_by_key():
    import itertools

    grid = list(itertools.product(
        [0.5, 0.97, 1.0, 1.03, 1.5, np.inf], [0.9, 1.0, 1.01], [0.99, 1.0, 1.2],
        [np.nan, 0.5, 0.96, 1.0, 1.04, 1.5], [0.9, 1.0, 1.01], [0.99, 1.0, 1.2], [1.0, 10.0],
    ))  # fmt: skip
    rng = np.random.default_rng(3)
    ratio, lo, hi, p95, p95_lo, p95_hi, base = (np.array(c) for c in zip(*grid, strict=True))
    change = np.where(np.isinf(ratio), 50.0, base * (ratio - 1))
    p95_change = base * 2 * (p95 - 1)
    sig, small = rng.random(len(grid)) < 0.8, rng.random(len(grid)) < 0.05
    got = v._rule(ratio, lo, hi, change, p95, p95_lo, p95_hi, p95_change, sig, small, 0.05, 1.0)
    want = [rule_by_key(*a, 0.05, 1.0) for a in zip(ratio, lo, hi, change, p95, p95_lo, p95_hi,
                                                    p95_change, sig, small, strict=True)]  # fmt: skip
    assert list(got) == want
    assert {"regressed", "improved", "unchanged", "insufficient data"} <= set(want)


def test_a_key_without_a_standard_error_gets_no_z():
    """A NaN standard error (bootstrap medians of 0 on a side) is no evidence: z is NaN, not the
    +-inf that made the report print a relative p-value of 0 beside a NaN interval."""
    from perfkit.analysis.regression.verdict import _against_shift

    r = np.log(np.array([1.1, 1.12, 1.09, 1.11, 1.1, 1.5]))
    s = np.array([0.02, 0.02, 0.02, 0.02, 0.02, np.nan])
    center, z, half = _against_shift(r, s, True, 1.96)
    assert np.isnan(z[-1]) and np.isnan(half[-1]) and np.isfinite(center[-1])
    assert np.all(np.isfinite(z[:-1]))
