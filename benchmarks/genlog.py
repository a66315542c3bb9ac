"""Seeded Gunicorn access logs for benchmarks: a clean one and a realistic one.

Gunicorn's default ``access_log_format`` plus ``%(D)s``; about 40 routes of
a warehouse app with log-normal durations per route, mixed statuses, user
agents and referrers, one line per request in time order. `generate` writes
the clean log (every line takes the columnar fast path); `generate_realistic`
adds what production logs carry: IPv6 clients, a ``+0100`` offset, user
names, percent-encoded query strings, and user agents with escaped quotes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
ROUTES = [
    ("GET", "/dashboard", 180),
    ("GET", "/dashboard/stock", 220),
    ("GET", "/dashboard/orders", 260),
    ("GET", "/api/orders", 60),
    ("GET", "/api/orders/{id}", 25),
    ("POST", "/api/orders", 90),
    ("PUT", "/api/orders/{id}", 70),
    ("DELETE", "/api/orders/{id}", 40),
    ("GET", "/api/orders/{id}/lines", 35),
    ("POST", "/api/orders/{id}/lines", 55),
    ("GET", "/api/products", 45),
    ("GET", "/api/products/{id}", 15),
    ("POST", "/api/products", 65),
    ("PUT", "/api/products/{id}", 50),
    ("GET", "/api/products/{id}/stock", 30),
    ("GET", "/api/locations", 20),
    ("GET", "/api/locations/{id}", 12),
    ("GET", "/api/locations/{id}/stock", 40),
    ("POST", "/api/stock/move", 85),
    ("POST", "/api/stock/adjust", 75),
    ("GET", "/api/stock/low", 120),
    ("GET", "/api/shipments", 55),
    ("GET", "/api/shipments/{id}", 20),
    ("POST", "/api/shipments", 900),
    ("POST", "/api/shipments/{id}/label", 1400),
    ("GET", "/api/shipments/{id}/track", 700),
    ("POST", "/api/inventory/sync", 1800),
    ("GET", "/api/inventory/status", 300),
    ("GET", "/api/customers", 35),
    ("GET", "/api/customers/{id}", 14),
    ("POST", "/api/customers", 45),
    ("GET", "/api/reports/daily", 650),
    ("GET", "/api/reports/weekly", 1200),
    ("GET", "/api/search", 95),
    ("POST", "/login", 110),
    ("POST", "/logout", 8),
    ("GET", "/healthz", 1),
    ("GET", "/static/app.js", 2),
    ("GET", "/static/app.css", 2),
    ("GET", "/api/picklists/{id}", 28),
]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "python-requests/2.31.0",
    "kube-probe/1.28",
    "Locust/2.20 (+https://locust.io)",
]
REFERRERS = ["-", "https://wh.example.com/dashboard", "https://wh.example.com/dashboard/orders"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def generate(path: Path, lines: int = 1_000_000, seed: int = 20241010) -> Path:
    """Write `lines` log lines to `path`; same seed, same file."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(len(ROUTES), 0.7))
    pick = rng.choice(len(ROUTES), size=lines, p=weights)
    medians = np.array([r[2] for r in ROUTES], dtype=float)
    duration_us = (medians[pick] * rng.lognormal(0.0, 0.5, lines) * 1000).astype(np.int64) + 50
    status = np.where(rng.random(lines) < 0.004, 500, np.where(rng.random(lines) < 0.03, 404, 200))
    status = np.where(
        (status == 200) & (np.array([r[0] for r in ROUTES])[pick] == "POST"), 201, status
    )
    sizes = rng.integers(80, 40_000, lines)
    ids = rng.integers(1, 200_000, lines)
    start = 1_728_518_400  # 2024-10-10T00:00:00Z
    seconds = start + np.sort(rng.integers(0, 86_400, lines))
    agents = rng.integers(0, len(AGENTS), lines)
    refs = rng.integers(0, len(REFERRERS), lines)
    hosts = rng.integers(1, 250, lines)
    with open(path, "w", encoding="utf-8") as out:
        stamp_cache: dict[int, str] = {}
        for i in range(lines):
            method, template, _ = ROUTES[pick[i]]
            url = template.replace("{id}", str(ids[i]))
            if template == "/api/search":
                url += f"?q=item{ids[i] % 97}&page={ids[i] % 5 + 1}"
            sec = int(seconds[i])
            stamp = stamp_cache.get(sec) or stamp_cache.setdefault(sec, _clf(sec))
            out.write(
                f'10.0.{hosts[i] // 16}.{hosts[i]} - - [{stamp}] "{method} {url} HTTP/1.1" '
                f'{status[i]} {sizes[i]} "{REFERRERS[refs[i]]}" "{AGENTS[agents[i]]}" {duration_us[i]}\n'
            )
    return path


