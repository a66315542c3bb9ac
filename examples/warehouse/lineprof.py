"""Line-profile one Flask view in each Gunicorn worker with line_profiler, a dump every N calls.

Gunicorn server hooks (the recorder loads them through `examples.warehouse.gunicorn_conf`);
nothing happens unless ``WAREHOUSE_LPROF_DIR`` is set:

- ``WAREHOUSE_LPROF_DIR``: the folder the dumps go to (created);
- ``WAREHOUSE_LPROF_VIEW``: the Flask endpoint to profile (default ``dashboard``);
- ``WAREHOUSE_LPROF_EVERY``: calls of that view per dump and worker (default 10).

In ``post_worker_init`` (the app is loaded) the view in ``app.view_functions`` is replaced
by a wrapper that runs it under a `line_profiler.LineProfiler` (5.x: its enable count is
per thread, so every gthread thread is traced). After every N-th call the worker writes
``<pid>-<first call>.lprof`` (`LineProfiler.dump_stats`) and starts a fresh profiler, so each
dump holds N calls: the replicates `perfkit.compare_line_profiles` tests; the calls left
when the worker exits go to a last, smaller dump. Only the view's own lines are timed (time
in what it calls is charged to the calling line).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

DIR_ENV, VIEW_ENV, EVERY_ENV = (
    "WAREHOUSE_LPROF_DIR", "WAREHOUSE_LPROF_VIEW", "WAREHOUSE_LPROF_EVERY")


class ViewProfiler:
    """One worker's profiler of `view`, rotated every `every` calls into `folder`."""

    def __init__(self, view: Any, folder: Path, every: int) -> None:
        self.view, self.folder, self.every = view, folder, every
        self.lock = threading.Lock()
        self.calls = 0  # calls begun in this worker
        self.first = 1  # the first call of the current dump
        self.running = 0  # calls of the current profiler not yet returned
        self.profiler = self._fresh()

    def _fresh(self) -> Any:
        from line_profiler import LineProfiler

        profiler = LineProfiler()
        profiler.add_function(self.view)
        return profiler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.calls += 1
            profiler = self.profiler
            self.running += 1
        profiler.enable_by_count()
        try:
            return self.view(*args, **kwargs)
        finally:
            profiler.disable_by_count()
            with self.lock:
                self.running -= 1
                if profiler is self.profiler and self.calls - self.first + 1 >= self.every \
                        and self.running == 0:  # fmt: skip
                    self._dump()

    def _dump(self) -> Path | None:
        """Write the current profiler's stats (lock held) and start a fresh one."""
        if self.calls < self.first:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{self.first}.lprof"
        partial = path.with_suffix(".part")
        self.profiler.dump_stats(str(partial))
        partial.replace(path)
        self.first = self.calls + 1
        self.profiler = self._fresh()
        return path

    def close(self) -> Path | None:
        """The last dump (the calls since the previous one), when the worker exits."""
        with self.lock:
            return self._dump()


_active: ViewProfiler | None = None


def post_worker_init(worker: Any) -> None:
    """Wrap the view named by ``WAREHOUSE_LPROF_VIEW`` in this worker's app."""
    global _active
    folder = os.environ.get(DIR_ENV, "")
    if not folder:
        return
    app = worker.wsgi
    name = os.environ.get(VIEW_ENV) or "dashboard"
    view = app.view_functions[name]
    _active = ViewProfiler(view, Path(folder), max(1, int(os.environ.get(EVERY_ENV) or 10)))
    app.view_functions[name] = functools.wraps(view)(_active)


def worker_exit(server: Any, worker: Any) -> None:
    """Dump the calls since the last dump."""
    if _active is not None:
        _active.close()
