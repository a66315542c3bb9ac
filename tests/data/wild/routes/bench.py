"""Time route inference on 1,000,000 requests with about 100,000 distinct paths (not a test).

    .venv/bin/python tests/data/wild/routes/bench.py [requests] [tmpdir]

Prints the seconds of `route_labels` on the per-request array (dictionary
encoding included), of `infer_templates` on the distinct-path table alone, and of a
whole `read_access_log` of the same requests written as a combined log.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import perfkit
from perfkit.io.routes import infer_templates, route_labels


def paths(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    users = [f"user_{i}x{i % 97}" for i in range(40_000)]
    bins = [f"{'ABCDEFGH'[i % 8]}-{i // 8 % 40:02d}-{i % 13:02d}" for i in range(4_000)]
    kinds = rng.integers(0, 8, n)
    zipf = np.minimum(rng.zipf(1.3, n), 40_000) - 1
    out = []
    picks = rng.integers(0, 10**7, n).tolist()
    for k, z, i in zip(kinds.tolist(), zipf.tolist(), picks, strict=True):
        if k == 0:
            out.append(f"/user/{users[z]}")
        elif k == 1:
            out.append(f"/user/{users[z]}/posts")
        elif k == 2:
            out.append(f"/orders/{i}")
        elif k == 3:
            out.append(f"/inventory/locations/{bins[z % 4000]}")
        elif k == 4:
            out.append(f"/api/users/{users[z]}%40mail.example.org/stats")
        elif k == 5:
            out.append(f"/static/js/chunk-{i % 30_000:05x}.js")
        elif k == 6:
            out.append(["/", "/login", "/orders/new", "/healthz"][i % 4])
        else:
            out.append(f"/t/{users[(z * 7) % 40_000].replace('_', '-')}-tips")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    ps = paths(n)
    arr = pa.array(ps)
    distinct = len(set(ps))
    t = time.perf_counter()
    labels, info = route_labels(arr)
    t_labels = time.perf_counter() - t
    enc = arr.dictionary_encode()
    counts = np.bincount(enc.indices.to_numpy(), minlength=len(enc.dictionary))
    t = time.perf_counter()
    infer_templates(enc.dictionary, counts)
    t_infer = time.perf_counter() - t
    print(f"{n:,} requests, {distinct:,} distinct paths, {len(labels.dictionary)} routes")
    print(f"route_labels (per request, encoding included): {t_labels:.2f} s")
    print(f"infer_templates (distinct-path table only): {t_infer:.2f} s")
    for row in info["inferred"]:
        print("  ", row)
    with tempfile.TemporaryDirectory(dir=sys.argv[2] if len(sys.argv) > 2 else None) as tmp:
        log = Path(tmp) / "access.log"
        line = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET {} HTTP/1.1" 200 10 "-" "ua" 1500\n'
        log.write_text("".join(line.format(p) for p in ps))
        t = time.perf_counter()
        df = perfkit.read_access_log(log, format="combined_us")
        print(f"read_access_log, whole: {time.perf_counter() - t:.2f} s "
              f"({df['route'].nunique()} routes)")  # fmt: skip


if __name__ == "__main__":
    main()
