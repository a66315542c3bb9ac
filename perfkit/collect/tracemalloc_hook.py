"""Gunicorn server hooks that take ``tracemalloc`` snapshots every N requests per worker.

Use it as the config module (``gunicorn -c python:perfkit.collect.tracemalloc_hook app:app``)
or import the hooks in your own ``gunicorn.conf.py``::

    from perfkit.collect.tracemalloc_hook import (
        post_fork, post_request, post_worker_init, worker_exit)

Each worker starts ``tracemalloc`` (by default once it has loaded the app) and writes
``tracemalloc-<pid>-<requests>-<unix time in µs>.pickle`` (``tracemalloc.Snapshot.dump``)
after every N-th request it serves and once when it exits; `perfkit.read_tracemalloc` reads
the folder and `perfkit.allocation_growth` fits each site's growth. Settings (environment):

- ``PERFKIT_TRACEMALLOC_DIR``: the folder (default ``tracemalloc`` in the working directory),
- ``PERFKIT_TRACEMALLOC_EVERY``: requests between snapshots per worker (default 100),
- ``PERFKIT_TRACEMALLOC_FRAMES``: frames kept per allocation (default 1, the allocating line,
  as ``python -X tracemalloc``; each frame more costs time on every allocation: on a small
  Flask app, 4 frames made a request about 2.4 times slower than 1 frame),
- ``PERFKIT_TRACEMALLOC_START``: ``loaded`` (default: tracing starts in ``post_worker_init``,
  once the worker has loaded the app, so the import's allocations, which do not grow, stay out
  of every snapshot: on a small Flask app they are 30 times smaller and quicker to take
  than with ``fork``) or ``fork`` (in ``post_fork``, before the worker imports the
  app: the import's allocations are traced too),
- ``PERFKIT_TRACEMALLOC_WORKERS``: trace at most this many workers at once (default: all).
  Tracing slows a worker's every allocation (on a small Flask app, 1 frame: about 2.4 times
  fewer requests per second per traced worker); the others run at full speed. A worker claims
  one of N slots (an exclusive ``flock`` on ``slot-<i>.lock`` in the folder), held for its
  life: a recycled worker's slot passes to a new worker, so generations keep being traced.

Only allocations made after tracing starts are traced (the worker's own growth). A snapshot
holds file names and line numbers of the code, no request data.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

DIR_ENV, EVERY_ENV, FRAMES_ENV, START_ENV, WORKERS_ENV = (
    "PERFKIT_TRACEMALLOC_DIR", "PERFKIT_TRACEMALLOC_EVERY", "PERFKIT_TRACEMALLOC_FRAMES",
    "PERFKIT_TRACEMALLOC_START", "PERFKIT_TRACEMALLOC_WORKERS",
)  # fmt: skip
DEFAULT_EVERY = 100
DEFAULT_FRAMES = 1

_lock = threading.Lock()  # gthread workers call post_request from several threads
_served = 0
_slot: Any = None  # the open slot file this worker holds a lock on (PERFKIT_TRACEMALLOC_WORKERS)


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a whole number") from None


def folder() -> Path:
    """Where snapshots go (``PERFKIT_TRACEMALLOC_DIR``, default ``./tracemalloc``)."""
    return Path(os.environ.get(DIR_ENV) or "tracemalloc")


def dump(requests: int) -> Path:
    """Write this process's snapshot now, named for its pid, `requests` and the time."""
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    snapshot = tracemalloc.take_snapshot()
    path = target / f"tracemalloc-{os.getpid()}-{requests}-{time.time_ns() // 1000}.pickle"
    partial = path.with_suffix(".part")
    snapshot.dump(str(partial))
    partial.replace(path)  # readers never see half a file
    return path


def _start_at() -> str:
    value = os.environ.get(START_ENV) or "loaded"
    if value not in ("fork", "loaded"):
        raise ValueError(f"{START_ENV}={value!r}: expected 'fork' or 'loaded'")
    return value


def _claimed() -> bool:
    """Whether this worker may trace: always without ``PERFKIT_TRACEMALLOC_WORKERS``, else when
    it holds one of the N slot locks (released by the kernel when the worker ends)."""
    global _slot
    if not os.environ.get(WORKERS_ENV):
        return True
    if _slot is not None:
        return True
    import fcntl

    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    for i in range(_setting(WORKERS_ENV, 1)):
        handle = open(target / f"slot-{i}.lock", "a")  # noqa: SIM115  held for the worker's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _slot = handle
        return True
    return False


def _begin(at: str) -> None:
    if _start_at() == at and not tracemalloc.is_tracing() and _claimed():
        tracemalloc.start(_setting(FRAMES_ENV, DEFAULT_FRAMES))


def post_fork(server: Any, worker: Any) -> None:
    """Reset the worker's request count; with ``PERFKIT_TRACEMALLOC_START=fork`` start
    tracing here (``PERFKIT_TRACEMALLOC_FRAMES`` frames)."""
    global _served, _slot
    _served = 0
    _slot = None  # a lock the master held is not this worker's
    _begin("fork")


def post_worker_init(worker: Any) -> None:
    """Start tracing once the app is loaded (the default, ``PERFKIT_TRACEMALLOC_START=loaded``)."""
    _begin("loaded")


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """Count the request; every ``PERFKIT_TRACEMALLOC_EVERY``-th one dumps a snapshot."""
    global _served
    with _lock:
        _served += 1
        served = _served
        if served % _setting(EVERY_ENV, DEFAULT_EVERY) or not tracemalloc.is_tracing():
            return
        dump(served)


def worker_exit(server: Any, worker: Any) -> None:
    """A last snapshot when the worker ends (recycled by ``max_requests`` or stopped)."""
    with _lock:
        if tracemalloc.is_tracing() and _served % _setting(EVERY_ENV, DEFAULT_EVERY):
            dump(_served)
