"""Outbound-call logging through requests/httpx hooks against a local slow, limited, failing API."""

from __future__ import annotations

import gzip
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from perfkit import InputError, PerfkitWarning
from perfkit.analysis.outbound import outbound_summary
from perfkit.collect.outbound import OutboundLog
from perfkit.io.jsonl import read_jsonl

FLAKY_COUNTS: dict[str, int] = {}


class FakeShippingAPI(BaseHTTPRequestHandler):
    """/slow waits 300 ms; /limited answers 429; /broken 503; /flaky 503 twice, then 200."""

    def do_GET(self):
        path = self.path.split("?")[0]
        status = 200
        if path == "/slow":
            time.sleep(0.3)
        elif path == "/limited":
            status = 429
        elif path == "/broken":
            status = 503
        elif path == "/flaky":
            FLAKY_COUNTS[path] = FLAKY_COUNTS.get(path, 0) + 1
            status = 503 if FLAKY_COUNTS[path] <= 2 else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeShippingAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_requests_and_httpx_calls_are_logged(api, tmp_path):
    path = tmp_path / "outbound.jsonl"
    with OutboundLog(path) as log:
        session = log.attach_requests(requests.Session())
        retry = Retry(
            total=3,
            status_forcelist=[503],
            allowed_methods=["GET"],
            backoff_factor=0,
            raise_on_status=False,
        )
        session.mount("http://", HTTPAdapter(max_retries=retry))
        for target in ("/slow", "/fast?api_key=SEKRET", "/limited", "/flaky"):
            session.get(api + target, timeout=10)
        with httpx.Client(event_hooks=log.httpx_hooks()) as client:
            client.get(api + "/slow")
            client.get(api + "/broken")
    calls = read_jsonl(path)
    assert len(calls) == 6 and str(calls["time"].dt.tz) == "UTC"
    assert calls["endpoint"].tolist() == [
        "/slow",
        "/fast",
        "/limited",
        "/flaky",
        "/slow",
        "/broken",
    ]
    assert calls["status"].tolist() == [200, 200, 429, 200, 200, 503]
    assert calls["attempt"].tolist() == [1, 1, 1, 3, 1, 1]  # /flaky: two 503s retried by urllib3
    slow = calls[calls["endpoint"] == "/slow"]["duration_ms"]
    assert (slow >= 300).all() and (slow < 3000).all()
    assert calls.loc[calls["endpoint"] == "/fast", "duration_ms"].iloc[0] < 300
    assert "SEKRET" not in path.read_text()  # queries are never logged
    summary = outbound_summary(calls).loc["127.0.0.1"]
    assert summary["calls"] == 6
    assert summary["error_rate"] == pytest.approx(1 / 6)
    assert summary["rate_limited_rate"] == pytest.approx(1 / 6)
    assert summary["retry_rate"] == pytest.approx(1 / 6)
    assert summary["over_target_rate"] == 0.0 and summary["max_ms"] >= 300


def test_failures_without_a_response_and_threads(tmp_path):
    path = tmp_path / "calls.jsonl"
    with OutboundLog(path) as log:
        try:
            requests.get("http://127.0.0.1:1/never", timeout=1)
        except requests.ConnectionError as exc:
            log.record_failure("http://127.0.0.1:1/never", "GET", exc, 1.0)
        threads = [
            threading.Thread(
                target=lambda: [log.write("http://h/x", "get", 200, 5.0) for _ in range(200)]
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    calls = read_jsonl(path, on_bad_lines="error")  # 801 whole lines, none interleaved
    assert (
        len(calls) == 801
        and calls["error"].iloc[0] == "ConnectionError"
        and pd.isna(calls["status"].iloc[0])
    )
    summary = outbound_summary(calls)
    assert summary.loc["127.0.0.1", "error_rate"] == 1.0 and summary.loc["h", "error_rate"] == 0.0


def test_read_jsonl_fields_bad_lines_and_contract(tmp_path):
    text = (
        '{"ts": 1700000000.25, "req": {"host": "api.easyship.com", "ms": 120}, "code": 200}\n'
        '{"ts": 1700000001, "req": {"host": "api.veeqo.com", "ms": 2400}, "code": 429}\n'
        "not json at all\n"
    )
    fields = {"time": "ts", "host": "req.host", "duration_ms": "req.ms", "status": "code"}
    path = tmp_path / "calls.jsonl"
    path.write_text(text)
    with pytest.warns(
        PerfkitWarning, match=r"1 of 3 lines were rejected; first at .*calls\.jsonl:3"
    ):
        frame = read_jsonl(path, fields)
    assert frame.columns.tolist() == ["time", "host", "duration_ms", "status"]
    assert frame["time"].iloc[0] == pd.Timestamp(1700000000.25, unit="s", tz="UTC")
    assert frame.attrs["perfkit"]["rejected_lines"][0]["line"] == 3
    gz = tmp_path / "calls.jsonl.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    for other in (
        read_jsonl(gz, fields, on_bad_lines="skip"),
        read_jsonl(io.BytesIO(text.encode()), fields, on_bad_lines="skip"),
    ):
        pd.testing.assert_frame_equal(frame, other)
    with pytest.raises(InputError, match=r"calls\.jsonl:3: expected one JSON object per line"):
        read_jsonl(path, fields, on_bad_lines="error")
    summary = outbound_summary(frame)
    assert summary.loc["api.veeqo.com", "over_target_rate"] == 1.0  # 2.4 s > the 2 s target
    assert summary.loc["api.veeqo.com", "rate_limited_rate"] == 1.0
