"""Gunicorn config for the memray recordings: each worker runs under ``memray.Tracker`` from
``post_worker_init`` (the app loaded) to ``worker_exit``, writing
``$MEMRAY_DIR/memray-<pid>.bin``; what is still allocated at exit is the worker's leak."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_tracker: Any = None


def post_worker_init(worker: Any) -> None:
    global _tracker
    import memray

    folder = Path(os.environ["MEMRAY_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    _tracker = memray.Tracker(str(folder / f"memray-{os.getpid()}.bin"))
    _tracker.__enter__()


def worker_exit(server: Any, worker: Any) -> None:
    if _tracker is not None:
        _tracker.__exit__(None, None, None)
