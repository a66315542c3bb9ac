"""Planted-bug tests for the regression verdicts (issue 16): each fails on a realistic bug.

- the absolute practical floor (`min_abs`, 1 ms by default) in the median-ratio rule;
- a 5xx is ``status >= 500`` (500 itself counts);
- ``p_adjusted < alpha`` is strict: at the boundary a change is not significant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit import compare
from perfkit.analysis.regression import mix_adjusted_change
from perfkit.analysis.regression.errors import (
    OVERALL,
    compare_error_counts,
    compare_error_rates,
    error_counts,
)
from perfkit.analysis.regression.verdict import Shift, judge
from perfkit.analysis.significance import adjust, compare_samples


def _endpoint(route: str, median_ms: float, n: int, rng) -> pd.DataFrame:
    return pd.DataFrame({"route": route, "duration_ms": median_ms * rng.lognormal(0, 0.3, n)})


def test_a_sub_millisecond_change_stays_unchanged_below_the_absolute_floor():
    """0.5 -> 0.65 ms (+30 %, 2,000 requests a side): significant and relatively large, but
    0.15 ms is under the 1 ms floor. The same +30 % on 5 ms clears it (the test can fail)."""
    rng = np.random.default_rng(16)
    base = pd.concat([_endpoint("/tiny", 0.5, 2000, rng), _endpoint("/five", 5.0, 2000, rng)])
    cand = pd.concat([_endpoint("/tiny", 0.65, 2000, rng), _endpoint("/five", 6.5, 2000, rng)])
    table = compare(base, cand)
    tiny = table.loc["/tiny"]
    assert tiny["p_adjusted"] < 1e-6
    assert tiny["ci_low"] > 1.2  # the ratio alone would call it a regression
    assert tiny["p50_cand"] - tiny["p50_base"] < 1.0  # planted: 0.15 ms
    assert tiny["verdict"] == "unchanged"
    assert table.loc["/five", "verdict"] == "regressed"
    # the floor is the caller's: at 0.1 ms the tiny endpoint's change counts
    assert compare(base, cand, min_abs=0.1).loc["/tiny", "verdict"] == "regressed"


def test_status_500_is_an_error_and_499_is_not():
    frame = pd.DataFrame({
        "route": ["/a"] * 7,
        "status": [200, 500, 501, 503, 599, 499, 404],
    })  # fmt: skip
    counts = error_counts(frame)
    assert counts.loc["/a", "n"] == 7
    assert counts.loc["/a", "errors"] == 4  # 500, 501, 503, 599
    assert counts.loc["/a", "client"] == 2  # 499, 404


def test_a_release_answering_500_regressed():
    """Only status 500 in the candidate (10 % of 400 requests against none): a regression."""
    base = pd.DataFrame({"route": "/pay", "status": [200] * 400})
    cand = pd.DataFrame({"route": "/pay", "status": [200] * 360 + [500] * 40})
    out = compare_error_rates(base, cand)
    assert out.loc["/pay", "errors_cand"] == 40
    assert out.loc["/pay", "rate_cand"] == pytest.approx(0.1)
    assert out.loc["/pay", "verdict"] == "regressed"
    assert out.loc[OVERALL, "verdict"] == "regressed"


def _judged_table(p_value: float) -> pd.DataFrame:
    """One key, 100 -> 150 ms with a tight interval: only the p-value decides."""
    return pd.DataFrame({
        "ratio": [1.5], "ci_low": [1.4], "ci_high": [1.6], "p_value": [p_value],
        "log_se": [0.03], "p50_base": [100.0], "p50_cand": [150.0],
    }, index=pd.Index(["/k"], name="route"))  # fmt: skip


def test_p_adjusted_equal_to_alpha_is_not_significant_in_judge():
    at = judge(_judged_table(0.05), alpha=0.05, normalize=False)
    assert at.loc["/k", "p_adjusted"] == 0.05  # one key: Holm leaves it as it is
    assert at.loc["/k", "verdict"] == "unchanged"
    under = judge(_judged_table(np.nextafter(0.05, 0)), alpha=0.05, normalize=False)
    assert under.loc["/k", "verdict"] == "regressed"


def test_p_adjusted_equal_to_alpha_is_not_significant_on_samples():
    """alpha set to the key's own Mann-Whitney p-value: unchanged; a hair above: regressed."""
    rng = np.random.default_rng(5)
    base = pd.DataFrame({"k": "a", "v": 100 * rng.lognormal(0, 0.2, 200)})
    cand = pd.DataFrame({"k": "a", "v": 130 * rng.lognormal(0, 0.2, 200)})
    p = stats.mannwhitneyu(cand["v"], base["v"], alternative="two-sided").pvalue
    assert 0 < p < 1e-6
    at = compare_samples(base, cand, "k", "v", alpha=p, n_boot=200)
    assert at.loc["a", "p_adjusted"] == p
    assert at.loc["a", "verdict"] == "unchanged"
    above = compare_samples(base, cand, "k", "v", alpha=np.nextafter(p, 1), n_boot=200)
    assert above.loc["a", "verdict"] == "regressed"


