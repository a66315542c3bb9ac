"""Issue 14 on a real PostgreSQL 15: the collector's own footprint (8), all-or-none snapshots
(12), a dropped connection and a stop signal mid-snapshot (14), store errors (19), argument
validation (20) and foreign Parquet files in a store (25)."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest

from perfkit import InputError
from perfkit.cli import main
from perfkit.collect.pg import collect_pg
from perfkit.io import pg_stat
from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.sandbox.postgres import Cluster

ROOT = Path(__file__).resolve().parent.parent
VIEWS = ("statements", "tables", "indexes", "database", "activity")
# the database view waits 1.5 s inside the snapshot's transaction: a window to hit
SLEEPY = (
    "with pause as (select pg_sleep(1.5)) "
    "select d.* from pg_stat_database d, pause where d.datname is not null"
)


@pytest.fixture(scope="module")
def server():
    cluster = Cluster()
    cluster.psql("create extension pg_stat_statements")
    cluster.psql("create table churn (i int primary key)")
    cluster.psql("create role collector login in role pg_monitor")
    yield cluster
    cluster.close()


def everything(store: Path) -> dict[str, pd.DataFrame]:
    return {view: read_pg_stat(store, view) for view in VIEWS}


def assert_same(before: dict[str, pd.DataFrame], store: Path) -> None:
    after = everything(store)
    for view in VIEWS:
        pd.testing.assert_frame_equal(after[view], before[view], obj=view)


def leftovers(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.name.endswith(".tmp")]


# 8: the collector must not pollute pg_stat_statements


def test_twenty_snapshots_add_at_most_two_entries(server, tmp_path):
    dsn = server.dsn(user="collector")
    count = "select count(*) from pg_stat_statements where userid = 'collector'::regrole"
    store = tmp_path / "store"
    snapshot_pg(dsn, store)  # the first snapshot reads every text
    first = int(server.psql(count))
    for k in range(20):  # a new statement between snapshots: new texts to fetch every time
        server.psql(f"select {', '.join(['i'] * (k + 1))} from churn")
        snapshot_pg(dsn, store)
    added = int(server.psql(count)) - first
    assert added <= 2, f"20 snapshots added {added} pg_stat_statements entries"
    texts = read_pg_stat(store, "statements")["query"].dropna()
    for k in (1, 20):  # the new statements' texts were fetched and stored
        assert texts.eq(f"select {', '.join(['i'] * k)} from churn").any()


# 12: a snapshot is all views or none


def test_sigkill_between_views_keeps_the_store_as_it_was(server, tmp_path):
    store = tmp_path / "store"
    snapshot_pg(server.dsn(), store)
    snapshot_pg(server.dsn(), store)
    before = everything(store)
    code = (
        "import sys, time, pyarrow.parquet as pq, perfkit\n"
        "real = pq.write_table\n"
        "def slow(*a, **k):\n"
        "    real(*a, **k); print('wrote', flush=True); time.sleep(0.5)\n"
        "pq.write_table = slow\n"
        "perfkit.snapshot_pg(sys.argv[1], sys.argv[2])\n"
    )
    for kills_after in (1, 3, 5):  # views written before the SIGKILL (5: all, manifest not)
        child = subprocess.Popen(
            [sys.executable, "-c", code, server.dsn(), str(store)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(kills_after):
            assert child.stdout.readline() == "wrote\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        assert_same(before, store)
    snapshot_pg(server.dsn(), store)  # the next snapshot succeeds and cleans up
    after = everything(store)
    assert all(after[v]["snapshot_time"].nunique() == 3 for v in VIEWS)
    assert leftovers(store) == []
    assert sum(1 for _ in (store / "tables").glob("*.parquet")) == 3


@pytest.mark.parametrize("fault", ["disk full", "stop signal"])
def test_a_fault_mid_write_keeps_the_store_as_it_was(server, tmp_path, monkeypatch, fault):
    store = tmp_path / "store"
    snapshot_pg(server.dsn(), store)
    before = everything(store)
    real = pq.write_table
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            if fault == "disk full":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise KeyboardInterrupt  # the CLI's SIGTERM handler raises this
        return real(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", failing)
    if fault == "disk full":
        with pytest.raises(InputError, match="No space left on device") as caught:
            snapshot_pg(server.dsn(), store)
        assert str(store) in str(caught.value)
    else:
        with pytest.raises(KeyboardInterrupt):
            snapshot_pg(server.dsn(), store)
    assert_same(before, store)
    assert leftovers(store) == []
    monkeypatch.setattr(pq, "write_table", real)
    snapshot_pg(server.dsn(), store)
    assert all(read_pg_stat(store, v)["snapshot_time"].nunique() == 2 for v in VIEWS)


# 14: a dropped connection is retried; a stop signal ends cleanly


def terminate_when_sleeping(dsn: str, done: list[int]) -> threading.Thread:
    """Terminate perfkit's backend once, while it runs the sleeping query."""

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as admin:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                hit = admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where application_name = 'perfkit' and state = 'active' "
                    "and query like '%pg_sleep(1.5)%'"
                ).fetchall()
                if hit:
                    done.append(len(hit))
                    return
                time.sleep(0.02)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_terminated_backend_is_retried(server, tmp_path, monkeypatch):
    monkeypatch.setitem(pg_stat.SQL, "database", SLEEPY)
    store = tmp_path / "store"
    said: list[str] = []
    naps: list[float] = []
    done: list[int] = []
    killer = terminate_when_sleeping(server.dsn(), done)
    try:
        taken = collect_pg(server.dsn(), store, 0, 1, 2, say=said.append, sleep=naps.append)
    finally:
        killer.join()
    assert done == [1] and taken == 1
    assert naps == [1.0] and sum("retry 1/2" in line for line in said) == 1
    assert all(read_pg_stat(store, v)["snapshot_time"].nunique() == 1 for v in VIEWS)


