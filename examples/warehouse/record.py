"""Record the demo data: every scenario of the warehouse service, with real tools, into data/.

    python -m examples.warehouse.record                 # all scenarios into data/ (~12 minutes)
    python -m examples.warehouse.record baseline leak   # some of them
    python -m examples.warehouse.record --short --out /tmp/d baseline   # a quick one (tests)

Per scenario: a throw-away PostgreSQL 15 with pg_stat_statements, seeded
the same way each time; the API stubs and the service under Gunicorn
(gthread, 2 workers x 4 threads, access log with %(D)s); perfkit's own
collectors (`perfkit collect pg` every 10 s, `perfkit collect rss` every
second, `OutboundLog` in the app, sampled per-request cProfile dumps);
py-spy on one worker when it can attach; Locust, headless, drives the
load. A throw-away redis-server (`perfkit.sandbox.redis`) caches product
lookups in every scenario, sampled by `perfkit collect redis` every few
seconds into ``redis/``. The leak scenario's workers take tracemalloc
snapshots (`perfkit.collect.tracemalloc_hook`) into ``tracemalloc/``; the
regression pair's workers line-profile the dashboard view
(`examples.warehouse.lineprof`) into ``lprof/``, with a copy of the profiled
source in ``source/``. Outputs go to ``OUT/<scenario>/`` with a
``manifest.json`` holding the versions, the exact commands, the planted truth
and what was measured.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import lzma
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
PROFILES_PER_ROUTE = 5
LEAK_BYTES_PER_CALL = 64 * 1024
APP_SOURCE = "examples/warehouse/app.py"
LEAK_STATEMENT = "_RENDERED[(product_id, _served)] = os.urandom("  # the leaking line in app.py
REDIS_INTERVAL_S = 10  # perfkit collect redis, throughout the load
TRACEMALLOC_EVERY = 100  # requests per worker between snapshots (leak scenario)
# short runs (tests): every 5 requests, so each worker gets the 6 snapshots a verdict needs
# even when a loaded machine serves few requests
TRACEMALLOC_EVERY_SHORT = TRACEMALLOC_EVERY // 20
LPROF_EVERY = 10  # dashboard calls per worker in each .lprof dump
GUNICORN_CONF = "python:examples.warehouse.gunicorn_conf"  # the hooks: tracemalloc, lineprof
CACHE_TRUTH = (
    "GET /api/products/<id> is cached in Redis (examples.warehouse.cache: warmed with all 2,000 "
    "products when the first worker starts, 300 s TTL, longer than any load: every lookup of "
    "an id Locust asks for, 1 to 2,000, hits); no other route touches Redis"
)
HOG_DUTY, HOG_PROCESSES = 0.2, 2  # baseline_drift: 2 processes busy 20 % of each 10 ms slice
HOG_NICE = -15  # ... taking the CPU when they want it, as a neighbour's steal does
# the server log kept per scenario (postgresql.log.gz + log_line_prefix.txt): events always;
# every statement with its plan where pg is collected: the plan's shape and estimates only
# (auto_explain.log_analyze off), since instrumenting every execution slows the statements
# the regression reports time
PG_LOG_PREFIX = "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
PG_LOG_SETTINGS = (
    f"log_line_prefix = '{PG_LOG_PREFIX}'", "lc_messages = 'C'", "log_timezone = 'UTC'",
    "log_lock_waits = on", "log_temp_files = 0", "log_checkpoints = on",
    "log_autovacuum_min_duration = 0",
)
PG_LOG_STATEMENTS = (
    "log_min_duration_statement = 0",
    "shared_preload_libraries = 'pg_stat_statements,auto_explain'",
    "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = off",
    "auto_explain.log_format = 'text'",
)


@dataclass
class Plan:
    """One scenario: the app's behaviour, Gunicorn's settings and the load."""

    name: str
    app_scenario: str
    seconds: int
    users: int = 15
    max_requests: int = 0
    steps: list[int] = field(default_factory=list)
    step_s: int = 0
    profile_rate: float = 0.06
    collect_pg: bool = True
    cpu_hog: float = 0.0  # duty of perfkit.sandbox.cpuhog processes beside the load (drift)
    cpu_hog_processes: int = 1
    truth: str = ""
    tracemalloc: bool = False  # the workers take tracemalloc snapshots (tracemalloc/)
    lprof: bool = False  # the workers line-profile the dashboard view (lprof/)
    expect: dict = field(default_factory=dict)  # what the reports must find (tests check it)
    server: tuple[str, ...] = ("-k", "gthread", "--workers", "2", "--threads", "4")  # Gunicorn


PLANS = {
    "baseline": Plan("baseline", "baseline", 100, truth="the service as it should be",
                     lprof=True),
    "baseline_repeat": Plan(
        "baseline_repeat", "baseline", 100, lprof=True,
        truth="the same service again: an A/A pair with baseline, no regression",
        expect={"compare_with": "baseline", "regressed_routes": []},
    ),
    "baseline_drift": Plan(
        "baseline_drift", "baseline", 100, lprof=True, cpu_hog=HOG_DUTY,
        cpu_hog_processes=HOG_PROCESSES,
        truth="the same service as baseline with a CPU hog beside it: an A/A pair with drift, "
        "no code change",
        expect={"compare_with": "baseline", "regressed_routes": []},
    ),
    "candidate": Plan(
        "candidate", "candidate", 100, lprof=True,
        truth="GET /api/orders/<id> loads lines and products lazily (an N+1, one query per "
        "line, 10 lines per order); the index on stock.product_id is dropped (GET "
        "/api/stock/<sku> scans 100,000 lots); no other code changed (the dashboard view "
        "is the baseline's, line for line: its full scan of stock never used that index)",
        expect={"compare_with": "baseline",
                "regressed_routes": ["/api/orders/{id}", "/api/stock/{code}"]},
    ),
    "leak": Plan(
        "leak", "leak", 150, profile_rate=0.0, collect_pg=False, tracemalloc=True,
        truth=f"GET /api/products/<id> keeps {LEAK_BYTES_PER_CALL // 1024} KiB per call in an "
        "unbounded module-level dict: each worker grows by 64 KiB x its calls to that route "
        "(the Redis cache answers the lookup; the leaking line runs after it, on every call)",
        expect={"leak": True},
    ),
    "recycling": Plan(
        "recycling", "baseline", 150, max_requests=250, profile_rate=0.0, collect_pg=False,
        truth="no leak; Gunicorn max_requests=250 (jitter 25) recycles workers: a sawtooth",
        expect={"leak": False},
    ),
    "capacity": Plan(
        "capacity", "baseline", 0, steps=[1, 2, 4, 8, 16, 32, 64], step_s=15, profile_rate=0.0,
        collect_pg=False,
        truth="step load without think time, 1 to 64 users, 15 s per step",
        expect={"usl_fit": True},
    ),
}  # fmt: skip


def free_port() -> int:
    from perfkit.sandbox.postgres import free_port as port

    return port()


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                answer.read()
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def running(command: list[str], log: Path, env: dict | None = None, stop=signal.SIGTERM
            ) -> Iterator[subprocess.Popen]:  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def record(plan: Plan, out: Path, short: bool = False) -> dict:
    """Record one scenario into `out` (replaced); returns its manifest."""
    from perfkit.sandbox.cpuhog import cpu_hog
    from perfkit.sandbox.postgres import Cluster
    from perfkit.sandbox.redis import Server as RedisServer

    seconds = min(plan.seconds, 25) if short else plan.seconds
    steps = plan.steps[:4] if short else plan.steps
    step_s = min(plan.step_s, 6) if short else plan.step_s
    if out.exists():
        shutil.rmtree(out)
    work = out.with_name(out.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    (work / "profiles").mkdir(parents=True)
    started = dt.datetime.now(dt.UTC)
    if plan.collect_pg:
        cluster = Cluster(preload=False, settings=PG_LOG_SETTINGS + PG_LOG_STATEMENTS)
    else:
        cluster = Cluster(settings=PG_LOG_SETTINGS)
    redis = None
    try:
        redis = RedisServer()
        cluster.psql("create database warehouse")
        cluster.psql("create extension pg_stat_statements", dbname="warehouse")
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/warehouse"
        dsn = cluster.dsn(dbname="warehouse")
        from examples.warehouse.seed import seed

        seed(db_url, plan.app_scenario)
        cluster.psql("select pg_stat_statements_reset(); select pg_stat_reset();", "warehouse")
        stub_port, app_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WAREHOUSE_DB": db_url,
               "WAREHOUSE_SCENARIO": plan.app_scenario,
               "WAREHOUSE_LEAK_KIB": str(LEAK_BYTES_PER_CALL // 1024),
               "INVENTORY_API": f"http://127.0.0.1:{stub_port}",
               "SHIPPING_API": f"http://127.0.0.1:{stub_port}",
               "OUTBOUND_LOG": str(work / "outbound.jsonl"),
               "WAREHOUSE_REDIS_URL": redis.url, "WAREHOUSE_CACHE": "on"}  # fmt: skip
        if plan.tracemalloc:
            env |= {"PERFKIT_TRACEMALLOC_DIR": str(work / "tracemalloc"),
                    "PERFKIT_TRACEMALLOC_EVERY": str(TRACEMALLOC_EVERY_SHORT if short
                                                     else TRACEMALLOC_EVERY)}  # fmt: skip
        if plan.lprof:
            env |= {"WAREHOUSE_LPROF_DIR": str(work / "lprof"), "WAREHOUSE_LPROF_VIEW": "dashboard",
                    "WAREHOUSE_LPROF_EVERY": str(LPROF_EVERY // 2 if short else LPROF_EVERY)}
        if plan.profile_rate:
            env |= {"PROFILE_DIR": str(work / "profiles"), "PROFILE_RATE": str(plan.profile_rate)}
        stub_cmd = [str(BIN / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{stub_port}",
                    "-k", "gthread", "--workers", "1", "--threads", "64",
                    "examples.warehouse.stub:app"]  # fmt: skip
        app_cmd = [str(BIN / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{app_port}",
                   "-c", GUNICORN_CONF, *plan.server,
                   "--access-logfile", str(work / "access.log"),
                   "--access-logformat", ACCESS_FORMAT]  # fmt: skip
        if plan.max_requests:
            app_cmd += ["--max-requests", str(plan.max_requests),
                        "--max-requests-jitter", str(plan.max_requests // 10)]  # fmt: skip
        app_cmd.append("examples.warehouse.app:create_app()")
        locust_cmd = [str(BIN / "locust"), "-f", "examples/warehouse/locustfile.py", "--headless",
                      "--host", f"http://127.0.0.1:{app_port}", "--csv", str(work / "locust"),
                      "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
        locust_env = dict(env)
        if steps:
            locust_env |= {"WAREHOUSE_STEPS": ",".join(map(str, steps)),
                           "WAREHOUSE_STEP_S": str(step_s)}  # fmt: skip
            seconds = len(steps) * step_s
        else:
            locust_cmd += ["-u", str(plan.users), "-r", str(plan.users), "-t", f"{seconds}s"]
        log = work / "servers.log"
        with (
            running(stub_cmd, log, env) as stub,
            running(app_cmd, log, env) as app,
        ):
            wait_http(f"http://127.0.0.1:{stub_port}/products?sku=warmup", stub)
            wait_http(f"http://127.0.0.1:{app_port}/health", app)
            pg_cmd = [str(BIN / "perfkit"), "collect", "pg", "--dsn", dsn, "--store",
                      str(work / "pg"), "--interval", "20", "--count", "0"]  # fmt: skip
            rss_cmd = [str(BIN / "perfkit"), "collect", "rss", "--pid", str(app.pid), "--children",
                       "--out", str(work / "memory.csv"), "--interval", "1"]  # fmt: skip
            redis_cmd = [str(BIN / "perfkit"), "collect", "redis", "--url", redis.url,
                         "--store", str(work / "redis"), "--interval", str(REDIS_INTERVAL_S),
                         "--count", "0"]  # fmt: skip
            with (
                running(pg_cmd, work / "collect.log", env)
                if plan.collect_pg
                else contextlib.nullcontext(),
                running(rss_cmd, work / "collect.log", env),
                running(redis_cmd, work / "collect.log", env),
            ):
                spy = _start_pyspy(app.pid, work, min(seconds, 40)) if plan.profile_rate else None
                with cpu_hog(plan.cpu_hog, plan.cpu_hog_processes, seconds=seconds + 120,
                             nice=HOG_NICE):  # fmt: skip
                    run = subprocess.run(locust_cmd, cwd=ROOT, env=locust_env, capture_output=True,
                                         text=True, timeout=seconds + 120)  # fmt: skip
                if run.returncode not in (0, 1):  # 1: some requests failed, as they may
                    raise RuntimeError(f"locust failed ({run.returncode}): {run.stderr[-2000:]}")
                if spy is not None:
                    spy.wait(timeout=120)
                time.sleep(1.5)  # a last RSS sample after the load
                if plan.collect_pg:
                    subprocess.run([str(BIN / "perfkit"), "collect", "pg", "--dsn", dsn, "--store",
                                    str(work / "pg"), "--count", "1"], check=True, env=env,
                                   capture_output=True)  # fmt: skip
            subprocess.run([str(BIN / "perfkit"), "collect", "redis", "--url", redis.url,
                            "--store", str(work / "redis"), "--count", "1"], check=True, env=env,
                           capture_output=True)  # the counts after the load, Gunicorn stopped next
        cache = _redis_truth(redis)
        server_version = cluster.psql("show server_version", "warehouse").strip()
        cluster.stop()  # the shutdown's lines end the log
        shutil.copy(cluster.root / "server.log", work / "postgresql.log")
    finally:
        cluster.close()
        if redis is not None:
            redis.close()
    manifest = _finish(plan, work, out, started, seconds, short, server_version,
                       [stub_cmd, app_cmd, locust_cmd, redis_cmd], cache)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return manifest


def _start_pyspy(master: int, work: Path, seconds: int) -> subprocess.Popen | None:
    """py-spy on the first worker, when py-spy is installed and may attach (ptrace)."""
    spy = shutil.which("py-spy") or (str(BIN / "py-spy") if (BIN / "py-spy").exists() else None)
    if spy is None:
        return None
    import psutil

    children = psutil.Process(master).children()
    if not children:
        return None
    command = [spy, "record", "--pid", str(children[0].pid), "--duration", str(seconds),
               "--rate", "50", "--format", "speedscope", "--output", str(work / "pyspy.json"),
               "--nonblocking"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    if proc.poll() not in (None, 0):
        return None  # no ptrace permission here: recorded without py-spy
    return proc


def _redis_truth(redis) -> dict:
    """Redis's own counters at the end of the load (INFO stats, commandstats), read with the
    sandbox's own client, not perfkit's: the cache's truth."""
    hits, misses = int(redis.stat("keyspace_hits")), int(redis.stat("keyspace_misses"))
    calls = {name: int(figures["calls"]) for name, figures in redis.commandstats().items()
             if name in ("get", "set")}  # fmt: skip
    return {"keyspace_hits": hits, "keyspace_misses": misses,
            "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
            "commands": calls, "redis_version": redis.stat("redis_version")}  # fmt: skip


