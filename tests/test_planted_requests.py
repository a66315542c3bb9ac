"""Tests written to kill surviving mutants (issue 16); see tools/mutate.py.

Request-level comparison (`perfkit.analysis.regression.requests`) and error rates
(`perfkit.analysis.regression.errors`) on small planted frames: every expected value is
planted or computed here by hand (Fisher and the normal quantile from scipy).
"""

from __future__ import annotations

import warnings

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
from perfkit.analysis.regression.requests import (
    ENDPOINT,
    cannot_judge,
    endpoint_column,
    shared_routes,
    with_endpoints,
)
from perfkit.analysis.regression.verdict import EXTRA_COLUMNS
from perfkit.analysis.significance import COLUMNS, adjust


def _timed(parts, seed: int) -> pd.DataFrame:
    """Requests ``(method, route, median ms, n)``, lognormal (sigma 0.1) around each median."""
    rng = np.random.default_rng(seed)
    return pd.concat([
        pd.DataFrame({"method": m, "route": r, "status": 200,
                      "duration_ms": ms * rng.lognormal(0, 0.1, n)})
        for m, r, ms, n in parts
    ], ignore_index=True)  # fmt: skip


def _login(seed: int, post_ms: float, n: int = 300) -> pd.DataFrame:
    return _timed([("GET", "/login", 5.0, n), ("POST", "/login", post_ms, n),
                   ("GET", "/home", 20.0, n)], seed)  # fmt: skip


# --- endpoints: a route several methods share is one endpoint per method ---


def test_a_request_without_a_route_has_no_endpoint_beside_a_shared_route():
    """A line without a request (nginx's ``"-" 400``: no method, no route) next to GET and
    POST /login: it belongs to no endpoint, as it belongs to no route when no route is shared
    (it crashed: "Categorical categories cannot be null")."""

    def side(seed: int) -> pd.DataFrame:
        frame = _login(seed, 50.0, n=30)
        lost = pd.DataFrame({"method": [np.nan], "route": [np.nan], "status": [400],
                             "duration_ms": [np.nan]})  # fmt: skip
        return pd.concat([frame, lost], ignore_index=True).astype(
            {"method": "category", "route": "category"}
        )

    base, cand = side(1), side(2)
    keyed = with_endpoints(base, cand)[0][ENDPOINT]
    assert keyed.isna().tolist() == [False] * 90 + [True]
    assert keyed.iloc[:90].tolist() == ["GET /login"] * 30 + ["POST /login"] * 30 + ["/home"] * 30
    errors = compare_error_rates(base, cand)
    assert list(errors.index) == ["/home", "GET /login", "POST /login", OVERALL]
    assert errors["n_base"].tolist() == [30, 30, 30, 90]
    assert errors["client_rate_base"].tolist() == [0.0] * 4
    table = compare(base, cand)
    assert sorted(table.index) == ["/home", "GET /login", "POST /login"]
    assert table["n_base"].tolist() == [30, 30, 30]


def test_routes_are_shared_across_frames_and_a_frame_without_methods_is_skipped():
    no_methods = pd.DataFrame({"route": ["/login", "/home"]})
    no_routes = pd.DataFrame({"method": ["GET", "POST"]})
    base = pd.DataFrame({"method": ["GET", "GET", "GET"], "route": ["/login", "/home", "/a"]})
    cand = pd.DataFrame({"method": ["POST", "GET", "PUT", "PUT"],
                         "route": ["/login", "/home", "/a", "/a"]})  # fmt: skip
    assert shared_routes(no_methods, no_routes, base, cand) == {"/login", "/a"}
    assert shared_routes(base) == set()  # one method a route: nothing to split
    assert shared_routes(no_methods) == set()
    # a side without a method column keeps its routes: there is nothing to prefix
    assert endpoint_column(no_methods, {"/login"}).tolist() == ["/login", "/home"]


def test_endpoints_follow_their_rows_whatever_the_index():
    """Frames concatenated without a new index (labels 7, 3, 5, ...): each row keeps its own
    endpoint."""
    frame = pd.DataFrame({"method": ["POST", "GET", "GET", "POST"],
                          "route": ["/login", "/login", "/home", "/home"]},
                         index=[7, 3, 5, 1])  # fmt: skip
    (keyed,) = with_endpoints(frame)
    assert keyed.loc[[7, 3, 5, 1], ENDPOINT].tolist() == [
        "POST /login",
        "GET /login",
        "GET /home",
        "POST /home",
    ]


