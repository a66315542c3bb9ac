"""The `perfkit` command: a thin layer over the Python API.

Exit codes: 0 fine, 1 a report found what ``--fail-on-*`` asked to fail on,
2 bad input or usage (the message names the file and what was wrong), or a
gate asked a question the evidence cannot answer (e.g. latency from a log
without request times), 3 a bug in perfkit (the traceback is printed), 130
interrupted (Ctrl-C) outside a collector; a collector stopped by Ctrl-C or SIGTERM exits 0.
"""

from __future__ import annotations

import argparse
import glob
import logging
import math
import os
import re
import signal
import sys
import time
import warnings
from pathlib import Path

from perfkit.errors import InputError
from perfkit.report.display import safe_text

EXIT_OK, EXIT_FOUND, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _StdoutFailed(Exception):
    """Standard output cannot be written: closed by its reader (a broken pipe) or full."""


def _say(text: object, file=None) -> None:
    """Print `text` with every control character escaped (log lines, route names, file names
    and SQL reach the terminal as text, never as escape sequences)."""
    file = file or sys.stdout
    try:
        print(safe_text(text), file=file, flush=True)
    except OSError as exc:
        if file is not sys.stdout:
            raise
        raise _StdoutFailed(exc.strerror or str(exc)) from exc


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's own flush at exit does
    not fail again on the closed or full stream."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _Parser(argparse.ArgumentParser):
    """argparse, with its messages (which quote the arguments given) escaped for the terminal."""

    def _print_message(self, message: str, file=None) -> None:
        super()._print_message(safe_text(message) if message else message, file)


def _seconds(text: str) -> float:
    """A finite number of seconds above zero (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def _natural(text: str) -> int:
    """A whole number >= 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _pid(text: str) -> int:
    """A process id: a whole number >= 1 (argparse type)."""
    value = _natural(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a process id >= 1, got 0")
    return value


def _version() -> str:
    from perfkit import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfkit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"perfkit {_version()}")
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
    report.add_argument("-k", "--kernel", help="the Jupyter kernel to run the notebook in (as "
                        "papermill's -k); default: this Python")  # fmt: skip
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
    pg.add_argument("--interval", type=_seconds, default=60.0, help="seconds between snapshots")
    pg.add_argument("--count", type=_natural, default=1,
                    help="snapshots to take (0: until stopped)")  # fmt: skip
    pg.add_argument("--retry", type=_natural, default=0,
                    help="retries with backoff when unreachable")  # fmt: skip
    redis = collect.add_parser("redis", help="snapshots of Redis statistics into a store folder")
    redis.add_argument("--url", default="", help="redis://[:password@]host:port/db; default: "
                       "the PERFKIT_REDIS_URL environment variable")  # fmt: skip
    redis.add_argument("--store", type=Path, required=True, help="snapshot store folder")
    redis.add_argument("--interval", type=_seconds, default=60.0,
                       help="seconds between snapshots")  # fmt: skip
    redis.add_argument("--count", type=_natural, default=1,
                       help="snapshots to take (0: until stopped)")  # fmt: skip
    redis.add_argument("--retry", type=_natural, default=0,
                       help="retries with backoff when unreachable")  # fmt: skip
    redis.add_argument("--keep-arguments", action="store_true",
                       help="store the slow log's argument values (default: names, counts and "
                       "lengths only)")  # fmt: skip
    rss = collect.add_parser("rss", help="RSS of a process and its children into a CSV file")
    rss.add_argument("--pid", type=_pid, required=True, help="the Gunicorn master's pid")
    rss.add_argument("--children", action="store_true", help="also every worker/child")
    rss.add_argument("--out", type=Path, required=True, help="CSV file (appended to)")
    rss.add_argument("--interval", type=_seconds, default=1.0, help="seconds between samples")
    rss.add_argument("--duration", type=_seconds, help="stop after this many seconds")
    for collector in (pg, rss, redis):
        collector.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower,
                               help="messages shown (on stderr, timestamped): default info on "
                               "a terminal, else warning (cron mails what matters)")  # fmt: skip
        collector.add_argument("-q", "--quiet", action="store_true",
                               help="errors only (same as --log-level error)")  # fmt: skip
    return parser


