"""Record real runs of the blog app (tests/apps/blog) into tests/data/blog/.

    .venv/bin/python tests/data/record_blog.py                  # every scenario (~8 minutes)
    .venv/bin/python tests/data/record_blog.py base grown       # some of them
    .venv/bin/python tests/data/record_blog.py --out /tmp/b drift --hog-duty 0.5   # calibrate
    .venv/bin/python tests/data/record_blog.py --readme         # rewrite README.md only

Per scenario: a fresh throw-away PostgreSQL 15 (perfkit.sandbox.postgres) with
pg_stat_statements, seeded from a seeded RNG, statistics reset; Gunicorn with 2
sync workers and an access log; Locust headless for the load; the real psql
exporting pg_stat_statements, pg_stat_user_tables and pg_stat_user_indexes as
CSV every 10 s and once after the load. The scenario folder keeps the access
log, a sample of the per-request profiles, the CSV exports, Locust's CSVs and a
``manifest.json`` (versions, commands, planted truth, measurements, perfkit's
own checks). README.md is rewritten from the manifests. Run one at a time: the
recordings measure time.
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
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: tests.apps.blog and perfkit from the repo

from examples.warehouse.record import machine, running, wait_http  # noqa: E402  (the path)

BIN = Path(sys.executable).parent
OUT = HERE / "blog"
D_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
SNAPSHOT_EVERY_S = 10
PROFILES_KEPT = 36  # per scenario at most (about 17 KB each, xz)
VIEWS = {
    "statements": "pg_stat_statements",
    "tables": "pg_stat_user_tables",
    "indexes": "pg_stat_user_indexes",
}


@dataclass(frozen=True)
class Scenario:
    """One recording: data, app switches, access-log format, a CPU hog, the load."""

    name: str
    truth: str
    posts: int = 2000
    users: int = 200
    author_index: bool = True
    access_format: str | None = D_FORMAT  # None: Gunicorn's default format (no duration)
    profile_every: int = 25  # 0: no profiling
    fail_rate: float = 0.0  # BLOG_FAIL_RATE, on GET /<int:id>
    hog_duty: float = 0.0
    hog_processes: int = 1
    seconds: int = 60
    users_locust: int = 8
    expect: dict = field(default_factory=dict)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("base", "the blog as seeded: 200 users, 2,000 posts, posts_author_idx present"),
        Scenario(
            "base_repeat",
            "identical to base: an A/A pair, no change",
            expect={"compare_with": "base", "regressed_routes": []},
        ),
        Scenario(
            "drift",
            "identical code and data to base, with a CPU hog (perfkit.sandbox.cpuhog: 2 "
            "processes busy 40 % of every 10 ms slice) running beside it for the whole load: "
            "an A/A pair with drift, no code change",
            hog_duty=0.4,
            hog_processes=2,
            expect={"compare_with": "base", "regressed_routes": []},
        ),
        Scenario(
            "grown",
            "the data changed, not the code: 10x the posts (20,000) and posts_author_idx "
            "dropped; GET / is slower (it sorts the whole posts table), GET /user/<username> "
            "is much slower (a sequential scan of posts); /create, /<int:id> and /auth/login "
            "are unchanged in code; nothing improved",
            posts=20000,
            author_index=False,
            expect={
                "compare_with": "base",
                "regressed_routes": ["GET /", "GET /user/<username>"],
                "improved_routes": [],
            },
        ),
        Scenario(
            "errors_base",
            "Gunicorn's default access-log format (no duration); GET /<int:id> raises on "
            "1.7 % of its requests: about 0.2 % of all requests answer 500",
            access_format=None,
            profile_every=0,
            fail_rate=0.017,
            seconds=45,
        ),
        Scenario(
            "errors_cand",
            "as errors_base, but GET /<int:id> raises on 25 % of its requests: about 3 % of "
            "all requests answer 500 (the only change)",
            access_format=None,
            profile_every=0,
            fail_rate=0.25,
            seconds=45,
            expect={"compare_with": "errors_base", "more_errors_routes": ["GET /<int:id>"]},
        ),
    )
}


class ForeignCpu:
    """CPU seconds used by processes that are not this recording's (other jobs on the
    machine): this process's descendants and the cluster's server processes are ours."""

    def __init__(self, cluster_data: Path) -> None:
        import psutil

        self.psutil = psutil
        self.postmaster = int((cluster_data / "postmaster.pid").read_text().split()[0])
        self.seen: dict[tuple[int, float], float] = {}
        self.total_s = 0.0
        self.by_name: dict[str, float] = {}
        self.sample(baseline=True)

    def _ours(self) -> set[int]:
        pids = {os.getpid()}
        for root in (os.getpid(), self.postmaster):
            with contextlib.suppress(self.psutil.Error):
                proc = self.psutil.Process(root)
                pids |= {root, *(c.pid for c in proc.children(recursive=True))}
        return pids

    def sample(self, baseline: bool = False) -> None:
        """Add the CPU time foreign processes used since the last sample (a process that
        ended between two samples is missed)."""
        ours = self._ours()
        for proc in self.psutil.process_iter(["pid", "name", "create_time", "cpu_times"]):
            info = proc.info
            if info["pid"] in ours or info["cpu_times"] is None:
                continue
            key = (info["pid"], info["create_time"])
            used = info["cpu_times"].user + info["cpu_times"].system
            if not baseline:
                delta = used - self.seen.get(key, 0.0)
                self.total_s += delta
                self.by_name[info["name"]] = self.by_name.get(info["name"], 0.0) + delta
            self.seen[key] = used

    def top(self, n: int = 5) -> dict[str, float]:
        """The `n` process names that used the most foreign CPU seconds."""
        ranked = sorted(self.by_name.items(), key=lambda kv: -kv[1])[:n]
        return {name: round(cpu, 1) for name, cpu in ranked if cpu >= 0.05}


def _snapshot(psql: Path, dsn: str, work: Path, last: str | None) -> tuple[str, list[str]]:
    """One psql CSV export of each view into work/pg; returns the stamp and the commands."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    while stamp == last:  # one snapshot per second at most: names must not collide
        time.sleep(0.2)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    commands = []
    for prefix, view in VIEWS.items():
        copy = (
            f"\\copy (select now() as snapshot_time, * from {view}) "
            f"to 'pg/{prefix}-{stamp}.csv' csv header"
        )
        command = [str(psql), "-d", dsn, "-c", copy]
        subprocess.run(command, cwd=work, check=True, capture_output=True, timeout=60)
        commands.append(command)
    return stamp, commands


