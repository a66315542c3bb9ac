"""perfkit.sandbox.cpuhog: the hog burns about `duty` of a core and never outlives its block."""

from __future__ import annotations

import time

import psutil
import pytest

from perfkit.sandbox.cpuhog import cpu_hog


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def _gone(pids: list[int]) -> bool:
    return all(
        not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        for pid in pids
    )


def test_burns_about_duty_of_a_core():
    with cpu_hog(0.5, processes=1, seconds=30) as pids:
        procs = [psutil.Process(pid) for pid in pids]
        time.sleep(0.3)  # interpreter start-up is not the hog's steady state
        before, start = _cpu_seconds(procs), time.monotonic()
        time.sleep(1.0)
        used = (_cpu_seconds(procs) - before) / (time.monotonic() - start)
    assert len(pids) == 1
    # wall-clock slices: a busy machine gives the hog less, never more
    assert 0.25 <= used <= 0.65, used
    assert _gone(pids)


def test_no_process_survives_the_block_even_when_it_raises():
    with pytest.raises(RuntimeError), cpu_hog(0.2, processes=2) as pids:
        assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
        raise RuntimeError("the body failed")
    assert _gone(pids)


def test_stops_by_itself_after_seconds():
    with cpu_hog(0.1, processes=1, seconds=0.3) as pids:
        proc = psutil.Process(pids[0])
        proc.wait(timeout=10)  # returns once the hog exits on its own
    assert _gone(pids)


def test_rejects_a_duty_outside_0_1():
    with pytest.raises(ValueError), cpu_hog(1.5):
        pass
