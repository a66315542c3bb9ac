"""The Arrow memory pool perfkit's big reads allocate from.

pyarrow's default pool on Linux is mimalloc. For a read that builds a few hundred MiB of
columns from scratch on two threads, jemalloc (also built into pyarrow's wheels) took 25 %
less time and less peak memory on the access-log benchmark (`python -m benchmarks access`:
1.29 s against 1.72 s in a fresh process, 1,000,000 lines). So a read switches the default
pool to jemalloc while it runs and back after, unless the user chose a pool
(``ARROW_DEFAULT_MEMORY_POOL``) or this pyarrow has no jemalloc. Buffers keep the pool they
came from, so switching back never touches what was read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pyarrow as pa

_lock = threading.Lock()
_depth = 0  # reads running now (threads, nested calls): the pool is switched back by the last
_previous: pa.MemoryPool | None = None


@cache
def _jemalloc() -> pa.MemoryPool | None:
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowException):  # a pyarrow built without it
        return None


@contextmanager
def read_pool() -> Iterator[None]:
    """Arrow's jemalloc pool as the default pool for the duration of a read."""
    global _depth, _previous
    pool = None if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") else _jemalloc()
    if pool is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _previous = pa.default_memory_pool()
            pa.set_memory_pool(pool)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _previous is not None:
                pa.set_memory_pool(_previous)
                _previous = None
