"""The recorded app: `/leak` keeps 256 KiB per request in a module-level list (a leak that
max_requests recycling hides), `/sleep` sleeps past Gunicorn's --timeout, `/ok` does nothing."""

from __future__ import annotations

import time

from flask import Flask, request

app = Flask(__name__)
KEPT: list[bytearray] = []
LEAK_BYTES = 256 * 1024


@app.get("/leak")
def leak() -> str:
    """Keep LEAK_BYTES (touched, so resident) for the life of the worker."""
    KEPT.append(bytearray(b"x" * LEAK_BYTES))
    return f"kept {len(KEPT)}\n"


@app.get("/sleep")
def sleep() -> str:
    time.sleep(float(request.args.get("s", "5")))
    return "slept\n"


@app.get("/ok")
def ok() -> str:
    return "ok\n"
