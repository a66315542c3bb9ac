"""A real Gunicorn on 127.0.0.1 writes the access log; read_access_log must agree with what was sent."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from perfkit import read_access_log
from tests.servers import gunicorn

FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s "%({x-request-id}i)s"'


def get(port: int, target: str, **headers: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{target}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def gunicorn_server(tmp_path):
    log = tmp_path / "access.log"
    options = ("--workers", "1", "--access-logfile", str(log), "--access-logformat", FORMAT)
    with gunicorn(*options) as (_, port):
        yield port, log


def test_real_gunicorn_log_matches_the_requests(gunicorn_server):
    port, log = gunicorn_server
    started = pd.Timestamp.now(tz="UTC").floor("s")
    sent = [
        ("/sleep?ms=150", 200, {}),
        ("/status/404", 404, {}),
        ("/status/500", 500, {}),
        ("/bytes/1234", 200, {"Referer": "https://wh.example.com/dash?api_key=SEKRET"}),
        ("/orders/77?token=SEKRET&page=3", 200, {"User-Agent": 'perfkit-test "quoted" agent'}),
        ("/", 200, {"X-Request-Id": "req-42"}),
    ]
    for target, status, headers in sent:
        assert get(port, target, **headers) == status
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and log.read_text().count("\n") < len(sent):
        time.sleep(0.05)
    finished = pd.Timestamp.now(tz="UTC").ceil("s")
    df = read_access_log(log, format=FORMAT, on_bad_lines="error")
    assert len(df) == len(sent)
    assert df["status"].tolist() == [s for _, s, _ in sent]
    assert df["path"].tolist() == [
        "/sleep",
        "/status/404",
        "/status/500",
        "/bytes/1234",
        "/orders/77",
        "/",
    ]
    assert df["bytes"].iloc[3] == 1234
    assert df["query"].iloc[4] == "token=REDACTED&page=3"
    assert df["referrer"].iloc[3] == "https://wh.example.com/dash?api_key=REDACTED"
    assert df["user_agent"].iloc[4] == 'perfkit-test "quoted" agent'
    assert df["x_request_id"].iloc[5] == "req-42"
    assert df["client"].eq("127.0.0.1").all()
    assert ((df["time"] >= started) & (df["time"] <= finished)).all()
    assert 150 <= df["duration_ms"].iloc[0] < 1500  # the app slept 150 ms
    assert (df["duration_ms"].iloc[1:] < 150).all()
    assert "SEKRET" not in df.to_json(date_format="iso")
