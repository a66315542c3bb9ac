"""The `perfkit` command: a thin layer over the Python API.

Exit codes: 0 fine, 1 a report found what ``--fail-on-*`` asked to fail on,
2 bad input or usage (the message names the file and what was wrong), or a
gate asked a question the evidence cannot answer (e.g. latency from a log
without request times), 3 a bug in perfkit (the traceback is printed).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from perfkit.errors import InputError

EXIT_OK, EXIT_FOUND, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfkit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run every notebook on data/ and write HTML reports")
    demo.add_argument(
        "--out", type=Path, default=Path("reports"), help="folder for the HTML reports"
    )
    report = commands.add_parser("report", help="run one report notebook and export it as HTML")
    report.add_argument("name", help="regression, memory_leak, capacity, overview (or a .ipynb)")
    report.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a notebook parameter (repeatable); JSON or text")  # fmt: skip
    report.add_argument("-o", "--out", type=Path, help="HTML file (default reports/NAME.html)")
    report.add_argument("--json", type=Path, help="also write the verdicts and figures as JSON")
    report.add_argument("--fail-on-regression", action="store_true",
                        help="exit 1 when an endpoint regressed")  # fmt: skip
    report.add_argument("--fail-on-shift", action="store_true",
                        help="exit 1 when the whole candidate run is slower (the run-wide "
                        "shift)")  # fmt: skip
    report.add_argument("--fail-on-leak", action="store_true", help="exit 1 when a leak is found")
    report.add_argument("--keep-notebook", action="store_true",
                        help="keep the executed notebook beside the HTML")  # fmt: skip
    summary = commands.add_parser("summary", help="per-route latency table of access logs")
    summary.add_argument("paths", nargs="+", help="log files or globs (.gz/.bz2/.xz fine)")
    summary.add_argument(
        "--format", default="auto", help="format name or the server's format string"
    )
    summary.add_argument("--by", default="route", help="column to group by")
    summary.add_argument(
        "--csv", type=Path, help="write the table as CSV here instead of printing it"
    )
    collect = commands.add_parser("collect", help="long-running collectors").add_subparsers(
        dest="collector", required=True
    )
    pg = collect.add_parser("pg", help="snapshots of PostgreSQL statistics into a store folder")
    pg.add_argument("--dsn", default="", help="libpq DSN or URL; default: the PG* environment")
    pg.add_argument("--store", type=Path, required=True, help="snapshot store folder")
    pg.add_argument("--interval", type=float, default=60.0, help="seconds between snapshots")
    pg.add_argument("--count", type=int, default=1, help="snapshots to take (0: until stopped)")
    pg.add_argument("--retry", type=int, default=0, help="retries with backoff when unreachable")
    rss = collect.add_parser("rss", help="RSS of a process and its children into a CSV file")
    rss.add_argument("--pid", type=int, required=True, help="the Gunicorn master's pid")
    rss.add_argument("--children", action="store_true", help="also every worker/child")
    rss.add_argument("--out", type=Path, required=True, help="CSV file (appended to)")
    rss.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    rss.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]) and return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_INPUT
    try:
        return _COMMANDS[args.command](args)
    except InputError as exc:
        print(f"perfkit: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except Exception:  # a bug: its own exit code, never 1 ("found") to a CI gate
        import traceback

        traceback.print_exc()
        print("perfkit: internal error (a bug in perfkit; please report it with the traceback "
              "above)", file=sys.stderr)  # fmt: skip
        return EXIT_BUG


def _demo(args: argparse.Namespace) -> int:
    from perfkit.report.demo import notebooks, run_demo

    if not notebooks():
        print("perfkit demo: no notebooks found; nothing to run")
        return EXIT_OK
    written = run_demo(args.out, say=lambda text: print(text, flush=True))
    print(f"{len(written)} reports in {args.out.resolve()}: " + ", ".join(p.name for p in written))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from perfkit.report.run import ReportFailed, parse_value, run_report

    parameters = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"-p expects KEY=VALUE, got {item!r}")
        parameters[key.strip()] = parse_value(value)
    out = args.out or Path("reports") / f"{Path(args.name).stem}.html"
    try:
        keep = args.keep_notebook
        summary = run_report(args.name, parameters, out, args.json, keep_notebook=keep)
    except ReportFailed as exc:
        print(f"perfkit: error: {exc}", file=sys.stderr)
        if not exc.bad_input:
            print("perfkit: internal error (a bug in perfkit; the kept notebook shows the "
                  "traceback)", file=sys.stderr)  # fmt: skip
        return EXIT_INPUT if exc.bad_input else EXIT_BUG
    print(f"wrote {out}" + (f" and {args.json}" if args.json else ""))
    return _gate(args, summary)


def _gate(args: argparse.Namespace, summary: dict) -> int:
    """The exit code of the gates asked: 1 when one found what it fails on, else 2 when one
    could not be answered (``cannot_judge``), else 0."""
    found = []
    if args.fail_on_regression:
        found += [f"regressed: {k}" for k in summary.get("regressed") or []]
        found += [f"5xx rate regressed: {k}" for k in summary.get("errors_regressed") or []]
    if args.fail_on_shift:
        shift = summary.get("shift") or {}
        if shift.get("direction") == "slower":
            found.append(f"the whole candidate run is slower: x{shift['factor']:.3f} "
                         f"[{shift['ci_low']:.3f}, {shift['ci_high']:.3f}]")  # fmt: skip
    if args.fail_on_leak and summary.get("leak", bool(summary.get("leaks"))):
        found.append(f"leaking: {', '.join(map(str, summary.get('leaks') or []))}")
    if found:
        print("\n".join(found), file=sys.stderr)
        return EXIT_FOUND
    asked = args.fail_on_regression or args.fail_on_shift or args.fail_on_leak
    unanswered = summary.get("cannot_judge") or []
    if asked and unanswered:
        print("perfkit: error: cannot answer the gate: " + "; ".join(unanswered), file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    import pandas as pd

    from perfkit.analysis.summary import summarize
    from perfkit.io.access_log import read_access_log

    requests = read_access_log(args.paths, format=args.format)
    table = summarize(requests, by=args.by)
    if args.csv:
        table.to_csv(args.csv)
        return EXIT_OK
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table.round(3).to_string())
    return EXIT_OK


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd's stop, a supervisor's, ``kill``) ends a collector as Ctrl-C does: cleanly,
    with every whole row and snapshot kept. A background job started by a non-interactive
    shell ignores SIGINT, so SIGTERM is the signal to rely on."""

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _collect(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    try:
        if args.collector == "pg":
            from perfkit.collect.pg import collect_pg

            collect_pg(args.dsn, args.store, args.interval, args.count, args.retry)
        else:
            from perfkit.collect.rss import collect_rss

            rows = collect_rss(args.pid, args.out, args.children, args.interval, args.duration)
            print(f"{rows} samples -> {args.out}")
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return EXIT_OK


_COMMANDS = {"demo": _demo, "report": _report, "summary": _summary, "collect": _collect}

if __name__ == "__main__":
    sys.exit(main())
