"""Write data/README.md from the scenarios' manifests: provenance, ground truth, measurements."""

from __future__ import annotations

import json
from pathlib import Path

from examples.warehouse.record import ACCESS_FORMAT, PLANS

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
    lines = [HEADER.format(format=ACCESS_FORMAT)]
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
              f"Total size: {total / 2**20:.1f} MiB.\n"]  # fmt: skip
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
        if plan.expect:
            lines.append(f"- The reports must find: `{json.dumps(plan.expect)}`.")
        lines.append("")
    target = data / "README.md"
    target.write_text("\n".join(lines))
    return target
