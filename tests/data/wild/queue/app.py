"""The recorded app: two views whose service is a sleep (no CPU contention on a shared host).

``GET /fast`` sleeps 5 ms and ``GET /slow`` 100 ms; the load generator (record.py) asks for
them 80 % / 20 %. The query string (``?i=<request number>``) is ignored: it lets the client's
record be joined with the access log line by line.
"""

from __future__ import annotations

import time

from flask import Flask

app = Flask(__name__)
FAST_S, SLOW_S = 0.005, 0.100


@app.get("/fast")
def fast() -> str:
    """Sleep FAST_S (s), then answer."""
    time.sleep(FAST_S)
    return "fast\n"


@app.get("/slow")
def slow() -> str:
    """Sleep SLOW_S (s), then answer."""
    time.sleep(SLOW_S)
    return "slow\n"
