"""Issue 19: collectors log through `logging` — levels, UTC timestamps, quiet when not a terminal.

Run as cron runs them (stderr a pipe), as a person does (stderr a terminal: a pty here), and
with a file name holding an escape sequence, which must reach the terminal as text."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

PERFKIT = [sys.executable, "-m", "perfkit"]
STAMP = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) perfkit: "


def rss(sleeper, out: Path, *options: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    command = [*PERFKIT, "collect", "rss", "--pid", str(sleeper.pid), "--out", str(out),
               "--interval", "0.05", "--duration", "0.3", *options]  # fmt: skip
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=60)


def rows(path: Path) -> int:
    return path.read_text().count("\n") - 1  # the header


def test_levels_utc_timestamps_and_names_escaped(sleeper, tmp_path):
    out = tmp_path / "rss\x1b[31m\n2026-01-01T00:00:00Z perfkit: ERROR: forged.csv"  # as text
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    done = rss(sleeper, out, "--log-level", "DEBUG")
    assert done.returncode == 0 and done.stdout == "" and "\x1b" not in done.stderr
    lines = done.stderr.splitlines()
    assert [re.match(STAMP + r"(\w+):", line).group(2) for line in lines] == ["DEBUG", "INFO"]
    assert f"sampling pid {sleeper.pid} every 0.05 s" in lines[0]
    shown = str(out).replace("\x1b", "\\x1b").replace("\n", "\\n")  # one line, no forgery
    assert lines[1].endswith(f"INFO: {rows(out)} samples -> {shown}") and rows(out) >= 2
    when = dt.datetime.strptime(re.match(STAMP, lines[1]).group(1), "%Y-%m-%dT%H:%M:%SZ")
    assert before <= when.replace(tzinfo=dt.UTC) <= before + dt.timedelta(seconds=30)


def test_quiet_when_not_a_terminal_and_talkative_on_one(sleeper, tmp_path):
    piped = rss(sleeper, tmp_path / "a.csv")
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "", "")  # cron mails nothing
    assert rows(tmp_path / "a.csv") >= 2
    for options, shown in (((), True), (("-q",), False)):
        main, child = os.openpty()
        try:
            done = rss(sleeper, tmp_path / f"t{len(options)}.csv", *options, stderr=child)
            os.close(child)
            time.sleep(0.1)
            text = b""
            while True:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the terminal's other end closed
                    break
                if not chunk:
                    break
                text += chunk
        finally:
            os.close(main)
        assert done.returncode == 0
        assert (b"INFO: " in text and b" samples -> " in text) is shown, (options, text)


def test_an_unknown_level_is_a_usage_error(sleeper, tmp_path):
    done = rss(sleeper, tmp_path / "r.csv", "--log-level", "loud")
    assert done.returncode == 2 and "--log-level" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.csv").exists()
