"""Benchmark: reading a PostgreSQL stderr log with auto_explain plans, perfkit beside pgBadger.

Builds a log of `--size` MB (default 1,000) from the real recorded logs of
tests/data/wild/pg_log (`stderr_prefix`: pgbench with text plans; `warehouse/stderr`: the
warehouse app's SQLAlchemy statements with plans, its ``%m`` times cut to ``%t``), both written
with the prefix ``%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h``: the two logs one after the
other form a block that is repeated, each copy shifted in time by the block's span, with its
own pids, and, entry by entry, one of 8 variants drawn at random (seeded): durations scaled by
a log-normal factor, the numbers in statements and parameters redrawn. Then times, interleaved
run by run, medians of `repeat`:

- perfkit, a fresh ``python -c`` per run: ``read_pg_log(path, prefix=...)`` in process (the
  call alone) and the whole process (interpreter start and imports included);
- pgBadger (``pgbadger -j 1 -f stderr --prefix ... -x json``: one core), whole process.

Prints MB/s (of wall and of CPU time: on a shared machine the CPU figure is the steadier),
CPU time and peak RSS (each child's own, ``os.wait4``) and the ratios; checks
pgBadger's query count (its JSON ``overall_stat.queries_number``) against read_pg_log's
statement count. Goal (issue 20): >= 100 MB/s in process.

    python -m benchmarks pg_log [--size MB] [--repeat K] [--file LOG]
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "tests/data/wild/pg_log/stderr_prefix/server.log.gz",
           ROOT / "tests/data/wild/pg_log/warehouse/stderr/postgresql.log.gz"]  # fmt: skip
PREFIX = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
VARIANTS = 8
# an entry's head: its time (%t; %m's milliseconds are cut) and pid; the rest runs to the next
_HEAD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? UTC \[(\d+)\]", re.MULTILINE)
_DURATION = re.compile(r"(duration: )(\d+\.\d{3})( ms)")
_SQL = re.compile(r"((?:statement|execute [^:\n]*|parameters): )([^\n]*)")
_NUMBER = re.compile(r"(?<![\w.$:])\d+(?![\w.:])")
# a child: `python -c` reading the log as a script would; prints its own timings
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import perfkit
read_pg_log = perfkit.read_pg_log
t1, c1 = time.perf_counter(), time.process_time()
df = read_pg_log(sys.argv[1], prefix=sys.argv[2])
t2, c2 = time.perf_counter(), time.process_time()
kinds = df["kind"].astype(str)
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "read_cpu_s": c2 - c1, "rows": len(df),
                  "statements": int((kinds == "statement").sum()),
                  "plans": int((kinds == "plan").sum()),
                  "fetches": int((kinds == "fetch").sum()),
                  "deallocates": int(((kinds == "statement") & df["statement"].astype(str)
                                      .str.upper().str.startswith("DEALLOCATE")).sum()),
                  "kinds": kinds.value_counts().to_dict(),
                  "frame_bytes": int(df.memory_usage(deep=True).sum()),
                  "rejected": df.attrs["perfkit"]["rejected"]}))
"""


def _block() -> tuple[list[int], list[str], list[str], int]:
    """The source logs as one block of entries: (epoch seconds, pid, rest) per entry, and the
    block's span in seconds (the second log follows the first)."""
    times: list[int] = []
    pids: list[str] = []
    rests: list[str] = []
    start = 0
    for source in SOURCES:
        parts = _HEAD.split(gzip.decompress(source.read_bytes()).decode())
        stamps = [int(dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
                      .timestamp()) for t in parts[1::3]]  # fmt: skip
        first = stamps[0]
        times += [start + s - first for s in stamps]
        pids += parts[2::3]
        rests += parts[3::3]
        start = times[-1] + 1
    return times, pids, rests, start + 1


