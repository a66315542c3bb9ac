"""The recorder's Gunicorn config module (``-c python:examples.warehouse.gunicorn_conf``).

Server hooks, each off unless its environment asks for it:

- tracemalloc snapshots (`perfkit.collect.tracemalloc_hook`) when ``PERFKIT_TRACEMALLOC_DIR``
  is set (its other ``PERFKIT_TRACEMALLOC_*`` settings apply);
- a line profile of one view (`examples.warehouse.lineprof`) when ``WAREHOUSE_LPROF_DIR``
  is set.
"""

from __future__ import annotations

import os
from typing import Any

from examples.warehouse import lineprof
from perfkit.collect import tracemalloc_hook


def _tracing() -> bool:
    return bool(os.environ.get(tracemalloc_hook.DIR_ENV))


def post_fork(server: Any, worker: Any) -> None:
    if _tracing():
        tracemalloc_hook.post_fork(server, worker)


def post_worker_init(worker: Any) -> None:
    if _tracing():
        tracemalloc_hook.post_worker_init(worker)
    lineprof.post_worker_init(worker)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    if _tracing():
        tracemalloc_hook.post_request(worker, req, environ, resp)


def worker_exit(server: Any, worker: Any) -> None:
    lineprof.worker_exit(server, worker)
    if _tracing():
        tracemalloc_hook.worker_exit(server, worker)