def test_p_adjusted_equal_to_alpha_is_not_significant_for_error_rates():
    """alpha set to Fisher's exact p-value of the counts: unchanged; a hair above: regressed."""
    counts = pd.DataFrame({"n": [400.0], "errors": [2.0], "client": [0.0]}, index=["/pay"])
    worse = pd.DataFrame({"n": [400.0], "errors": [30.0], "client": [0.0]}, index=["/pay"])
    p = stats.fisher_exact([[30, 370], [2, 398]]).pvalue
    at = compare_error_counts(counts, worse, alpha=p)
    assert at.loc["/pay", "p_adjusted"] == p
    assert at.loc["/pay", "verdict"] == "unchanged"
    assert at.loc[OVERALL, "verdict"] == "unchanged"
    above = compare_error_counts(counts, worse, alpha=np.nextafter(p, 1))
    assert above.loc["/pay", "verdict"] == "regressed"
    assert above.loc[OVERALL, "verdict"] == "regressed"


def test_judged_against_a_shift_from_other_figures():
    """`votes`: ten other figures all 20 % slower (log se 0.01) make the shift; each key is
    judged against it with the median's variance, pi/2 * K / (sum 1/s)^2, added (docstring)."""
    table = pd.DataFrame({
        "ratio": [1.2, 1.6, 1.0], "ci_low": [1.15, 1.5, 0.95], "ci_high": [1.25, 1.7, 1.05],
        "p_value": [1e-10, 1e-10, 0.5], "log_se": [0.02, 0.02, 0.02],
        "p50_base": [100.0, 100.0, 100.0], "p50_cand": [120.0, 160.0, 100.0],
    }, index=["along", "beyond", "still"])  # fmt: skip
    votes = (np.full(10, np.log(1.2)), np.full(10, 0.01))
    out = judge(table, votes=votes)
    shift = out.attrs["shift"]
    var_shift = np.pi / 2 * 10 / (10 / 0.01) ** 2
    half = stats.norm.ppf(0.975) * np.sqrt(var_shift)
    assert shift.factor == pytest.approx(1.2)
    assert (shift.ci_low, shift.ci_high) == pytest.approx((1.2 * np.exp(-half), 1.2 * np.exp(half)))
    assert shift.spread == 0 and shift.material and shift.applied and shift.keys == 10
    se = np.sqrt(0.02**2 + var_shift)
    z = stats.norm.ppf(0.975)
    beyond = out.loc["beyond"]
    assert beyond["rel_ratio"] == pytest.approx(1.6 / 1.2)
    assert beyond["rel_ci_low"] == pytest.approx(1.6 / 1.2 * np.exp(-z * se))
    assert beyond["rel_ci_high"] == pytest.approx(1.6 / 1.2 * np.exp(z * se))
    assert beyond["rel_p_value"] == pytest.approx(2 * stats.norm.sf(np.log(1.6 / 1.2) / se))
    assert out["verdict"].tolist() == ["moved with shift", "regressed", "unchanged"]
    assert out.loc["along", "raw_verdict"] == "regressed"
    assert out.loc["along", "relative_verdict"] == "unchanged"
    assert out.loc["still", "relative_verdict"] == "improved"  # 1.0 against 1.2


