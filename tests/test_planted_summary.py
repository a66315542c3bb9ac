"""Planted-bug tests for `summarize` (issue 16): every figure against a plain pandas/numpy
reference, on groups that stress the fast paths (categorical keys with unused categories,
a missing key, one-request groups, a group without any duration, statuses on the 4xx/5xx
boundaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit import InputError, summarize


def _requests(route_dtype=None) -> pd.DataFrame:
    rng = np.random.default_rng(12)
    routes = ["/a"] * 50 + ["/b"] * 20 + ["/one"] + ["/untimed"] * 3
    duration = np.concatenate([rng.lognormal(3, 1, 50), rng.lognormal(1, 0.5, 20), [7.0],
                               [np.nan] * 3])  # fmt: skip
    duration[[3, 60]] = np.nan
    status = np.array([200] * 74)
    status[[0, 1, 2, 55]] = [500, 499, 400, 599]
    status[[70, 71]] = [399, 501]
    frame = pd.DataFrame({"route": routes, "method": ["GET", "POST"] * 37,
                          "status": status, "duration_ms": duration})  # fmt: skip
    if route_dtype is not None:
        frame["route"] = frame["route"].astype(route_dtype)
    return frame


def _reference(frame: pd.DataFrame, keys: list[str], percentiles) -> pd.DataFrame:
    rows = {}
    for key, g in frame.groupby(keys if len(keys) > 1 else keys[0], observed=True,
                                dropna=False):  # fmt: skip
        v = g["duration_ms"].dropna().to_numpy()
        s = g["status"].to_numpy()
        row = {"count": len(g), "error_rate": np.mean(s >= 500),
               "client_error_rate": np.mean((s >= 400) & (s < 500)),
               "mean_ms": v.mean() if len(v) else np.nan}  # fmt: skip
        for p in percentiles:
            name = str(int(p)) if float(p).is_integer() else str(p).replace(".", "_")
            row[f"p{name}_ms"] = np.percentile(v, p) if len(v) else np.nan
        row["max_ms"] = v.max() if len(v) else np.nan
        rows[key] = row
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.mark.parametrize("dtype", [None, pd.CategoricalDtype(["/z", "/one", "/a", "/untimed",
                                                              "/b", "/unused"])])
def test_summary_equals_a_pandas_reference(dtype):
    frame = _requests(dtype)
    out = summarize(frame, percentiles=(50, 95, 99.9))
    ref = _reference(frame, ["route"], (50, 95, 99.9)).loc[out.index]
    assert list(out.index) == ["/a", "/b", "/untimed", "/one"]  # by count, largest first
    assert out.index.name == "route"
    assert list(out.columns) == ["count", "error_rate", "client_error_rate", "mean_ms", "p50_ms",
                                 "p95_ms", "p99_9_ms", "max_ms"]  # fmt: skip
    pd.testing.assert_frame_equal(out, ref, check_dtype=False, check_names=False, rtol=1e-12)
    assert out.loc["/a", "error_rate"] == pytest.approx(1 / 50)  # 500
    assert out.loc["/a", "client_error_rate"] == pytest.approx(2 / 50)  # 499 and 400
    assert out.loc["/b", "error_rate"] == pytest.approx(1 / 20)  # 599
    assert out.loc["/one", "error_rate"] == out.loc["/one", "client_error_rate"] == 0  # 399
    assert out.loc["/untimed", "error_rate"] == pytest.approx(1 / 3)  # 501
    assert np.isnan(out.loc["/untimed", "mean_ms"]) and np.isnan(out.loc["/untimed", "max_ms"])
    assert out.loc["/one", "p50_ms"] == out.loc["/one", "max_ms"] == 7.0


def test_summary_by_two_keys_keeps_a_missing_key():
    frame = _requests()
    frame.loc[[5, 6], "route"] = None
    out = summarize(frame, by=["route", "method"])
    ref = _reference(frame, ["route", "method"], (50, 90, 95, 99))
    assert out["count"].sum() == len(frame) and len(out) == len(ref)
    for key in ref.index:
        got = out[[k == key or (pd.isna(k[0]) and pd.isna(key[0]) and k[1] == key[1])
                   for k in out.index]]  # fmt: skip
        assert len(got) == 1
        np.testing.assert_allclose(got.iloc[0].to_numpy(dtype=float),
                                   ref.loc[[key]].iloc[0].to_numpy(dtype=float), rtol=1e-12)


def test_summary_buckets_and_missing_columns():
    frame = _requests().assign(time=pd.Timestamp("2026-01-05", tz="UTC")
                               + pd.to_timedelta(np.arange(74) * 10, unit="s"))  # fmt: skip
    out = summarize(frame, freq="5min")
    assert out.index.names == ["route", "bucket"]
    assert out["count"].sum() == 74
    with pytest.raises(InputError, match="summarize: the frame has no column duration_ms, status"):
        summarize(frame.drop(columns=["duration_ms", "status"]))


def test_nullable_columns_float_percentile_names_and_no_durations_at_all():
    frame = pd.DataFrame({
        "route": ["/a", "/a", "/a", "/b"],
        "status": pd.array([200, None, 503, 404], dtype="Int64"),
        "duration_ms": pd.array([1.0, 3.0, None, 2.0], dtype="Float64"),
    })  # fmt: skip
    out = summarize(frame, percentiles=(50.0, 99.5))
    assert list(out.columns)[3:] == ["mean_ms", "p50_ms", "p99_5_ms", "max_ms"]
    assert out.loc["/a", "count"] == 3 and out.loc["/a", "error_rate"] == pytest.approx(1 / 3)
    assert out.loc["/a", "p50_ms"] == 2.0 and out.loc["/a", "max_ms"] == 3.0
    assert out.loc["/b", "client_error_rate"] == 1.0
    untimed = summarize(frame.assign(duration_ms=np.nan))
    assert untimed["count"].tolist() == [3, 1]
    assert untimed[["mean_ms", "p50_ms", "max_ms"]].isna().all().all()
