"""Re-record tests/data/wild/loadmem/ (about 2 minutes; 127.0.0.1 only, every loop bounded).

    .venv/bin/python tests/data/wild/loadmem/record.py [--old-locust /tmp/locust-old/bin/locust]

- ramp/: Locust (the venv's) ramping 1 -> 10 users against shelf_app on Gunicorn,
  ``--csv locust`` (a run folder perfkit's evidence loader reads), plus Gunicorn's access
  log kept apart (ramp_access.log) so the folder is Locust-only.
- results/: the same with ``--csv results`` and an older Locust, when given.
- leak/: Gunicorn, 2 workers, ``--max-requests 150 --max-requests-jitter 0``, a bounded
  client on /leak, RSS sampled by ``perfkit collect rss``, access and error logs.
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(port: int, folder: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(HERE),
            "--access-logfile",
            str(folder / "access.log"),
            "--error-logfile",
            str(folder / "error.log"),
            "--log-level",
            "info",
            *extra,
            "shelf_app:app",
        ]
    )
    for _ in range(100):  # bounded: 10 s
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def locust(exe: str, port: int, folder: Path, prefix: str, seconds: int) -> None:
    """The locustfile's shape: +1 user/s to 10, held to `seconds`, then a 3 s drain."""
    subprocess.run(
        [
            exe,
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--stop-timeout",
            "5",
            "--csv",
            str(folder / prefix),
            "-H",
            f"http://127.0.0.1:{port}",
            "--only-summary",
        ],
        check=False,
        timeout=seconds + 60,
        env={**os.environ, "RAMP_S": str(seconds)},
    )  # exit 1: the planted 404s are failures
    if not (folder / f"{prefix}_stats_history.csv").exists():
        raise SystemExit(f"{exe} wrote no {prefix}_stats_history.csv")


def ramp(folder: Path, exe: str, prefix: str, seconds: int = 24) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = gunicorn(port, folder)
    time.sleep(0.5)  # Gunicorn writes the probe's line after answering it
    (folder / "access.log").write_text("")  # the health probe is not part of the run
    try:
        locust(exe, port, folder, prefix, seconds)
    finally:
        stop(server)
    (folder / "access.log").rename(folder.parent / f"{folder.name}_access.log")
    (folder / "error.log").unlink()


def leak(folder: Path, requests: int = 1800, rate_per_s: float = 30.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = gunicorn(port, folder, "--max-requests", "150", "--max-requests-jitter", "0")
    (folder / "access.log").write_text("")
    rss = subprocess.Popen(
        [
            str(BIN / "perfkit"),
            "collect",
            "rss",
            "--pid",
            str(server.pid),
            "--children",
            "--out",
            str(folder / "memory.csv"),
            "--interval",
            "0.5",
            "--duration",
            str(requests / rate_per_s + 8),
        ]
    )
    time.sleep(2)  # a few samples before the load
    began = time.monotonic()
    lock, sent = threading.Lock(), [0]

    def client() -> None:
        while True:
            with lock:
                if sent[0] >= requests:
                    return
                sent[0] += 1
                due = began + sent[0] / rate_per_s
            time.sleep(max(0.0, due - time.monotonic()))
            urllib.request.urlopen(f"http://127.0.0.1:{port}/leak", timeout=10).read()

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rss.wait(timeout=60)
    stop(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-locust", help="an older Locust's executable (temporary venv)")
    parser.add_argument("--only", choices=["ramp", "results", "leak"])
    args = parser.parse_args()
    for name in ("ramp", "results", "leak"):
        if args.only and name != args.only:
            continue
        shutil.rmtree(HERE / name, ignore_errors=True)
        if name == "ramp":
            ramp(HERE / "ramp", str(BIN / "locust"), "locust")
        elif name == "results" and args.old_locust:
            ramp(HERE / "results", args.old_locust, "results", seconds=12)
        elif name == "leak":
            leak(HERE / "leak")


if __name__ == "__main__":
    sys.exit(main())
