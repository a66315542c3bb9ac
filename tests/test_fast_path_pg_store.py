"""Issue 18: a snapshot store is read file by file into Arrow and converted to pandas once.

Planted stores check that the one conversion keeps each snapshot's rows and values in
order, that a column added by a later server version (absent from older snapshots) reads
as missing there, that a column whose type changed still reads, and that many snapshots
(read a few at once) come back oldest first."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from perfkit.io.pg import read_pg_stat
from perfkit.io.pg_store import write_snapshot

T0 = dt.datetime(2024, 10, 10, 12, 0, tzinfo=dt.UTC)


def database(k: int, extra: dict[str, pa.Array] | None = None) -> pa.Table:
    """Snapshot `k` of pg_stat_database: two databases, counters that grow with k."""
    columns = {
        "snapshot_time": pa.array([T0 + dt.timedelta(minutes=k)] * 2, pa.timestamp("us", "UTC")),
        "datid": pa.array([1, 2], pa.int64()),
        "datname": pa.array(["app", "postgres"]),
        "xact_commit": pa.array([100 * k, 7 * k], pa.int64()),
        "blks_read": pa.array([k, 0], pa.int64()),
        "blks_hit": pa.array([1000 * k, 10], pa.int64()),
    }
    return pa.table({**columns, **(extra or {})})


def test_a_column_new_in_later_snapshots_reads_as_missing_before(tmp_path):
    store = tmp_path / "store"
    write_snapshot({"database": database(0)}, store)
    later = {"sessions": pa.array([5, 6], pa.int64())}  # a column PostgreSQL 14 added
    write_snapshot({"database": database(1, later)}, store)
    df = read_pg_stat(store, "database")
    assert df["xact_commit"].tolist() == [0, 0, 100, 7]
    assert df["datname"].tolist() == ["app", "postgres", "app", "postgres"]
    assert df["sessions"].isna().tolist() == [True, True, False, False]
    assert df["sessions"].iloc[2:].tolist() == [5, 6]
    assert (
        df["snapshot_time"].tolist()
        == [pd.Timestamp(T0)] * 2 + [pd.Timestamp(T0 + dt.timedelta(minutes=1))] * 2
    )


def test_a_column_whose_type_changed_still_reads(tmp_path):
    store = tmp_path / "store"
    write_snapshot({"database": database(0, {"stats_reset": pa.array([1, 2], pa.int64())})}, store)
    write_snapshot({"database": database(1, {"stats_reset": pa.array(["x", None])})}, store)
    df = read_pg_stat(store, "database")
    assert [None if pd.isna(v) else str(v) for v in df["stats_reset"]] == ["1", "2", "x", None]
    assert df["blks_hit"].tolist() == [0, 10, 1000, 10]


def test_many_snapshots_come_back_oldest_first(tmp_path):
    store = tmp_path / "store"
    n = 40  # enough to be read several files at once
    for k in range(n):
        write_snapshot({"database": database(k)}, store)
    df = read_pg_stat(store, "database")
    assert len(df) == 2 * n
    assert df["xact_commit"].tolist() == [v for k in range(n) for v in (100 * k, 7 * k)]
    assert df["snapshot_time"].is_monotonic_increasing