def _variant(rest: str, rng: np.random.Generator) -> str:
    """`rest` with its durations scaled and the numbers of its statement/parameters redrawn."""
    rest = _DURATION.sub(lambda m: f"{m[1]}{float(m[2]) * rng.lognormal(0, 0.5):.3f}{m[3]}", rest)

    def numbers(m: re.Match) -> str:
        return m[1] + _NUMBER.sub(lambda n: str(rng.integers(1, 10 ** len(n[0]))), m[2])

    return _SQL.sub(numbers, rest)


def build(path: Path, size_mb: float, seed: int = 20) -> Path:
    """Write a stderr log of about `size_mb` MB to `path` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    times, pids, rests, span = _block()
    variants = [rests] + [[_variant(r, rng) for r in rests] for _ in range(VARIANTS - 1)]
    unique_pids = sorted(set(pids), key=int)
    where = {p: i for i, p in enumerate(unique_pids)}
    pid_index = [where[p] for p in pids]
    epoch = int(dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC).timestamp())
    target = size_mb * 1e6
    written, copy = 0, 0
    with open(path, "w") as out:
        while written < target:
            base = epoch + copy * span
            stamp = {t: dt.datetime.fromtimestamp(base + t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
                     for t in set(times)}  # fmt: skip
            new_pids = [str(1000 + (int(p) * 7 + copy * 7919) % 4_000_000) for p in unique_pids]
            pick = rng.integers(0, VARIANTS, len(rests))
            text = "".join([f"{stamp[t]} UTC [{new_pids[i]}]{variants[v][k]}"
                            for k, (t, i, v) in enumerate(zip(times, pid_index, pick,
                                                              strict=True))])  # fmt: skip
            out.write(text)
            written += len(text.encode())
            copy += 1
    return path


def _child(argv: list[str]) -> tuple[str, dict]:
    from benchmarks.__main__ import _child as child

    return child(argv)


def run_perfkit(path: Path) -> dict:
    out, usage = _child([sys.executable, "-c", CHILD, str(path), PREFIX])
    return {**json.loads(out.strip().splitlines()[-1]), **usage}


def run_pgbadger(path: Path) -> dict | None:
    """pgBadger on one core parsing `path` into its JSON report: times, peak RSS, its counts."""
    exe = shutil.which("pgbadger")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _, usage = _child([exe, "-j", "1", "-f", "stderr", "--prefix", PREFIX, "-x", "json",
                           "-o", str(report), "--no-progressbar", "-q", "--pid-dir", tmp,
                           str(path)])  # fmt: skip
        data = json.loads(report.read_text())
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return {**usage, "version": version.strip(), "counts": _pgbadger_counts(data)}


def _pgbadger_counts(data: dict) -> dict:
    """pgBadger's own totals from its JSON report (summed over databases when split)."""
    overall = data.get("overall_stat", {})
    if "queries_number" not in overall:  # per-database sections
        overall = {}
        for section in data.get("overall_stat", {}).values():
            if isinstance(section, dict):
                for key, value in section.items():
                    if isinstance(value, (int, float)):
                        overall[key] = overall.get(key, 0) + value
    keys = ("queries_number", "queries_duration", "unique_normalized")
    return {k: overall.get(k) for k in keys if k in overall}


