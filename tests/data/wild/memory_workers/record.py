"""Re-record this folder (about 40 s): python tests/data/wild/memory_workers/record.py

Real Gunicorn (2 sync workers, max_requests 60, timeout 3 s) serving app.py on 127.0.0.1, its
error log and access log, `perfkit collect rss --children` sampling every 0.2 s, and a
sequential client: 400 requests to /leak, one /sleep?s=8 from a second thread (a worker timeout),
and one worker killed with SIGKILL by this recorder half way (the same line the kernel's OOM
killer causes: "was sent SIGKILL! Perhaps out of memory?"). truth.json is what the recorder did
and saw (worker pids polled with psutil every 50 ms), never what perfkit parsed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
MAX_REQUESTS, TIMEOUT_S, LEAKS = 60, 3, 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 20.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status
    except Exception:  # the timed-out request's connection is closed: no status
        return 0


def main() -> None:
    work = HERE / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-k", "sync",
                "--workers", "2", "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter",
                "0", "--timeout", str(TIMEOUT_S), "--log-level", "info",
                "--error-logfile", str(work / "error.log"),
                "--access-logfile", str(work / "access.log"),
                "--access-logformat", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" '
                                      '"%(a)s" %(D)s %(p)s', "app:app"]
    master = subprocess.Popen(gunicorn, cwd=HERE)
    seen: dict[int, float] = {}  # worker pid -> first seen (epoch s)
    gone: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        proc = psutil.Process(master.pid)
        while not stop.is_set():
            try:
                now = {c.pid for c in proc.children()}
            except psutil.Error:
                break
            for pid in now - set(seen):
                seen[pid] = time.time()
            for pid in set(seen) - now - set(gone):
                gone[pid] = time.time()
            time.sleep(0.05)

    for _ in range(200):
        if get(f"http://127.0.0.1:{port}/ok", 1) == 200:
            break
        time.sleep(0.05)
    watcher = threading.Thread(target=poll)
    watcher.start()
    rss = subprocess.Popen([sys.executable, "-m", "perfkit", "collect", "rss", "--pid",
                            str(master.pid), "--children", "--out", str(work / "memory.csv"),
                            "--interval", "0.2", "-q"], cwd=ROOT)  # fmt: skip
    time.sleep(1.0)
    sleeper = threading.Thread(target=get, args=(f"http://127.0.0.1:{port}/sleep?s=8",))
    sleeper.start()
    killed = None
    statuses = []
    for i in range(LEAKS):
        statuses.append(get(f"http://127.0.0.1:{port}/leak"))
        time.sleep(0.02)
        if i == LEAKS // 2:
            victim = sorted(c.pid for c in psutil.Process(master.pid).children())[-1]
            os.kill(victim, signal.SIGKILL)
            killed = victim
    sleeper.join()
    time.sleep(1.0)
    rss.send_signal(signal.SIGTERM)
    rss.wait(10)
    master.send_signal(signal.SIGTERM)
    master.wait(20)
    stop.set()
    watcher.join()
    truth = {
        "workers_seen": len(seen), "killed_by_recorder": killed,
        "leak_requests": LEAKS, "leak_ok": statuses.count(200), "sleep_requests": 1,
        "max_requests": MAX_REQUESTS, "timeout_s": TIMEOUT_S,
        "expected": {"killed": 1, "timed_out": 1,
                     "note": "every other worker that ended before the TERM was recycled by "
                             "max_requests; the last two stopped at the TERM"},
        "worker_pids": sorted(seen),
        "versions": {"python": sys.version.split()[0],
                     "gunicorn": __import__("gunicorn").__version__,
                     "flask": __import__("flask").__version__},
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    (work / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    for name in ("error.log", "access.log", "memory.csv", "truth.json"):
        target = HERE / name
        target.unlink(missing_ok=True)
        shutil.move(work / name, target)
    shutil.rmtree(work)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