def test_terminated_backend_without_retry_is_an_input_error(server, tmp_path, monkeypatch):
    monkeypatch.setitem(pg_stat.SQL, "database", SLEEPY)
    store = tmp_path / "store"
    snapshot_pg(server.dsn(), store)
    before = everything(store)
    done: list[int] = []
    killer = terminate_when_sleeping(server.dsn(), done)
    try:
        with pytest.raises(InputError, match=r"connection.*lost|terminat") as caught:
            collect_pg(server.dsn(password="hunter2"), store, 0, 1, 0, say=lambda _: None)
    finally:
        killer.join()
    assert done == [1] and "gave up after 1 attempt" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert_same(before, store)


def test_sigterm_during_a_query_stops_cleanly(server, tmp_path):
    store = tmp_path / "store"
    code = (
        "import sys\n"
        "from perfkit.io import pg_stat\n"
        "from perfkit.cli import main\n"
        f"pg_stat.SQL['database'] = {SLEEPY!r}\n"
        "sys.exit(main(['collect', 'pg', '--dsn', sys.argv[1], '--store', sys.argv[2],\n"
        "               '--interval', '0.01', '--count', '5', '--log-level', 'info']))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-u", "-c", code, server.dsn(), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 2 and time.monotonic() < deadline:  # the second snapshot's sleeping query
            active = admin.execute(
                "select backend_start from pg_stat_activity where application_name = 'perfkit' "
                "and state = 'active' and query like '%pg_sleep(1.5)%'"
            ).fetchall()
            if active and seen == 0:
                seen, first = 1, active[0][0]
            elif active and active[0][0] != first:
                seen = 2
            time.sleep(0.02)
        if seen < 2:
            child.kill()
        assert seen == 2, child.communicate(timeout=30)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    assert err.count("perfkit: INFO: snapshot ") == 1 and "snapshot" not in out
    assert all(read_pg_stat(store, v)["snapshot_time"].nunique() == 1 for v in VIEWS)
    assert leftovers(store) == []


# 19: store errors are InputErrors naming the file


def committed_store(server, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    snapshot_pg(server.dsn(), store)
    return store


@pytest.mark.parametrize(
    "manifest",
    [
        b'{"format_version": ',  # truncated
        b"not json at all",
        b"\xff\xfe garbage",
        b"[1, 2]",  # wrong shape
        b'{"format_version": 2, "kind": "pg_stat", "snapshots": "all"}',
        b'{"format_version": 2, "kind": "pg_stat", "snapshots": [{"name": "../../etc/passwd",'
        b' "views": ["statements"]}]}',
        b'{"format_version": 2, "kind": "pg_stat", "snapshots": [{"name": '
        b'"20260101T000000.000000Z.parquet", "views": ["statements", "tables"]}]}',  # missing
        b'{"format_version": "1"}',
    ],
)
def test_corrupt_manifest_is_an_input_error(server, tmp_path, manifest):
    store = committed_store(server, tmp_path)
    (store / "perfkit-store.json").write_bytes(manifest)
    calls = [lambda: read_pg_stat(store, "statements"), lambda: read_pg_stat(store, "tables")]
    if b"2026" not in manifest:  # a well-formed manifest listing a missing file: reads refuse
        calls.append(lambda: snapshot_pg(server.dsn(), store))  # writing refuses a bad manifest
    for call in calls:
        with pytest.raises(InputError, match=r"perfkit-store\.json"):
            call()


def test_corrupt_texts_parquet_names_the_file(server, tmp_path):
    store = committed_store(server, tmp_path)
    (texts,) = (store / "texts").glob("*.parquet")
    texts.write_bytes(texts.read_bytes()[:-100])
    with pytest.raises(InputError, match=texts.name):
        read_pg_stat(store, "statements")
    with pytest.raises(InputError, match=texts.name):  # the collector refuses the store too
        snapshot_pg(server.dsn(), store)


def test_store_that_is_a_file(server, tmp_path, capsys):
    path = tmp_path / "store.txt"
    path.write_text("not a folder\n")
    with pytest.raises(InputError, match=r"store\.txt.*not a folder"):
        collect_pg(server.dsn(), path, say=lambda _: None)
    code = main(["collect", "pg", "--dsn", server.dsn(), "--store", str(path)])
    assert code == 2 and "store.txt" in capsys.readouterr().err
    assert path.read_text() == "not a folder\n"


def test_read_only_store_is_a_clean_error(server, tmp_path):
    store = committed_store(server, tmp_path)
    before = everything(store)
    if subprocess.run(["chattr", "+i", str(store / "tables")], capture_output=True).returncode:
        pytest.skip("chattr +i is not available to make a folder read-only")
    try:
        with pytest.raises(InputError, match=r"tables.*Operation not permitted|ermission"):
            snapshot_pg(server.dsn(), store)
    finally:
        subprocess.run(["chattr", "-i", str(store / "tables")], check=True)
    assert_same(before, store)
    assert leftovers(store) == []


# 20: arguments are checked before anything starts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_s": math.nan}, "interval"),
        ({"interval_s": -1.0}, "interval"),
        ({"interval_s": math.inf}, "interval"),
        ({"count": -1}, "count"),
        ({"retry": -1}, "retry"),
        ({"dsn": "host=127.0.0.1 pasword=secret"}, '"pasword"'),
        ({"dsn": "hots=x password=secret"}, '"hots"'),
        ({"dsn": "postgresql://u:secret@127.0.0.1/db?pasword=x"}, '"pasword"'),
        ({"dsn": "host='unterminated password=secret"}, "unterminated"),
    ],
)
def test_bad_arguments_are_refused_before_starting(server, tmp_path, kwargs, message):
    store = tmp_path / "store"
    arguments = {"dsn": server.dsn(), "interval_s": 0.0, "count": 1, "retry": 0} | kwargs
    with pytest.raises(InputError, match=message) as caught:
        collect_pg(store=store, say=lambda _: None, **arguments)
    assert "secret" not in str(caught.value)
    assert not store.exists()  # nothing started


