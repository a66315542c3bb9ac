"""attribute: an N+1 planted in one view is charged to the database, by profiles and by PostgreSQL."""

from __future__ import annotations

import http.server
import threading
import time

import flask
import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.attribution import Evidence, attribute, layer
from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.collect.outbound import OutboundLog
from perfkit.io.jsonl import read_jsonl
from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.io.profile import read_profile
from tests.apps.attribution_app import LINES, SLEEP_S, create_app

ORDERS, HEALTH = 16, 6


class SlowAPI(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.020)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def record(pg, api, folder, n_plus_one):
    from werkzeug.middleware.profiler import ProfilerMiddleware

    folder.mkdir()
    (folder / "prof").mkdir()
    context = lambda: {"inbound_path": flask.request.path} if flask.has_request_context() else {}  # noqa: E731
    outbound = OutboundLog(folder / "outbound.jsonl", context=context)
    app = create_app(pg.dsn(), api, outbound, n_plus_one=n_plus_one)
    client = app.test_client()
    for path in ("/orders/0", "/health"):  # warm up: first requests pay for imports and caches
        assert client.get(path).status_code == 200
    window_start = pd.Timestamp.now(tz="UTC")
    app.wsgi_app = ProfilerMiddleware(app.wsgi_app, stream=None, profile_dir=str(folder / "prof"))
    snapshot_pg(pg.dsn(), folder / "pg", views=("statements",))
    rows = []
    for i in range(ORDERS + HEALTH):
        path = f"/orders/{i}" if i < ORDERS else "/health"
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        rows.append({"path": path, "duration_ms": (time.perf_counter() - started) * 1000})
    snapshot_pg(pg.dsn(), folder / "pg", views=("statements",))
    outbound.close()
    requests = pd.DataFrame(rows)
    requests["route"] = requests["path"].str.replace(r"/\d+$", "/{id}", regex=True)
    calls = read_jsonl(folder / "outbound.jsonl")
    return Evidence(
        requests=requests,
        profile=read_profile(str(folder / "prof" / "*.prof")),
        outbound=calls[calls["time"] >= window_start],
        statements=pg_deltas(read_pg_stat(folder / "pg", "statements")),
    )


@pytest.fixture(scope="module")
def result(pg, api, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attribution")
    return attribute(record(pg, api, tmp / "base", False), record(pg, api, tmp / "cand", True))


def test_the_n_plus_one_is_charged_to_the_database(result):
    orders = result.routes.loc["/orders/{id}"]
    # PostgreSQL's own figure: 8 more executions per order request at the statement's mean
    line = result.statements.iloc[0]
    server_ms = LINES * line["mean_ms_cand"]
    assert server_ms > LINES * SLEEP_S * 1000  # pg_sleep overshoots, never undershoots
    # the app waited that plus eight round trips through psycopg
    assert server_ms <= orders["db_change_ms"] <= server_ms * 1.3
    # the whole request's change (from the access log, 16 requests a side) is noisier on a
    # loaded 2-core machine than the profile's database share: 25.8 against 35.0 ms seen
    assert orders["total_change_ms"] == pytest.approx(orders["db_change_ms"], rel=0.4)
    assert abs(orders["external_change_ms"]) < 4  # the API call did not change
    # Python's share is the remainder, total - db - external: it carries the total's noise
    # (-13.3 against a 36.3 ms database change seen under load), so the same 40 % bound
    assert abs(orders["python_change_ms"]) < 0.4 * orders["db_change_ms"]
    assert orders["db_ms_base"] >= 2 * SLEEP_S * 1000  # two 3 ms statements
    assert orders["external_ms_base"] == pytest.approx(20, abs=8)  # one 20 ms call, from the log
    # each statement is an execute and a fetchone entering psycopg: 2 x 2 before, 2 x 10 after
    assert orders["db_calls_base"] == pytest.approx(4)
    assert orders["db_calls_cand"] == pytest.approx(4 + 2 * LINES)
    health = result.routes.loc["/health"]
    assert health["db_ms_base"] == 0 and health["external_ms_base"] == 0
    assert abs(health["total_change_ms"]) < 5


def test_postgresql_names_the_statement_and_its_calls(result):
    table = result.statements
    top = table.iloc[0]
    assert "::int" in top["query"] and "pg_sleep" in top["query"]
    # 8 calls in each of 16 order requests, over all 22 requests served
    assert top["calls_per_request_cand"] == pytest.approx(LINES * ORDERS / (ORDERS + HEALTH))
    assert top["calls_per_request_base"] == 0
    assert top["mean_ms_cand"] == pytest.approx(SLEEP_S * 1000, rel=0.5)
    assert top["change_ms_per_request"] == pytest.approx(
        top["calls_per_request_cand"] * top["mean_ms_cand"]
    )
    # the two statements every order runs differ only in a constant: one normalised statement
    unchanged = table[table["query"] == "select pg_sleep($1), $2"].iloc[0]
    assert unchanged["calls_per_request_base"] == pytest.approx(2 * ORDERS / (ORDERS + HEALTH))
    assert unchanged["calls_per_request_cand"] == unchanged["calls_per_request_base"]


def test_layers_of_functions():
    assert layer("~", "<method 'execute' of 'sqlite3.Cursor' objects>") == "db"
    assert layer("~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>") == "db"
    assert layer("/srv/.venv/lib/python3.11/site-packages/psycopg/cursor.py", "execute") == "db"
    assert layer("/srv/.venv/lib/python3.11/site-packages/requests/api.py", "get") == "external"
    assert layer("~", "<built-in method time.sleep>") == "python"
    assert layer("/srv/app/views.py", "order") == "python"
    assert np.isnan(attribute(
        Evidence(pd.DataFrame({"route": ["/a"], "path": ["/a"], "duration_ms": [1.0]})),
        Evidence(pd.DataFrame({"route": ["/a"], "path": ["/a"], "duration_ms": [2.0]})),
    ).routes.loc["/a", "python_ms_base"])  # fmt: skip
