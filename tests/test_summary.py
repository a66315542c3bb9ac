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


def test_missing_column_is_named():
    with pytest.raises(InputError, match="no column duration_ms"):
        summarize(pd.DataFrame({"route": ["/"], "status": [200]}))
