"""Live PostgreSQL statistics against a real PostgreSQL 15 with pg_stat_statements."""

from __future__ import annotations

import re

import psycopg
import pyarrow.parquet as pq
import pytest

from perfkit import InputError, PerfkitWarning
from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.io.pg_stat import StatisticsUnavailable


@pytest.fixture(scope="module")
def bench(pg):
    pg.pgbench("-i", "-s", "1")
    pg.pgbench("-c", "2", "-t", "100")
    return pg


@pytest.mark.parametrize("view", ["statements", "tables", "indexes", "database", "activity"])
def test_every_view_reads(bench, view):
    frame = read_pg_stat(bench.dsn(), view)
    assert len(frame) > 0
    assert frame["snapshot_time"].nunique() == 1
    if view == "statements":
        assert {
            "queryid",
            "calls",
            "total_exec_time",
            "mean_exec_time",
            "dealloc",
            "stats_reset",
        } <= set(frame)
        assert "total_time" not in frame  # older names map to the newest
    if view == "indexes":
        row = frame.set_index("indexrelname").loc["pgbench_accounts_pkey"]
        assert row["indisprimary"] and row["index_bytes"] > 0 and "btree (aid)" in row["indexdef"]
    if view == "tables":
        accounts = frame.set_index("relname").loc["pgbench_accounts"]
        assert accounts["n_live_tup"] == 100_000 and accounts["heap_blks_hit"] > 0


def test_reads_are_read_only_and_named(bench):
    with psycopg.connect(bench.dsn()) as conn:
        read_pg_stat(conn, "statements")
        assert not conn.read_only  # the caller's connection is left as it was
    snapshot_pg(bench.dsn(), bench.root / "store-ro")
    ours = [
        line.split("] ", 1)[1] for line in bench.log().splitlines() if line.startswith("[perfkit] ")
    ]
    statements = [s.split("statement: ", 1)[1] for s in ours if "statement: " in s]
    assert any(s.startswith("BEGIN READ ONLY") for s in statements)
    assert any("statement_timeout" in s for s in statements) and any(
        "lock_timeout" in s for s in statements
    )
    allowed = re.compile(
        r"(?is)^\s*(begin read only|commit|rollback|select|set local|savepoint|release"
        r"|copy \(select)\b"
    )
    assert statements and all(allowed.match(s) for s in statements), [
        s for s in statements if not allowed.match(s)
    ]


def test_pg_monitor_role_sees_everything(bench):
    bench.psql(
        "do $$ begin if not exists (select from pg_roles where rolname = 'watcher') then "
        "create role watcher login in role pg_monitor; end if; end $$"
    )
    frame = read_pg_stat(bench.dsn(user="watcher"), "statements")
    assert frame["query"].str.contains("pgbench_accounts").any()  # other users' query texts too
    for view in ("tables", "indexes", "database", "activity"):
        assert len(read_pg_stat(bench.dsn(user="watcher"), view)) > 0


def test_without_the_extension(bench, tmp_path):
    bench.psql("create database noext")
    with pytest.raises(StatisticsUnavailable, match="CREATE EXTENSION pg_stat_statements"):
        read_pg_stat(bench.dsn(dbname="noext"), "statements")
    with pytest.warns(PerfkitWarning, match="shared_preload_libraries"):
        written = snapshot_pg(bench.dsn(dbname="noext"), tmp_path / "store")
    assert "statements" not in written and {"tables", "database", "activity"} <= set(written)
    assert len(read_pg_stat(tmp_path / "store", "database")) > 0


def test_store_files_carry_format_version_and_read_back(bench, tmp_path):
    store = tmp_path / "store"
    first = snapshot_pg(bench.dsn(), store)
    bench.pgbench("-c", "1", "-t", "20")
    snapshot_pg(bench.dsn(), store)
    meta = pq.read_schema(first["statements"]).metadata
    assert meta[b"perfkit.format_version"] == b"1" and meta[b"perfkit.view"] == b"statements"
    (store / "statements" / ".stray.parquet.123.tmp").write_bytes(b"half a file")  # a killed writer
    series = read_pg_stat(store, "statements")
    assert series["snapshot_time"].nunique() == 2


def test_unreachable_server_and_secrets(bench):
    dsn = f"host=127.0.0.1 port={bench.port + 1 if bench.port < 65535 else 1} user=postgres password=hunter2"
    with pytest.raises(InputError) as caught:
        read_pg_stat(dsn, "statements")
    assert "cannot connect to PostgreSQL" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "password=REDACTED" in str(caught.value)
    with pytest.raises(InputError, match="not a connection string"):
        read_pg_stat("no/such/place", "statements")
    with pytest.raises(InputError, match="view must be one of"):
        read_pg_stat(bench.dsn(), "locks")


def test_a_killed_collector_leaves_no_broken_file(bench, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    store = tmp_path / "store"
    code = "import sys, perfkit\nwhile True:\n    perfkit.snapshot_pg(sys.argv[1], sys.argv[2])\n"
    for delay in (0.0, 0.013, 0.029):  # kill at different points of the write loop
        before = len(list(store.rglob("*.parquet")))
        writer = subprocess.Popen([sys.executable, "-c", code, bench.dsn(), str(store)])
        deadline = time.monotonic() + 30
        while len(list(store.rglob("*.parquet"))) <= before and time.monotonic() < deadline:
            time.sleep(0.01)  # until this writer has written something
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    for view in ("statements", "tables", "database"):
        frames = read_pg_stat(store, view)  # every complete file reads; partial ones were .tmp
        assert frames["snapshot_time"].nunique() >= 1
    assert not list(store.rglob("*.parquet.tmp"))
    # what the last kill left (one temporary per view plus the manifest's, all of one
    # writer: each writer first removes what the writer before it left) is never read ...
    from perfkit.io.pg_store import STORE_VIEWS

    leftovers = list(store.rglob(".*.tmp"))
    assert len(leftovers) <= len(STORE_VIEWS) + 1
    assert len({p.name.rsplit(".", 2)[-2] for p in leftovers}) <= 1  # one writer's pid
    # ... and the next snapshot removes it
    snapshot_pg(bench.dsn(), store)
    assert not list(store.rglob(".*.tmp"))


def test_snapshots_never_wait_for_application_locks(bench, tmp_path):
    import time

    with psycopg.connect(bench.dsn()) as app:
        app.execute("lock table pgbench_accounts in access exclusive mode")  # a migration, mid-way
        start = time.monotonic()
        written = snapshot_pg(bench.dsn(), tmp_path / "store")
        took = time.monotonic() - start
        app.rollback()
    assert {"statements", "tables", "indexes", "database", "activity"} <= set(written)
    assert took < 0.9  # lock_timeout is 1 s: a snapshot that waited would have failed
    tables = read_pg_stat(tmp_path / "store", "tables").set_index("relname")
    assert tables.loc["pgbench_accounts", "table_bytes"] > 1_000_000