def test_the_traffic_mix_is_held_per_endpoint():
    """GET /login (10 ms) and POST /login (50 ms), nothing slower: the candidate only sends
    more GETs (180:20 against 100:100). At the baseline's mix per endpoint the mean is the
    baseline's, 30 ms; per route it would look 53 % faster (14 ms)."""

    def side(gets: int, posts: int) -> pd.DataFrame:
        return pd.DataFrame({"method": ["GET"] * gets + ["POST"] * posts,
                             "route": "/login",
                             "duration_ms": [10.0] * gets + [50.0] * posts,
                             "query": np.nan})  # fmt: skip

    base, cand = side(100, 100), side(180, 20)
    out = mix_adjusted_change(base, cand)
    assert out.raw_base == pytest.approx(30.0) and out.raw_cand == pytest.approx(14.0)
    assert out.adjusted_cand == pytest.approx(30.0)
    assert out.routes_missing == ()


def test_the_mix_counts_requests_with_a_time_whatever_their_other_columns():
    """Most requests have no query string (NaN): they still count. Baseline /a 3 x 10 ms,
    /b 1 x 30 ms; candidate /a 20 ms, /b 30 ms: at the baseline's mix 3/4 x 20 + 1/4 x 30."""
    base = pd.DataFrame({"route": ["/a", "/a", "/a", "/b"], "duration_ms": [10.0, 10, 10, 30],
                         "query": [np.nan, "q=1", np.nan, np.nan]})  # fmt: skip
    cand = pd.DataFrame({"route": ["/a", "/b"], "duration_ms": [20.0, 30.0],
                         "query": [np.nan, np.nan]})  # fmt: skip
    out = mix_adjusted_change(base, cand, by="route")
    assert out.adjusted_cand == pytest.approx(0.75 * 20 + 0.25 * 30)
    assert out.routes_missing == ()


# --- compare: its defaults, another key, a metric no log has ---


def test_compare_with_its_documented_defaults():
    """Five endpoints, 400 requests a side (one with 20): /a 10 -> 11.3 ms (+13 %, 1.3 ms:
    over the 1 ms floor), the rest unchanged. Defaults: min_abs 1 ms, min_n 20, min_keys 5,
    seeded (the same answer twice)."""
    parts = [("GET", "/b", 30.0, 400), ("GET", "/c", 40.0, 400), ("GET", "/d", 50.0, 400),
             ("GET", "/few", 60.0, 20)]  # fmt: skip
    base = _timed([("GET", "/a", 10.0, 400), *parts], 1)
    cand = _timed([("GET", "/a", 11.3, 400), *parts], 2)
    out = compare(base, cand)
    assert out.loc["/a", "verdict"] == "regressed"
    assert compare(base, cand, min_abs=2.0).loc["/a", "verdict"] == "unchanged"
    assert out.loc["/few", "verdict"] != "insufficient data"  # 20 a side are enough
    assert compare(base, cand, min_n=21).loc["/few", "verdict"] == "insufficient data"
    shift = out.attrs["shift"]
    assert shift.estimated and shift.keys == 5  # five endpoints reach min_keys
    assert shift.factor == pytest.approx(1.0, abs=0.03)
    again = compare(base, cand)
    assert again["ci_low"].tolist() == out["ci_low"].tolist()
    assert again["p95_ci_high"].tolist() == out["p95_ci_high"].tolist()
    assert "mean_base" not in out and "mean_cand" not in out  # medians, not means


def test_compare_by_another_column():
    """Per host, methods ignored: web2 serves everything 30 % slower."""
    rng = np.random.default_rng(3)

    def side(slow: float) -> pd.DataFrame:
        host = np.repeat(["web1", "web2"], 200)
        return pd.DataFrame({"host": host, "method": "GET", "route": "/x",
                             "duration_ms": np.where(host == "web2", 20.0 * slow, 20.0)
                             * rng.lognormal(0, 0.1, 400)})  # fmt: skip

    out = compare(side(1.0), side(1.3), by="host")
    assert out.index.name == "host" and list(out.index) == ["web1", "web2"]
    assert out["n_base"].tolist() == [200, 200]
    assert out["verdict"].tolist() == ["unchanged", "regressed"]