def test_the_shift_in_words_and_as_json():
    shift = Shift(factor=1.1, ci_low=1.05, ci_high=1.15, keys=8, spread=0.0, estimated=True,
                  material=True, applied=True)  # fmt: skip
    text = shift.describe()
    assert text.startswith("**The candidate run as a whole is +10.0 % [+5.0 %, +15.0 %]** "
                           "(slower; median of 8 endpoints, each one vote).")
    assert text.endswith("a change must stand out from the run as a whole to count.")
    data = shift.to_dict()
    assert data["direction"] == "slower" and data["factor"] == 1.1
    assert data["p95_factor"] is None and data["max_spread"] is None  # NaN is not JSON
    faster = Shift(factor=0.9, ci_low=0.85, ci_high=0.95, keys=6, spread=0.1, estimated=True,
                   material=True)  # fmt: skip
    assert faster.direction == "faster"
    assert faster.describe().startswith("**The candidate run as a whole is -10.0 % [-15.0 %, "
                                        "-5.0 %]** (faster; median of 6 endpoints, each one "
                                        "vote; beyond sampling error they differ from one "
                                        "another by about ±11 %).")  # fmt: skip
    assert Shift(keys=3).describe().startswith("Only 3 endpoints have enough data on both "
                                               "sides: too few (under 5)")  # fmt: skip
    assert Shift().to_dict()["direction"] == "none"


def test_a_log_without_request_times_cannot_be_judged():
    base = pd.DataFrame({"route": ["/a", "/a", "/b"], "status": 200})
    cand = pd.DataFrame({"route": ["/a", "/b", "/b", "/c"], "status": 200,
                         "duration_ms": [1.0, 2.0, 3.0, 4.0]})  # fmt: skip
    out = compare(base, cand)
    assert out["n_base"].to_dict() == {"/a": 2, "/b": 1, "/c": 0}
    assert out["n_cand"].to_dict() == {"/a": 1, "/b": 2, "/c": 1}
    assert set(out["verdict"]) == set(out["raw_verdict"]) == {"cannot judge"}
    assert out.attrs["no_metric"] == ["baseline"]
    assert out.attrs["shift"].estimated is False
    assert out["p_value"].isna().all() and out.index.name == "route"
    assert out["test"].iloc[0] == "no duration_ms in the log: latency cannot be compared"


def test_every_reading_of_the_shift_in_words():
    """Each branch of `Shift.describe`, numbers from the planted fields: ±49 % is
    exp(0.4) - 1, ±16 % exp(0.15) - 1."""
    split = Shift(factor=1.3, ci_low=1.2, ci_high=1.4, keys=7, spread=0.4, estimated=True,
                  split=True, max_spread=0.15)  # fmt: skip
    assert split.describe() == (
        "**The endpoints do not move together:** as a whole they moved +30.0 % [+20.0 %, "
        "+40.0 %] (median of 7, each one vote), but they differ from one another by about "
        "±49 %, more than two runs of the same code do here (±16 %): many of them changed, "
        "and no run-wide shift explains that. Each is judged on its raw times."
    )
    small = Shift(factor=1.01, ci_low=1.005, ci_high=1.015, keys=6, spread=0.0, estimated=True)
    assert small.describe() == (
        "A run-wide shift too small to matter (under 2%): the endpoints as a whole moved "
        "+1.0 % [+0.5 %, +1.5 %] (median of 6, each one vote). With no shift and no spread "
        "beyond sampling error, the endpoints are judged on their raw times."
    )
    none = Shift(factor=1.0, ci_low=0.98, ci_high=1.02, keys=6, spread=0.006, estimated=True,
                 normalized=False)  # fmt: skip
    assert none.describe() == (
        "No run-wide shift: the endpoints as a whole moved +0.0 % [-2.0 %, +2.0 %] (median of "
        "6, each one vote; beyond sampling error they differ from one another by about ±1 %). "
        "The endpoints are judged on raw times (normalize is off)."
    )
    assert "differ from one another" not in Shift(
        factor=1.0, ci_low=0.98, ci_high=1.02, keys=6, spread=0.005, estimated=True).describe()
    faster = Shift(factor=0.9, ci_low=0.85, ci_high=0.95, keys=6, spread=0.1, estimated=True,
                   material=True, normalized=False)  # fmt: skip
    assert faster.describe() == (
        "**The candidate run as a whole is -10.0 % [-15.0 %, -5.0 %]** (faster; median of 6 "
        "endpoints, each one vote; beyond sampling error they differ from one another by about "
        "±11 %). Two readings fit: the whole machine changed (a busier host, another instance "
        "type, a noisy neighbour, a cold cache), **or** a change touches every request "
        "(middleware, the database driver, the Python version). An A/A run on the same "
        "machines tells them apart. The endpoints are judged on raw times (normalize is off)."
    )
    assert Shift(factor=1.0, ci_low=np.nan, ci_high=np.nan, keys=6, estimated=True
                 ).describe().startswith("No run-wide shift: the endpoints as a whole moved "
                                         "+0.0 % [n/a, n/a]")  # fmt: skip


