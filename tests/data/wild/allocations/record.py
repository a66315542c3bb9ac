"""Run leak_app.py under real Gunicorn (2 sync workers) with perfkit's tracemalloc hook and drive
a known number of requests from 127.0.0.1; re-runnable:

    .venv/bin/python tests/data/wild/allocations/record.py OUT_DIR [--leak-bytes N]
        [--cache-entries N] [--requests N] [--every N] [--max-requests N] [--frames N]
        [--rss] [--compress]

Writes OUT_DIR/tracemalloc/ (the hook's snapshots) and OUT_DIR/client.json: every response's
(worker pid, that worker's request count, client time) as the app answered it, and the run's
settings. Tests call `record()` live; the committed recordings were made with this script.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record(
    out: Path,
    *,
    leak_bytes: int = 0,
    cache_entries: int = 150,
    requests: int = 1000,
    every: int = 10,
    max_requests: int = 0,
    workers: int = 2,
    threads: int = 2,
    hook: bool = True,
    frames: int = 1,
    start: str = "loaded",
    rss: bool = False,
    memray: bool = False,
    compress: bool = False,
    env: dict[str, str] | None = None,
) -> dict:
    """Serve, drive `requests` requests with `threads` client threads, stop; the client log."""
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {
        **os.environ,
        "LEAK_BYTES": str(leak_bytes),
        "CACHE_ENTRIES": str(cache_entries),
        "PERFKIT_TRACEMALLOC_DIR": str(out / "tracemalloc"),
        "PERFKIT_TRACEMALLOC_EVERY": str(every),
        "PERFKIT_TRACEMALLOC_FRAMES": str(frames),
        "PERFKIT_TRACEMALLOC_START": start,
        "PYTHONPATH": str(ROOT),
        "MEMRAY_DIR": str(out / "memray"),
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--chdir",
        str(HERE),
    ]
    if memray:
        command += ["-c", str(HERE / "memray_conf.py")]
    elif hook:
        command += ["-c", "python:perfkit.collect.tracemalloc_hook"]
    if max_requests:
        command += ["--max-requests", str(max_requests)]
    proc = subprocess.Popen(
        [*command, "leak_app:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sampler = None
    if rss:  # perfkit's own RSS collector, every 0.2 s, until the master exits
        from perfkit.collect.rss import collect_rss

        sampler = threading.Thread(
            target=collect_rss, args=(proc.pid, out / "memory.csv"), kwargs={"interval_s": 0.2}
        )
        sampler.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("gunicorn did not listen") from None
                time.sleep(0.05)
        answers: list[tuple[int, int, float, float]] = []
        lock = threading.Lock()
        left = iter(range(requests))

        def client() -> None:
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                sent = time.time()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                    pid, served, _ = r.read().decode().split()
                with lock:
                    answers.append((int(pid), int(served), sent, time.time()))

        started = time.time()
        pool = [threading.Thread(target=client) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=300)
        ended = time.time()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        if sampler is not None:
            sampler.join(timeout=30)
    if compress:  # stored gzip-compressed; read_tracemalloc reads .pickle.gz as it is
        import gzip

        for path in sorted((out / "tracemalloc").glob("*.pickle")):
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), 9))
            path.unlink()
    log = {
        "leak_bytes": leak_bytes,
        "leak_bytes_per_request": sys.getsizeof(bytes(leak_bytes)) if leak_bytes else 0,
        "cache_entries": cache_entries,
        "cache_bytes_per_entry": sys.getsizeof(bytes(2000)),
        "requests": requests,
        "every": every,
        "max_requests": max_requests,
        "workers": workers,
        "started": started,
        "ended": ended,
        "python": sys.version.split()[0],
        "answers": sorted(answers, key=lambda a: a[3]),
    }
    (out / "client.json").write_text(json.dumps(log))
    (out / "truth.json").write_text(json.dumps(truth(log), indent=1))
    return log


def truth(log: dict) -> dict:
    """What the run planted and what the client saw, none of it from perfkit: the marked lines
    of leak_app.py, sys.getsizeof of the kept objects, and per worker pid the responses it
    answered and their rate over its first to last answer (client clock)."""
    lines = (HERE / "leak_app.py").read_text().splitlines()
    marked = {m: n for n, text in enumerate(lines, 1) for m in ("LEAK LINE", "CACHE LINE")
              if text.rstrip().endswith(f"# {m}")}  # fmt: skip
    per_pid: dict[str, dict] = {}
    for pid, _, _, received in log["answers"]:
        entry = per_pid.setdefault(str(pid), {"responses": 0, "first": received})
        entry["responses"] += 1
        entry["last"] = received
    for entry in per_pid.values():
        span = entry["last"] - entry["first"]
        entry["requests_per_s"] = (entry["responses"] - 1) / span if span > 0 else None
    return {"leak_line": f"leak_app.py:{marked['LEAK LINE']}",
            "cache_line": f"leak_app.py:{marked['CACHE LINE']}",
            "leak_bytes_per_request": log["leak_bytes_per_request"],
            "cache_bytes": log["cache_entries"] * log["cache_bytes_per_entry"],
            "requests": log["requests"], "workers": per_pid}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--leak-bytes", type=int, default=0)
    parser.add_argument("--cache-entries", type=int, default=150)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--max-requests", type=int, default=0)
    parser.add_argument("--frames", type=int, default=1, help="PERFKIT_TRACEMALLOC_FRAMES")
    parser.add_argument("--rss", action="store_true", help="sample RSS into memory.csv")
    parser.add_argument("--compress", action="store_true", help="gzip the snapshots")
    a = parser.parse_args()
    record(
        a.out,
        leak_bytes=a.leak_bytes,
        cache_entries=a.cache_entries,
        requests=a.requests,
        every=a.every,
        max_requests=a.max_requests,
        frames=a.frames,
        rss=a.rss,
        compress=a.compress,
    )
