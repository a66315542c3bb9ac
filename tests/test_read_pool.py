"""perfkit.io._pool: reads allocate from jemalloc and give the default pool back after."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

import perfkit
from perfkit.io import _pool, access_log
from perfkit.io._pool import read_pool
from tests.servers import ROOT

LOG = ROOT / "data" / "baseline" / "access.log.gz"
needs_jemalloc = pytest.mark.skipif(_pool._jemalloc() is None, reason="pyarrow without jemalloc")


@needs_jemalloc
def test_a_read_runs_on_jemalloc_and_gives_the_default_back(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    seen = []
    real = access_log._parse_block

    def spy(*args, **kwargs):
        seen.append(pa.default_memory_pool().backend_name)
        return real(*args, **kwargs)

    monkeypatch.setattr(access_log, "_parse_block", spy)
    frame = perfkit.read_access_log(LOG)
    assert seen and set(seen) == {"jemalloc"}
    assert pa.default_memory_pool().backend_name == before
    assert frame["path"].str.len().sum() > 0  # the buffers outlive the switch back


@needs_jemalloc
def test_overlapping_reads_switch_back_once_the_last_ends(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    inside, release = threading.Event(), threading.Event()

    def first() -> None:
        with read_pool():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(10)
    with read_pool():
        assert pa.default_memory_pool().backend_name == "jemalloc"
    assert pa.default_memory_pool().backend_name == "jemalloc"  # the first read still runs
    release.set()
    thread.join(10)
    assert pa.default_memory_pool().backend_name == before


def test_a_pool_the_user_chose_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool()
    with read_pool():
        assert pa.default_memory_pool().backend_name == before.backend_name