def test_clipped_moments_match_numerical_integration():
    """Mean and variance of min(Z^2, c^2), Z standard normal, by quadrature (the spread's
    heterogeneity test rests on them)."""
    from scipy import integrate

    from perfkit.analysis.regression.verdict import _clipped_moments

    for c in (1.0, 2.5, 4.0):
        def moment(k, c=c):
            inside = integrate.quad(lambda z: z ** (2 * k) * stats.norm.pdf(z), -c, c)[0]
            return inside + c ** (2 * k) * 2 * stats.norm.sf(c)

        mean, variance = _clipped_moments(c)
        assert mean == pytest.approx(moment(1), rel=1e-9)
        assert variance == pytest.approx(moment(2) - moment(1) ** 2, rel=1e-9)


def test_error_rates_by_another_column_with_the_defaults():
    """Per host: 0 of 400 errors against 30 of 400 (Fisher p ~ 1e-9) regressed; 10 -> 14 of
    400 (+40 %, p > 0.05) unchanged; 19 requests a side are too few (min_n 20), 20 are not."""
    def side(errors: dict[str, tuple[int, int]]) -> pd.DataFrame:
        rows = [(host, 500 if i < bad else 200) for host, (n, bad) in errors.items()
                for i in range(n)]  # fmt: skip
        return pd.DataFrame(rows, columns=["host", "status"]).assign(route="/same")

    base = side({"web1": (400, 0), "web2": (400, 10), "few": (19, 0), "enough": (20, 0)})
    cand = side({"web1": (400, 30), "web2": (400, 14), "few": (19, 19), "enough": (20, 20)})
    out = compare_error_rates(base, cand, by="host")
    assert out.index.name == "host"
    assert list(out.index) == ["enough", "few", "web1", "web2", OVERALL]
    assert out.loc["web1", "verdict"] == "regressed"
    assert out.loc["web2", "verdict"] == "unchanged" and out.loc["web2", "p_value"] > 0.05
    assert out.loc["few", "verdict"] == "insufficient data"
    assert out.loc["enough", "verdict"] == "regressed"
    p = stats.fisher_exact([[30, 370], [0, 400]]).pvalue
    assert out.loc["web1", "p_value"] == pytest.approx(p)
    # Holm over the 3 tested hosts: 'enough' (20 of 20 against none) ranks first, web1 second
    assert stats.fisher_exact([[20, 0], [0, 20]]).pvalue < p
    assert out.loc["web1", "p_adjusted"] == pytest.approx(2 * p)
    # the difference's 95 % interval: Agresti-Caffo, one error and one success added a side
    a1, a2 = 1 / 402, 31 / 402
    half = stats.norm.ppf(0.975) * np.sqrt(a1 * (1 - a1) / 402 + a2 * (1 - a2) / 402)
    assert out.loc["web1", "diff_ci_low"] == pytest.approx(a2 - a1 - half)
    assert out.loc["web1", "diff_ci_high"] == pytest.approx(a2 - a1 + half)


def test_error_counts_on_categorical_keys_and_unreadable_statuses():
    frame = pd.DataFrame({
        "route": pd.Categorical(["/b", "/a", "/b", "/a", "/a"], categories=["/b", "/a", "/z"]),
        "status": ["400", "-", "500", "404", "399"],
    })  # fmt: skip
    counts = error_counts(frame)
    assert list(counts.index) == ["/a", "/b"]
    assert counts.dtypes.unique().tolist() == [np.dtype(float)]
    assert counts.loc["/a"].tolist() == [2.0, 0.0, 1.0]  # '-' has no status; 399 is no error
    assert counts.loc["/b"].tolist() == [2.0, 1.0, 1.0]  # 400 is a client error


