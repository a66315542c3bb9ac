"""A tiny WSGI app for tests that run a real Gunicorn: known paths, statuses, sizes and delays."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

REASONS = {200: "OK", 201: "Created", 404: "Not Found", 500: "Internal Server Error"}


def app(environ, start_response):
    """/sleep?ms=N waits N ms; /status/CODE answers CODE; /bytes/N sends N bytes; else 200."""
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    status, body = 200, b"ok"
    if path == "/sleep":
        time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
    elif path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
    elif path.startswith("/bytes/"):
        body = b"x" * int(path.rsplit("/", 1)[1])
    start_response(f"{status} {REASONS.get(status, 'Other')}", [("Content-Type", "text/plain")])
    return [body]
