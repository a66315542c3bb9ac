"""`compare_samples`' options each do what the docstring says (issue 16): values against
numpy and scipy, the bootstrap interval against a plain resampling loop, and each option
(statistic, alpha, correction, floors, min_n, n_boot, confidence, seed, normalize, min_keys,
what, several keys) changing the answer the documented way on planted samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis.significance import compare_samples


def frame(groups: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [(k, float(v)) for k, values in groups.items() for v in values], columns=["k", "ms"]
    )


def pair(factors: dict, n: int = 60, seed: int = 1, sigma: float = 0.3):
    """Baseline and candidate lognormal samples per key; the candidate scaled by its factor."""
    rng = np.random.default_rng(seed)
    base = {k: 100 * rng.lognormal(0, sigma, n) for k in factors}
    cand = {k: f * 100 * rng.lognormal(0, sigma, n) for k, f in factors.items()}
    return base, cand


def holm(p: np.ndarray) -> np.ndarray:
    m, out = len(p), np.empty(len(p))
    running = 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    return np.array([min(1.0, min(m * p[j] / (np.sum(p <= p[j])) for j in range(m)
                                  if p[j] >= p[i])) for i in range(m)])  # fmt: skip


def test_figures_are_numpys_and_scipys():
    base, cand = pair({"a": 1.0, "b": 1.3, "c": 0.8, "d": 1.05})
    base["a"] = np.append(base["a"], np.nan)  # dropped
    cand["e"] = np.arange(1.0, 30.0)  # no baseline: insufficient data
    out = compare_samples(frame(base), frame(cand), "k", "ms")
    for k in "abcd":
        x, y = base[k][~np.isnan(base[k])], cand[k]
        row = out.loc[k]
        assert (row["n_base"], row["n_cand"]) == (len(x), len(y))
        assert row["p50_base"] == pytest.approx(np.percentile(x, 50))
        assert row["p95_cand"] == pytest.approx(np.percentile(y, 95))
        assert row["mean_base"] == pytest.approx(x.mean())
        assert row["ratio"] == pytest.approx(np.median(y) / np.median(x))
        assert row["p95_ratio"] == pytest.approx(np.percentile(y, 95) / np.percentile(x, 95))
        assert row["p_value"] == pytest.approx(stats.mannwhitneyu(y, x).pvalue, rel=1e-9)
    p = out.loc[list("abcd"), "p_value"].to_numpy()
    np.testing.assert_allclose(out.loc[list("abcd"), "p_adjusted"], holm(p), rtol=1e-12)
    assert list(out.loc[["b", "c"], "verdict"]) == ["regressed", "improved"]
    e = out.loc["e"]
    assert e["n_base"] == 0 and e["verdict"] == "insufficient data" and np.isnan(e["ratio"])
    assert out.loc["a", "test"] == "Mann-Whitney U; bootstrap median ratio"
    bh_out = compare_samples(frame(base), frame(cand), "k", "ms", correction="bh")
    np.testing.assert_allclose(bh_out.loc[list("abcd"), "p_adjusted"], bh(p), rtol=1e-12)
    with pytest.raises(ValueError, match="correction"):
        compare_samples(frame(base), frame(cand), "k", "ms", correction="sidak")


def resampled(x, y, center, n: int, confidence: float, seed: int = 5) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    ratios = [center(rng.choice(y, len(y))) / center(rng.choice(x, len(x))) for _ in range(n)]
    tail = (1 - confidence) / 2 * 100
    return tuple(np.percentile(ratios, [tail, 100 - tail]))


@pytest.mark.parametrize("confidence", [0.8, 0.95])
def test_the_interval_is_a_percentile_bootstrap(confidence):
    base, cand = pair({"a": 1.2}, n=80, seed=3)
    x, y = base["a"], cand["a"]
    out = compare_samples(frame(base), frame(cand), "k", "ms", n_boot=4000,
                          confidence=confidence).loc["a"]  # fmt: skip
    low, high = resampled(x, y, np.median, 3000, confidence)
    assert out["ci_low"] == pytest.approx(low, rel=0.02)
    assert out["ci_high"] == pytest.approx(high, rel=0.02)
    mean = compare_samples(frame(base), frame(cand), "k", "ms", statistic="mean", n_boot=4000,
                           confidence=confidence).loc["a"]  # fmt: skip
    low, high = resampled(x, y, np.mean, 3000, confidence)
    assert mean["ci_low"] == pytest.approx(low, rel=0.02)
    assert mean["ci_high"] == pytest.approx(high, rel=0.02)
    assert mean["ratio"] == pytest.approx(y.mean() / x.mean())
    assert mean["test"] == "Mann-Whitney U; bootstrap mean ratio"
    p95 = lambda v: np.percentile(v, 95)  # noqa: E731
    low, high = resampled(x, y, p95, 3000, confidence)
    assert out["p95_ci_low"] == pytest.approx(low, rel=0.04)
    assert out["p95_ci_high"] == pytest.approx(high, rel=0.04)


def test_seed_and_n_boot_are_used():
    base, cand = pair({"a": 1.2, "b": 1.0})
    run = lambda **kw: compare_samples(frame(base), frame(cand), "k", "ms", **kw)  # noqa: E731
    cols = ["ci_low", "ci_high", "p95_ci_low", "p95_ci_high", "log_se", "p95_log_se"]
    pd.testing.assert_frame_equal(run(seed=4)[cols], run(seed=4)[cols])
    for other in (run(seed=5), run(n_boot=500)):
        assert (other[cols] != run()[cols]).any().all()  # each figure moved
    wide, narrow = run(confidence=0.99), run(confidence=0.8)
    assert (wide["ci_low"] < narrow["ci_low"]).all() and (wide["ci_high"] > narrow["ci_high"]).all()


def test_statistic_mean_judges_the_mean():
    # medians equal, means apart: the tail moved
    x = np.concatenate([np.full(50, 100.0), np.full(50, 200.0)]) + np.arange(100) * 0.01
    y = np.concatenate([np.full(50, 100.0), np.full(50, 400.0)]) + np.arange(100) * 0.01
    base, cand = {"a": x}, {"a": y}
    median = compare_samples(frame(base), frame(cand), "k", "ms").loc["a"]
    mean = compare_samples(frame(base), frame(cand), "k", "ms", statistic="mean").loc["a"]
    assert median["ratio"] == pytest.approx(np.median(y) / np.median(x))
    assert mean["ratio"] == pytest.approx(y.mean() / x.mean())
    with pytest.raises(ValueError, match="statistic"):
        compare_samples(frame(base), frame(cand), "k", "ms", statistic="p99")


def test_the_floors():
    base, cand = pair({"a": 1.04}, n=3000, seed=2, sigma=0.05)
    run = lambda **kw: compare_samples(frame(base), frame(cand), "k", "ms", **kw).loc["a"]  # noqa: E731
    assert run()["p_value"] < 1e-6
    assert run(min_ratio=0.05)["verdict"] == "unchanged"  # 4 % under the 5 % floor
    assert run(min_ratio=0.02)["verdict"] == "regressed"
    assert run(min_ratio=0.02, min_abs=10.0)["verdict"] == "unchanged"  # 4 ms under 10 ms


def test_alpha_and_min_n():
    base, cand = pair({"a": 1.25}, n=12, seed=9)
    run = lambda **kw: compare_samples(frame(base), frame(cand), "k", "ms", **kw).loc["a"]  # noqa: E731
    p = run()["p_value"]
    assert 0.001 < p < 0.05
    assert run(alpha=p * 1.01)["verdict"] == "regressed"
    assert run(alpha=p * 0.99)["verdict"] == "unchanged"
    assert run(min_n=13)["verdict"] == "insufficient data" and np.isnan(run(min_n=13)["ratio"])
    assert run(min_n=12)["verdict"] == "regressed"
    # 4 against 4: the smallest p is 2/70 = 0.029, so alpha 0.02 can never be reached
    small = pair({"a": 3.0}, n=4, seed=1)
    go = lambda **kw: compare_samples(frame(small[0]), frame(small[1]), "k", "ms", min_n=4,  # noqa: E731
                                      **kw).loc["a", "verdict"]  # fmt: skip
    assert go(alpha=0.05) == "regressed" and go(alpha=0.02) == "insufficient data"


def test_normalize_min_keys_and_what():
    factors = {k: 1.3 * f for k, f in zip("abcdefgh", [1, 1.01, 0.99, 1, 1.02, 0.98, 1, 1],
                                          strict=True)}  # fmt: skip
    base, cand = pair(factors, n=200, seed=4, sigma=0.1)
    run = lambda **kw: compare_samples(frame(base), frame(cand), "k", "ms", **kw)  # noqa: E731
    assert (run()["verdict"] == "regressed").all()
    assert not run().attrs["shift"].applied
    out = run(normalize=True, what="routes")
    shift = out.attrs["shift"]
    assert shift.estimated and shift.applied and shift.what == "routes" and shift.keys == 8
    assert shift.factor == pytest.approx(np.exp(np.median(np.log(out["ratio"]))), rel=1e-9)
    assert (out["verdict"] == "moved with shift").all()
    alone = run(normalize=True, min_keys=9)
    assert not alone.attrs["shift"].estimated and alone.attrs["shift"].min_keys == 9
    assert (alone["verdict"] == "regressed").all()


def test_several_keys():
    rng = np.random.default_rng(0)
    rows = lambda f: pd.DataFrame({  # noqa: E731
        "method": np.repeat(["GET", "POST"], 40), "route": np.tile(["/a", "/b"], 40),
        "ms": 100 * f * rng.lognormal(0, 0.2, 80),
    })  # fmt: skip
    out = compare_samples(rows(1.0), rows(1.0), ["method", "route"], "ms")
    assert list(out.index.names) == ["method", "route"] and len(out) == 4
    assert out.loc[("GET", "/a"), "n_base"] == 20


def test_sizes_and_missing_sides():
    base, cand = pair({"a": 1.3, "b": 1.3, "c": 1.3}, n=40, seed=6)
    base["b"] = base["b"][:3]  # under min_n on one side only (the sizes could reach alpha)
    del cand["c"]  # no candidate
    out = compare_samples(frame(base), frame(cand), "k", "ms")
    assert out.index.name == "k" and list(out.index) == ["a", "b", "c"]
    assert out.loc["a", "verdict"] == "regressed"
    assert out.loc["b", "verdict"] == "insufficient data" and out.loc["b", "n_base"] == 3
    assert out.loc["c", "verdict"] == "insufficient data"
    assert out.loc["c", "n_cand"] == 0 and np.isnan(out.loc["c", "p50_cand"])
    # 4 against 4 at alpha = 2/70 exactly: the sizes can reach it, so the key is judged
    small = pair({"a": 3.0}, n=4, seed=1)
    got = compare_samples(frame(small[0]), frame(small[1]), "k", "ms", min_n=4, alpha=2 / 70)
    assert got.loc["a", "verdict"] != "insufficient data"


def test_the_defaults():
    # min_abs 1 (in the unit), min_n 5, min_keys 5, what "keys"
    rng = np.random.default_rng(2)
    base = {k: 20 + rng.normal(0, 0.05, 5) for k in "abcde"}
    cand = {k: v + 1.5 for k, v in base.items()}  # 7.5 %, 1.5 ms: over both floors
    out = compare_samples(frame(base), frame(cand), "k", "ms", normalize=True)
    assert (out["n_base"] == 5).all() and out.attrs["shift"].estimated
    assert out.attrs["shift"].what == "keys"
    plain = compare_samples(frame(base), frame(cand), "k", "ms")
    assert (plain["verdict"] == "regressed").all()


def test_adjust_and_min_p_value_by_hand():
    from perfkit.analysis.significance import adjust, min_p_value

    p = np.array([0.6, np.nan, 0.7, 0.01, 0.02])
    got = adjust(p)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3, 4]], holm(p[[0, 2, 3, 4]]), rtol=1e-12)
    assert got[0] == 1.0  # 3 * 0.6 capped at 1
    for alias in ("bh", "fdr_bh", "benjamini-hochberg"):
        np.testing.assert_allclose(adjust(p, alias)[[0, 2, 3, 4]], bh(p[[0, 2, 3, 4]]))
    assert np.isnan(adjust(np.array([np.nan]))).all()
    # 2 / C(n1 + n2, n1), at most 1
    assert min_p_value(0, 5) == 1.0 and min_p_value(1, 1) == 1.0
    assert min_p_value(2, 2) == pytest.approx(2 / 6)
    assert min_p_value(10, 10) == pytest.approx(2 / 184756)
    assert min_p_value(30, 40) == pytest.approx(2 / 55347740058143507128)


def test_zero_locations_and_unused_categories():
    # a baseline median of 0: the ratio is infinite (0 on both sides: undefined)
    base = {"a": np.zeros(20), "b": np.zeros(20), "c": np.full(20, 2.0)}
    cand = {"a": np.full(20, 3.0), "b": np.zeros(20), "c": np.full(20, 6.0)}
    out = compare_samples(frame(base), frame(cand), "k", "ms")
    assert out.loc["a", "ratio"] == np.inf and np.isnan(out.loc["b", "ratio"])
    assert out.loc["c", "ratio"] == pytest.approx(3.0)
    # a category no row uses is no key
    b, c = frame(base), frame(cand)
    for f in (b, c):
        f["k"] = pd.Categorical(f["k"], categories=["a", "b", "c", "unused"])
    assert list(compare_samples(b, c, "k", "ms").index) == ["a", "b", "c"]
