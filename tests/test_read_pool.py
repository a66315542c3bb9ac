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


@needs_jemalloc
def test_the_first_read_ending_first_keeps_jemalloc_for_the_second(monkeypatch):
    """A in, B in, A out, B out: jemalloc until B ends, then the default back."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    a, b = read_pool(), read_pool()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == "jemalloc"
    b.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == before


@needs_jemalloc
def test_a_failed_read_gives_the_default_back(monkeypatch, tmp_path):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    bad = tmp_path / "bad.log"
    bad.write_text("not a log line\n" * 10)
    with pytest.raises(perfkit.InputError):
        perfkit.read_access_log(bad, format="gunicorn_timed")
    assert pa.default_memory_pool().backend_name == before


def test_a_pool_the_user_chose_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool()
    with read_pool():
        assert pa.default_memory_pool().backend_name == before.backend_name


@needs_jemalloc
@pytest.mark.parametrize("chosen", ["system", "proxy"])
def test_a_pool_set_in_code_is_left_alone(monkeypatch, chosen):
    """pa.set_memory_pool(...) before a read: the read allocates from it, and it stays."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    default = pa.default_memory_pool()
    pool = pa.system_memory_pool() if chosen == "system" else pa.proxy_memory_pool(default)
    pa.set_memory_pool(pool)
    try:
        perfkit.read_access_log(LOG)
        assert pa.default_memory_pool().backend_name == pool.backend_name
        if chosen == "proxy":
            assert pool.max_memory() > 100_000  # the read's columns came from it
    finally:
        pa.set_memory_pool(default)


@needs_jemalloc
def test_a_pool_set_during_a_read_is_kept(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    default = pa.default_memory_pool()
    try:
        with read_pool():
            pa.set_memory_pool(pa.system_memory_pool())
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(default)


@needs_jemalloc
def test_a_child_forked_during_a_read_gets_the_default_back(monkeypatch):
    import os

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    read, write = os.pipe()
    with read_pool():
        pid = os.fork()
        if pid == 0:  # the child: report its default pool and what a read does to it
            with read_pool():
                inner = pa.default_memory_pool().backend_name
            os.write(write, f"{inner} {pa.default_memory_pool().backend_name}".encode())
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    assert os.read(read, 100).decode().split() == ["jemalloc", before]
    os.close(read)
