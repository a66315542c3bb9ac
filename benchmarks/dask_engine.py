"""The Dask engine: lines/second for 1, 2 and 4 partitions beside the pandas engine, and peak
memory as the input grows (out of core: it should stay flat).

Each measurement runs in a fresh process (peak RSS is its own) on the same generated Gunicorn
log: file -> per-route summary. Dask runs on its threaded scheduler in that process with as
many workers as partitions (at most the machine's cores); the partitions are byte ranges of
the one file. For the memory series, logs of growing size are summarised with 64 MiB
partitions and two threads, so at most two partitions are parsed at once whatever the size.

    python -m benchmarks dask [--lines N] [--sizes 1000000,4000000,20000000]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.genlog import generate

CHILD = r"""
import json, resource, sys, time
import perfkit
engine, path, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
if engine == "pandas":
    table = perfkit.summarize(perfkit.read_access_log(path, format="gunicorn_timed"))
else:
    import dask, os
    size = os.path.getsize(path)
    frame = perfkit.read_access_log(path, format="gunicorn_timed", engine="dask",
                                    partition_bytes=(size // parts + 1) if parts else 64 << 20)
    workers = min(frame.npartitions, os.cpu_count() or 1) if parts else 2
    with dask.config.set(scheduler="threads", num_workers=workers):
        table = perfkit.summarize(frame)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": int(table["count"].sum()),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure(engine: str, path: Path, parts: int, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), str(parts)],
                             check=True, capture_output=True, text=True)  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in runs)
    return best


def run(lines: int, sizes: list[int], repeat: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp) / "gunicorn.log", lines)
        print(f"dask engine: {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB, "
              f"{os.cpu_count()} cores (best of {repeat})")  # fmt: skip
        base = measure("pandas", path, 0, repeat)
        rate = base["rows"] / base["seconds"]
        print(f"  pandas engine      {base['seconds']:6.2f} s  {rate / 1e6:5.2f} M lines/s  "
              f"peak {base['peak_rss_bytes'] / 2**20:5.0f} MiB  (baseline)")  # fmt: skip
        for parts in (1, 2, 4):
            r = measure("dask", path, parts, repeat)
            print(f"  dask, {parts} partition{'s' if parts > 1 else ' '}  {r['seconds']:6.2f} s  "
                  f"{r['rows'] / r['seconds'] / 1e6:5.2f} M lines/s  peak "
                  f"{r['peak_rss_bytes'] / 2**20:5.0f} MiB  {base['seconds'] / r['seconds']:4.2f}x"
                  " the pandas engine")  # fmt: skip
        path.unlink()
        print("  peak memory as the input grows (dask, 64 MiB partitions, 2 threads):")
        for size in sizes:
            big = generate(Path(tmp) / f"g{size}.log", size)
            r = measure("dask", big, 0, 1)
            print(f"    {size:>11,} lines  {big.stat().st_size / 1e9:5.2f} GB  "
                  f"{r['seconds']:7.1f} s  peak {r['peak_rss_bytes'] / 2**20:5.0f} MiB")  # fmt: skip
            big.unlink()