def test_mix_adjusted_change_by_another_column():
    """Baseline: host a (3 requests of 10 ms, one unmeasured), b (1 of 30 ms); candidate: a at
    20 ms, b never served. At the baseline's mix (3/4, 1/4): 3/4 x 20 + 1/4 x 30 = 22.5 ms."""
    hosts = pd.CategoricalDtype(["a", "b", "unused"])
    base = pd.DataFrame({"host": pd.Series(["a", "a", "a", "a", "b"], dtype=hosts),
                         "duration_ms": [10.0, 10.0, 10.0, np.nan, 30.0]})  # fmt: skip
    cand = pd.DataFrame({"host": pd.Series(["a", "a", "b"], dtype=hosts),
                         "duration_ms": [20.0, 20.0, np.nan]})  # fmt: skip
    out = mix_adjusted_change(base, cand, by="host")
    assert out.raw_base == pytest.approx(15.0) and out.raw_cand == pytest.approx(20.0)
    assert out.adjusted_cand == pytest.approx(22.5)
    assert out.adjusted_ratio == pytest.approx(1.5) and out.raw_ratio == pytest.approx(20 / 15)
    assert out.routes_missing == ("b",)


def _login_traffic(seed: int, post_ms: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [("GET", "/login", 5.0), ("POST", "/login", post_ms), ("GET", "/home", 20.0)]
    return pd.concat([
        pd.DataFrame({"method": m, "route": r, "status": 200,
                      "duration_ms": ms * rng.lognormal(0, 0.3, 300)})
        for m, r, ms in parts
    ], ignore_index=True)  # fmt: skip


def test_a_route_two_methods_share_is_two_endpoints():
    """The login form (GET) and the login itself (POST) are judged apart: only POST slowed."""
    base, cand = _login_traffic(1, 50.0), _login_traffic(2, 80.0)
    for frames in ((base, cand), (base.assign(route=base["route"].astype("category")),
                                  cand.assign(route=cand["route"].astype("category")))):
        out = compare(*frames)
        assert sorted(out.index) == ["/home", "GET /login", "POST /login"]
        assert out.index.name == "route"
        assert out.loc["POST /login", "verdict"] == "regressed"
        assert out.loc["GET /login", "verdict"] == "unchanged"
        errors = compare_error_rates(*frames)
        assert sorted(errors.index) == ["(all requests)", "/home", "GET /login", "POST /login"]
    # without a method column there is one endpoint per route
    assert sorted(compare(base.drop(columns="method"), cand.drop(columns="method")).index) == [
        "/home", "/login"]


def test_compare_passes_its_options_on():
    base, cand = _login_traffic(3, 50.0), _login_traffic(4, 65.0)  # POST +30 %
    default = compare(base, cand)
    assert default.loc["POST /login", "verdict"] == "regressed"
    assert compare(base, cand, min_ratio=0.5).loc["POST /login", "verdict"] == "unchanged"
    # medians 12 ms apart, p95s about 27 ms: under a 40 ms floor neither counts
    assert compare(base, cand, min_abs=40.0).loc["POST /login", "verdict"] == "unchanged"
    # 300 against 300 requests can never reach 1e-300: too few to judge at that level
    assert set(compare(base, cand, alpha=1e-300)["verdict"]) == {"insufficient data"}
    assert set(compare(base, cand, min_n=301)["verdict"]) == {"insufficient data"}
    bh = compare(base, cand, correction="bh")
    p = default["p_value"].to_numpy()
    assert bh["p_adjusted"].to_numpy() == pytest.approx(adjust(p, "bh"))
    assert default["p_adjusted"].to_numpy() == pytest.approx(adjust(p, "holm"))
    assert not np.allclose(bh["p_adjusted"], default["p_adjusted"])
    other_seed = compare(base, cand, seed=1)
    assert other_seed["ratio"].tolist() == default["ratio"].tolist()
    assert other_seed["ci_low"].tolist() != default["ci_low"].tolist()  # another bootstrap
    assert default.attrs["shift"].estimated is False  # 3 endpoints < min_keys 5
    shifted = compare(base, cand, min_keys=3)
    assert shifted.attrs["shift"].estimated and shifted.attrs["shift"].keys == 3
    assert compare(base, cand, min_keys=3, normalize=False).attrs["shift"].normalized is False
    assert shifted.attrs["shift"].what == "endpoints"


def test_votes_with_a_spread_and_too_few_votes():
    """Votes that differ beyond their error give the shift a spread tau, added to each key's
    variance; fewer votes than min_keys estimate nothing and the relative reading is the raw."""
    table = pd.DataFrame({
        "ratio": [1.5, 1.0], "ci_low": [1.4, 0.95], "ci_high": [1.6, 1.05],
        "p_value": [1e-10, 0.5], "log_se": [0.02, 0.0],
        "p50_base": [100.0, 100.0], "p50_cand": [150.0, 100.0],
    }, index=["up", "flat"])  # fmt: skip
    rng = np.random.default_rng(0)
    votes = (np.log(1.1) + rng.normal(0, 0.1, 40), np.full(40, 0.01))
    out = judge(table, votes=votes)
    shift = out.attrs["shift"]
    assert shift.estimated and 0.05 < shift.spread < 0.15  # planted: sd 0.1 between votes
    var_shift = np.pi / 2 * 40 / (40 / np.sqrt(0.01**2 + shift.spread**2)) ** 2
    se = np.sqrt(0.02**2 + shift.spread**2 + var_shift)
    center = np.log(1.5) - np.log(shift.factor)
    assert out.loc["up", "rel_p_value"] == pytest.approx(2 * stats.norm.sf(abs(center) / se))
    z = stats.norm.ppf(0.975)
    assert out.loc["up", "rel_ci_high"] == pytest.approx(np.exp(center + z * se))
    few = judge(table, votes=(votes[0][:3], votes[1][:3]))
    assert few.attrs["shift"].estimated is False
    assert few.loc["up", "rel_ratio"] == pytest.approx(1.5)
    assert few.loc["up", "rel_ci_low"] == pytest.approx(1.5 * np.exp(-z * 0.02))
    # no error at all (s = 0) and no change: z is 0, not NaN
    assert few.loc["flat", "rel_p_value"] == 1.0


def test_the_raw_rule_at_its_boundaries():
    """A change of exactly the floors (25 % and 25 ms: 100 -> 125 ms) clears them; an interval
    touching 1 does not exclude it; a large, significant fall whose interval reaches above 1
    is no improvement."""
    def one(ratio, low, high, cand, p95=None) -> str:
        table = pd.DataFrame({"ratio": [ratio], "ci_low": [low], "ci_high": [high],
                              "p_value": [1e-12], "log_se": [0.05], "p50_base": [100.0],
                              "p50_cand": [cand]}, index=["k"])  # fmt: skip
        if p95 is not None:
            table = table.assign(p95_base=100.0, p95_cand=100.0 * p95[0], p95_ratio=p95[0],
                                 p95_ci_low=p95[1], p95_ci_high=p95[2])  # fmt: skip
        return judge(table, min_ratio=0.25, min_abs=25.0, normalize=False).loc["k", "verdict"]

    assert one(1.25, 1.1, 1.4, 125.0) == "regressed"
    assert one(0.75, 0.6, 0.9, 75.0) == "improved"
    assert one(1.25, 1.0, 1.4, 125.0) == "unchanged"  # ci_low = 1: not excluded
    assert one(0.75, 0.6, 1.0, 75.0) == "unchanged"
    assert one(0.75, 0.6, 1.05, 75.0) == "unchanged"
    assert one(1.24, 1.1, 1.4, 124.0) == "unchanged"  # under both floors
    # the p95 alone, at its floors: 100 -> 125 ms with its own interval above 1
    assert one(1.0, 0.9, 1.1, 100.0, p95=(1.25, 1.1, 1.4)) == "regressed"
    assert one(1.0, 0.9, 1.1, 100.0, p95=(0.75, 0.6, 0.9)) == "improved"
    assert one(1.0, 0.9, 1.1, 100.0, p95=(1.25, 1.0, 1.4)) == "unchanged"
