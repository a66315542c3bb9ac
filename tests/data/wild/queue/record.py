"""Re-record this folder (about 17 minutes): python tests/data/wild/queue/record.py [phases...]

An open-loop Poisson load on app.py under real Gunicorn (``-k sync --workers 2``): arrivals at
seeded exponential gaps on an absolute schedule, independent of completions, each request sent
from its own thread of a pool far larger than the requests ever in flight, 80 % ``/fast`` (5 ms)
and 20 % ``/slow`` (100 ms). Each phase writes its folder here (see README.md):
``access.log.gz`` (Gunicorn's, with ``%(D)s`` and ``%(p)s``), ``client.csv.gz`` (every request:
its number, route, scheduled send time, how late the sender was, the response time measured
from the scheduled time, the status), ``load.csv`` (every 5 s: load average, the machine's busy
share, the client's and the server's CPU), ``gunicorn.log`` and ``command.txt``.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
SERVER = ["-k", "sync", "--workers", "2"]
SLOW_SHARE = 0.2
POOL = 256  # sender threads: never all busy (the peak in flight is in command.txt)
# name: (arrivals per second, seconds, seed). E[S] = 25.9 ms measured in the pilot (README),
# so c / E[S] = 77 req/s: rho 0.05, 0.5 and 0.75
PHASES = {"idle": (4.0, 60, 1), "rho50": (38.5, 300, 2), "rho75": (58.0, 600, 3)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ticks(pid: int | None = None) -> tuple[float, float]:
    """(busy, total) clock ticks of the machine, or (user + system, 0) of one process."""
    if pid is None:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return float(parts[11]) + float(parts[12]), 0.0


def _tree(pid: int) -> list[int]:
    """The process and its children (Gunicorn's master and workers)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(k) for k in kids)]


def sample_load(server: int, out: Path, stop: threading.Event) -> None:
    """Every 5 s: 1-min load average, machine busy share, client and server CPU (cores)."""
    hz = os.sysconf("SC_CLK_TCK")
    rows = ["time,load_average_1m,machine_busy,client_cores,server_cores"]

    def server_ticks() -> float:
        total = 0.0
        for p in _tree(server):
            with contextlib.suppress(OSError):
                total += _ticks(p)[0]
        return total

    busy0, total0 = _ticks()
    me0, srv0, t0 = _ticks(os.getpid())[0], server_ticks(), time.monotonic()
    while not stop.wait(5.0):
        busy, total = _ticks()
        me, srv, now = _ticks(os.getpid())[0], server_ticks(), time.monotonic()
        rows.append(
            f"{time.time():.0f},{os.getloadavg()[0]:.2f},"
            f"{(busy - busy0) / max(total - total0, 1):.3f},"
            f"{(me - me0) / hz / (now - t0):.3f},{(srv - srv0) / hz / (now - t0):.3f}"
        )
        busy0, total0, me0, srv0, t0 = busy, total, me, srv, now
    out.write_text("\n".join(rows) + "\n")


def get(port: int, target: str) -> int:
    """One GET on its own connection (Gunicorn's sync worker closes it anyway): the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def open_loop(port: int, rate: float, seconds: float, seed: int) -> tuple[list[str], int]:
    """Poisson arrivals at `rate` per s for `seconds`: one CSV row per request, peak in flight."""
    rng = random.Random(seed)
    rows: list[str] = []
    lock = threading.Lock()
    flight = [0, 0]  # now, peak

    def send(i: int, route: str, due: float, t0: float) -> None:
        with lock:
            flight[0] += 1
            flight[1] = max(flight[1], flight[0])
        start = time.perf_counter()
        try:
            status = get(port, f"{route}?i={i}")
        except OSError:
            status = 0
        end = time.perf_counter()
        with lock:
            flight[0] -= 1
            rows.append(
                f"{i},{route},{(due - t0) * 1000:.2f},{(start - due) * 1000:.2f},"
                f"{(end - due) * 1000:.2f},{status}"
            )

    with ThreadPoolExecutor(max_workers=POOL) as pool:
        t0 = time.perf_counter() + 0.2
        due, i = t0, 0
        while True:
            due += rng.expovariate(rate)
            if due - t0 > seconds:
                break
            route = "/slow" if rng.random() < SLOW_SHARE else "/fast"
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pool.submit(send, i, route, due, t0)
            i += 1
    rows.sort(key=lambda r: int(r.split(",", 1)[0]))
    return ["i,route,scheduled_ms,lag_ms,response_ms,status", *rows], flight[1]


def phase(name: str, rate: float, seconds: float, seed: int, out: Path | None = None) -> None:
    out = out or HERE / name
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"queue-{name}-"))
    port = free_port()
    server = [
        sys.executable,
        "-m",
        "gunicorn",
        "-b",
        f"127.0.0.1:{port}",
        *SERVER,
        "--access-logfile",
        str(work / "access.log"),
        "--access-logformat",
        FORMAT,
        "--error-logfile",
        str(work / "gunicorn.log"),
        "--chdir",
        str(HERE),
        "app:app",
    ]
    proc = subprocess.Popen(server)
    try:
        for _ in range(300):
            booted = (work / "gunicorn.log").exists() and (
                (work / "gunicorn.log").read_text().count("Booting worker") >= 2
            )
            if booted:
                try:
                    get(port, "/fast?warm")
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        for route in ("/fast", "/slow") * 3:  # imports and first-request costs, left out below
            get(port, f"{route}?warm")
        load_avg = os.getloadavg()
        stop = threading.Event()
        sampler = threading.Thread(target=sample_load, args=(proc.pid, out / "load.csv", stop))
        sampler.start()
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        try:
            rows, peak = open_loop(port, rate, seconds, seed)
        finally:
            stop.set()
            sampler.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with gzip.open(out / "client.csv.gz", "wt", compresslevel=9) as f:
        f.write("\n".join(rows) + "\n")
    lines = [
        x for x in (work / "access.log").read_bytes().splitlines(keepends=True) if b"?warm" not in x
    ]
    with gzip.open(out / "access.log.gz", "wb", compresslevel=9) as f:
        f.writelines(lines)
    shutil.copy(work / "gunicorn.log", out / "gunicorn.log")
    shown = [Path(a).name if a.startswith(str(work)) else a for a in server]
    (out / "command.txt").write_text(
        "python " + " ".join(shown[1:]) + "\n"
        f"open loop: {rate} arrivals/s (Poisson, seed {seed}) for {seconds} s, "
        f"{SLOW_SHARE:.0%} /slow, {POOL} sender threads, peak in flight {peak}\n"
        f"started {started}; load average before: {load_avg}\n"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(PHASES):
        print(name, time.strftime("%H:%M:%S"), os.getloadavg(), flush=True)
        phase(name, *PHASES[name])