def _clf(epoch: int, offset_s: int = 0) -> str:
    """A CLF time of `epoch` (s) as logged at a UTC offset of `offset_s` seconds."""
    import time

    t = time.gmtime(epoch + offset_s)
    sign = "-" if offset_s < 0 else "+"
    zone = f"{sign}{abs(offset_s) // 3600:02d}{abs(offset_s) % 3600 // 60:02d}"
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {zone}"


# -- the realistic log: what production Gunicorn logs carry ----------------------------------

# (method, template, median ms); {id} a number, {code} a product code, {bin} a bin location
# like A-11-07, {user} a user name: about 40 routes, most with parameters
REAL_ROUTES = [
    ("GET", "/", 12),
    ("GET", "/dashboard", 180),
    ("GET", "/dashboard/stock", 220),
    ("GET", "/api/orders", 60),
    ("GET", "/api/orders/{id}", 25),
    ("POST", "/api/orders", 90),
    ("PUT", "/api/orders/{id}", 70),
    ("DELETE", "/api/orders/{id}", 40),
    ("GET", "/api/orders/{id}/lines", 35),
    ("POST", "/api/orders/{id}/lines", 55),
    ("GET", "/api/products", 45),
    ("GET", "/api/products/{code}", 15),
    ("PUT", "/api/products/{code}", 50),
    ("GET", "/api/products/{code}/stock", 30),
    ("GET", "/api/products/{code}/image.jpg", 6),
    ("GET", "/api/bins/{bin}", 12),
    ("GET", "/api/bins/{bin}/stock", 40),
    ("POST", "/api/bins/{bin}/count", 95),
    ("POST", "/api/stock/move", 85),
    ("GET", "/api/stock/low", 120),
    ("GET", "/api/shipments", 55),
    ("GET", "/api/shipments/{id}", 20),
    ("POST", "/api/shipments", 900),
    ("POST", "/api/shipments/{id}/label", 1400),
    ("GET", "/api/shipments/{id}/track", 700),
    ("POST", "/api/inventory/sync", 1800),
    ("GET", "/api/customers/{id}", 14),
    ("GET", "/users/{user}", 22),
    ("GET", "/users/{user}/settings", 30),
    ("PUT", "/users/{user}/settings", 45),
    ("GET", "/api/reports/daily", 650),
    ("GET", "/api/reports/weekly", 1200),
    ("GET", "/api/search", 95),
    ("POST", "/login", 110),
    ("POST", "/logout", 8),
    ("GET", "/healthz", 1),
    ("GET", "/metrics", 3),
    ("GET", "/static/app.js", 2),
    ("GET", "/static/app.css", 2),
    ("GET", "/api/picklists/{id}", 28),
]
REAL_AGENTS = [  # the clean log's agents, a phone and a metrics scraper
    *AGENTS[:2],
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    *AGENTS[2:4],
    "Prometheus/2.48.0",
]
# what Gunicorn writes for a user agent holding quotes: each '"' as '\"'
ESCAPED_AGENT = 'Go-http-client/1.1 \\"marketplace-bridge\\"'
REAL_REFERRERS = ["-", "https://wh.example.com/dashboard", "https://wh.example.com/api/search?q=bolt%20M8",
                  "https://www.google.com/"]  # fmt: skip