def test_cli_dsn_typo_exits_two_without_the_password(tmp_path, capsys):
    code = main(["collect", "pg", "--dsn", "pasword=secret", "--store", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "pasword" in err and "secret" not in err


# 25: a Parquet file of another view's schema is refused


def test_foreign_view_file_in_the_store_is_refused(server, tmp_path):
    store = committed_store(server, tmp_path)
    (tables,) = (store / "tables").glob("*.parquet")
    (indexes,) = (store / "indexes").glob("*.parquet")
    shutil.copyfile(tables, indexes)  # a committed indexes snapshot that holds table rows
    with pytest.raises(InputError, match=rf"{indexes.name}.*tables.*expected.*indexes") as caught:
        read_pg_stat(store, "indexes")
    assert "indexes" in str(caught.value)
    # a file without perfkit's metadata: told by its columns
    table = pq.read_table(tables).replace_schema_metadata(None)
    pq.write_table(table, indexes)
    with pytest.raises(InputError, match=rf"{indexes.name}.*indexrelid"):
        read_pg_stat(store, "indexes")


@pytest.mark.parametrize("recorded, version", [
    (ROOT / "tests" / "data" / "pg_store_v1", 1),  # every file in a view folder is a snapshot
    (ROOT / "data" / "baseline" / "pg", 2),  # the manifest lists the snapshots
])  # fmt: skip
def test_foreign_view_file_in_a_recorded_store_is_refused(tmp_path, recorded, version):
    store = tmp_path / "pg"
    shutil.copytree(recorded, store)
    assert json.loads((store / "perfkit-store.json").read_text())["format_version"] == version
    assert read_pg_stat(store, "indexes")["snapshot_time"].nunique() == 7  # as recorded
    stray = store / "indexes" / "20991231T000000.000000Z.parquet"
    shutil.copyfile(next((store / "database").glob("*.parquet")), stray)
    if version >= 2:  # a file the manifest does not list is not a snapshot (a crash's leftover)
        assert read_pg_stat(store, "indexes")["snapshot_time"].nunique() == 7
        manifest = json.loads((store / "perfkit-store.json").read_text())
        manifest["snapshots"].append({"name": stray.name, "views": ["indexes"]})
        (store / "perfkit-store.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=rf"{stray.name}.*database"):
        read_pg_stat(store, "indexes")


# 1 (live part): password literals in statement texts never leave the server unmasked


def test_password_literals_are_masked_live_and_in_the_store(server, tmp_path):
    server.psql("alter role collector password 'hunter2-literal'")
    server.psql("create role visitor login password 'hunter3-literal'")
    live = read_pg_stat(server.dsn(), "statements")["query"].dropna()
    altered = live[live.str.contains("alter role collector", case=False)]
    assert len(altered) == 1 and "REDACTED" in altered.iloc[0]
    assert not live.str.contains("hunter").any()
    store = tmp_path / "store"
    snapshot_pg(server.dsn(), store)
    stored = read_pg_stat(store, "statements")["query"].dropna()
    assert stored.str.contains("create role visitor", case=False).any()
    assert not stored.str.contains("hunter").any()
    assert not any(b"hunter" in p.read_bytes() for p in store.rglob("*") if p.is_file())


def test_connection_errors_never_show_the_password(tmp_path):
    dsn = "postgresql://u:p@ss-w0rd@127.0.0.1:1/db"  # an unencoded '@' in the password
    with pytest.raises(InputError) as caught:
        read_pg_stat(dsn, "statements")
    assert "ss-w0rd" not in str(caught.value) and "p@ss" not in str(caught.value)
    with pytest.raises(InputError) as caught:
        collect_pg("host=127.0.0.1 password=se cret", tmp_path / "s", say=lambda _: None)
    assert "cret" not in str(caught.value)
