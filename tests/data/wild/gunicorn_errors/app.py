"""A small Flask app whose workers recycle, time out, grow and fail on demand.

Every answer that completes carries the serving worker's pid, so the recorder knows which
worker did what without reading Gunicorn's log.

- ``/ok``: fast, ``{"pid": ...}``.
- ``/sleep?s=N``: sleeps N seconds (past ``--timeout`` the master aborts the worker).
- ``/grow?mb=N``: allocates N MB, touches every page and keeps it (module-level list).
- ``/boom``: prints one line to stdout, then raises ``ValueError``; Flask catches it, logs
  "Exception on /boom [GET]" with the traceback and answers 500.
- ``/wsgiboom``: raises ``RuntimeError`` outside Flask (a WSGI wrapper), so Gunicorn's worker
  logs "Error handling request /wsgiboom" with the traceback and answers 500.
"""

from __future__ import annotations

import os
import time

from flask import Flask, jsonify, request

flask_app = Flask(__name__)
KEPT: list[bytearray] = []


@flask_app.get("/ok")
def ok():
    return jsonify(pid=os.getpid())


@flask_app.get("/sleep")
def sleep():
    seconds = float(request.args.get("s", "1"))
    time.sleep(seconds)
    return jsonify(pid=os.getpid(), slept_s=seconds)


@flask_app.get("/grow")
def grow():
    mb = int(request.args.get("mb", "10"))
    KEPT.append(bytearray(b"\x01") * (mb * 1024 * 1024))  # filled: every page touched
    kept = sum(len(b) for b in KEPT) // (1024 * 1024)
    return jsonify(pid=os.getpid(), kept_mb=kept)


@flask_app.get("/boom")
def boom():
    print(f"boom requested in worker {os.getpid()}", flush=True)
    raise ValueError("planted failure in /boom")


def app(environ, start_response):
    """The WSGI entry point: /wsgiboom fails before Flask sees the request."""
    if environ.get("PATH_INFO") == "/wsgiboom":
        raise RuntimeError("planted failure outside Flask")
    return flask_app(environ, start_response)
