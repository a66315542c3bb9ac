"""The Arrow memory pool perfkit's big reads allocate from.

pyarrow's default pool on Linux is mimalloc. For a read that builds a few hundred MiB of
columns from scratch on two threads, jemalloc (also built into pyarrow's wheels) took 25 %
less time and less peak memory on the access-log benchmark (`python -m benchmarks access`:
1.34 s against 1.72-1.77 s in a fresh process, 1,000,000 lines). So a read switches the
default pool to jemalloc while it runs and back after. It does so only while the default is
Arrow's own mimalloc pool: a pool the user chose (``ARROW_DEFAULT_MEMORY_POOL``, or
`pyarrow.set_memory_pool` with another allocator or a proxy or logging pool) is left
alone, and so is a pool set while a read runs. Buffers keep the pool they came from, so
switching back never touches what was read.
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


def _plain(pool: pa.MemoryPool, backend: str) -> bool:
    """`pool` is Arrow's own global pool of `backend`, not a proxy or logging pool over it
    (pyarrow hands both back as a plain MemoryPool): an allocation from the global pool
    shows in `pool`'s count only when they are one."""
    if pool.backend_name != backend:
        return False
    own = pa.mimalloc_memory_pool() if backend == "mimalloc" else _jemalloc()
    if own is None:
        return False
    before = pool.num_allocations()
    probe = pa.allocate_buffer(64, memory_pool=own)
    seen = bool(pool.num_allocations() > before)
    del probe
    return seen


@contextmanager
def read_pool() -> Iterator[None]:
    """Arrow's jemalloc pool as the default pool for the duration of a read."""
    global _depth, _previous
    pool = None if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") else _jemalloc()
    with _lock:
        if _depth == 0:
            if pool is None or not _plain(pa.default_memory_pool(), "mimalloc"):
                pool = None  # the user's choice, or nothing to switch to
            else:
                _previous = pa.default_memory_pool()
                pa.set_memory_pool(pool)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _previous is not None:
                if _plain(pa.default_memory_pool(), "jemalloc"):  # not changed meanwhile
                    pa.set_memory_pool(_previous)
                _previous = None


def _after_fork_in_child() -> None:
    """A child forked during a read has no read running: the pool goes back."""
    global _depth, _previous, _lock
    _lock = threading.Lock()
    if _previous is not None and _plain(pa.default_memory_pool(), "jemalloc"):
        pa.set_memory_pool(_previous)
    _depth, _previous = 0, None


os.register_at_fork(after_in_child=_after_fork_in_child)
