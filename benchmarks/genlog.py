"""A seeded, realistic Gunicorn access log for benchmarks.

Gunicorn's default ``access_log_format`` plus ``%(D)s``; about 40 routes of
a warehouse app with log-normal durations per route, mixed statuses, user
agents and referrers, one line per request in time order.
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


def _clf(epoch: int) -> str:
    import time

    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