def test_a_metric_neither_log_has_cannot_be_judged():
    base, cand = _login(1, 50.0, n=3), _login(2, 50.0, n=2)
    out = compare(base, cand, metric="upstream_ms")
    assert out.attrs["no_metric"] == ["baseline", "candidate"]
    assert "no upstream_ms in the log" in out["test"].iloc[0]
    assert out["n_base"].tolist() == [3, 3, 3] and out["n_cand"].tolist() == [2, 2, 2]


def test_cannot_judge_counts_per_key_with_every_column():
    """Hosts as a category with one never used: 'a' 2 and 1 requests, 'b' 1 and 0. The
    candidate alone has no times."""
    hosts = pd.CategoricalDtype(["b", "a", "unused"])
    base = pd.DataFrame({"host": pd.Series(["a", "a", "b"], dtype=hosts),
                         "duration_ms": [1.0, 2.0, 3.0]})  # fmt: skip
    cand = pd.DataFrame({"host": pd.Series(["a"], dtype=hosts), "duration_ms": [np.nan]})
    out = cannot_judge(base, cand, by="host")
    assert out.index.name == "host"
    assert out["n_base"].to_dict() == {"a": 2, "b": 1}
    assert out["n_cand"].to_dict() == {"a": 1, "b": 0}
    assert out["n_base"].dtype.kind == out["n_cand"].dtype.kind == "i"
    assert list(out.columns) == [*COLUMNS, *EXTRA_COLUMNS]
    assert set(out["relative_verdict"]) == set(out["verdict"]) == {"cannot judge"}
    assert out.attrs["no_metric"] == ["candidate"]
    by_route = cannot_judge(pd.DataFrame({"route": ["/x"]}), pd.DataFrame({"route": ["/x"]}))
    assert by_route.index.name == "route" and by_route["n_base"].tolist() == [1]
    assert by_route.attrs["no_metric"] == ["baseline", "candidate"]
    assert "no duration_ms in the log" in by_route["test"].iloc[0]


# --- Dask frames: the same answers from per-partition totals ---


@pytest.fixture(scope="module")
def dask_pair():
    """POST /login 50 -> 80 ms (+60 %) in ``duration_ms``; in ``upstream_ms`` 65 ms on both
    sides. Two partitions a side, each indexed from 0, as the Dask engine reads a log."""
    dask = pytest.importorskip("dask")
    import dask.dataframe as dd

    base, cand = _login(5, 50.0), _login(6, 80.0)
    base["upstream_ms"] = _login(7, 65.0)["duration_ms"]
    cand["upstream_ms"] = _login(8, 65.0)["duration_ms"]

    def partitions(frame: pd.DataFrame):
        halves = [frame.iloc[:450].reset_index(drop=True), frame.iloc[450:].reset_index(drop=True)]
        return dd.from_map(lambda part: part, halves)

    with dask.config.set(scheduler="synchronous"):
        yield partitions(base), partitions(cand)


def test_compare_on_dask_frames_passes_its_options_on(dask_pair):
    base, cand = dask_pair
    assert shared_routes(base, cand) == {"/login"}
    keyed = with_endpoints(base, cand)[1].compute()
    assert keyed[ENDPOINT].tolist() == (["GET /login"] * 300 + ["POST /login"] * 300
                                        + ["/home"] * 300)  # fmt: skip
    out = compare(base, cand)
    assert sorted(out.index) == ["/home", "GET /login", "POST /login"]
    assert out["n_base"].tolist() == out["n_cand"].tolist() == [300, 300, 300]
    assert out.loc["POST /login", "verdict"] == "regressed"
    assert out.loc["GET /login", "verdict"] == "unchanged"
    assert out.attrs["shift"].estimated is False  # 3 endpoints < min_keys 5
    assert compare(base, cand, min_ratio=1.0).loc["POST /login", "verdict"] == "unchanged"
    # medians 30 ms apart, p95s about 50 ms: under a 100 ms floor neither counts
    assert compare(base, cand, min_abs=100.0).loc["POST /login", "verdict"] == "unchanged"
    assert set(compare(base, cand, alpha=1e-300)["verdict"]) == {"insufficient data"}
    assert set(compare(base, cand, min_n=301)["verdict"]) == {"insufficient data"}
    bh = compare(base, cand, correction="bh")
    assert bh["p_adjusted"].to_numpy() == pytest.approx(adjust(out["p_value"].to_numpy(), "bh"))
    assert out["p_adjusted"].to_numpy() == pytest.approx(adjust(out["p_value"].to_numpy()))
    other_seed = compare(base, cand, seed=1)
    assert other_seed["ratio"].tolist() == out["ratio"].tolist()
    assert other_seed["ci_high"].tolist() != out["ci_high"].tolist()  # another bootstrap
    assert compare(base, cand)["ci_high"].tolist() == out["ci_high"].tolist()  # seeded
    upstream = compare(base, cand, metric="upstream_ms")
    assert upstream.loc["POST /login", "verdict"] == "unchanged"
    assert upstream.loc["POST /login", "ratio"] == pytest.approx(1.0, abs=0.1)
    shifted = compare(base, cand, min_keys=3)
    assert shifted.attrs["shift"].estimated and shifted.attrs["shift"].keys == 3
    assert shifted.attrs["shift"].normalized
    assert compare(base, cand, min_keys=3, normalize=False).attrs["shift"].normalized is False