LOG_LEVELS = ("debug", "info", "warning", "error")


class _SafeFormatter(logging.Formatter):
    """Log records as ``2026-12-07T12:00:00Z perfkit: LEVEL: message``, UTC, escaped for the
    terminal (messages carry DSNs, paths and server text)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s perfkit: %(levelname)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime  # UTC, as the Z says

    def format(self, record: logging.LogRecord) -> str:  # one line each: a newline in server
        return safe_text(super().format(record), newlines=False)  # text cannot forge another


def _log_to_stderr(level: str | None, quiet: bool) -> logging.Handler:
    """Send the ``perfkit`` loggers to stderr at `level` (see ``--log-level``); the handler."""
    if quiet:
        level = "error"
    elif level is None:
        level = "info" if sys.stderr.isatty() else "warning"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter())
    handler.setLevel(level.upper())
    logger = logging.getLogger("perfkit")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > handler.level:  # let the records reach the handler
        logger.setLevel(handler.level)
    return handler


def report_help(name: str) -> str:
    """``perfkit report NAME --help``: the command's options, then the notebook's parameters
    with their defaults and the comments of its tagged ``parameters`` cell."""
    from perfkit.report.run import notebook_path, parameters_of

    notebook = notebook_path(name)
    known = parameters_of(notebook)
    lines = [f"\nparameters of report {notebook.stem} (-p KEY=VALUE; values are JSON or text; "
             f"from {notebook.name}):"]  # fmt: skip
    width = max((len(f"{k} = {v.get('default')}") for k, v in known.items()), default=0)
    for key, about in known.items():
        left = f"{key} = {about.get('default')}"
        comment = (about.get("help") or "").strip()
        lines.append(f"  {left:<{min(width, 40)}}  {comment}".rstrip())
    return "\n".join(lines)


def _report_name_with_help(argv: list[str]) -> str | None:
    """The NAME of ``report NAME ... --help`` (help asked after a report name), else None."""
    if len(argv) < 2 or argv[0] != "report" or not ({"-h", "--help"} & set(argv)):
        return None
    words = [w for w in argv[1:] if w not in ("-h", "--help")]
    return words[0] if words and not words[0].startswith("-") else None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]) and return the exit code."""
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    name = _report_name_with_help(argv)
    if name is not None:
        try:
            extra = report_help(name)
        except InputError as exc:
            _say(f"perfkit: error: {exc}", sys.stderr)
            return EXIT_INPUT
        try:
            _say(_report_parser(parser).format_help().rstrip("\n") + "\n" + extra)
        except _StdoutFailed:
            _quiet_stdout()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_INPUT
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return _COMMANDS[args.command](args)
    except InputError as exc:
        _say(f"perfkit: error: {exc}", sys.stderr)
        return EXIT_INPUT
    except _StdoutFailed as exc:
        _quiet_stdout()
        if isinstance(exc.__cause__, BrokenPipeError):  # `perfkit summary … | head`: enough
            return EXIT_OK
        _say(f"perfkit: error: cannot write to standard output ({exc})", sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM) outside a collector: no traceback
        _say("perfkit: interrupted; outputs already written are whole", sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: its own exit code, never 1 ("found") to a CI gate
        import traceback

        _say(traceback.format_exc().rstrip("\n"), sys.stderr)
        _say("perfkit: internal error (a bug in perfkit; please report it with the traceback "
             "above)", sys.stderr)  # fmt: skip
        return EXIT_BUG
    finally:
        warnings.showwarning = shown


def _report_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``report`` subcommand's parser inside `parser`."""
    for action in parser._actions:  # the subcommands are one of argparse's actions
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["report"]
    raise LookupError("report")  # pragma: no cover - the parser always has it


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning (a loader's count of skipped lines, naming the file and quoting the line) as
    one escaped ``perfkit: warning:`` message; other libraries' warnings keep their origin."""
    from perfkit.errors import PerfkitWarning

    ours = issubclass(category, PerfkitWarning)
    where = "" if ours else f" ({category.__name__}, {filename}:{lineno})"
    _say(f"perfkit: warning: {message}{where}", file or sys.stderr)


def _demo(args: argparse.Namespace) -> int:
    from perfkit.report.run import require_reports

    require_reports("perfkit demo")
    from perfkit.report.demo import notebooks, run_demo

    if not notebooks():
        print("perfkit demo: no notebooks found; nothing to run")
        return EXIT_OK
    written = run_demo(args.out, say=_say)
    _say(f"{len(written)} reports in {args.out.resolve()}: " + ", ".join(p.name for p in written))
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
        summary = run_report(args.name, parameters, out, args.json, keep_notebook=keep,
                             kernel=args.kernel)  # fmt: skip
    except ReportFailed as exc:
        _say(f"perfkit: error: {exc}", sys.stderr)
        if not exc.bad_input:
            _say("perfkit: internal error (a bug in perfkit; the kept notebook shows the "
                 "traceback)", sys.stderr)  # fmt: skip
        return EXIT_INPUT if exc.bad_input else EXIT_BUG
    _say(f"wrote {out}" + (f" and {args.json}" if args.json else ""))
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
        for line in found:  # one line per finding: a name holding a newline cannot forge one
            _say(safe_text(line, newlines=False), sys.stderr)
        return EXIT_FOUND
    asked = args.fail_on_regression or args.fail_on_shift or args.fail_on_leak
    unanswered = summary.get("cannot_judge") or []
    if asked and unanswered:
        reasons = "; ".join(safe_text(r, newlines=False) for r in unanswered)
        _say("perfkit: error: cannot answer the gate: " + reasons, sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:

    from perfkit.analysis.summary import summarize
    from perfkit.io.access_log import read_access_log
    from perfkit.report.run import check_outputs, write_atomic

    if args.csv:  # before reading anything: the table must never replace one of its logs
        logs = [m for p in args.paths if p != "-" for m in glob.glob(p) or [p]]
        check_outputs({"--csv": args.csv}, logs)
    requests = read_access_log(args.paths, format=args.format)
    table = summarize(requests, by=args.by)
    if args.csv:
        write_atomic(args.csv, table.to_csv())
        return EXIT_OK
    _say(terminal_table(table))
    return EXIT_OK


ROUTE_WIDTH = 61  # longest key shown whole: 40 characters, an ellipsis, the last 20


def terminal_table(table, columns: int | None = None) -> str:
    """`table` (a summary) as text for a terminal `columns` wide (default: this terminal's,
    `shutil.get_terminal_size`): every string one line with control characters escaped,
    and keys longer than fits cut in the middle with an ellipsis (start and end kept),
    at most `ROUTE_WIDTH` characters and never below 24."""
    import shutil

    import pandas as pd

    from perfkit.report.display import shorten

    width = columns or shutil.get_terminal_size((120, 24)).columns
    numbers = table.round(3)
    others = max((len(line) for line in numbers.reset_index(drop=True).to_string(
        index=False).splitlines()[:1]), default=0)  # fmt: skip
    key_width = max(24, min(ROUTE_WIDTH, width - others - 2))
    ellipsis = "…" if _encodes("…") else "..."

    def one_line(value: object) -> object:
        if not isinstance(value, str):
            return value
        text = safe_text(value, newlines=False)
        cut = shorten(text, key_width)
        return cut if ellipsis == "…" else cut.replace("…", "...")

    shown = numbers.rename(index=one_line)  # each level of a MultiIndex too
    for column in shown.select_dtypes(include=["object", "string"]).columns:
        shown[column] = shown[column].map(one_line)
    with pd.option_context("display.width", width, "display.max_rows", 200):
        return shown.to_string()


def _encodes(text: str) -> bool:
    """Whether standard output's encoding can write `text`."""
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd's stop, a supervisor's, ``kill``) ends a collector as Ctrl-C does: cleanly,
    with every whole row and snapshot kept. A background job started by a non-interactive
    shell ignores SIGINT, so SIGTERM is the signal to rely on."""

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _check_dsn(dsn: str) -> None:
    """Refuse a DSN libpq cannot read (a typo such as ``pasword=``) before connecting, and warn
    when it carries a password, which every user of the machine can read in ``ps``. Never
    echoes the password."""
    from perfkit.io.redact import dsn_has_password, redact_dsn

    if not dsn:
        return
    try:
        from psycopg.conninfo import conninfo_to_dict

        conninfo_to_dict(dsn)
    except ImportError:  # pragma: no cover - psycopg is a dependency of the pg collector
        pass
    except Exception as exc:  # psycopg.ProgrammingError: libpq's own reading failed
        option = re.search(r'invalid (?:connection|URI query) option "(\w+)"', str(exc))
        reason = f"unknown option {option.group(1)!r}" if option else "libpq cannot parse it"
        raise InputError(f"--dsn {redact_dsn(dsn)}: {reason}; expected a libpq key=value "
                         "string or a postgresql:// URL") from None  # fmt: skip
    if dsn_has_password(dsn):
        _say("perfkit: warning: --dsn holds a password, which other users can read in `ps` "
             "and shell history; use PGPASSWORD, ~/.pgpass or a service file "
             "(PGSERVICE) instead", sys.stderr)  # fmt: skip


def _redis_url(url: str) -> str:
    """The Redis URL of ``--url``, else of PERFKIT_REDIS_URL; checked before connecting, a
    warning when the command line holds a password (``ps`` shows it). Never echoes it."""
    from perfkit.io.redis_wire import parse_url

    given = url or os.environ.get("PERFKIT_REDIS_URL", "")
    if not given:
        raise InputError("--url: no Redis URL (give --url redis://host:port/0 or set "
                         "PERFKIT_REDIS_URL)")  # fmt: skip
    if parse_url(given).password and url:
        _say("perfkit: warning: --url holds a password, which other users can read in `ps` "
             "and shell history; set PERFKIT_REDIS_URL instead", sys.stderr)  # fmt: skip
    return given


def _collect(args: argparse.Namespace) -> int:
    if args.collector == "pg":
        _check_dsn(args.dsn)
        if args.store.exists() and not args.store.is_dir():
            raise InputError(f"--store {args.store}: is a file; expected a snapshot store folder")
        from perfkit.report.run import writable_folder

        writable_folder(args.store, f"--store {args.store}")
    elif args.collector == "redis":
        args.url = _redis_url(args.url)
        if args.store.exists() and not args.store.is_dir():
            raise InputError(f"--store {args.store}: is a file; expected a snapshot store folder")
        from perfkit.report.run import writable_folder

        writable_folder(args.store, f"--store {args.store}")
    else:
        from perfkit.report.run import check_outputs

        check_outputs({"--out": args.out}, [], append=True)
    _stop_on_sigterm()
    level = logging.getLogger("perfkit").level  # restored after: main() may run in-process
    handler = _log_to_stderr(args.log_level, args.quiet)
    try:
        if args.collector == "pg":
            from perfkit.collect.pg import collect_pg

            collect_pg(args.dsn, args.store, args.interval, args.count, args.retry)
        elif args.collector == "redis":
            from perfkit.collect.redis import collect_redis

            collect_redis(args.url, args.store, args.interval, args.count, args.retry,
                          keep_arguments=args.keep_arguments)  # fmt: skip
        else:
            from perfkit.collect.rss import collect_rss

            collect_rss(args.pid, args.out, args.children, args.interval, args.duration)
    except KeyboardInterrupt:
        _say("stopped", sys.stderr)
    finally:
        logging.getLogger("perfkit").removeHandler(handler)
        logging.getLogger("perfkit").setLevel(level)
    return EXIT_OK


_COMMANDS = {"demo": _demo, "report": _report, "summary": _summary, "collect": _collect}

if __name__ == "__main__":
    sys.exit(main())
