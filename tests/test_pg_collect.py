"""`perfkit collect pg`: snapshots on a schedule; the server going away mid-collection."""

from __future__ import annotations

import re

import pytest

from perfkit import InputError
from perfkit.cli import main
from perfkit.collect.pg import collect_pg
from perfkit.io.pg import read_pg_stat
from perfkit.sandbox.postgres import Cluster


@pytest.fixture
def own_server():
    cluster = Cluster()
    cluster.psql("create extension pg_stat_statements")
    yield cluster
    cluster.close()


def test_cli_collects_count_snapshots(own_server, tmp_path, capsys):
    store = tmp_path / "store"
    dsn = own_server.dsn(password="hunter2")  # trust auth ignores it; it must never be echoed
    code = main(["collect", "pg", "--dsn", dsn, "--store", str(store), "--interval", "0.1",
                 "--count", "3", "--log-level", "info"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if "INFO: snapshot " in line]
    assert len(lines) == 3 and "hunter2" not in out.out + out.err
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ perfkit: INFO: snapshot \d: ", line)
               for line in lines)  # fmt: skip
    assert main(["collect", "pg", "--dsn", dsn, "--store", str(store), "--count", "1"]) == 0
    quiet = capsys.readouterr()  # not a terminal: warnings only (the password's)
    assert quiet.out == "" and "snapshot" not in quiet.err and "PGPASSWORD" in quiet.err
    assert read_pg_stat(store, "statements")["snapshot_time"].nunique() == 4
    assert "hunter2" not in "".join(
        p.read_bytes().decode("latin-1") for p in store.rglob("*") if p.is_file()
    )


def test_server_stopped_mid_collection(own_server, tmp_path):
    store = tmp_path / "store"
    said: list[str] = []
    naps = []

    def stop_then_wait(seconds: float) -> None:  # the server dies between snapshots
        naps.append(seconds)
        if len(naps) == 1:
            own_server.stop("immediate")

    with pytest.raises(
        InputError, match=r"cannot connect to PostgreSQL.*gave up after 3 attempt\(s\); 1 snapshot"
    ):
        collect_pg(
            own_server.dsn(),
            store,
            interval_s=0.1,
            count=3,
            retry=2,
            say=said.append,
            sleep=stop_then_wait,
        )
    assert naps == [0.1, 1.0, 2.0]  # the interval, then backoff 1 s, 2 s
    assert sum("retry" in line for line in said) == 2
    kept = read_pg_stat(store, "database")  # what was written stays readable
    assert kept["snapshot_time"].nunique() == 1


def test_unreachable_exits_two(tmp_path, capsys):
    code = main(
        [
            "collect",
            "pg",
            "--dsn",
            "host=127.0.0.1 port=1 user=x password=hunter2",
            "--store",
            str(tmp_path / "s"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect to PostgreSQL" in err and "hunter2" not in err


def test_dsn_from_the_pg_environment(own_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(own_server.port))
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGDATABASE", "postgres")
    assert main(["collect", "pg", "--store", str(tmp_path / "env-store")]) == 0
    assert read_pg_stat(tmp_path / "env-store", "database")["snapshot_time"].nunique() == 1
