"""summarize: exact per-route figures, checked against numpy on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit import InputError, summarize


def planted(seed=0, routes=12, n=20_000):
    rng = np.random.default_rng(seed)
    route = rng.choice([f"/r{i}" for i in range(routes)], size=n)
    medians = {f"/r{i}": 5.0 * (i + 1) for i in range(routes)}
    duration = np.array([medians[r] for r in route]) * rng.lognormal(0, 0.6, n)
    duration[rng.random(n) < 0.01] = np.nan  # a few lines without a duration
    status = np.where(rng.random(n) < 0.02, 503, np.where(rng.random(n) < 0.05, 404, 200))
    time = pd.Timestamp("2024-10-10", tz="UTC") + pd.to_timedelta(rng.uniform(0, 3600, n), unit="s")
    return pd.DataFrame(
        {
            "time": time,
            "route": pd.Categorical(route),
            "status": status.astype("int16"),
            "duration_ms": duration,
        }
    )


def test_matches_numpy_per_route():
    df = planted()
    table = summarize(df)
    for route, group in df.groupby("route", observed=True):
        values = group["duration_ms"].dropna().to_numpy()
        row = table.loc[route]
        assert row["count"] == len(group)
        assert row["error_rate"] == pytest.approx((group["status"] >= 500).mean())
        assert row["client_error_rate"] == pytest.approx(
            ((group["status"] >= 400) & (group["status"] < 500)).mean()
        )
        assert row["mean_ms"] == pytest.approx(values.mean())
        for p in (50, 90, 95, 99):
            assert row[f"p{p}_ms"] == pytest.approx(np.percentile(values, p), rel=1e-12)
        assert row["max_ms"] == values.max()
    assert table["count"].is_monotonic_decreasing


def test_time_buckets_partition_the_counts():
    df = planted(seed=1)
    table = summarize(df, freq="10min")
    assert table["count"].sum() == len(df)
    one = table.xs("/r3", level="route")
    bucket = one.index[0]
    sel = df[(df["route"] == "/r3") & (df["time"].dt.floor("10min") == bucket)]
    assert one.loc[bucket, "p95_ms"] == pytest.approx(np.nanpercentile(sel["duration_ms"], 95))


def test_time_buckets_run_in_time_order_within_each_group():
    """Route /b (100 requests) before /a (65); each route's buckets in time order although /a's
    busiest bucket is its second and /b's its last; a request without a time comes last."""
    t0 = pd.Timestamp("2024-10-10 12:00", tz="UTC")
    planted_counts = {("/a", 0): 5, ("/a", 1): 50, ("/a", 2): 10, ("/b", 0): 20, ("/b", 2): 80}
    rows = [{"time": t0 + pd.Timedelta(minutes=5 * k, seconds=i), "route": route,
             "status": 200, "duration_ms": 1.0 + i}
            for (route, k), n in planted_counts.items() for i in range(n)]  # fmt: skip
    rows.append({"time": pd.NaT, "route": "/a", "status": 200, "duration_ms": 1.0})
    frame = pd.DataFrame(rows).sample(frac=1, random_state=0)  # input order says nothing
    table = summarize(frame, freq="5min")
    expected = [("/b", t0, 20), ("/b", t0 + pd.Timedelta("10min"), 80),
                ("/a", t0, 5), ("/a", t0 + pd.Timedelta("5min"), 50),
                ("/a", t0 + pd.Timedelta("10min"), 10), ("/a", pd.NaT, 1)]  # fmt: skip
    got = [(route, bucket, n) for (route, bucket), n in table["count"].items()]
    assert len(got) == len(expected)
    for (route, bucket, n), (e_route, e_bucket, e_n) in zip(got, expected, strict=True):
        assert route == e_route and n == e_n
        assert (pd.isna(bucket) and pd.isna(e_bucket)) or bucket == e_bucket
    # two keys: the same rule, the group being (method, route)
    two = summarize(frame.assign(method="GET"), by=["method", "route"], freq="5min")
    assert [(r, n) for (_, r, _), n in two["count"].items()] == [(r, n) for r, _, n in expected]


def test_missing_column_is_named():
    with pytest.raises(InputError, match="no column duration_ms"):
        summarize(pd.DataFrame({"route": ["/"], "status": [200]}))


@pytest.mark.parametrize("groups", [1, 33, 3000])  # one by one, and by the two-key sort past 1,000
def test_sort_within_groups_equals_numpys_lexsort(groups):
    from perfkit.analysis.summary import SORT_GROUPS_APART, sort_within_groups

    rng = np.random.default_rng(groups)
    codes = rng.integers(0, groups, 50_000)
    values = np.round(rng.lognormal(3, 1, 50_000), 1)  # ties, as logged milliseconds have
    n = np.bincount(codes, minlength=groups + 2)  # two groups left empty
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    expected = values[np.lexsort((values, codes))]
    np.testing.assert_array_equal(sort_within_groups(codes, values, start, n), expected)
    assert (groups > SORT_GROUPS_APART) == (np.count_nonzero(n > 1) > SORT_GROUPS_APART)


def test_categories_without_requests_are_left_out_and_the_rest_unchanged():
    frame = planted(seed=3)
    plain = summarize(frame)
    wider = frame.assign(route=frame["route"].cat.add_categories(["/absent", "/also-absent"])
                         .cat.reorder_categories(["/absent", *frame["route"].cat.categories,
                                                  "/also-absent"]))  # fmt: skip
    table = summarize(wider)
    assert "/absent" not in table.index and "/also-absent" not in table.index
    pd.testing.assert_frame_equal(table, plain, check_index_type=False, check_categorical=False)


@pytest.mark.parametrize("percentiles", [(50, 90, 95, 99), (0, 100), (0.1, 33.3, 99.9)])
def test_partitioned_groups_give_numpys_percentiles(percentiles):
    """Groups of few are partitioned at the order statistics the percentiles read, not
    sorted: every size from 1 to 40 (where floor(q*(n-1)) and its neighbour move), ties
    included, against numpy's percentile and max."""
    rng = np.random.default_rng(7)
    sizes = np.arange(1, 41)
    route = np.repeat([f"/g{k}" for k in sizes], sizes)
    duration = np.round(rng.lognormal(3, 1, len(route)), 1)
    df = pd.DataFrame({"route": pd.Categorical(route), "status": np.full(len(route), 200),
                       "duration_ms": duration})  # fmt: skip
    table = summarize(df, percentiles=percentiles)
    for name, group in df.groupby("route", observed=True):
        values = group["duration_ms"].to_numpy()
        for p in percentiles:
            label = str(int(p)) if float(p).is_integer() else str(p).replace(".", "_")
            assert table.loc[name, f"p{label}_ms"] == pytest.approx(
                np.percentile(values, p), rel=1e-12
            ), (name, p)
        assert table.loc[name, "max_ms"] == values.max()


@pytest.mark.parametrize("percentiles", [(150,), (50, -1), ("p99",)])
def test_percentiles_outside_0_to_100_are_refused(percentiles):
    """Found by review: 150 raised numpy's 'kth out of bounds' (before the partition, it read
    a neighbouring group's values)."""
    with pytest.raises(InputError, match="percentiles are numbers from 0 to 100"):
        summarize(planted(n=200), percentiles=percentiles)
