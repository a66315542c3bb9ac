"""Line-profile one Flask view in each Gunicorn worker with line_profiler, a dump every N calls.

Gunicorn server hooks (the recorder loads them through `examples.warehouse.gunicorn_conf`);
nothing happens unless ``WAREHOUSE_LPROF_DIR`` is set:

- ``WAREHOUSE_LPROF_DIR``: the folder the dumps go to (created);
- ``WAREHOUSE_LPROF_VIEW``: the Flask endpoint to profile (default ``dashboard``);
- ``WAREHOUSE_LPROF_EVERY``: calls of that view per dump and worker (default 10).

In ``post_worker_init`` (the app is loaded) the view in ``app.view_functions`` is replaced
by a wrapper that runs it under a `line_profiler.LineProfiler` (5.x: its enable count is
per thread, so every gthread thread is traced). Every N calls a fresh profiler takes over;
the previous one is written as ``<pid>-<first call>.lprof`` (`LineProfiler.dump_stats`) once
its last call has returned, so each dump holds exactly N calls: the replicates
`perfkit.compare_line_profiles` tests. The calls left when the worker exits go to a last,
smaller dump. Only the view's own lines are timed (time
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


class _Batch:
    """One profiler and the calls it holds: dumped once retired and its last call returned."""

    def __init__(self, view: Any, first: int) -> None:
        from line_profiler import LineProfiler

        self.profiler = LineProfiler()
        self.profiler.add_function(view)
        self.first, self.calls, self.running, self.retired = first, 0, 0, False


class ViewProfiler:
    """One worker's profiler of `view`: a fresh profiler every `every` calls, each written to
    `folder` as ``<pid>-<first call>.lprof`` once its calls have all returned."""

    def __init__(self, view: Any, folder: Path, every: int) -> None:
        self.view, self.folder, self.every = view, folder, every
        self.lock = threading.Lock()
        self.batch = _Batch(view, 1)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            batch = self.batch
            batch.calls += 1
            batch.running += 1
            if batch.calls >= self.every:  # the next call starts the next dump
                batch.retired = True
                self.batch = _Batch(self.view, batch.first + batch.calls)
        batch.profiler.enable_by_count()
        try:
            return self.view(*args, **kwargs)
        finally:
            batch.profiler.disable_by_count()
            with self.lock:
                batch.running -= 1
                if batch.retired and batch.running == 0:
                    self._dump(batch)

    def _dump(self, batch: _Batch) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{batch.first}.lprof"
        partial = path.with_suffix(".part")
        batch.profiler.dump_stats(str(partial))
        partial.replace(path)  # readers never see half a file
        return path

    def close(self) -> Path | None:
        """The last dump (the calls since the previous one), when the worker exits; None when
        there were none."""
        with self.lock:
            batch = self.batch
            if not batch.calls or batch.running:
                return None
            self.batch = _Batch(self.view, batch.first + batch.calls)
            return self._dump(batch)


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
