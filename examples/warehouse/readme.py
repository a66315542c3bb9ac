"""Write data/README.md from the scenarios' manifests: provenance, ground truth, measurements."""

from __future__ import annotations

import json
from pathlib import Path

from examples.warehouse.record import (
    ACCESS_FORMAT,
    CACHE_TRUTH,
    LPROF_EVERY,
    PLANS,
    REDIS_INTERVAL_S,
    TRACEMALLOC_EVERY,
)

HEADER = """# Demo data: the warehouse reference workload

Everything here was recorded by `make record` (`python -m examples.warehouse.record`)
from the Flask + SQLAlchemy service in `examples/warehouse/` running under
Gunicorn on a throw-away PostgreSQL 15, with its inventory and shipping APIs
served by a local stub (`examples/warehouse/stub.py`: log-normal latency,
token-bucket rate limits answering 429, 1 % 503s) and load from Locust. perfkit's
own collectors gathered the evidence. Re-recording replaces it; the figures
below change a little from run to run, the planted truth does not.

Per scenario folder, and how to read it:

- `access.log.gz`: Gunicorn's access log (format below):
  `read_access_log(path, format=FORMAT)`.
- `profiles/*.prof.xz`: Werkzeug's ProfilerMiddleware on 6 % of requests, up
  to 6 kept per route after the first tenth of the run: `read_profile(glob)`.
- `pyspy.json.gz`: py-spy on one worker, when it may attach: `read_profile(path)`.
- `pg/`: `perfkit collect pg` every 10 s: `read_pg_stat("pg", view)`, `pg_deltas`.
- `memory.csv`: `perfkit collect rss --children` every second: `read_memory(path)`.
- `locust_*.csv`: Locust's `--csv` output: `read_locust("locust", table="history")` (or `"stats"`).
- `outbound.jsonl.gz`: perfkit's `OutboundLog` in the app, with the inbound
  path: `read_jsonl(path)`.
- `postgresql.log.gz` + `log_line_prefix.txt`: PostgreSQL's server log (where `pg/` is
  collected, every statement with its plan from auto_explain: shapes and estimated rows, no
  ANALYZE, which would slow the statements the reports time): `read_pg_log(path, prefix=...)`.
- `redis/`: the app's Redis cache (a throw-away redis-server per scenario) sampled by
  `perfkit collect redis` every {redis_s} s through the load, and once after it:
  `read_redis("redis", view)` (`info`, `commandstats`, `slowlog`...).
- `tracemalloc/*.pickle.gz` (leak only): `perfkit.collect.tracemalloc_hook` in both workers,
  a snapshot every {tm_every} requests per worker and at exit, 1 frame:
  `read_tracemalloc("tracemalloc")`, `allocation_growth(...)`.
- `lprof/<pid>-<first call>.lprof` (baseline, baseline_repeat, baseline_drift, candidate):
  line_profiler on the dashboard view in each worker (`examples/warehouse/lineprof.py`), a dump
  every {lprof_every} calls: `read_line_profile("lprof", by_file=True, source_root="source")`;
  `source/` holds the profiled `app.py` as it was, for the line texts.
- `manifest.json`: the recorder's versions, commands, truth and measurements.

Gunicorn access log format (`FORMAT`; `%(p)s` is the worker's pid, so requests
split per worker):

```
{format}
```
"""


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def write_readme(data: Path) -> Path:
    """data/README.md from every ``<scenario>/manifest.json`` found under `data`."""
    manifests = {}
    for name in PLANS:
        path = data / name / "manifest.json"
        if path.exists():
            manifests[name] = json.loads(path.read_text())
    lines = [HEADER.format(format=ACCESS_FORMAT, redis_s=REDIS_INTERVAL_S,
                           tm_every=TRACEMALLOC_EVERY, lprof_every=LPROF_EVERY)]
    first = next(iter(manifests.values()), None)
    if first is not None:
        versions = ", ".join(f"{k} {v}" for k, v in first["versions"].items())
        machine = first["machine"]
        lines += [
            "## Provenance\n",
            f"- Recorded {first['started']} on {machine['cpus']} CPUs ({machine['cpu']}), "
            f"{machine['system']}.",
            f"- Versions: {versions}.",
            "- Commands (baseline; ports vary per run):",
            "",
            *[f"  - `{c}`" for c in first["commands"]],
            "",
        ]
    total = sum(_size(data / n) for n in manifests)
    lines += ["## Scenarios and their ground truth\n",
              f"Total size: {total / 2**20:.1f} MiB.\n",
              f"In every scenario: {CACHE_TRUTH}.\n"]  # fmt: skip
    for name, manifest in manifests.items():
        plan = PLANS[name]
        measured = manifest["measured"]
        lines += [
            f"### `{name}`\n",
            f"- Truth: {plan.truth}.",
            f"- Load: {manifest['load_seconds']} s; {measured['requests']} requests over "
            f"{measured['duration_s']} s; {measured.get('profiles_kept', 0)} profiles kept; "
            f"{_size(data / name) / 2**10:.0f} KiB.",
        ]
        if plan.cpu_hog:
            lines.append(
                f"- A CPU hog beside the service during the load (`perfkit.sandbox.cpuhog`): "
                f"{plan.cpu_hog_processes} process(es) busy {plan.cpu_hog:.0%} of every 10 ms "
                "slice at nice -15 (they take the CPU whenever they want it, as a neighbour's "
                "steal does). A hog at the application's priority slows only the requests long "
                "enough to be preempted: the CPU-bound dashboard, alone, which no timing can "
                "tell from a change of that endpoint."
            )
        if plan.max_requests:
            lines.append(f"- Gunicorn `--max-requests {plan.max_requests}`.")
        if "leak_per_worker" in measured:
            for pid, figures in measured["leak_per_worker"].items():
                lines.append(
                    f"- Worker {pid}: {figures['calls']} leaking calls, so it should grow by "
                    f"{figures['mib_per_hour']} MiB/hour (64 KiB per call, plus dict overhead)."
                )
        if "steps" in measured:
            lines.append("- Measured per step (Locust, after 5 s of settling):")
            lines.append("")
            lines.append("  | users | throughput (req/s) | mean response (ms) |")
            lines.append("  | --- | --- | --- |")
            for step in measured["steps"]:
                users, rate, ms = step["users"], step["throughput_per_s"], step["mean_ms"]
                lines.append(f"  | {users} | {rate:.1f} | {ms:.0f} |")
        cache = measured.get("redis")
        if cache:
            lines.append(
                f"- Redis {cache['redis_version']} at the end, by its own counters (INFO stats): "
                f"{cache['keyspace_hits']} hits, {cache['keyspace_misses']} misses; "
                f"{cache['product_requests']} `GET /api/products/<id>` in the access log; "
                f"{cache['snapshots']} snapshots in `redis/`."
            )
        site = measured.get("tracemalloc", {}).get("leak_site")
        if site:
            lines.append(
                f"- The leaking line: `{site['file']}:{site['line']}` (`{site['source']}`, in "
                f"`{site['function']}`), {site['bytes_per_call']} bytes per call; "
                f"{measured['tracemalloc']['snapshots']} tracemalloc snapshots."
            )
        profiled = measured.get("lprof")
        if profiled:
            lines.append(
                f"- Line profile of `{profiled['view']}`: {profiled['dumps']} dumps, "
                f"{profiled['calls']} calls by line_profiler's own count "
                f"({profiled['dashboard_requests']} in the access log), "
                f"{profiled['time_s']} s in the view."
            )
        if plan.expect:
            lines.append(f"- The reports must find: `{json.dumps(plan.expect)}`.")
        lines.append("")
    target = data / "README.md"
    target.write_text("\n".join(lines))
    return target
