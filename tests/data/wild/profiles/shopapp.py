"""A small Flask app (not the warehouse): two handlers with planted CPU costs, 3:1.

PROFILE_DIR set: every request is profiled by Werkzeug's ProfilerMiddleware, which
runs it under cProfile.Profile().runcall and writes one pstats dump per request.
"""

import json
import os
import time

from flask import Flask, jsonify

app = Flask(__name__)
SLOW_S, FAST_S = 0.090, 0.030  # busy seconds per request: slow is planted at 3x fast


def spin(seconds):
    """Busy-loop for `seconds` of wall time (a sampler counts wall time, also when preempted)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def render(payload):
    return json.dumps(payload, sort_keys=True)


@app.get("/slow")
def slow_report():
    spin(SLOW_S)
    return render({"kind": "slow"})


@app.get("/fast")
def fast_lookup():
    spin(FAST_S)
    return render({"kind": "fast"})


@app.get("/items/<int:item_id>")
def item(item_id):
    return jsonify({"id": item_id, "name": f"item-{item_id}"})


if os.environ.get("PROFILE_DIR"):
    from werkzeug.middleware.profiler import ProfilerMiddleware

    app.wsgi_app = ProfilerMiddleware(
        app.wsgi_app, profile_dir=os.environ["PROFILE_DIR"], stream=None
    )
