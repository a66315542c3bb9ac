"""A small Flask app with a planted leak and a warm-up cache, for allocation-site tests.

LEAK_BYTES (env, default 0): each request keeps ``bytes(LEAK_BYTES)`` in a module-level list,
allocated on the line marked ``# LEAK LINE``; it grows by ``sys.getsizeof(bytes(LEAK_BYTES))``
bytes per request there. CACHE_ENTRIES (env, default 150): a per-worker cache of that many
2000-byte values filled by the worker's first requests (line ``# CACHE LINE``), then replaced
in place: it stops growing. Every response is ``<pid> <requests served by this worker>``.
"""

from __future__ import annotations

import json
import os

from flask import Flask

app = Flask(__name__)
LEAK_BYTES = int(os.environ.get("LEAK_BYTES", "0"))
CACHE_ENTRIES = int(os.environ.get("CACHE_ENTRIES", "150"))
_LEAK: list[bytes] = []
_CACHE: dict[int, bytes] = {}
_served = 0


@app.route("/")
def index() -> str:
    global _served
    _served += 1
    if LEAK_BYTES:
        chunk = bytes(LEAK_BYTES)  # LEAK LINE
        _LEAK.append(chunk)
    if CACHE_ENTRIES:
        _CACHE[_served % CACHE_ENTRIES] = bytes(2000)  # CACHE LINE
    page = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(50)]})
    return f"{os.getpid()} {_served} {len(page)}"
