"""A small Flask app (a book shelf), not the warehouse: the recordings' server.

``/leak`` keeps LEAK_KIB KiB per request in a module-level list (a planted leak,
written byte by byte so the pages are touched and show in RSS).
"""

import hashlib
import time

from flask import Flask, jsonify, request

LEAK_KIB = 64
app = Flask(__name__)
BOOKS = {i: f"Book {i}" for i in range(1, 101)}
_KEPT: list[bytes] = []


def _work(ms: float) -> None:
    """About `ms` of CPU, then a short wait (as a query would)."""
    end = time.perf_counter() + ms / 1000
    data = b"shelf"
    while time.perf_counter() < end:
        data = hashlib.sha256(data).digest()
    time.sleep(0.005)


@app.get("/books")
def books():
    _work(4)
    return jsonify(sorted(BOOKS.values())[:20])


@app.get("/books/<int:book_id>")
def book(book_id: int):
    _work(2)
    if book_id not in BOOKS:
        return jsonify(error="no such book"), 404
    return jsonify(id=book_id, title=BOOKS[book_id])


@app.get("/search")
def search():
    _work(8)
    q = request.args.get("q", "")
    return jsonify([t for t in BOOKS.values() if q in t][:10])


@app.get("/leak")
def leak():
    _KEPT.append(b"L" * (LEAK_KIB * 1024))
    return jsonify(kept=len(_KEPT))


@app.get("/health")
def health():
    return "ok"
