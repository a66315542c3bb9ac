"""read_gunicorn_log and worker_generations on real Gunicorn error logs: 5 scenarios (max_requests
recycling, worker timeouts, a worker killed by the kernel's OOM killer in a memory cgroup, errors
with reload/TTIN/TTOU signals, gthread) under Gunicorn 20.1.0, 21.2.0, 23.0.0 and 27.0.1, recorded
by tests/data/wild/gunicorn_errors/record.py (provenance in its README). Truth is each run's
truth.json, written from what the recorder did and saw (psutil, the cgroup's OOM counter, dmesg),
never from the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import perfkit

HERE = Path(__file__).parent / "data" / "wild" / "gunicorn_errors"
RUNS = sorted(p.parent for p in HERE.glob("*/*/truth.json"))
# how the recorder saw a worker end (psutil, its own signals, the kernel) -> worker_generations'
ENDING = {"shutdown": "stopped", "replaced by HUP (reload)": "stopped", "stopped by TTOU": "stopped",
          "recycled (max_requests)": "recycled", "timed out (aborted by the master)": "timed_out",
          "OOM-killed by the kernel": "killed"}  # fmt: skip


def test_every_version_and_scenario_is_here():
    assert {p.parent.name for p in RUNS} >= {"20.1.0", "21.2.0", "23.0.0", "27.0.1"}
    assert {p.name for p in RUNS} == {"recycle", "timeout", "oom", "errors", "gthread"}


@pytest.mark.parametrize("run", RUNS, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_every_event_the_recorder_caused_is_found(run):
    truth = json.loads((run / "truth.json").read_text())
    want = truth["expected"]
    events = perfkit.read_gunicorn_log(run / "error.log")
    kinds = events["kind"].astype(str)
    assert (kinds == "boot").sum() == want["boots"]
    assert (kinds == "autorestart").sum() == want["autorestarts"]
    assert (kinds == "timeout").sum() == want["worker_timeouts"]
    assert (kinds == "worker_exit").sum() == want["worker_exits"]
    assert set(events.loc[kinds == "worker_class", "worker_class"]) == {want["worker_class"]}
    handled = events.loc[kinds == "master_signal", "signal"].value_counts().to_dict()
    assert handled == {f"SIG{k.upper()}": n for k, n in want["signals_handled"].items()}
    killed = set(events.loc[(kinds == "signalled") & (events["signal"] == "SIGKILL"),
                            "worker_pid"])  # fmt: skip
    assert killed == set(want.get("sigkilled_pids", []))
    if "gunicorn_request_errors" in want:
        errors = events["message"].str.startswith("Error handling request")
        assert int(errors.sum()) == want["gunicorn_request_errors"]
    assert events.attrs["perfkit"]["rejected"] == 0


@pytest.mark.parametrize("run", RUNS, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_each_worker_ends_as_the_recorder_saw(run):
    truth = json.loads((run / "truth.json").read_text())
    want = truth["expected"]
    gens = perfkit.worker_generations(perfkit.read_gunicorn_log(run / "error.log"))
    by = gens.set_index("worker_pid")["ending"].astype(str)
    seen = {w["pid"]: ENDING[w["end"]] for w in truth["worker_pids"]}
    assert by.to_dict() == seen  # every worker, each ending as the recorder saw it end
    assert set(by.index[by == "killed"]) == set(want.get("sigkilled_pids", []))
    assert set(by.index[by == "timed_out"]) == set(want.get("timed_out_pids", []))
    assert (by == "recycled").sum() == want["autorestarts"]
    assert not (by == "crashed").any()  # workers stopped on purpose are not crashes
    if run.name == "oom":  # the kernel's own record of whom it killed
        assert set(by.index[by == "killed"]) == set(truth["oom"]["kernel"]["dmesg_killed_pids"])


@pytest.mark.parametrize("run", RUNS, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_restarts_are_replacements_not_scale_ups_or_reloads(run):
    """A restart is a worker replaced because it ended (recycled, killed, timed out): the
    `errors` runs boot 5 workers (HUP reload, TTIN, TTOU) and restart none."""
    from perfkit.analysis.workers import worker_event_rates

    truth = json.loads((run / "truth.json").read_text())
    ends = [ENDING[w["end"]] for w in truth["worker_pids"]]
    want = sum(e in ("recycled", "killed", "timed_out") for e in ends)
    assert worker_event_rates(perfkit.read_gunicorn_log(run / "error.log"))["restarts"] == want
    if run.name == "errors":
        assert want == 0 and truth["expected"]["boots"] == 5