def test_cannot_judge_on_dask_frames(dask_pair):
    base, cand = (side.drop(columns="duration_ms") for side in dask_pair)
    out = cannot_judge(*with_endpoints(base, cand), by=ENDPOINT)
    assert out["n_base"].to_dict() == {"/home": 300, "GET /login": 300, "POST /login": 300}
    assert out["n_cand"].dtype.kind == "i"


# --- error rates ---


def _counts(**keys: tuple[int, int]) -> pd.DataFrame:
    """Per key (requests, 5xx), no 4xx."""
    return pd.DataFrame({"n": [float(n) for n, _ in keys.values()],
                         "errors": [float(e) for _, e in keys.values()], "client": 0.0},
                        index=list(keys))  # fmt: skip


def test_error_rates_rise_and_fall_by_the_same_relative_rule():
    """A rise by min_ratio (50 %) counts; a fall counts from min_ratio / (1 + min_ratio) (a
    third: the rise read backwards). 10 % -> 6 % (-40 %) improved, and back (+67 %)
    regressed; 10 % -> 7 % (-30 %) and back (+43 %) both unchanged though significant; 3 -> 1
    of 100 (-67 %) unchanged: not significant (Fisher p 0.62)."""
    base = _counts(fell=(10_000, 1000), small=(10_000, 1000), noise=(100, 3))
    cand = _counts(fell=(10_000, 600), small=(10_000, 700), noise=(100, 1))
    out = compare_error_counts(base, cand)
    assert out.loc["small", "p_adjusted"] < 1e-6 and out.loc["noise", "p_value"] > 0.5
    assert out.loc[["fell", "small", "noise"], "verdict"].tolist() == [
        "improved",
        "unchanged",
        "unchanged",
    ]
    back = compare_error_counts(cand, base)
    assert back.loc[["fell", "small", "noise"], "verdict"].tolist() == [
        "regressed",
        "unchanged",
        "unchanged",
    ]


def test_error_rate_floors_are_inclusive():
    """10 % -> 20 % is a rise of exactly 0.1 and of exactly 100 %: at those floors it counts,
    and the way back (a fall of 0.1 and 50 % = 1 / (1 + 1)) too."""
    low, high = _counts(k=(1000, 100)), _counts(k=(1000, 200))
    up = compare_error_counts(low, high, min_diff=0.1, min_ratio=1.0)
    assert up.loc["k", "diff"] == 0.1 and up.loc["k", "rate_ratio"] == 2.0
    assert up.loc["k", "verdict"] == "regressed"

    def verdict(base, cand, **floors) -> str:
        return compare_error_counts(base, cand, **floors).loc["k", "verdict"]

    assert verdict(high, low, min_diff=0.1, min_ratio=1.0) == "improved"
    assert verdict(low, high, min_diff=0.1001, min_ratio=1.0) == "unchanged"
    assert verdict(high, low, min_diff=0.1, min_ratio=1.01) == "unchanged"


