"""Benchmark runner: perfkit against GoAccess (access logs) and pstats (profile dumps).

Access logs: on a clean and a realistic generated log (`benchmarks.genlog`), times
file -> typed DataFrame (`read_access_log`) -> per-route latency table (`summarize`)
in a fresh ``python -c "import perfkit; ..."`` process (whole process: interpreter
start and imports included; in process: read + summarize), the same with the exact
(RE2) path forced on every line, and GoAccess 1.x (``goaccess``) parsing the same
file into its JSON report, run by run interleaved so both see the same machine
load. Each child's wall time, CPU time and peak RSS are its own (``os.wait4``).
Prints medians and ratios; goals: realistic log >= 10x GoAccess whole process and
>= 20x in process, peak RSS <= 3x the DataFrame, exact path >= 3x GoAccess.

Usage: python -m benchmarks [all|access|profiles|pg|pg_store|dask] [--lines N] [--dumps N] [--repeat K]
       python -m benchmarks pg_log [--size MB] [--repeat K] [--file LOG]   (PostgreSQL log vs pgBadger)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.genlog import generate, generate_realistic

GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %D'
# the child: `python -c "import perfkit; ..."` as a CLI or papermill would start; argv[2] "exact"
# forces the exact (RE2) path on every line, the fallback's own speed
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import perfkit
read_access_log, summarize = perfkit.read_access_log, perfkit.summarize  # loads their modules
if sys.argv[2] == "exact":
    import perfkit.io.access_log as access_log
    access_log.tokenize = lambda *a, **k: None
t1 = time.perf_counter()
df = read_access_log(sys.argv[1], format="gunicorn_timed")
t2 = time.perf_counter()
table = summarize(df)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "summary_s": t3 - t2, "rows": len(df),
                  "routes": len(table), "frame_bytes": int(df.memory_usage(deep=True).sum()),
                  "rejected": df.attrs["perfkit"]["rejected"]}))
"""


