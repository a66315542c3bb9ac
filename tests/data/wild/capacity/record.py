"""Re-record this folder (about 8 minutes): python tests/data/wild/capacity/record.py [names...]

Step loads of app.py under real Gunicorn (2 sync workers, 4 sync workers, gthread 2 x 4) by
Locust (locustfile.py, headless, no wait), then a pgbench TPC-B contention series at scale 1 on
a throw-away cluster (perfkit.sandbox). Each run writes its folder here; see README.md.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
BIN = Path(sys.executable).parent
FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
CONFIGS = {
    "sync2": ["-k", "sync", "--workers", "2"],
    "sync4": ["-k", "sync", "--workers", "4"],
    "gthread": ["-k", "gthread", "--workers", "2", "--threads", "4"],
}
STEPS, STEP_S = "1,2,4,8,16,32,48,64", "20"
NICE = ["nice", "-n", "-5"]  # server and client ahead of the neighbours sharing the 2 cores
PGBENCH_CLIENTS = [1, 2, 4, 8, 16, 32, 48, 64]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_ticks(pid: int | None = None):
    """Busy clock ticks of the machine (all cores), or of one process (user + system)."""
    if pid is None:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)  # busy, total
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return float(parts[11]) + float(parts[12])


def sample_cpu(proc: subprocess.Popen, out: Path, stop: threading.Event) -> None:
    """Every second: the machine's busy share of all cores and the load generator's CPU (cores)."""
    hz = os.sysconf("SC_CLK_TCK")
    rows = ["time,machine_busy,locust_cores"]
    busy0, total0 = _cpu_ticks()
    mine0, t0 = _cpu_ticks(proc.pid), time.monotonic()
    while not stop.wait(1.0):
        try:
            mine = _cpu_ticks(proc.pid)
        except (OSError, IndexError):
            break
        busy, total = _cpu_ticks()
        now = time.monotonic()
        rows.append(f"{time.time():.0f},{(busy - busy0) / max(total - total0, 1):.3f},"
                    f"{(mine - mine0) / hz / (now - t0):.3f}")
        busy0, total0, mine0, t0 = busy, total, mine, now
    out.write_text("\n".join(rows) + "\n")


def step_load(name: str) -> None:
    out = HERE / name
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"cap-{name}-"))
    port = free_port()
    server = [*NICE, str(BIN / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{port}", *CONFIGS[name],
              "--access-logfile", str(work / "access.log"), "--access-logformat", FORMAT,
              "--error-logfile", str(work / "gunicorn.log"), "--chdir", str(HERE), "app:app"]
    proc = subprocess.Popen(server)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/work", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        load = [*NICE, str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
                "--host", f"http://127.0.0.1:{port}", "--csv", str(work / "locust"),
                "--only-summary", "--loglevel", "WARNING", "--logfile", str(work / "locust.log")]
        env = {**os.environ, "STEPS": STEPS, "STEP_S": STEP_S}
        client = subprocess.Popen(load, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        stop = threading.Event()
        sampler = threading.Thread(target=sample_cpu, args=(client, out / "cpu.csv", stop))
        sampler.start()
        try:
            client.wait(timeout=400)
        finally:
            stop.set()
            sampler.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for kind in ("stats", "stats_history"):
        shutil.copy(work / f"locust_{kind}.csv", out / f"locust_{kind}.csv")
    lines = (work / "access.log").read_bytes().splitlines(keepends=True)[1:]  # the warm-up GET
    with gzip.open(out / "access.log.gz", "wb", compresslevel=9) as f:
        f.writelines(lines)
    shutil.copy(work / "gunicorn.log", out / "gunicorn.log")
    warnings = [x for x in (work / "locust.log").read_text().splitlines() if "WARNING" in x]
    (out / "locust_warnings.log").write_text("".join(x + "\n" for x in warnings))
    shown = [Path(a).name if a.startswith(str(work)) else a for a in server]
    (out / "command.txt").write_text(" ".join(shown[4:]) + "\n" + " ".join(
        Path(a).name if a.startswith(str(work)) else a for a in load[4:]) + "\n"
        f"both under {' '.join(NICE)}\n"
        f"STEPS={STEPS} STEP_S={STEP_S}\nload average before: {os.getloadavg()}\n")
    shutil.rmtree(work, ignore_errors=True)


def pgbench() -> None:
    sys.path.insert(0, str(ROOT))
    from perfkit.sandbox.postgres import Cluster

    out = HERE / "pgbench"
    out.mkdir(exist_ok=True)
    cluster = Cluster(preload=False, settings=("max_connections = 120",))  # started
    rows = ["clients,tps,latency_ms,transactions,load_average_1m"]
    try:
        cluster.pgbench("-i", "-s", "1", "-q")
        for c in PGBENCH_CLIENTS:
            text = cluster.pgbench("-n", "-T", "15", "-c", str(c), "-j", str(min(c, 2)))
            tps = re.search(r"tps = ([\d.]+)", text).group(1)
            lat = re.search(r"latency average = ([\d.]+) ms", text).group(1)
            done = re.search(r"number of transactions actually processed: (\d+)", text).group(1)
            rows.append(f"{c},{tps},{lat},{done},{os.getloadavg()[0]:.2f}")
            print(rows[-1], flush=True)
        server = cluster.psql("select version()").strip()
    finally:
        cluster.close()
    (out / "steps.csv").write_text("\n".join(rows) + "\n")
    (out / "command.txt").write_text(
        "pgbench -i -s 1 -q; then per client count c: pgbench -n -T 15 -c c -j min(c, 2)\n"
        f"server: {server}\nperfkit.sandbox Cluster (fsync off, synchronous_commit off)\n"
        + subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    names = sys.argv[1:] or [*CONFIGS, "pgbench"]
    for name in names:
        print(name, time.strftime("%H:%M:%S"), os.getloadavg(), flush=True)
        pgbench() if name == "pgbench" else step_load(name)