USERS = ["alice", "bob", "carol.nguyen", "d.okafor", "eve_ops", "frank", "grace-h", "heidi"]
WORDS = ["bolt M8", "hex nut", "pallet wrap", "label/printer", "café crème", "50% off", "a&b",
         "brackets [x]", "size=10", "ÄÖÜ"]  # fmt: skip
REAL_SHARES = {"ipv6": 0.12, "query": 0.15, "escaped_agent": 0.012, "user": 0.2}


def _percent(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def generate_realistic(path: Path, lines: int = 1_000_000, seed: int = 20241011) -> Path:
    """Write `lines` lines of a production-like Gunicorn log to `path`; same seed, same file.

    Gunicorn's default format plus ``%(D)s`` with a ``+0100`` offset, about 12 % IPv6
    clients, user names on 20 % of lines, percent-encoded query strings on about 15 %,
    and 1.2 % of lines whose user agent holds quotes escaped as Gunicorn writes them.
    """
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(len(REAL_ROUTES), 0.7))
    pick = rng.choice(len(REAL_ROUTES), size=lines, p=weights)
    medians = np.array([r[2] for r in REAL_ROUTES], dtype=float)
    duration_us = (medians[pick] * rng.lognormal(0.0, 0.6, lines) * 1000).astype(np.int64) + 50
    u = rng.random(lines)
    status = np.where(u < 0.003, 500, np.where(u < 0.006, 503, np.where(u < 0.04, 404, 200)))
    methods = np.array([r[0] for r in REAL_ROUTES])[pick]
    status = np.where((status == 200) & (methods == "POST"), 201, status)
    status = np.where((status == 200) & (rng.random(lines) < 0.05), 304, status)
    sizes = rng.integers(80, 40_000, lines)
    ids = rng.zipf(1.3, lines) % 500_000 + 1
    start = 1_728_518_400  # 2024-10-10T00:00:00Z
    seconds = start + np.sort(rng.integers(0, 86_400, lines))
    agents = rng.integers(0, len(REAL_AGENTS), lines)
    escaped = rng.random(lines) < REAL_SHARES["escaped_agent"]
    refs = rng.integers(0, len(REAL_REFERRERS), lines)
    ipv6 = rng.random(lines) < REAL_SHARES["ipv6"]
    hosts = rng.integers(1, 4000, lines)
    with_query = rng.random(lines) < REAL_SHARES["query"]
    words = rng.integers(0, len(WORDS), lines)
    users = np.where(
        rng.random(lines) < REAL_SHARES["user"], rng.integers(0, len(USERS), lines), -1
    )
    with open(path, "w", encoding="utf-8") as out:
        stamp_cache: dict[int, str] = {}
        for i in range(lines):
            method, template, _ = REAL_ROUTES[pick[i]]
            k = int(ids[i])
            url = (
                template.replace("{id}", str(k))
                .replace("{code}", f"SKU-{k * 7919 % 100_000:05d}")
                .replace("{bin}", f"{'ABCDEFGH'[k % 8]}-{k % 23 + 1:02d}-{k % 17 + 1:02d}")
                .replace("{user}", USERS[k % len(USERS)] + ("" if k < 8 else str(k % 300)))
            )
            if with_query[i] or template == "/api/search":
                word = _percent(WORDS[words[i]])
                url += (
                    f"?q={word}&page={k % 5 + 1}"
                    if k % 3
                    else f"?next=%2Fdashboard%3Ftab%3D{k % 4}"
                )
            sec = int(seconds[i])
            stamp = stamp_cache.get(sec) or stamp_cache.setdefault(sec, _clf(sec, 3600))
            h = int(hosts[i])
            client = (
                f"2001:db8:{h % 97:x}::{h:x}"
                if ipv6[i]
                else f"10.{h % 7}.{h // 16 % 256}.{h % 256}"
            )
            user = "-" if users[i] < 0 else USERS[users[i]]
            agent = ESCAPED_AGENT if escaped[i] else REAL_AGENTS[agents[i]]
            out.write(
                f'{client} - {user} [{stamp}] "{method} {url} HTTP/1.1" {status[i]} {sizes[i]} '
                f'"{REAL_REFERRERS[refs[i]]}" "{agent}" {duration_us[i]}\n'
            )
    return path
