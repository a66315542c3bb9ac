"""Tests written to kill surviving mutants (issue 16); see tools/mutate.py.

`summarize` on planted frames whose answer is known by construction: a Dask frame (no
cluster: Dask's local scheduler), ties in the request counts, groups of categorical keys with
unused categories, columns of object dtype left by concatenating chunks, more groups than a
16-bit group number holds, and a group without any duration (no warning)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from perfkit import InputError, summarize


def test_a_dask_frame_is_summarized_from_sketches_by_its_own_column_and_metric():
    """/x: latencies 1..100 ms with five 500s and three 404s; /y: 10 requests of 1000 ms,
    one 503. Counts, rates, means and maxima are exact; percentiles within the sketch's 1 %
    of the lower order statistic (the 50th and 90th of 1..100: 50 and 90)."""
    dd = pytest.importorskip("dask.dataframe")
    status = np.full(110, 200)
    status[[0, 10, 20, 30, 40]] = 500
    status[[5, 15, 25]] = 404
    status[100] = 503
    frame = pd.DataFrame({
        "endpoint": ["/x"] * 100 + ["/y"] * 10, "status": status,
        "latency": np.concatenate([np.arange(1.0, 101.0), np.full(10, 1000.0)]),
        "duration_ms": 1.0,  # not the metric asked for
    })  # fmt: skip
    lazy = dd.from_pandas(frame.sample(frac=1, random_state=3), npartitions=3)
    out = summarize(lazy, by="endpoint", metric="latency", percentiles=(50, 90))
    assert list(out.index) == ["/x", "/y"]
    assert list(out.columns) == ["count", "error_rate", "client_error_rate", "mean_ms",
                                 "p50_ms", "p90_ms", "max_ms"]  # fmt: skip
    assert out["count"].tolist() == [100, 10]
    assert out.loc["/x", "error_rate"] == pytest.approx(0.05)
    assert out.loc["/x", "client_error_rate"] == pytest.approx(0.03)
    assert out.loc["/y", "error_rate"] == pytest.approx(0.1)
    assert out["mean_ms"].tolist() == pytest.approx([50.5, 1000.0])
    assert out["max_ms"].tolist() == [100.0, 1000.0]
    assert out.loc["/x", "p50_ms"] == pytest.approx(50, rel=0.011)
    assert out.loc["/x", "p90_ms"] == pytest.approx(90, rel=0.011)
    assert out.loc["/y", "p90_ms"] == pytest.approx(1000, rel=0.011)
    for bad in ({"freq": "5min"}, {"by": ["endpoint", "status"]}):
        with pytest.raises(InputError, match="Dask frame groups by one column, without freq"):
            summarize(lazy, metric="latency", **{"by": "endpoint", **bad})


def test_equal_counts_keep_the_key_order():
    """20 routes of 3 requests and one of 5: the busy one first, then the 20 in key order
    (sorted for text keys, the categories' order for a categorical)."""
    names = [f"/r{i:02d}" for i in range(20)]
    routes = ["/zz"] * 5 + [r for r in names for _ in range(3)]
    frame = pd.DataFrame({"route": routes, "status": 200, "duration_ms": 1.0})
    frame = frame.sample(frac=1, random_state=7)
    assert summarize(frame).index.tolist() == ["/zz", *names]
    shuffled = list(np.random.default_rng(5).permutation(names))
    categories = ["/unused", *shuffled, "/zz"]
    categorical = frame.assign(route=pd.Categorical(frame["route"], categories=categories))
    assert summarize(categorical).index.tolist() == ["/zz", *shuffled]


def test_categorical_keys_with_unused_categories_and_a_missing_route_give_only_seen_groups():
    """A categorical route with unused categories, grouped with the method or alone with a
    missing route (both through pandas' groupby): no empty group, every count planted."""
    route = pd.Categorical(["/a", "/a", "/b", None, "/a"], categories=["/a", "/b", "/c", "/d"])
    frame = pd.DataFrame({"route": route, "method": ["GET", "POST", "GET", "GET", "GET"],
                          "status": [200, 500, 200, 404, 200],
                          "duration_ms": [1.0, 2.0, 3.0, 4.0, 5.0]})  # fmt: skip
    two = summarize(frame, by=["route", "method"])
    counts = {k: n for k, n in two["count"].items() if not pd.isna(k[0])}
    assert counts == {("/a", "GET"): 2, ("/a", "POST"): 1, ("/b", "GET"): 1}
    assert len(two) == 4 and two["count"].sum() == 5
    one = summarize(frame)
    assert one["count"].tolist() == [3, 1, 1] and len(one) == 3
    assert one.loc["/a", "p50_ms"] == 2.0 and one.loc["/a", "error_rate"] == pytest.approx(1 / 3)
    missing = one[one.index.isna()]
    assert missing["client_error_rate"].tolist() == [1.0] and missing["max_ms"].tolist() == [4.0]


def test_object_columns_left_by_concatenating_chunks():
    """A chunk with nullable columns (missing values as pd.NA) and one whose status and
    duration are all missing (None): concatenated, both columns are of object dtype."""
    nullable = pd.DataFrame({"route": ["/a", "/a", "/a", "/b"],
                             "status": pd.array([200, None, 503, 404], dtype="Int64"),
                             "duration_ms": pd.array([1.5, None, 4.5, 2.0], dtype="Float64")})  # fmt: skip
    empty = pd.DataFrame({"route": ["/a", "/b"], "status": [None, None],
                          "duration_ms": [None, None]})  # fmt: skip
    frame = pd.concat([nullable, empty], ignore_index=True)
    assert frame["status"].dtype == object and frame["duration_ms"].dtype == object
    out = summarize(frame)
    assert out["count"].tolist() == [4, 2]
    assert out.loc["/a", "error_rate"] == 0.25 and out.loc["/a", "client_error_rate"] == 0
    assert out.loc["/b", "client_error_rate"] == 0.5
    assert out.loc["/a", "mean_ms"] == 3.0 and out.loc["/a", "p50_ms"] == 3.0
    assert out.loc["/b", "max_ms"] == 2.0


def test_more_groups_than_a_16_bit_group_number_holds():
    """40,000 users of two requests each, user k taking k and k + 1 ms: the median k + 0.5,
    the maximum k + 1, for the first and the last users alike."""
    users = np.repeat(np.arange(40_000), 2)
    duration = users + np.tile([0.0, 1.0], 40_000)
    frame = pd.DataFrame({"user": users, "status": 200, "duration_ms": duration[::-1]})
    frame["user"] = frame["user"].to_numpy()[::-1]
    out = summarize(frame, by="user", percentiles=(50,)).sort_index()
    assert len(out) == 40_000
    np.testing.assert_array_equal(out["p50_ms"].to_numpy(), np.arange(40_000) + 0.5)
    np.testing.assert_array_equal(out["max_ms"].to_numpy(), np.arange(40_000) + 1.0)


def test_a_group_without_durations_warns_of_nothing():
    frame = pd.DataFrame({"route": ["/a", "/b", "/b"], "status": [200, 200, 200],
                          "duration_ms": [np.nan, 1.0, 3.0]})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = summarize(frame)
    assert np.isnan(out.loc["/a", "mean_ms"]) and out.loc["/b", "mean_ms"] == 2.0
