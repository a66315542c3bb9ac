"""read_gunicorn_log and worker_generations on planted logs written as Gunicorn's own code writes
them (the message texts of its arbiter and workers, versions 20, 21-23 and 27, read from their
sources): every event found, the variants of one event read alike, and the endings where the easy
rule is wrong (a SIGKILL after a timeout is the timeout's; SIGTERM at shutdown is a stop)."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from perfkit.analysis.workers import worker_generations
from perfkit.errors import InputError
from perfkit.io.gunicorn_log import read_gunicorn_log
from perfkit.io.redact import redact_text


def write(path, lines: list[str]):
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def at(second: int, pid: int, level: str, message: str) -> str:
    return f"[2026-12-07 14:00:{second:02d} +0100] [{pid}] [{level}] {message}"


LIFE = [
    at(0, 100, "INFO", "Starting gunicorn 23.0.0"),
    at(0, 100, "INFO", "Listening at: http://127.0.0.1:8000 (100)"),
    at(0, 100, "INFO", "Using worker: sync"),
    at(0, 101, "INFO", "Booting worker with pid: 101"),
    at(0, 102, "INFO", "Booting worker with pid: 102"),
    at(3, 101, "INFO", "Autorestarting worker after current request."),
    at(3, 101, "INFO", "Worker exiting (pid: 101)"),
    at(3, 103, "INFO", "Booting worker with pid: 103"),
    at(9, 100, "CRITICAL", "WORKER TIMEOUT (pid:102)"),
    at(9, 100, "ERROR", "Worker (pid:102) exited with code 1"),  # 21-23 write both lines
    at(9, 100, "ERROR", "Worker (pid:102) exited with code 1."),
    at(10, 100, "ERROR", "Worker (pid:102) was sent SIGKILL! Perhaps out of memory?"),
    at(10, 104, "INFO", "Booting worker with pid: 104"),
    at(12, 103, "ERROR", "Error handling request /boom?token=s3cret&page=2"),
    "Traceback (most recent call last):",
    '  File "app.py", line 9, in boom',
    "ValueError: password=hunter2",
    at(20, 100, "ERROR", "Worker (pid:103) was sent SIGKILL! Perhaps out of memory?"),
    at(20, 105, "INFO", "Booting worker with pid: 105"),
    at(30, 100, "INFO", "Handling signal: term"),
    at(30, 104, "INFO", "Worker exiting (pid: 104)"),
    at(30, 105, "INFO", "Worker exiting (pid: 105)"),
    at(31, 100, "INFO", "Shutting down: Master"),
]


def test_every_event_is_found_with_its_worker_and_fields(tmp_path):
    events = read_gunicorn_log(write(tmp_path / "error.log", LIFE))
    assert len(events) == len(LIFE) - 3  # the three traceback lines belong to the entry above
    kinds = events["kind"].astype(str).value_counts().to_dict()
    assert kinds == {"boot": 5, "signalled": 2, "exit_code": 2, "worker_exit": 3, "start": 1,
                     "listening": 1, "worker_class": 1, "autorestart": 1, "timeout": 1,
                     "error": 1, "master_signal": 1, "shutdown": 1}  # fmt: skip
    assert events["time"].iloc[0] == pd.Timestamp("2026-12-07 13:00:00", tz="UTC")  # +0100
    boots = events[events["kind"] == "boot"]
    assert list(boots["worker_pid"]) == [101, 102, 103, 104, 105]
    assert events.loc[events["kind"] == "autorestart", "worker_pid"].tolist() == [101]  # its own
    assert events.loc[events["kind"] == "start", "version"].tolist() == ["23.0.0"]
    assert events.loc[events["kind"] == "worker_class", "worker_class"].tolist() == ["sync"]
    assert events.loc[events["kind"] == "master_signal", "signal"].tolist() == ["SIGTERM"]
    assert events.loc[events["kind"] == "exit_code", "exit_code"].tolist() == [1, 1]
    error = events[events["kind"] == "error"].iloc[0]
    assert error["line"] == 14 and error["worker_pid"] == 103
    assert error["detail"].splitlines()[0] == "Traceback (most recent call last):"
    # secrets in a request line or an exception message never reach the frame
    assert "s3cret" not in error["message"] and "page=2" in error["message"]
    assert "hunter2" not in error["detail"] and "password=" in error["detail"]
    assert events.attrs["perfkit"]["lines"] == len(LIFE)
    assert events.attrs["perfkit"]["rejected"] == 0


@pytest.mark.parametrize(("message", "signal"), [
    ("Worker (pid:7) was sent SIGKILL! Perhaps out of memory?", "SIGKILL"),  # 21-27
    ("Worker (pid:7) was sent code 137!", "SIGKILL"),  # 21-23: the raw status, 0x80 | 9
    ("Worker (pid:7) was sent code 134!", "SIGABRT"),  # a core dump's flag, 0x80 | 6
    ("Worker (pid:7) was sent SIGABRT!", "SIGABRT"),  # 27
    ("Worker with pid 7 was terminated due to signal 9", "SIGKILL"),  # 20
    ("Worker with pid 7 was terminated due to signal 15", "SIGTERM"),
])  # fmt: skip
def test_the_versions_ways_of_saying_a_worker_died_of_a_signal(tmp_path, message, signal):
    events = read_gunicorn_log(write(tmp_path / "e.log", [at(1, 1, "ERROR", message)]))
    row = events.iloc[0]
    assert (row["kind"], row["worker_pid"], row["signal"]) == ("signalled", 7, signal)


def test_endings_where_the_easy_rule_is_wrong(tmp_path):
    gens = worker_generations(read_gunicorn_log(write(tmp_path / "error.log", LIFE)))
    by = gens.set_index("worker_pid")
    assert by["ending"].astype(str).to_dict() == {
        101: "recycled",  # max_requests
        102: "timed_out",  # SIGKILL after WORKER TIMEOUT: the timeout's kill, not memory's
        103: "killed",  # SIGKILL with no timeout: perhaps out of memory
        104: "stopped",  # exited after the master handled TERM
        105: "stopped",
    }
    assert by.loc[102, "signal"] == "SIGKILL" and by.loc[102, "exit_code"] == 1
    assert list(gens["generation"]) == [0, 0, 1, 2, 3]  # in boot order
    assert by.loc[101, "lifetime_s"] == 3.0 and by.loc[103, "lifetime_s"] == 17.0


def test_a_worker_alive_at_the_end_a_pid_reused_and_one_booted_before_the_log(tmp_path):
    lines = [
        at(0, 9, "INFO", "Autorestarting worker after current request."),  # booted earlier
        at(0, 9, "INFO", "Worker exiting (pid: 9)"),
        at(1, 20, "INFO", "Booting worker with pid: 20"),
        at(2, 20, "INFO", "Worker exiting (pid: 20)"),  # no reason given: exited
        at(3, 20, "INFO", "Booting worker with pid: 20"),  # the pid reused: a new worker
        at(4, 1, "ERROR", "Worker (pid:21) exited with code 3."),  # a crash
    ]
    gens = worker_generations(read_gunicorn_log(write(tmp_path / "e.log", lines)))
    assert [(p, str(e)) for p, e in zip(gens["worker_pid"], gens["ending"], strict=True)] == [
        (9, "recycled"), (21, "crashed"), (20, "exited"), (20, "running")]  # fmt: skip
    assert gens["booted"].isna().tolist() == [True, True, False, False]
    assert pd.isna(gens["ended"].iloc[3]) and gens["exit_code"].iloc[1] == 3


def test_rotated_and_compressed_files_read_in_time_order(tmp_path):
    with gzip.open(tmp_path / "error.log.1.gz", "wt") as handle:
        handle.write("".join(f"{line}\n" for line in LIFE[:10]))
    write(tmp_path / "error.log", LIFE[10:])
    events = read_gunicorn_log([tmp_path / "error.log", tmp_path / "error.log.1.gz"])
    assert events["time"].is_monotonic_increasing and len(events) == len(LIFE) - 3
    assert set(events["source"]) == {"error.log", "error.log.1.gz"}


def test_bad_input_is_named_and_stray_lines_are_counted(tmp_path):
    other = write(tmp_path / "access.log", ['127.0.0.1 - - [07/Dec/2026:14:00:00 +0000] "GET / '
                                             'HTTP/1.1" 200 2 "-" "curl"'])  # fmt: skip
    with pytest.raises(InputError, match=r"access\.log: no line is a Gunicorn error-log entry"):
        read_gunicorn_log(other)
    with pytest.raises(InputError, match="dtype_backend"):
        read_gunicorn_log(other, dtype_backend="arrow")
    stray = write(tmp_path / "e.log", ["leftover from a crash", "password=hunter2", *LIFE[:3]])
    with pytest.warns(UserWarning):
        events = read_gunicorn_log(stray)
    account = events.attrs["perfkit"]
    assert (account["lines"], account["rejected"]) == (5, 2)
    assert account["rejected_lines"][0]["line"] == 1
    assert "hunter2" not in str(account)  # rejected lines are sampled redacted


def test_a_hostile_message_stays_data(tmp_path):
    events = read_gunicorn_log(write(tmp_path / "e.log", [
        at(1, 5, "ERROR", "Error handling request /<script>alert(1)</script>")]))  # fmt: skip
    assert events["message"].iloc[0] == "Error handling request /<script>alert(1)</script>"


def test_pair_inside_a_pair_is_redacted():
    """An exception's text 'ValueError: password=x' is a pair whose value is a pair."""
    assert redact_text("ValueError: password=hunter2") == "ValueError: password=REDACTED"
    assert redact_text("k: v: secret=zz, a=1") == "k: v: secret=REDACTED, a=1"
    assert redact_text("error: a=1") == "error: a=1"