def _child(argv: list[str]) -> tuple[str, dict]:
    """Run `argv` to its end; its stdout and its own wall time, CPU time and peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} exited with {proc.returncode}")
    return out, {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                 "peak_rss_bytes": usage.ru_maxrss * 1024}  # fmt: skip


def run_perfkit(path: Path, mode: str = "auto") -> dict:
    """One fresh process reading `path` and summarizing it: its timings (s) and peak RSS."""
    out, usage = _child([sys.executable, "-c", CHILD, str(path), mode])
    return {**json.loads(out.strip().splitlines()[-1]), **usage}


def run_goaccess(path: Path) -> dict | None:
    """GoAccess parsing `path` into its JSON report: wall and CPU time (s), peak RSS."""
    exe = shutil.which("goaccess")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        _, usage = _child([
            exe, str(path), f"--log-format={GOACCESS_FORMAT}", "--date-format=%d/%b/%Y",
            "--time-format=%T", "--no-global-config", "--no-progress",
            "-o", str(Path(tmp) / "report.json"),
        ])  # fmt: skip
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return {**usage, "version": version.split("\n")[0].strip().rstrip(".")}


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "which", nargs="?", choices=["all", "access", "profiles", "pg", "pg_store", "dask", "capacity", "pg_log"], default="all"
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--dumps", type=int, default=1000, help="per-request dumps to merge")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians are reported")
    parser.add_argument("--file", type=Path, help="use this log instead of generating one")
    parser.add_argument("--sizes", default="1000000,4000000,20000000",
                        help="dask: log sizes (lines) for the peak-memory series")  # fmt: skip
    parser.add_argument("--size", type=float, default=1000,
                        help="pg_log: MB of PostgreSQL log to build")  # fmt: skip
    args = parser.parse_args(argv)
    # access logs first: GoAccess's peak RSS is read from this process's children
    if args.which in ("all", "access"):
        _access(args)
    if args.which in ("all", "profiles"):
        from benchmarks.profiles import run

        print()
        run(args.dumps, min(args.repeat, 3))
    if args.which in ("all", "dask"):
        from benchmarks.dask_engine import run as run_dask

        print()
        run_dask(args.lines, [int(n) for n in args.sizes.split(",")], min(args.repeat, 3))
    if args.which in ("all", "pg_store"):
        from benchmarks.pg_store import run as run_store

        print()
        run_store()
    if args.which in ("all", "pg"):
        from benchmarks.pg_snapshot import run as run_pg

        print()
        run_pg()
    if args.which in ("all", "capacity"):
        from benchmarks.capacity import main as run_capacity

        print()
        run_capacity([f"--repeat={args.repeat}"])
    if args.which in ("all", "pg_log"):
        from benchmarks.pg_log import run as run_pg_log

        print()
        run_pg_log(args.size, args.repeat, args.file if args.which == "pg_log" else None)
    return 0


def _access(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if args.file:
            logs = {"given": args.file}
        else:
            logs = {"clean": generate(Path(tmp) / "clean.log", args.lines),
                    "realistic": generate_realistic(Path(tmp) / "realistic.log", args.lines)}  # fmt: skip
        for label, path in logs.items():
            print()
            _access_pair(label, path, args.repeat)


def _access_pair(label: str, path: Path, repeat: int) -> None:
    """GoAccess and perfkit (and perfkit's exact path alone) on `path`, interleaved run by run
    so both see the same machine load; medians of `repeat` runs and their ratio."""
    size_mb = path.stat().st_size / 1e6
    lines = _count_lines(path)
    print(f"{label} log: {lines:,} lines, {size_mb:.0f} MB (Gunicorn default + %(D)s)")
    ga, ours, exact = [], [], []
    for _ in range(repeat):
        ga.append(run_goaccess(path))
        ours.append(run_perfkit(path))
        exact.append(run_perfkit(path, "exact"))
    med = statistics.median
    inside = [r["read_s"] + r["summary_s"] for r in ours]
    inside_exact = [r["read_s"] + r["summary_s"] for r in exact]
    ref = ours[0]
    print(f"  rows {ref['rows']:,}, rejected {ref['rejected']:,}, routes {ref['routes']}, "
          f"frame {ref['frame_bytes'] / 2**20:.0f} MiB")  # fmt: skip
    rows = [
        ("perfkit, whole process", [r["wall_s"] for r in ours], [r["cpu_s"] for r in ours], ours),
        ("perfkit, in process", inside, None, None),
        ("  of which import", [r["import_s"] for r in ours], None, None),
        ("  of which read", [r["read_s"] for r in ours], None, None),
        ("  of which summarize", [r["summary_s"] for r in ours], None, None),
        (
            "exact path, whole process",
            [r["wall_s"] for r in exact],
            [r["cpu_s"] for r in exact],
            exact,
        ),
        ("exact path, in process", inside_exact, None, None),
    ]
    if ga[0] is not None:
        rows.append((ga[0]["version"], [r["wall_s"] for r in ga], [r["cpu_s"] for r in ga], ga))
    print(
        f"  {'median of ' + str(repeat):<28}{'wall':>8}{'CPU':>8}{'peak RSS':>10}  every wall run"
    )
    for name, walls, cpus, runs in rows:
        cpu = f"{med(cpus):7.2f}s" if cpus else " " * 8
        rss = f"{max(r['peak_rss_bytes'] for r in runs) / 2**20:7.0f}MiB" if runs else " " * 10
        every = " ".join(f"{w:.2f}" for w in walls)
        print(f"  {name:<28}{med(walls):7.2f}s{cpu}{rss}  {every}")
    frame = ref["frame_bytes"]
    peak = max(r["peak_rss_bytes"] for r in ours)
    print(f"  peak RSS / frame: {peak / frame:.2f}x (worst run; goal <= 3x)")
    if ga[0] is None:
        print("  GoAccess not installed (apt-get install goaccess): no ratio")
        return
    goaccess = med([r["wall_s"] for r in ga])
    ratios = {
        "whole process": goaccess / med([r["wall_s"] for r in ours]),
        "in process": goaccess / med(inside),
        "exact path, whole process": goaccess / med([r["wall_s"] for r in exact]),
        "exact path, in process": goaccess / med(inside_exact),
    }
    paired = {
        "whole process": med(g["wall_s"] / o["wall_s"] for g, o in zip(ga, ours, strict=True)),
        "in process": med(g["wall_s"] / t for g, t in zip(ga, inside, strict=True)),
    }
    cpu_ratio = med([r["cpu_s"] for r in ga]) / med([r["cpu_s"] for r in ours])
    for name, ratio in ratios.items():
        pair = f", paired runs {paired[name]:.1f}x" if name in paired else ""
        print(f"  GoAccess / perfkit {name:<27}: {ratio:5.1f}x (medians){pair}")
    print(f"  GoAccess / perfkit CPU time{'':<19}: {cpu_ratio:5.1f}x (medians)")


if __name__ == "__main__":
    sys.exit(main())
