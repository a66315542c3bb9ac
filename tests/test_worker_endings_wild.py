"""Worker endings on a real Gunicorn run of an app that is not the warehouse (recorded by
tests/data/wild/memory_workers/record.py; provenance in its README): the recorder's own truth (the
worker pids it polled, the one it killed) and the access log's per-pid request counts (a recycled
worker served exactly max_requests) against read_gunicorn_log, worker_generations and the memory
report, which must agree with the API (one code path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import perfkit
from perfkit.report.memory import memory_report

HERE = Path(__file__).parent / "data" / "wild" / "memory_workers"
TRUTH = json.loads((HERE / "truth.json").read_text())


@pytest.fixture(scope="module")
def generations():
    return perfkit.worker_generations(perfkit.read_gunicorn_log(HERE / "error.log"))


def test_every_worker_the_recorder_saw_is_a_generation(generations):
    assert sorted(generations["worker_pid"]) == TRUTH["worker_pids"]
    assert generations["generation"].tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7]


def test_each_ending_agrees_with_the_recorder_and_the_access_log(generations):
    by = generations.set_index("worker_pid")["ending"].astype(str)
    assert by[TRUTH["killed_by_recorder"]] == "killed"
    assert (by == "killed").sum() == 1 and (by == "timed_out").sum() == TRUTH["sleep_requests"]
    served = perfkit.read_access_log(HERE / "access.log")["pid"].value_counts()
    recycled = set(by.index[by == "recycled"])
    assert recycled == set(served.index[served == TRUTH["max_requests"]])  # max_requests each
    last_two = set(generations["worker_pid"].tail(2))
    assert set(by.index[by == "stopped"]) == last_two  # alive at the master's TERM


def test_the_memory_report_shows_the_same_endings_as_the_api(generations):
    report = memory_report(HERE)
    counts = generations["ending"].astype(str).value_counts().to_dict()
    assert report.summary()["worker_endings"] == counts
    text = report.verdict().data
    assert f"{len(generations)} workers" in text and "**1 killed by SIGKILL**" in text
    assert str(TRUTH["killed_by_recorder"]) in text
    assert "replaced 7 time(s)" in text  # 5 recycled + 1 killed + 1 timed out, from the log
    names = [t.name for t in report.figure().data]
    assert "workers killed: 1" in names and "workers recycled: 5" in names
    trust = report.run.trust()
    row = trust[trust["source"] == "Gunicorn error log"].iloc[0]
    assert row["records"] == len(perfkit.read_gunicorn_log(HERE / "error.log"))
    assert row["files"] == "error.log"


def test_the_error_log_is_not_read_as_an_access_log(tmp_path):
    """A run folder with only an error log and memory: the access-log search must not take
    error.log for an access log (it would fail, and say so, for nothing)."""
    for name in ("error.log", "memory.csv"):
        (tmp_path / name).write_bytes((HERE / name).read_bytes())
    report = memory_report(tmp_path)
    assert "access log" not in report.run.sources and not report.run.problems
    assert report.summary()["worker_endings"]["killed"] == 1


def test_worker_timeouts_are_counted_per_step_of_a_real_step_load(tmp_path):
    """The wild sync2 step load (tests/data/wild/capacity/sync2, its real Gunicorn log) with
    WORKER TIMEOUT lines planted at known times: 2 inside the 32-user step, 3 inside the 64-user
    step, 1 in the settling gap between steps (no step's): the report counts 5, per step."""
    import shutil

    from perfkit.report.capacity import capacity_report

    source = Path(__file__).parent / "data" / "wild" / "capacity" / "sync2"
    run = tmp_path / "sync2"
    shutil.copytree(source, run)
    master = (run / "gunicorn.log").read_text().split("] [", 2)[1]
    planted = ["08:38:05", "08:38:10", "08:38:18", "08:38:41", "08:38:50", "08:38:54"]
    with (run / "gunicorn.log").open("a") as handle:
        for i, clock in enumerate(planted):
            handle.write(f"[2026-12-07 {clock} +0000] [{master}] [CRITICAL] "
                         f"WORKER TIMEOUT (pid:{9000 + i})\n")  # fmt: skip
    report = capacity_report(run)
    steps = report.steps.set_index("users")["worker_timeouts"]
    assert steps.to_dict() == {1: 0, 2: 0, 4: 0, 8: 0, 16: 0, 32: 2, 48: 0, 64: 3}
    assert report.capacity_summary()["worker_timeouts"] == 5
    assert "5 worker timeouts** (`WORKER TIMEOUT`), from the 32-user step on" in \
        report.verdict().data  # fmt: skip
    assert report.server_cap.servers == 2  # the cap still comes from Gunicorn's own log


def test_the_overview_counts_restarts_kills_and_timeouts_per_hour():
    from perfkit.analysis.workers import worker_event_rates
    from perfkit.report.overview import overview_report

    report = overview_report(HERE)
    workers = report.summary()["workers"]
    assert workers == worker_event_rates(perfkit.read_gunicorn_log(HERE / "error.log"))
    assert workers["restarts"] == TRUTH["workers_seen"] - 2  # all but the first two workers
    assert (workers["killed"], workers["timed_out"], workers["recycled"]) == (1, 1, 5)
    assert workers["errors"] == 1  # the timed-out request's traceback
    # 14 s of log: rates are per hour over at least a minute, never inflated by a short log
    assert workers["restarts_per_hour"] == pytest.approx(7 * 60)
    assert "**Gunicorn workers: 7 restarts" in report.verdict().data


def test_the_loadmem_leak_run_recycled_eleven_workers_and_stopped_two():
    """tests/data/wild/loadmem/leak (its README's truth): 13 boots, 11 'Autorestarting' lines;
    the two alive at the end stopped at the master's TERM."""
    events = perfkit.read_gunicorn_log(HERE.parent / "loadmem" / "leak" / "error.log")
    endings = perfkit.worker_generations(events)["ending"].astype(str).value_counts()
    assert endings.to_dict() == {"recycled": 11, "stopped": 2}
    report = memory_report(HERE.parent / "loadmem" / "leak")
    assert report.summary()["worker_endings"] == {"recycled": 11, "stopped": 2}
    assert report.summary()["recycled_workers"] == 11  # the RSS samples' count agrees


@pytest.mark.parametrize(("access", "error"), [
    ("gunicorn-access.log", "gunicorn-error.log"),  # a common naming: both start "gunicorn"
    ("app.log", "error.log.gz"),  # the error log compressed, the access log not
    ("access.log", "gunicorn.log"),
])  # fmt: skip
def test_run_folders_tell_the_access_log_from_the_error_log(tmp_path, access, error):
    import gzip
    import shutil

    from perfkit.report.evidence import load_run

    shutil.copy(HERE / "access.log", tmp_path / access)
    data = (HERE / "error.log").read_bytes()
    (tmp_path / error).write_bytes(gzip.compress(data) if error.endswith(".gz") else data)
    run = load_run(tmp_path)
    assert run.sources == {"access log": [str(tmp_path / access)],
                           "gunicorn log": [str(tmp_path / error)]}  # fmt: skip
    assert not run.problems and len(run.requests) == 402 and len(run.workers) == 38


def test_a_bad_first_line_is_quoted_masked_in_the_error(tmp_path):
    from perfkit.errors import InputError

    path = tmp_path / "gunicorn-error.log"
    path.write_text('127.0.0.1 - - [07/Dec/2026:14:00:00 +0000] "GET /x?token=s3cr3tT0ken HTTP/1.1" '
                    '200 2 "-" "curl"\n')  # fmt: skip
    with pytest.raises(InputError) as caught:
        perfkit.read_gunicorn_log(path)
    assert "s3cr3tT0ken" not in str(caught.value) and "token=" in str(caught.value)
