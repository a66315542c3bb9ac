"""A bounded CPU hog: separate processes that busy-loop a share of every 10 ms slice.

Used to record runs with "drift" (the same code on a busier machine)::

    with cpu_hog(0.4, processes=1):
        run_the_load()

Each process busy-loops ``duty`` x 10 ms of every 10 ms slice (wall clock)
and sleeps the rest. The processes always stop: on leaving the block (also
when it raises), after ``seconds`` when given, after a hard limit of
``MAX_SECONDS`` in any case, and within one slice when the process that
started them is gone.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

SLICE_S = 0.010
MAX_SECONDS = 3600.0  # hard limit when no `seconds` is given


def burn(duty: float, seconds: float, parent: int) -> None:
    """Busy-loop `duty` of each slice for `seconds`, or until `parent` is gone."""
    deadline = time.monotonic() + seconds
    busy = duty * SLICE_S
    while True:
        start = time.monotonic()
        if start >= deadline or os.getppid() != parent:
            return
        while time.monotonic() - start < busy:
            pass
        rest = SLICE_S - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)


@contextlib.contextmanager
def cpu_hog(
    duty: float, processes: int = 1, seconds: float | None = None, nice: int = 0
) -> Iterator[list[int]]:
    """Run `processes` hogs, each busy `duty` (0-1) of a core, for the block; yields their pids.

    `seconds` bounds them further (they stop by themselves then); they never
    run longer than ``MAX_SECONDS``. A negative `nice` (root only) makes them take the CPU
    whenever they want it, as a neighbour's steal does, rather than wait for the scheduler
    to preempt the application's long requests: every request then waits alike.
    """
    if not 0.0 <= duty <= 1.0:
        raise ValueError(f"duty must be between 0 and 1, not {duty}")
    if processes < 0:
        raise ValueError(f"processes must be >= 0, not {processes}")
    limit = MAX_SECONDS if seconds is None else min(float(seconds), MAX_SECONDS)
    procs: list[subprocess.Popen] = []
    try:
        if duty > 0:
            for _ in range(processes):
                command = [sys.executable, "-m", __name__, str(duty), str(limit), str(os.getpid())]
                procs.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
                if nice:
                    os.setpriority(os.PRIO_PROCESS, procs[-1].pid, nice)
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":  # a hog process: duty, seconds, parent pid
    burn(float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
