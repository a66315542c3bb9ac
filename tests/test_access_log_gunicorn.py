"""read_access_log on lines written by Gunicorn's own logger (default and custom formats)."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pyarrow as pa
import pytest

from perfkit import read_access_log

ALL_ATOMS = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(m)s %(U)s "%(q)s" %(H)s %(s)s %(B)s %(b)s '
    '"%(f)s" "%(a)s" %(T)s %(D)s %(L)s %(M)s %(p)s "%({x-request-id}i)s" '
    '"%({content-type}o)s" "%({wsgi.url_scheme}e)s"'
)


def test_default_format(gunicorn_log):
    log = gunicorn_log()
    log.request(
        "GET",
        "/orders/42",
        query="page=2",
        status="200 OK",
        sent=512,
        referer="https://wh.example.com/dash",
        user_agent="Mozilla/5.0 (X11)",
    )
    log.request("POST", "/orders", status="201 CREATED", sent=None, user_agent=None)
    log.close()
    df = read_access_log(log.path, format="gunicorn")
    assert list(df["method"]) == ["GET", "POST"]
    assert list(df["path"]) == ["/orders/42", "/orders"]
    assert df["query"].iloc[0] == "page=2" and pd.isna(df["query"].iloc[1])
    assert list(df["status"]) == [200, 201]
    assert df["bytes"].iloc[0] == 512 and pd.isna(df["bytes"].iloc[1])  # '-' -> NA
    assert df["referrer"].iloc[0] == "https://wh.example.com/dash"
    assert df["user_agent"].iloc[0] == "Mozilla/5.0 (X11)" and pd.isna(df["user_agent"].iloc[1])
    assert df["duration_ms"].isna().all()  # the default format logs no duration
    assert list(df["route"]) == ["/orders/{id}", "/orders"]
    now = pd.Timestamp.now(tz="UTC")
    assert (now - df["time"]).abs().max() < pd.Timedelta(minutes=1)
    assert df.attrs["perfkit"]["format"] == "gunicorn"


def test_every_atom_of_a_custom_format(gunicorn_log):
    log = gunicorn_log(ALL_ATOMS)
    took = dt.timedelta(seconds=1, microseconds=234_567)
    log.request(
        "DELETE",
        "/stock/7",
        query="force=1",
        status="404 NOT FOUND",
        sent=0,
        duration=took,
        user_agent='agent "quoted" \\ back',
        headers={"X-Request-Id": "abc-1"},
    )
    log.close()
    df = read_access_log(log.path, format=ALL_ATOMS)
    row = df.iloc[0]
    assert row["method"] == "DELETE" and row["path"] == "/stock/7" and row["query"] == "force=1"
    assert row["status"] == 404 and row["bytes"] == 0
    # %(D)s (µs) wins over %(L)s, %(M)s and %(T)s: the exact duration
    assert row["duration_ms"] == pytest.approx(1234.567)
    assert row["user_agent"] == 'agent "quoted" \\ back'
    assert row["x_request_id"] == "abc-1"
    assert row["response_content_type"] == "application/json"
    assert row["env_wsgi_url_scheme"] == "https"
    assert row["pid"] > 0


@pytest.mark.parametrize(
    ("atom", "expected_ms"),
    [("%(D)s", 1234.567), ("%(M)s", 1234.0), ("%(L)s", 1234.567), ("%(T)s", 1000.0)],
)
def test_duration_atoms_and_units(gunicorn_log, atom, expected_ms):
    fmt = f'%(h)s %(t)s "%(r)s" %(s)s {atom}'
    log = gunicorn_log(fmt)
    log.request(duration=dt.timedelta(seconds=1, microseconds=234_567))
    log.close()
    df = read_access_log(log.path, format=fmt)
    assert df["duration_ms"].iloc[0] == pytest.approx(expected_ms)


def test_auto_detects_gunicorn_with_microseconds(gunicorn_log):
    fmt = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
    log = gunicorn_log(fmt)
    for i in range(20):
        log.request(path=f"/api/items/{i}", duration=dt.timedelta(microseconds=1000 * (i + 1)))
    log.close()
    df = read_access_log(log.path)
    assert df.attrs["perfkit"]["format"] == "combined_us"
    assert list(df["duration_ms"]) == [float(i + 1) for i in range(20)]
    assert set(df["route"]) == {"/api/items/{id}"}


def test_typed_columns(gunicorn_log):
    log = gunicorn_log(
        gunicorn_log_format := '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
    )
    log.request()
    log.close()
    df = read_access_log(log.path, format=gunicorn_log_format)
    assert isinstance(df["time"].dtype, pd.DatetimeTZDtype)
    assert df["status"].dtype == "int16"
    assert df["bytes"].dtype == "Int64"
    assert df["duration_ms"].dtype == "float64"
    for name in ("client", "path", "query", "referrer", "user_agent"):
        # pandas' own default text dtype (what read_csv gives): `str`, missing as NaN
        assert df[name].dtype == pd.read_csv(io.StringIO("a\nx\n"))["a"].dtype, name
    assert df["method"].dtype == "category" and df["route"].dtype == "category"
    nullable = read_access_log(log.path, format=gunicorn_log_format,
                               dtype_backend="numpy_nullable")  # fmt: skip
    assert nullable["client"].dtype == pd.StringDtype(na_value=pd.NA)
    assert nullable["status"].dtype == "Int16" and nullable["duration_ms"].dtype == "Float64"
    arrow = read_access_log(log.path, format=gunicorn_log_format, dtype_backend="pyarrow")
    assert arrow["client"].dtype == pd.ArrowDtype(pa.string())
    assert arrow["bytes"].dtype == pd.ArrowDtype(pa.int64())
    for name in df.columns:  # the same values in every backend
        assert df[name].astype(object).where(df[name].notna(), None).tolist() == \
            arrow[name].astype(object).where(arrow[name].notna(), None).tolist(), name