def test_error_count_defaults():
    """alpha 0.05: 2 -> 4 of 100 (+100 %, Fisher p 0.68) unchanged; min_ratio 0.5: 10 % ->
    16 % (+60 %) regressed; min_n 20: 20 a side tested; the interval at 95 %; Holm."""
    base = _counts(noisy=(100, 2), rise=(10_000, 1000), twenty=(20, 0))
    cand = _counts(noisy=(100, 4), rise=(10_000, 1600), twenty=(20, 0))
    for out in (compare_error_counts(base, cand),
                compare_error_rates(_rows(base), _rows(cand))):  # fmt: skip
        assert out.index.name == "route"
        assert out.loc["noisy", "p_value"] == pytest.approx(
            stats.fisher_exact([[4, 96], [2, 98]]).pvalue
        )
        assert out.loc["noisy", "verdict"] == "unchanged"
        assert out.loc["rise", "verdict"] == "regressed"
        assert out.loc["twenty", "verdict"] == "unchanged"  # tested: p = 1
        assert out.loc["twenty", "p_value"] == 1.0
        a1, a2 = 1001 / 10_002, 1601 / 10_002
        half = 1.959964 * np.sqrt(a1 * (1 - a1) / 10_002 + a2 * (1 - a2) / 10_002)
        assert out.loc["rise", "diff_ci_low"] == pytest.approx(a2 - a1 - half, rel=1e-6)
        assert out.loc["rise", "diff_ci_high"] == pytest.approx(a2 - a1 + half, rel=1e-6)
        p = out.loc[["noisy", "rise", "twenty"], "p_value"].to_numpy()
        assert out.loc[["noisy", "rise", "twenty"], "p_adjusted"].to_numpy() == pytest.approx(
            [min(1.0, 2 * p[0]), 3 * p[1], 1.0]
        )  # Holm: p x 3, x 2, x 1 by rank, monotone


def _rows(counts: pd.DataFrame) -> pd.DataFrame:
    """A requests frame with these (requests, 5xx) per route."""
    return pd.DataFrame([(key, 500 if i < errors else 200) for key, (n, errors)
                         in counts[["n", "errors"]].astype(int).iterrows() for i in range(n)],
                        columns=["route", "status"])  # fmt: skip


def test_error_rates_with_a_key_on_one_side_and_another_correction():
    """'new' only in the candidate (5 errors in 50): nothing to compare it with, but its
    requests count in the whole run; 'rare' 1 of 1 -> 1 of 2: half the rate. Benjamini-
    Hochberg on the three tested keys: p x 3 / rank, monotone (Holm would give b 2 x p)."""
    base = _counts(a=(1000, 10), b=(1000, 10), c=(1000, 10), rare=(1, 1))
    cand = _counts(a=(1000, 40), b=(1000, 25), c=(1000, 10), rare=(2, 1), new=(50, 5))
    out = compare_error_counts(base, cand, correction="bh")
    assert out.loc["new", ["n_base", "errors_base", "n_cand", "errors_cand"]].tolist() == [
        0,
        0,
        50,
        5,
    ]
    assert out.loc["new", "rate_ratio"] == np.inf  # errors where there were none
    assert out.loc["new", "verdict"] == "insufficient data"
    assert out.loc["rare", "rate_ratio"] == 0.5
    assert out.loc[OVERALL, ["n_base", "n_cand", "errors_base", "errors_cand"]].tolist() == [
        3001,
        3052,
        31,
        81,
    ]
    pa = stats.fisher_exact([[40, 960], [10, 990]]).pvalue
    pb = stats.fisher_exact([[25, 975], [10, 990]]).pvalue
    assert 3 * pa < 1.5 * pb < 1
    assert out.loc[["a", "b", "c"], "p_adjusted"].tolist() == pytest.approx([3 * pa, 1.5 * pb, 1])


def test_error_rates_raise_no_warnings_on_empty_sides():
    """Rates of a key one side never served, and of a side without errors, are NaN and
    inf quietly: a report should not print numpy's division warnings."""
    base = _counts(a=(100, 0), gone=(40, 1))
    cand = _counts(a=(100, 3), new=(40, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compare_error_counts(base, cand)
    assert np.isnan(out.loc["new", "rate_base"]) and np.isnan(out.loc["gone", "rate_cand"])
    assert out.loc["a", "rate_ratio"] == np.inf
    assert np.isnan(out.loc["new", "client_rate_base"])


def test_error_counts_keep_keys_that_are_not_text():
    frame = pd.DataFrame({"worker": [12, 7, 12, np.nan], "status": [500, 200, 404, 500]})
    counts = error_counts(frame, by="worker")
    assert counts.index.tolist() == [7.0, 12.0]  # a request without a worker: no key
    assert counts.loc[12.0].tolist() == [2.0, 1.0, 1.0]