def run(size_mb: float = 1000, repeat: int = 3, given: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = given or build(Path(tmp) / "postgresql.log", size_mb)
        size = path.stat().st_size / 1e6
        print(f"PostgreSQL stderr log with auto_explain plans: {size:.0f} MB ({path.name}), "
              f"prefix {PREFIX!r}")  # fmt: skip
        ours, badger = [], []
        for _ in range(repeat):
            badger.append(run_pgbadger(path))
            ours.append(run_perfkit(path))
        _report(size, ours, badger, repeat)


def _report(size: float, ours: list[dict], badger: list[dict | None], repeat: int) -> None:
    med = statistics.median
    ref = ours[0]
    print(f"  read_pg_log: {ref['rows']:,} rows, {ref['statements']:,} statements, "
          f"{ref['plans']:,} plans, rejected {ref['rejected']:,}, frame "
          f"{ref['frame_bytes'] / 2**20:.0f} MiB")  # fmt: skip
    rows = [("perfkit, in process", [r["read_s"] for r in ours],
             [r["read_cpu_s"] for r in ours], None),
            ("perfkit, whole process", [r["wall_s"] for r in ours],
             [r["cpu_s"] for r in ours], ours),
            ("  of which import", [r["import_s"] for r in ours], None, None)]  # fmt: skip
    have = badger[0] is not None
    if have:
        done = [b for b in badger if b is not None]
        rows.append((f"{done[0]['version']} -j 1", [b["wall_s"] for b in done],
                     [b["cpu_s"] for b in done], done))  # fmt: skip
    print(f"  {'median of ' + str(repeat):<28}{'wall':>9}{'MB/s':>8}{'CPU':>9}{'peak RSS':>10}"
          "  every wall run")  # fmt: skip
    for name, walls, cpus, runs in rows:
        cpu = f"{med(cpus):8.2f}s" if cpus else " " * 9
        rss = f"{max(r['peak_rss_bytes'] for r in runs) / 2**20:7.0f}MiB" if runs else " " * 10
        rate = f"{size / med(walls):8.1f}" if not name.startswith(" ") else " " * 8
        every = " ".join(f"{w:.2f}" for w in walls)
        print(f"  {name:<28}{med(walls):8.2f}s{rate}{cpu}{rss}  {every}")
    print(f"  in-process goal: >= 100 MB/s; now {size / med(rows[0][1]):.1f} MB/s wall, "
          f"{size / med(rows[0][2]):.1f} MB/s of CPU time")  # fmt: skip
    if not have:
        print("  pgBadger not installed (apt-get install pgbadger): no ratio")
        return
    done = [b for b in badger if b is not None]
    pgbadger = med([b["wall_s"] for b in done])
    print(f"  pgBadger / perfkit wall, in process   : {pgbadger / med(rows[0][1]):6.2f}x")
    print(f"  pgBadger / perfkit wall, whole process: {pgbadger / med(rows[1][1]):6.2f}x")
    cpu = med([b["cpu_s"] for b in done])
    print(f"  pgBadger / perfkit CPU, in process    : {cpu / med(rows[0][2]):6.2f}x")
    print(f"  pgBadger / perfkit CPU, whole process : {cpu / med(rows[1][2]):6.2f}x")
    print(f"  pgBadger -j 1 alone: {size / pgbadger:.1f} MB/s wall, {size / cpu:.1f} MB/s of CPU")
    counts = done[0]["counts"]
    queries = counts.get("queries_number")
    print(f"  pgBadger counts: {counts}")
    print(f"  statements: read_pg_log {ref['statements']:,}, pgBadger queries_number "
          f"{queries if queries is None else format(int(queries), ',')}"
          + ("" if queries == ref["statements"] else "  <- they disagree"))  # fmt: skip
    # pgBadger also counts each auto_explain plan (darold/pgbadger#848) and each `execute fetch
    # from` line, and not DEALLOCATE: its count rebuilt from read_pg_log's rows
    rebuilt = ref["statements"] + ref["plans"] + ref.get("fetches", 0) - ref.get("deallocates", 0)
    print(f"  read_pg_log statements + plans + fetch lines - DEALLOCATE = {rebuilt:,}"
          + (" = pgBadger's" if rebuilt == queries else " != pgBadger's"))  # fmt: skip
    print(f"  read_pg_log kinds: {ref['kinds']}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_log",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--size", type=float, default=1000, help="MB of log to build")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--file", type=Path, help="time this log instead of building one")
    parser.add_argument("--build", type=Path, help="only build the log at this path")
    args = parser.parse_args(argv)
    if args.build:
        build(args.build, args.size)
        return 0
    run(args.size, args.repeat, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
