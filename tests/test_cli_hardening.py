"""The perfkit command against hostile input: terminal escape codes from logs, bad collector
arguments, passwords on the command line, outputs that would overwrite their own input.

Every case runs the real installed ``perfkit`` in a subprocess: the exit code, stdout and stderr
are what a user's terminal and a CI gate see, and a traceback anywhere is a failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from perfkit.cli import _gate
from perfkit.report.display import safe_text
from tests.servers import ROOT

PERFKIT = str(ROOT / ".venv" / "bin" / "perfkit")
# what a hostile client can put into a request path: colours, a screen clear, a bell, a carriage
# return that hides what came before, C1 controls (CSI, OSC), the bidi override that reverses text
HOSTILE = ("\x1b[31m", "\x1b[2J", "\x07", "\r", "\x9b", "\x9d", "\u202e", "\x1b]0;pwned\x07",
           "\x00", "\x7f", "\u2066", "\x08")  # fmt: skip


def perfkit(*args: str, timeout: float = 120, stdin: str | None = None):
    return subprocess.run([PERFKIT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, input=stdin, errors="surrogateescape")  # fmt: skip


def raw_controls(text: str) -> list[str]:
    """The control characters in `text` a terminal would act on (newline and tab are layout)."""
    return sorted({c for c in text if c not in "\n\t" and (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F
                                                          or c in "\u202e\u2066")})  # fmt: skip


def test_safe_text_escapes_every_control_and_keeps_the_rest():
    for bad in HOSTILE:
        shown = safe_text(f"/a{bad}b")
        assert raw_controls(shown) == [], repr(shown)
        assert shown.startswith("/a\\") and shown.endswith("b"), repr(shown)
    assert safe_text("\x1b[31m") == "\\x1b[31m"
    assert safe_text("\u202e") == "\\u202e"
    assert safe_text("line\nnext\tcol") == "line\nnext\tcol"  # layout stays layout
    assert safe_text("a\nb", newlines=False) == "a\\nb"
    assert safe_text("/ümlaut/日本/€") == "/ümlaut/日本/€"  # printable text is left alone


def test_summary_of_a_hostile_log_prints_no_control_character(gunicorn_log, tmp_path):
    writer = gunicorn_log()
    for i, bad in enumerate(HOSTILE):
        for _ in range(2):
            writer.request(path=f"/r{i}{bad}x")
    writer.request(path="/plain")
    writer.close()
    run = perfkit("summary", str(writer.path))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert raw_controls(run.stdout) == [] and raw_controls(run.stderr) == []
    assert "/plain" in run.stdout
    shown = sum(f"/r{i}" in run.stdout for i in range(len(HOSTILE)))
    assert shown == len(HOSTILE)  # every hostile route is shown, escaped, not dropped
    assert "\\x1b[31m" in run.stdout or "%1B" in run.stdout.upper()


def test_errors_quoting_hostile_input_print_no_control_character(tmp_path):
    name = tmp_path / "missing\x1b]0;title\x07\u202e\r.log"  # no "[": not a glob
    run = perfkit("summary", str(name))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "no such file" in run.stderr and raw_controls(run.stderr) == []
    assert "missing\\x1b]0;title\\x07\\u202e\\r.log" in run.stderr
    bad = perfkit("no-such-command\x1b[31m")  # argparse's own message quotes the argument
    assert bad.returncode == 2 and raw_controls(bad.stderr) == [] and "\\x1b[31m" in bad.stderr


def test_warnings_quoting_a_hostile_log_print_no_control_character(tmp_path):
    """A loader's warning names the file and the rejected line: both reach stderr escaped."""
    log = tmp_path / "h\x1b[31m.log"
    good = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 10 "-" "ua" 1500\n'
    log.write_text(good + "\x1b]0;pwned\x07\x1b[2J garbage\u202e\r\n" + good)
    run = subprocess.run([PERFKIT, "summary", glob_escape(log)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "rejected" in run.stderr and "h\\x1b[31m.log" in run.stderr
    assert raw_controls(run.stderr) == [] and raw_controls(run.stdout) == []
    assert "perfkit: warning: " in run.stderr and "warnings.warn" not in run.stderr


def glob_escape(path) -> str:
    import glob

    return glob.escape(str(path))


def test_gate_messages_escape_endpoint_names(capsys):
    args = argparse.Namespace(fail_on_regression=True, fail_on_shift=False, fail_on_leak=True)
    summary = {"regressed": ["GET /a\x1b[2J\x1b]0;pwned\x07"], "errors_regressed": ["/b\r/c"],
               "leak": True, "leaks": ["worker \u202e11"]}  # fmt: skip
    assert _gate(args, summary) == 1
    err = capsys.readouterr().err
    assert raw_controls(err) == []
    assert "regressed: GET /a\\x1b[2J\\x1b]0;pwned\\x07" in err
    assert "5xx rate regressed: /b\\r/c" in err and "worker \\u202e11" in err
    summary = {"cannot_judge": ["latency: route /x\x1b[31m has no times"]}
    assert _gate(args, summary) == 2
    assert raw_controls(capsys.readouterr().err) == []


BAD_COLLECT = [
    (("pg", "--interval", "-1"), "--interval"),
    (("pg", "--interval", "nan"), "--interval"),
    (("pg", "--interval", "inf"), "--interval"),
    (("pg", "--interval", "0"), "--interval"),
    (("pg", "--count", "-1"), "--count"),
    (("pg", "--retry", "-1"), "--retry"),
    (("rss", "--pid", "-5"), "--pid"),
    (("rss", "--pid", "0"), "--pid"),
    (("rss", "--interval", "0"), "--interval"),
    (("rss", "--interval", "-0.5"), "--interval"),
    (("rss", "--duration", "-3"), "--duration"),
    (("rss", "--duration", "nan"), "--duration"),
]


@pytest.mark.parametrize(("args", "named"), BAD_COLLECT, ids=[" ".join(a) for a, _ in BAD_COLLECT])
def test_bad_collector_arguments_are_refused_before_starting(tmp_path, args, named):
    kind, *rest = args
    base = (["--store", str(tmp_path / "store"), "--dsn", "host=/nonexistent"] if kind == "pg"
            else ["--pid", str(os.getpid()), "--out", str(tmp_path / "rss.csv")])  # fmt: skip
    run = perfkit("collect", kind, *base, *rest, timeout=30)
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and named in run.stderr
    assert not (tmp_path / "store").exists() and not (tmp_path / "rss.csv").exists()


def test_collector_targets_that_are_gone_or_the_wrong_kind_of_path(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    run = perfkit("collect", "rss", "--pid", str(gone.pid), "--out", str(tmp_path / "r.csv"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"pid {gone.pid}" in run.stderr and not (tmp_path / "r.csv").exists()
    (tmp_path / "afile").write_text("x")
    store = perfkit("collect", "pg", "--store", str(tmp_path / "afile"), "--dsn", "host=/x")
    assert store.returncode == 2 and "Traceback" not in store.stderr
    assert "afile" in store.stderr and (tmp_path / "afile").read_text() == "x"
    readonly = perfkit("collect", "pg", "--store", "/sys/perfkit-store", "--dsn", "host=/x")
    assert readonly.returncode == 2 and "Traceback" not in readonly.stderr
    assert "--store /sys/perfkit-store: cannot create" in readonly.stderr  # before connecting
    rss = perfkit("collect", "rss", "--pid", str(os.getpid()), "--out", str(tmp_path),
                  "--duration", "1")  # fmt: skip
    assert rss.returncode == 2 and "Traceback" not in rss.stderr and "folder" in rss.stderr


def test_a_dsn_typo_is_refused_without_echoing_the_password(tmp_path):
    run = perfkit("collect", "pg", "--store", str(tmp_path / "s"),
                  "--dsn", "host=/nonexistent pasword=hunter2")  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "pasword" in run.stderr and "hunter2" not in run.stderr + run.stdout
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("dsn", ["host=/nonexistent user=app password=hunter2 connect_timeout=1",
                                 "postgresql://app:hunter2@/db?host=/nonexistent"])
def test_a_password_on_the_command_line_is_warned_about_never_echoed(tmp_path, dsn):
    run = perfkit("collect", "pg", "--store", str(tmp_path / "s"), "--dsn", dsn, "--count", "1",
                  timeout=60)  # fmt: skip
    assert "hunter2" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    warning = [line for line in run.stderr.splitlines() if "password" in line.lower()]
    assert warning and "PGPASSWORD" in warning[0] and ".pgpass" in warning[0], run.stderr
    plain = perfkit("collect", "pg", "--store", str(tmp_path / "t"),
                    "--dsn", "host=/nonexistent connect_timeout=1", timeout=60)  # fmt: skip
    assert "PGPASSWORD" not in plain.stderr  # no password given: no warning


def test_summary_csv_never_overwrites_an_input_log(tmp_path):
    log = tmp_path / "a.log"
    log.write_bytes((ROOT / "tests" / "data" / "nginx_combined.log").read_bytes())
    before = log.read_bytes()
    run = perfkit("summary", str(log), "--csv", str(log))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "a.log" in run.stderr and log.read_bytes() == before
    pattern = perfkit("summary", str(tmp_path / "*.log"), "--csv", str(log))  # via a glob
    assert pattern.returncode == 2 and log.read_bytes() == before
    folder = perfkit("summary", str(log), "--csv", str(tmp_path))
    assert folder.returncode == 2 and "folder" in folder.stderr and "Traceback" not in folder.stderr
    nested = tmp_path / "new" / "deeper" / "t.csv"
    made = perfkit("summary", str(log), "--csv", str(nested))
    assert made.returncode == 0, made.stderr
    assert nested.read_text().splitlines()[0].startswith("route")


def test_summary_reads_stdin_as_dash():
    text = (ROOT / "tests" / "data" / "nginx_combined.log").read_text()
    run = perfkit("summary", "-", stdin=text)
    assert run.returncode == 0, run.stderr
    assert "route" in run.stdout.splitlines()[0] or "count" in run.stdout


def test_ctrl_c_outside_a_collector_is_exit_130_without_traceback(tmp_path):
    """SIGINT while `perfkit summary` waits on a FIFO: a clean message, exit 130 (128 + SIGINT),
    never a traceback and never 1 (a gate's "found") or 3 (a bug)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    child = subprocess.Popen([sys.executable, "-m", "perfkit.cli", "summary", str(fifo)],
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(3.0)  # importing, then waiting for a writer
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err


def test_stdout_closed_or_full_is_not_a_bug(tmp_path):
    """`perfkit summary … | head -1` (the reader closes the pipe) exits 0 quietly; stdout on a
    full disk (/dev/full) is exit 2 with one line; neither is a traceback (exit 3)."""
    import subprocess
    import sys

    log = tmp_path / "access.log"
    log.write_text("".join(
        f'10.0.0.1 - - [10/Oct/2024:13:55:{i % 60:02d} +0000] "GET /r{i} HTTP/1.1" 200 5 "-" '
        f'"ua" {1000 + i}\n' for i in range(3000)))  # fmt: skip
    command = [sys.executable, "-m", "perfkit.cli", "summary", "--by", "path", str(log)]
    piped = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    piped.stdout.readline()
    piped.stdout.close()  # as `head -1` does
    err = piped.stderr.read().decode()
    assert piped.wait(timeout=60) == 0 and "Traceback" not in err, err
    with open("/dev/full", "w") as full:
        run = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "cannot write to standard output (No space left on device)" in run.stderr
