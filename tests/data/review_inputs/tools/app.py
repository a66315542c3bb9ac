"""Review app: 9 endpoints, each a mix of sleep (I/O) and CPU work.
Env: PK_SLOW=comma list of route names slowed, PK_FACTOR (default 1.0),
PK_ERR=route:rate,... planted 5xx rates, PK_TAIL=route:prob:ms long tail."""

import hashlib
import json
import os
import random
import time
from pathlib import Path

from flask import Flask, abort, jsonify, request

CAL = json.loads(Path(__file__).with_name("calib.json").read_text())["iters_per_ms"]
SLOW = set(filter(None, os.environ.get("PK_SLOW", "").split(",")))
FACTOR = float(os.environ.get("PK_FACTOR", "1.0"))
ERR = {
    k: float(v)
    for k, v in (x.split(":") for x in filter(None, os.environ.get("PK_ERR", "").split(",")))
}
TAIL = {}
for x in filter(None, os.environ.get("PK_TAIL", "").split(",")):
    name, p, ms = x.split(":")
    TAIL[name] = (float(p), float(ms))
CPU_SHARE = 0.4


def cpu(ms):
    n = int(ms * CAL)
    h = b"x"
    for _ in range(n):
        h = hashlib.sha256(h).digest()
    return h


def work(name, ms):
    if name in SLOW:
        ms *= FACTOR
    if name in TAIL and random.random() < TAIL[name][0]:
        time.sleep(TAIL[name][1] / 1000)
    cpu(ms * CPU_SHARE)
    time.sleep(ms * (1 - CPU_SHARE) / 1000 * random.uniform(0.7, 1.3))
    if name in ERR and random.random() < ERR[name]:
        abort(500)


app = Flask(__name__)


@app.get("/api/users/<int:uid>")
def user(uid):
    work("users", 8)
    return jsonify(id=uid)


@app.get("/api/orders")
def orders():
    work("orders", 15)
    return jsonify([])


@app.get("/api/orders/<int:oid>")
def order(oid):
    work("order", 10)
    return jsonify(id=oid)


@app.get("/api/search")
def search():
    work("search", 20)
    return jsonify(q=request.args.get("q"))


@app.route("/api/cart", methods=["GET", "POST"])
def cart():
    if request.method == "POST":
        work("cart_post", 12)
        return jsonify(ok=True), 201
    work("cart_get", 6)
    return jsonify(items=[])


@app.get("/api/products")
def products():
    work("products", 10)
    return jsonify([])


@app.get("/api/reports/daily")
def report():
    work("reports", 40)
    return jsonify({})


@app.get("/health")
def health():
    work("health", 1)
    return "ok"


@app.get("/api/legacy")
def legacy():
    work("legacy", 9)
    return "old"
