"""psql CSV exports as a time series: a folder, a glob or a list of real `\\copy` exports of
several views side by side, told apart by their columns, against PostgreSQL's own counters."""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import uuid

import pandas as pd
import pytest

from perfkit import InputError
from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.io.pg_stat import ViewMissing

TABLE = "csv_series_orders"
QUERY = f"SELECT count(*) from {TABLE} where customer"  # as pg_stat_statements shows plpgsql's
EXPORTS = {
    "statements": "select now() as snapshot_time, * from pg_stat_statements",
    "tables": "select now() as snapshot_time, * from pg_stat_user_tables",
    "indexes": "select now() as snapshot_time, * from pg_stat_user_indexes",
}


def writable_folder(pg):
    """A fresh folder the server's user (who runs psql) may write to."""
    folder = pg.root / f"exports-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    if pg.as_user:
        entry = __import__("pwd").getpwnam(pg.as_user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def counters(pg) -> tuple[int, float]:
    """calls and total_exec_time of the workload's statement, read in SQL from the view."""
    out = pg.psql(
        "select sum(calls), sum(total_exec_time) from pg_stat_statements "
        f"where query like '{QUERY}%'"
    )
    calls, total = out.strip().split("|")
    return int(calls or 0), float(total or 0)


def workload(pg, lookups: int) -> None:
    pg.psql(
        f"do $$ begin for i in 1..{lookups} loop "
        f"perform count(*) from {TABLE} where customer = i % 50; end loop; end $$"
    )


@pytest.fixture(scope="module")
def series(pg, tmp_path_factory):
    """Three snapshots of three views exported by the real psql into one folder, the
    workload's counters read in SQL right after each snapshot, and a store beside it."""
    pg.psql(
        f"drop table if exists {TABLE}; create table {TABLE} (id serial primary key, "
        f"customer int); insert into {TABLE} (customer) select g % 50 from generate_series(1, "
        f"2000) g; create index {TABLE}_customer on {TABLE} (customer); analyze {TABLE}"
    )
    folder = writable_folder(pg)
    store = tmp_path_factory.mktemp("store")
    seen = []
    for k, lookups in enumerate((40, 25, 60)):
        workload(pg, lookups)
        for view, sql in EXPORTS.items():
            pg.psql(f"\\copy ({sql}) to '{folder}/{view[0]}{k}.csv' csv header")
        seen.append(counters(pg))  # nothing ran our statement since the export
        snapshot_pg(pg.dsn(), store)
    with open(folder / "s1.csv", "rb") as plain, gzip.open(folder / "s1.csv.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)  # compressed exports read too
    (folder / "s1.csv").unlink()
    return folder, seen, store


def test_deltas_of_the_exports_equal_postgres_own_counters(series):
    folder, seen, _ = series
    snapshots = read_pg_stat(folder, "statements")
    assert (
        snapshots["snapshot_time"].nunique() == 3
        and snapshots["snapshot_time"].is_monotonic_increasing
    )
    deltas = pg_deltas(snapshots)
    rows = deltas[deltas["query"].str.startswith(QUERY)]
    assert rows["status"].tolist() == ["ok", "ok"]
    assert rows["calls"].tolist() == [seen[1][0] - seen[0][0], seen[2][0] - seen[1][0]] == [25, 60]
    assert rows["total_exec_time"].tolist() == pytest.approx(
        [seen[1][1] - seen[0][1], seen[2][1] - seen[1][1]], rel=1e-9
    )


def test_folder_glob_and_list_give_the_same_frame(series):
    folder, _, _ = series
    files = sorted(folder.iterdir())
    assert len(files) == 9
    for view in ("statements", "tables", "indexes"):
        whole = read_pg_stat(folder, view)
        pd.testing.assert_frame_equal(read_pg_stat(str(folder / "*"), view), whole)
        pd.testing.assert_frame_equal(read_pg_stat(files, view), whole)
        pd.testing.assert_frame_equal(read_pg_stat(list(reversed(files)), view), whole)


def test_tables_and_indexes_come_out_typed_like_the_store(series):
    folder, _, store = series
    for view, name in (("tables", "relname"), ("indexes", "indexrelname")):
        exported = read_pg_stat(folder, view)
        stored = read_pg_stat(store, view)
        assert exported["snapshot_time"].nunique() == 3
        assert exported["snapshot_time"].is_monotonic_increasing
        assert TABLE in set(exported["relname"]), view
        common = [c for c in stored.columns if c in exported.columns]
        assert len(common) >= 8, view
        assert exported[common].dtypes.to_dict() == stored[common].dtypes.to_dict(), view
        latest = exported[exported["snapshot_time"] == exported["snapshot_time"].max()]
        assert latest[name].is_unique
    indexes = read_pg_stat(folder, "indexes")
    mine = indexes[indexes["indexrelname"] == f"{TABLE}_customer"]
    assert mine["idx_scan"].is_monotonic_increasing and mine["idx_scan"].iloc[-1] > 0
    statements = read_pg_stat(folder, "statements")
    stored = read_pg_stat(store, "statements")
    common = [c for c in stored.columns if c in statements.columns]
    assert statements[common].dtypes.to_dict() == stored[common].dtypes.to_dict()
    assert "dealloc" not in statements  # pg_stat_statements_info is not in a plain export


def test_a_view_the_exports_lack_names_the_views_there(series):
    folder, _, _ = series
    with pytest.raises(ViewMissing, match=r"no export of pg_stat_database.*statements \(3 files\)"):
        read_pg_stat(folder, "database")


def test_exports_without_a_time_take_it_from_their_names(series, tmp_path):
    folder, _, _ = series
    for k, stamp in enumerate(("20240101T120000Z", "20240101T120500Z")):
        # drop the column from psql's own text (pandas would rewrite a counter holding a NULL
        # as 0.0, which no psql export holds)
        with open(folder / f"t{k}.csv", newline="") as src:
            rows = list(csv.reader(src))
        drop = rows[0].index("snapshot_time")
        with open(tmp_path / f"tables-{stamp}.csv", "w", newline="") as out:
            csv.writer(out).writerows([r[:drop] + r[drop + 1 :] for r in rows])
    tables = read_pg_stat(tmp_path, "tables")
    assert [str(t) for t in tables["snapshot_time"].unique()] == [
        "2024-01-01 12:00:00+00:00", "2024-01-01 12:05:00+00:00"]  # fmt: skip


def test_bad_files_and_empty_folders_are_named(tmp_path):
    with pytest.raises(InputError, match=r"no psql CSV export found \(looked for \*\.csv"):
        read_pg_stat(tmp_path, "statements")
    good = tmp_path / "s-20240101T000000Z.csv"
    good.write_text("queryid,dbid,userid,toplevel,query,calls,total_exec_time,rows\n"
                    "1,5,10,t,select 1,3,1.5,3\n")  # fmt: skip
    assert read_pg_stat(tmp_path, "statements")["toplevel"].tolist() == [True]
    garbage = tmp_path / "notes.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with pytest.raises(InputError, match=r"notes\.csv: not a psql CSV export"):
        read_pg_stat(tmp_path, "statements")
    garbage.write_text("name,colour\nbob,red\n")
    with pytest.raises(InputError, match=r"notes\.csv: columns \(name, colour\) match no stat"):
        read_pg_stat(tmp_path, "statements")
    garbage.unlink()
    truncated = tmp_path / "s-20240101T000500Z.csv"
    truncated.write_text(good.read_text().splitlines()[0] + "\n1,5,10,t,select 1,7")
    with pytest.raises(InputError, match=r"s-20240101T000500Z\.csv: not a whole CSV export of pg_"):
        read_pg_stat(tmp_path, "statements")
    truncated.write_bytes(gzip.compress(good.read_bytes())[:30])
    with pytest.raises(InputError, match=r"s-20240101T000500Z\.csv"):
        read_pg_stat(tmp_path, "statements")
    truncated.unlink()
    again = tmp_path / "again.csv"  # the same snapshot twice, once with its time as a column
    again.write_text("snapshot_time,queryid,dbid,userid,toplevel,query,calls,total_exec_time,rows\n"
                     "2024-01-01 00:00:00+00,1,5,10,t,select 1,3,1.5,3\n")  # fmt: skip
    with pytest.raises(
        InputError, match=r"0000Z\.csv: a second pg_stat_statements export .*again\.csv"
    ):
        read_pg_stat(tmp_path, "statements")
    with pytest.raises(InputError, match=r"nothing-\*\.csv: the pattern matches no file"):
        read_pg_stat(str(tmp_path / "nothing-*.csv"), "statements")


def test_database_and_activity_exports(pg, tmp_path):
    folder = writable_folder(pg)
    for k in range(2):
        for name, view in (("db", "pg_stat_database"), ("act", "pg_stat_activity")):
            sql = f"select now() as snapshot_time, * from {view}"
            pg.psql(f"\\copy ({sql}) to '{folder}/{name}{k}.csv' csv header")
    store = tmp_path / "store"
    snapshot_pg(pg.dsn(), store, views=("database", "activity"))
    for view in ("database", "activity"):
        exported, stored = read_pg_stat(folder, view), read_pg_stat(store, view)
        assert exported["snapshot_time"].nunique() == 2, view
        common = [c for c in stored.columns if c in exported.columns]
        assert set(stored.columns) - set(common) <= {"dealloc"}, view  # ages derived too
        assert exported[common].dtypes.to_dict() == stored[common].dtypes.to_dict(), view
    activity = read_pg_stat(folder, "activity")
    assert (activity["backend_age_s"].dropna() >= 0).all()
    with pytest.raises(ViewMissing, match=r"activity \(2 files\), database \(2 files\)|"
                       r"database \(2 files\), activity \(2 files\)"):  # fmt: skip
        read_pg_stat(folder, "tables")
