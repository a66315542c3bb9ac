"""Local stand-ins for the inventory (Veeqo-like) and shipping (Easyship-like) APIs.

A WSGI app served by Gunicorn on 127.0.0.1 with realistic behaviour:
latency drawn from a log-normal (inventory median 80 ms, shipping rates
median 220 ms, with a heavy tail), a token-bucket rate limit per API
answering 429 with ``Retry-After`` when exceeded, and 1 % of calls failing
with 503. Seeded per process, so a recording is repeatable in distribution.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from urllib.parse import parse_qs

RNG = random.Random(int(os.environ.get("STUB_SEED", "7")))
LATENCY = {"inventory": (0.080, 0.5), "shipping": (0.220, 0.45)}  # median s, log-sd
RATE_LIMIT = {"inventory": (15.0, 30.0), "shipping": (8.0, 16.0)}  # tokens/s, burst
ERROR_RATE = 0.01


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


BUCKETS = {name: Bucket(*limits) for name, limits in RATE_LIMIT.items()}


def _answer(start_response, status: str, body: dict, headers=()) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data))), *headers])  # fmt: skip
    return [data]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    api = "shipping" if path.startswith("/v2/rates") else "inventory" if path == "/products" else ""
    if not api:
        return _answer(start_response, "404 Not Found", {"error": "no such endpoint"})
    if not BUCKETS[api].take():
        return _answer(start_response, "429 Too Many Requests", {"error": "rate limited"},
                       [("Retry-After", "1")])  # fmt: skip
    median, sd = LATENCY[api]
    time.sleep(min(median * RNG.lognormvariate(0, sd), 5.0))
    if RNG.random() < ERROR_RATE:
        return _answer(start_response, "503 Service Unavailable", {"error": "try again"})
    if api == "shipping":
        grams = int(query.get("weight_g", ["1000"])[0])
        rates = [{"carrier": c, "cost_cents": 300 + grams // k} for c, k in
                 (("DPD", 9), ("Royal Mail", 12), ("UPS", 7))]  # fmt: skip
        return _answer(start_response, "200 OK", {"rates": rates})
    sku = query.get("sku", [""])[0]
    return _answer(start_response, "200 OK", {"sku": sku, "quantity": RNG.randint(0, 500)})
