"""A Flask app whose time is known by layer: PostgreSQL sleeps, a slow HTTP API, Python work.

GET /orders/<id>: two statements (3 ms each in PostgreSQL), one call to the
shipping API (20 ms), ~4 ms of Python. With ``n_plus_one`` it also runs one
statement per order line (8 lines x 3 ms): an N+1 of known size.
GET /health: Python only.
"""

from __future__ import annotations

import flask
import psycopg
import requests

from perfkit.collect.outbound import OutboundLog

LINES = 8
SLEEP_S = 0.003


def create_app(dsn: str, api: str, outbound: OutboundLog, n_plus_one: bool = False):
    app = flask.Flask("attribution_app")
    conn = psycopg.connect(dsn, autocommit=True)
    session = outbound.attach_requests(requests.Session())

    def python_work() -> int:
        return sum(range(400_000))  # ~4 ms in one C call: the profiler adds nothing to it

    @app.get("/orders/<int:order_id>")
    def order(order_id: int):
        conn.execute("select pg_sleep(%s), 'order'", (SLEEP_S,)).fetchone()
        conn.execute("select pg_sleep(%s), 'lines'", (SLEEP_S,)).fetchone()
        if n_plus_one:
            for line in range(LINES):
                conn.execute("select pg_sleep(%s), %s::int", (SLEEP_S, line)).fetchone()
        quote = session.get(f"{api}/rates?order={order_id}", timeout=5).status_code
        return {"order": order_id, "quote": quote, "work": python_work()}

    @app.get("/health")
    def health():
        return {"ok": True, "work": python_work()}

    return app