def _lprof_truth(dumps: list[Path]) -> dict:
    """line_profiler's own reading of the dumps (its load_stats, our own files): the view's
    calls (hits of its first body line, summed) and its time."""
    from line_profiler import load_stats

    calls, seconds = 0, 0.0
    for dump in dumps:
        stats = load_stats(str(dump))
        for timings in stats.timings.values():
            if timings:
                calls += min(timings)[1]
                seconds += sum(t for _, _, t in timings) * stats.unit
    return {"dumps": len(dumps), "calls": calls, "time_s": round(seconds, 3)}


def _leak_site() -> dict:
    """Where app.py leaks (file:line of the module-level dict growth) and how much per call."""
    lines = (ROOT / APP_SOURCE).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if LEAK_STATEMENT in text)
    return {"file": APP_SOURCE, "line": line, "function": "create_app.<locals>.product",
            "bytes_per_call": LEAK_BYTES_PER_CALL, "source": lines[line - 1].strip()}


def _finish(plan, work, out, started, seconds, short, server_version, commands, cache) -> dict:
    """Compress and sample the artifacts into `out`, measure them, write the manifest."""
    import perfkit
    from perfkit.analysis.concurrency import locust_steps
    from perfkit.io.pg_store import LOCK  # the redis store shares the store code

    out.mkdir(parents=True)
    _gzip(work / "access.log", out / "access.log.gz")
    (out / "access_log_format.txt").write_text(ACCESS_FORMAT + "\n")
    if (work / "postgresql.log").exists():  # the server log and its prefix (read_pg_log's)
        _gzip(work / "postgresql.log", out / "postgresql.log.gz")
        (out / "log_line_prefix.txt").write_text(PG_LOG_PREFIX + "\n")
    kept = _sample_profiles(work / "profiles", out / "profiles")
    if (work / "pyspy.json").exists() and (work / "pyspy.json").stat().st_size:
        _gzip(work / "pyspy.json", out / "pyspy.json.gz")
    _gzip(work / "outbound.jsonl", out / "outbound.jsonl.gz")
    shutil.copy(work / "memory.csv", out / "memory.csv")
    stores = shutil.ignore_patterns(LOCK)  # the collectors' lock files are not evidence
    if (work / "pg").is_dir():
        shutil.copytree(work / "pg", out / "pg", ignore=stores)
    shutil.copytree(work / "redis", out / "redis", ignore=stores)
    snapshots = sorted((work / "tracemalloc").glob("tracemalloc-*.pickle"))
    if snapshots:  # pickles of every live trace: gzip (about 5x smaller)
        (out / "tracemalloc").mkdir()
        for snapshot in snapshots:
            _gzip(snapshot, out / "tracemalloc" / (snapshot.name + ".gz"))
    dumps = sorted((work / "lprof").glob("*.lprof"))
    if dumps:  # line_profiler dumps, and the profiled source as it was (read_line_profile's)
        shutil.copytree(work / "lprof", out / "lprof", ignore=shutil.ignore_patterns("*.part"))
        (out / "source" / APP_SOURCE).parent.mkdir(parents=True)
        shutil.copy(ROOT / APP_SOURCE, out / "source" / APP_SOURCE)
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv",
                 "locust_exceptions.csv"):  # fmt: skip
        if (work / name).exists():
            shutil.copy(work / name, out / name)
    requests = perfkit.read_access_log(
        out / "access.log.gz", format=ACCESS_FORMAT, on_bad_lines="error"
    )
    measured: dict = {
        "requests": len(requests),
        "duration_s": round((requests["time"].max() - requests["time"].min()).total_seconds(), 1),
        "profiles_kept": kept,
        "redis": {**cache, "snapshots": len(list((out / "redis" / "info").glob("*.parquet"))),
                  "product_requests": int((requests["route"] == "/api/products/{id}").sum())},
    }  # fmt: skip
    if dumps:
        measured["lprof"] = {
            **_lprof_truth(dumps), "every_calls": LPROF_EVERY // 2 if short else LPROF_EVERY,
            "view": "dashboard",
            "dashboard_requests": int((requests["route"] == "/dashboard").sum()),
        }  # fmt: skip
    if snapshots:
        measured["tracemalloc"] = {
            "snapshots": len(snapshots), "every_requests": int(
                TRACEMALLOC_EVERY_SHORT if short else TRACEMALLOC_EVERY),
            "leak_site": _leak_site(),
        }  # fmt: skip
    if plan.name == "leak":  # per worker pid (%(p)s in the log): calls x 64 KiB over its life
        leaking = requests[requests["route"] == "/api/products/{id}"]
        per_worker = {}
        for pid, calls in leaking.groupby("pid")["time"]:
            served = requests.loc[requests["pid"] == pid, "time"]
            hours = (served.max() - served.min()).total_seconds() / 3600
            per_worker[str(pid)] = {
                "calls": len(calls),
                "mib_per_hour": round(len(calls) * LEAK_BYTES_PER_CALL / 2**20 / hours, 1),
            }
        measured["leak_per_worker"] = per_worker
    if plan.steps:
        history = perfkit.read_locust(out / "locust", table="history")
        steps = locust_steps(history, settle_s=3 if short else 5)
        measured["steps"] = (
            steps[["users", "throughput_per_s", "mean_ms"]].round(2).to_dict("records")
        )
    manifest = {
        "scenario": plan.name, "plan": asdict(plan), "short": short,
        "started": started.isoformat(timespec="seconds"), "load_seconds": seconds,
        "truth": plan.truth, "truth_cache": CACHE_TRUTH, "measured": measured,
        "commands": [" ".join(_shown(c)) for c in commands],
        "versions": _versions(server_version), "machine": machine(),
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def _gzip(source: Path, target: Path) -> None:
    with open(source, "rb") as src, gzip.open(target, "wb", 9) as dst:
        shutil.copyfileobj(src, dst)


def _shown(command: list[str]) -> list[str]:
    return [Path(c).name if c.startswith(str(BIN)) else c.replace(str(ROOT) + "/", "")
            for c in command]  # fmt: skip


def _sample_profiles(source: Path, target: Path) -> int:
    """Keep up to PROFILES_PER_ROUTE dumps per route, evenly through the run after its first
    tenth (warm-up: imports, first connections), xz-compressed (smaller than gzip here)."""
    from perfkit.io.cprofile import middleware_metadata
    from perfkit.io.routes import heuristic_templates

    files = sorted(source.glob("*.prof"))
    if not files:
        return 0
    import pyarrow as pa

    paths = [middleware_metadata(f).get("path", "/") for f in files]
    routes = heuristic_templates(pa.array(paths, pa.string())).to_pylist()
    target.mkdir()
    times = [middleware_metadata(f)["timestamp"].timestamp() for f in files]
    settled = min(times) + 0.1 * (max(times) - min(times))
    kept = 0
    for route in sorted(set(routes)):
        mine = sorted((t, f) for f, r, t in zip(files, routes, times, strict=True)
                      if r == route and t >= settled)  # fmt: skip
        step = max(1, len(mine) // PROFILES_PER_ROUTE)
        for _, f in mine[::step][:PROFILES_PER_ROUTE]:
            with open(f, "rb") as src, lzma.open(target / (f.name + ".xz"), "wb", preset=9) as dst:
                shutil.copyfileobj(src, dst)
            kept += 1
    return kept


def _versions(server_version: str) -> dict:
    names = ("flask", "sqlalchemy", "psycopg", "gunicorn", "locust", "py-spy", "line_profiler",
             "perfkit")
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return {"python": platform.python_version(), "postgresql": server_version, **found}


def machine() -> dict:
    """The CPUs, their model and the system: where a recording was made."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": model, "system": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(PLANS)}")
    parser.add_argument("--out", default=str(ROOT / "data"), help="folder for the scenarios")
    parser.add_argument("--short", action="store_true", help="25 s per scenario (tests)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in PLANS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(PLANS)}")
    for name in args.scenarios or list(PLANS):
        began = time.monotonic()
        manifest = record(PLANS[name], Path(args.out) / name, short=args.short)
        took = time.monotonic() - began
        requests = manifest["measured"]["requests"]
        print(f"{name}: {requests} requests in {took:.0f} s -> {Path(args.out) / name}", flush=True)
    from examples.warehouse.readme import write_readme

    print(f"wrote {write_readme(Path(args.out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