def record(scenario: Scenario, out: Path) -> dict:
    """Record one scenario into `out` (replaced); returns its manifest."""
    from perfkit.sandbox.cpuhog import cpu_hog
    from perfkit.sandbox.postgres import Cluster, free_port
    from tests.apps.blog.app import seed

    work = Path(tempfile.mkdtemp(prefix=f"blog-{scenario.name}-"))
    (work / "pg").mkdir()
    (work / "profiles").mkdir()
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    cluster = Cluster()
    try:
        cluster.psql("create database blog")
        cluster.psql("create extension pg_stat_statements", dbname="blog")
        dsn = cluster.dsn(dbname="blog")
        seeded = time.monotonic()
        seed(dsn, scenario.users, scenario.posts, 1, scenario.author_index)
        seed_s = time.monotonic() - seeded
        cluster.psql("select pg_stat_statements_reset(); select pg_stat_reset();", "blog")
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BLOG_DB": dsn,
            "BLOG_FAIL_RATE": str(scenario.fail_rate),
            "BLOG_USERS": str(scenario.users),
            "BLOG_SEED": "1",
            "BLOG_POST_IDS": "2000",
        }
        if scenario.profile_every:
            env |= {
                "BLOG_PROFILE_DIR": str(work / "profiles"),
                "BLOG_PROFILE_EVERY": str(scenario.profile_every),
            }
        app_cmd = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                   "--access-logfile", str(work / "access.log")]  # fmt: skip
        if scenario.access_format:
            app_cmd += ["--access-logformat", scenario.access_format]
        app_cmd += [
            "--error-logfile",
            str(work / "gunicorn.log"),
            "tests.apps.blog.app:create_app()",
        ]
        locust_cmd = [str(BIN / "locust"), "-f", "tests/apps/blog/locustfile.py", "--headless",
                      "-u", str(scenario.users_locust), "-r", str(scenario.users_locust),
                      "-t", f"{scenario.seconds}s", "--csv", str(work / "locust"),
                      "--only-summary", "--host", f"http://127.0.0.1:{port}"]  # fmt: skip
        psql = cluster.bin / "psql"
        snapshots: list[str] = []
        with running(app_cmd, work / "servers.log", env) as app:
            wait_http(f"http://127.0.0.1:{port}/health", app)
            hog = cpu_hog(scenario.hog_duty, scenario.hog_processes, scenario.seconds + 90)
            with hog, open(work / "locust.out", "wb") as locust_out:
                foreign = ForeignCpu(cluster.data)
                began = time.monotonic()
                locust = subprocess.Popen(locust_cmd, cwd=ROOT, env=env, stdout=locust_out,
                                          stderr=subprocess.STDOUT)  # fmt: skip
                try:
                    while True:
                        stamp, psql_cmds = _snapshot(
                            psql, dsn, work, snapshots[-1] if snapshots else None
                        )
                        snapshots.append(stamp)
                        foreign.sample()
                        due = began + SNAPSHOT_EVERY_S * len(snapshots)
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            locust.wait(timeout=max(0.0, due - time.monotonic()))
                        if locust.poll() is not None:
                            break
                    load_s = time.monotonic() - began
                    foreign.sample()
                finally:
                    if locust.poll() is None:
                        locust.terminate()
                        locust.wait(timeout=30)
            if locust.returncode not in (0, 1):  # 1: some requests failed, as they may
                text = (work / "locust.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"locust exited with {locust.returncode}: {text}")
            load_after = os.getloadavg()
            time.sleep(1.0)  # in-flight requests finish before the last snapshot
            snapshots.append(_snapshot(psql, dsn, work, snapshots[-1])[0])
        server_version = cluster.psql("show server_version", "blog").strip()
        psql_version = subprocess.run([str(psql), "--version"], capture_output=True, text=True)
    finally:
        cluster.close()
    commands = {
        "gunicorn": app_cmd,
        "locust": locust_cmd,
        "psql (each view, every 10 s and after the load)": psql_cmds[0],
        "cpu hog": (
            f"perfkit.sandbox.cpuhog.cpu_hog(duty={scenario.hog_duty}, "
            f"processes={scenario.hog_processes}) around the Locust run"
        )
        if scenario.hog_duty
        else None,
    }
    facts = {
        "started": started.isoformat(timespec="seconds"),
        "seed_s": round(seed_s, 1),
        "load_s": round(load_s, 1),
        "snapshots": len(snapshots),
        "foreign_cpu_s": round(foreign.total_s, 1),  # other jobs' CPU time during the load
        "foreign_cpu_top": foreign.top(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],  # the load itself adds about 1.5
        "versions": _versions(server_version, psql_version.stdout.strip()),
    }
    try:
        return _finish(scenario, work, out, commands, facts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _finish(scenario: Scenario, work: Path, out: Path, commands: dict, facts: dict) -> dict:
    """Copy, sample and compress the artifacts into `out`; measure and check them."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _gzip(work / "access.log", out / "access.log.gz")
    if scenario.access_format:
        (out / "access_log_format.txt").write_text(scenario.access_format + "\n")
    kept = _sample_profiles(work / "profiles", out / "profiles") if scenario.profile_every else 0
    (out / "pg").mkdir()
    for csv in sorted((work / "pg").glob("*.csv")):
        _gzip(csv, out / "pg" / (csv.name + ".gz"))
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        shutil.copy(work / name, out / name)
    shown = {
        k: c if isinstance(c, str) else shlex.join(_shown(c, work))
        for k, c in commands.items()
        if c
    }
    manifest = {
        "scenario": scenario.name,
        "truth": scenario.truth,
        "expect": scenario.expect,
        "plan": asdict(scenario),
        **facts,
        "profiled_requests": len(list((work / "profiles").glob("*.prof"))),
        "profiles_kept": kept,
        "commands": shown,
        "machine": machine(),
    }
    manifest["measured"], manifest["checks"] = _measure(scenario, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def _measure(scenario: Scenario, out: Path) -> tuple[dict, dict]:
    """Per-route counts, 5xx and medians from the access log and Locust; perfkit's checks."""
    import perfkit
    from tests.apps.blog.app import create_app

    fmt = scenario.access_format or "auto"
    requests = perfkit.read_access_log(out / "access.log.gz", format=fmt, routes=create_app())
    account = perfkit.parse_account(requests)
    sniffed = perfkit.read_access_log(out / "access.log.gz")  # the format found by sniffing
    table = perfkit.summarize(requests, by=["method", "route"])
    routes = {}
    for (method, route), row in table.iterrows():
        entry = {"count": int(row["count"]), "5xx": round(row["error_rate"] * row["count"])}
        if requests["duration_ms"].notna().any():
            entry["p50_ms"] = round(float(row["p50_ms"]), 3)
            entry["p95_ms"] = round(float(row["p95_ms"]), 3)
        routes[f"{method} {route}"] = entry
    stats = perfkit.read_locust(out / "locust", table="stats")
    history = perfkit.read_locust(out / "locust", table="history")
    locust = {
        f"{row['type']} {row['name']}": {
            "requests": int(row["request_count"]),
            "failures": int(row["failure_count"]),
            "p50_ms": float(row["p50_ms"]),
        }
        for _, row in stats.iterrows()
        if row["name"] != "Aggregated"
    }
    errors = int((requests["status"] >= 500).sum())
    measured = {
        "requests": len(requests),
        "duration_s": round((requests["time"].max() - requests["time"].min()).total_seconds(), 1),
        "status_5xx": errors,
        "share_5xx": round(errors / len(requests), 4),
        "routes": routes,
        "locust": locust,
    }
    checks = {
        "access_log": {
            "lines": account["lines"],
            "parsed": account["parsed"],
            "rejected": account["rejected"],
            "format": account["format"],
            "sniffed_format": perfkit.parse_account(sniffed)["format"],
            "sniffed_rejected": perfkit.parse_account(sniffed)["rejected"],
            "unmatched_routes": int((requests["route"] == "(unmatched)").sum()),
        },
        "locust": {"names": len(stats), "history_rows": len(history)},
    }
    pg_files = sorted((out / "pg").glob("*.csv.gz"))
    per_view = {}
    for prefix in VIEWS:
        mine = [f for f in pg_files if f.name.startswith(prefix + "-")]
        frames = [perfkit.read_pg_stat(f, prefix) for f in mine]
        per_view[prefix] = {"files": len(mine), "rows": sum(len(f) for f in frames)}
    checks["pg"] = per_view
    if scenario.profile_every:
        prof = perfkit.read_profile(str(out / "profiles" / "*.prof.xz"))
        dumps = prof.dumps
        checks["profiles"] = {
            "dumps": len(dumps),
            "with_route": int(dumps["route"].notna().sum()),
            "routes": dumps["route"].value_counts().to_dict(),
        }
    return measured, checks


def _gzip(source: Path, target: Path) -> None:
    with open(source, "rb") as src, gzip.GzipFile(target, "wb", 9, mtime=0) as dst:
        shutil.copyfileobj(src, dst)


def _shown(command: list[str], work: Path) -> list[str]:
    shown = []
    for part in command:
        if part.startswith(str(BIN)):
            part = Path(part).name
        part = part.replace(str(work), "<work>").replace(str(ROOT) + "/", "")
        shown.append(part)
    return shown


def _sample_profiles(source: Path, target: Path) -> int:
    """Up to PROFILES_KEPT dumps after the first tenth of the run (warm-up), taken in turn
    from each (method, route) and evenly through time within it; xz-compressed."""
    import pyarrow as pa

    from perfkit.io.cprofile import middleware_metadata
    from perfkit.io.routes import route_labels, rules_from
    from tests.apps.blog.app import create_app

    files = sorted(source.glob("*.prof"))
    if not files:
        return 0
    meta = [middleware_metadata(f) for f in files]
    labels, _ = route_labels(pa.array([m["path"] for m in meta]), rules_from(create_app()))
    times = [m["timestamp"].timestamp() for m in meta]
    settled = min(times) + 0.1 * (max(times) - min(times))
    groups: dict[str, list[Path]] = {}
    for f, m, label, t in sorted(zip(files, meta, labels.to_pylist(), times, strict=True),
                                 key=lambda x: x[3]):  # fmt: skip
        if t >= settled:
            groups.setdefault(f"{m['method']} {label}", []).append(f)
    quota = dict.fromkeys(groups, 0)
    while sum(quota.values()) < PROFILES_KEPT and any(quota[g] < len(groups[g]) for g in groups):
        for g in groups:
            if quota[g] < len(groups[g]) and sum(quota.values()) < PROFILES_KEPT:
                quota[g] += 1
    target.mkdir()
    for g, mine in groups.items():
        n = quota[g]
        chosen = [mine[int(i * len(mine) / n)] for i in range(n)] if n else []
        for f in chosen:
            with open(f, "rb") as src, lzma.open(target / (f.name + ".xz"), "wb", preset=9) as dst:
                shutil.copyfileobj(src, dst)
    return sum(quota.values())


def _versions(server_version: str, psql_version: str) -> dict:
    found = {"python": platform.python_version(), "postgresql": server_version,
             "psql": psql_version}  # fmt: skip
    for name in ("flask", "werkzeug", "jinja2", "psycopg", "gunicorn", "locust", "perfkit"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


# --- README -------------------------------------------------------------------------------


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _ratio_rows(manifests: dict, base: str, other: str) -> list[str]:
    a, b = manifests[base]["measured"]["routes"], manifests[other]["measured"]["routes"]
    rows = []
    for route in a:
        if route in b and min(a[route]["count"], b[route]["count"]) >= 20 and "p50_ms" in a[route]:
            ratio = b[route]["p50_ms"] / a[route]["p50_ms"]
            rows.append(f"| `{route}` | {a[route]['p50_ms']:.2f} | {b[route]['p50_ms']:.2f} "
                        f"| {ratio:.2f} |")  # fmt: skip
    return rows


README_HEAD = """# Recorded runs of a second app: the blog

Real runs of `tests/apps/blog/` (Flask's tutorial blog "flaskr" on PostgreSQL
through raw psycopg 3, Jinja templates) under Gunicorn (2 sync workers) on a
throw-away PostgreSQL 15, loaded by Locust, with statistics exported by the real
`psql`. They test perfkit's loaders and verdicts on runs shaped unlike the
warehouse app in `data/`. Recorded by `tests/data/record_blog.py`; nothing here
was written by hand. Re-recording replaces the files; the figures move a little
from run to run, the planted truth does not.

Per scenario folder:

- `access.log.gz`: Gunicorn's access log. `base`, `base_repeat`, `drift`, `grown`
  use Gunicorn's default format plus `%(D)s` (in `access_log_format.txt`);
  `errors_*` use Gunicorn's default format: no duration field.
  Read with `read_access_log(path, format=open(fmt).read().strip(), routes=app)`
  (or sniffed). Pass the app's rules (`routes=create_app()`): usernames such as
  `dana_wagner13` are not collapsed by the heuristic.
- `profiles/*.prof.xz`: Werkzeug's ProfilerMiddleware (default file names) on every
  25th request of each worker; at most 36 kept, taken in turn from each route,
  evenly through time after the first tenth of the run: `read_profile(glob)`.
- `pg/{statements,tables,indexes}-<UTC stamp>.csv.gz`: `psql -d DSN -c "\\copy (select
  now() as snapshot_time, * from pg_stat_statements) to 'pg/statements-<stamp>.csv' csv
  header"` (likewise `pg_stat_user_tables`, `pg_stat_user_indexes`) every 10 s of the
  load and once after it, gzipped afterwards (`read_pg_stat(file, view)` reads them
  gzipped). Statistics were reset after seeding.
- `locust_stats.csv`, `locust_stats_history.csv`, `locust_failures.csv`: `locust --csv`;
  `read_locust(prefix, table="stats")` (or `"history"`). `/auth/login` has two rows (GET and POST), one name.
- `manifest.json`: versions, exact commands, the planted truth, per-route counts, 5xx
  and medians (access log and Locust), machine, and perfkit's checks of the files.

What to know when using them:

- Routes: pass the app (`routes=create_app()` from `tests.apps.blog.app`) or its rule
  strings; the heuristic keeps `/user/dana_wagner13` as it is. The Locust names
  `/[id]` and `/user/[name]` are the rules `/<int:id>` and `/user/<username>`.
- `/auth/login` is two endpoints under one path (GET form, POST login): per-route
  tables that group by path alone merge them.
- Locust's CSVs count about 1.2 % fewer requests than Gunicorn logged (the last
  moment of the run); the 5xx counts agree exactly.
- The drift hog burns CPU only: on 2 cores it slows the long dominant route `GET /`
  (preempted mid-request) and leaves the 1-3 ms routes unchanged or a little faster
  (busy cores wake faster). Its slowdown is not uniform across routes.
- `grown` keeps the cores busier too: its short routes come out a little faster
  than `base`; their code and data paths did not change.
- The recorder measures the CPU time other jobs on the machine used during each
  load and records again when it exceeds 10 % of a core (`foreign_cpu_s`).

Re-record (one at a time: never beside another recording, they measure time):

    .venv/bin/python tests/data/record_blog.py                 # all, ~8 minutes
    .venv/bin/python tests/data/record_blog.py drift           # one
"""


def write_readme(out: Path) -> Path:
    """tests/data/blog/README.md from every scenario's manifest."""
    manifests = {}
    for name in SCENARIOS:
        path = out / name / "manifest.json"
        if path.exists():
            manifests[name] = json.loads(path.read_text())
    lines = [README_HEAD]
    if manifests:
        first = next(iter(manifests.values()))
        versions = ", ".join(f"{k} {v}" for k, v in first["versions"].items())
        machine = first["machine"]
        lines += [
            "## Provenance\n",
            f"- Recorded {first['started']} and after, on {machine['cpus']} CPUs "
            f"({machine['cpu']}), {machine['system']}.",
            f"- Versions: {versions}.",
            "- Commands (base; ports and the work folder vary):",
            "",
            *[f"  - {k}: `{c}`" for k, c in first["commands"].items()],
            "",
            f"Total size: {sum(_size(out / n) for n in manifests) / 2**20:.2f} MiB.\n",
            "## Scenarios, their truth and what was measured\n",
        ]
    for name, m in manifests.items():
        measured, checks = m["measured"], m["checks"]
        log = checks["access_log"]
        lines += [
            f"### `{name}`\n",
            f"- Truth: {m['truth']}.",
            f"- Recorded {m['started']}; load {m['load_s']} s ({m['plan']['users_locust']} Locust "
            f"users); {measured['requests']} requests, {measured['status_5xx']} answered 5xx "
            f"({measured['share_5xx']:.2%}); {m['profiles_kept']} of {m['profiled_requests']} "
            f"profiles kept; {m['snapshots']} psql snapshots; {_size(out / name) / 2**10:.0f} KiB.",
        ]
        if "foreign_cpu_s" in m:  # recorded since the recorder measures it
            lines.append(
                f"- Other jobs on the machine during the load: {m['foreign_cpu_s']} CPU-seconds "
                f"({m['foreign_cpu_s'] / m['load_s']:.0%} of one core); load average before "
                f"{m['loadavg_before'][0]}, at the end {m['loadavg_after'][0]}."
            )
        if m["plan"]["hog_duty"]:
            lines.append(f"- CPU hog: {m['commands'].get('cpu hog')}.")
        lines.append(
            f"- perfkit: {log['parsed']} of {log['lines']} access-log lines parsed, "
            f"{log['rejected']} rejected ({log['sniffed_rejected']} when sniffed), "
            f"{log['unmatched_routes']} unmatched routes; "
            + ", ".join(f"{v} {c['files']} files" for v, c in checks["pg"].items())
            + (
                f"; {checks['profiles']['dumps']} dumps, {checks['profiles']['with_route']} "
                "with a route"
                if "profiles" in checks
                else ""
            )
            + f"; Locust {checks['locust']['names']} rows."
        )
        if m["expect"]:
            lines.append(f"- Expected of perfkit: `{json.dumps(m['expect'])}`.")
        has_ms = any("p50_ms" in r for r in measured["routes"].values())
        lines += ["", "  | route | requests | 5xx | p50 ms (log) | Locust name | Locust p50 ms |",
                  "  | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for route, r in measured["routes"].items():
            method, rule = route.split(" ", 1)
            name_ = {"/<int:id>": "/[id]", "/user/<username>": "/user/[name]"}.get(rule, rule)
            loc = measured["locust"].get(f"{method} {name_}", {})
            p50 = f"{r['p50_ms']:.2f}" if has_ms and "p50_ms" in r else "-"
            lp50 = f"{loc['p50_ms']:.0f}" if loc else "-"
            lines.append(
                f"  | `{route}` | {r['count']} | {r['5xx']} | {p50} | `{name_}` | {lp50} |"
            )
        lines.append("")
    pairs = [(b, o) for b, o in (("base", "base_repeat"), ("base", "drift"), ("base", "grown"))
             if b in manifests and o in manifests]  # fmt: skip
    if pairs:
        lines += ["## Median ratios (access log `%(D)s`)\n"]
        for base, other in pairs:
            lines += [f"`{other}` / `{base}`:\n", "| route | base p50 ms | other p50 ms | ratio |",
                      "| --- | --- | --- | --- |", *_ratio_rows(manifests, base, other), ""]  # fmt: skip
    target = out / "README.md"
    target.write_text("\n".join(lines))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", default=str(OUT), help="folder for the scenario folders")
    parser.add_argument("--hog-duty", type=float, help="override the scenario's hog duty")
    parser.add_argument("--hog-processes", type=int, help="override the hog's process count")
    parser.add_argument("--seconds", type=int, help="override the load's length (trials)")
    parser.add_argument(
        "--max-foreign",
        type=float,
        default=0.1,
        help="record again (3 tries) when other jobs used more than this share of a core",
    )
    parser.add_argument("--readme", action="store_true", help="only rewrite README.md")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    out = Path(args.out)
    for name in [] if args.readme else args.scenarios or list(SCENARIOS):
        scenario = SCENARIOS[name]
        if args.hog_duty is not None:
            scenario = replace(scenario, hog_duty=args.hog_duty)
        if args.hog_processes is not None:
            scenario = replace(scenario, hog_processes=args.hog_processes)
        if args.seconds is not None:
            scenario = replace(scenario, seconds=args.seconds)
        for attempt in range(1, 4):
            began = time.monotonic()
            manifest = record(scenario, out / name)
            took = time.monotonic() - began
            busy = manifest["foreign_cpu_s"] / manifest["load_s"]
            if busy <= args.max_foreign:
                break
            print(f"{name}: other jobs used {busy:.0%} of a core (try {attempt})", flush=True)
            time.sleep(30 * attempt)
        m = manifest["measured"]
        print(
            f"{name}: {m['requests']} requests, {m['status_5xx']} 5xx, in {took:.0f} s", flush=True
        )
        for route, r in m["routes"].items():
            print(
                f"  {route:28} {r['count']:6} {r.get('p50_ms', float('nan')):8.2f} ms", flush=True
            )
    print(f"wrote {write_readme(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
