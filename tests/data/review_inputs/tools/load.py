"""Bounded load: python load.py PORT SECONDS MIX CONCURRENCY SEED [MAXREQ]
MIX: name of a mix below."""

import http.client
import random
import sys
import threading
import time

port, seconds, mixname, conc, seed = (
    int(sys.argv[1]),
    float(sys.argv[2]),
    sys.argv[3],
    int(sys.argv[4]),
    int(sys.argv[5]),
)
maxreq = int(sys.argv[6]) if len(sys.argv) > 6 else 10**9
MIXES = {
    "eight": [
        ("GET", "/api/users/{id}", 20),
        ("GET", "/api/orders", 10),
        ("GET", "/api/orders/{id}", 15),
        ("GET", "/api/search?q={word}", 10),
        ("GET", "/api/cart", 10),
        ("POST", "/api/cart", 5),
        ("GET", "/api/products", 15),
        ("GET", "/health", 15),
    ],
    "one": [("GET", "/api/search?q={word}", 1)],
    "lowtraffic": [
        ("GET", "/health", 60),
        ("GET", "/api/users/{id}", 10),
        ("GET", "/api/products", 10),
        ("GET", "/api/orders/{id}", 8),
        ("GET", "/api/cart", 8),
        ("GET", "/api/reports/daily", 2),
        ("GET", "/api/orders", 2),
    ],
    "mixed": [
        ("GET", "/api/users/{id}", 15),
        ("HEAD", "/api/users/{id}", 5),
        ("OPTIONS", "/api/cart", 3),
        ("GET", "/api/cart", 10),
        ("POST", "/api/cart", 10),
        ("GET", "/api/search?q={word}&page={id}", 10),
        ("GET", "/api/nope/{id}", 5),
        ("GET", "/api/products", 10),
        ("GET", "/health", 10),
        ("GET", "/api/orders", 10),
    ],
    "legacy": [
        ("GET", "/api/users/{id}", 20),
        ("GET", "/api/orders", 10),
        ("GET", "/api/orders/{id}", 15),
        ("GET", "/api/products", 15),
        ("GET", "/health", 15),
        ("GET", "/api/legacy", 10),
    ],
    "nolegacy": [
        ("GET", "/api/users/{id}", 20),
        ("GET", "/api/orders", 10),
        ("GET", "/api/orders/{id}", 15),
        ("GET", "/api/products", 15),
        ("GET", "/health", 15),
    ],
}
mix = MIXES[mixname]
words = ["shoe", "hat", "red", "blue", "sock", "token"]
deadline = time.time() + seconds
count = [0]
lock = threading.Lock()


def worker(i):
    rng = random.Random(seed * 100 + i)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < deadline:
        with lock:
            if count[0] >= maxreq:
                return
            count[0] += 1
        m, p, _ = rng.choices(mix, weights=[w for *_, w in mix])[0]
        p = p.format(id=rng.randint(1, 5000), word=rng.choice(words))
        try:
            conn.request(
                m,
                p,
                body=b"{}" if m == "POST" else None,
                headers={"Content-Type": "application/json"} if m == "POST" else {},
            )
            conn.getresponse().read()
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


ts = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
[t.start() for t in ts]
[t.join() for t in ts]
print("requests", count[0])
