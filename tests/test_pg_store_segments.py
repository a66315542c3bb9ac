"""Issue 18: a long-running snapshot store gathers its files into segments and reads the same.

Planted stores (counters that are a known function of the snapshot's index) are written by
`write_snapshot` with a small `SEGMENT_FANOUT`, and read back against the same snapshots kept
one file each: equal frames, every planted value, texts the latest per query id, rows in time
order when a snapshot arrives late. Then the ways gathering can go wrong: a disk that fills
mid-merge, a writer killed after the commit, columns whose type changed, a reader beside a
writer, a manifest that lies."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading

import pandas as pd
import pyarrow as pa
import pytest

from perfkit.errors import InputError
from perfkit.io import pg_store
from perfkit.io.pg import read_pg_stat
from perfkit.io.pg_store import write_snapshot

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def when(k: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=k)


def stamp(k: int, n: int) -> pa.Array:
    return pa.array([when(k)] * n, pa.timestamp("us", "UTC"))


def database(k: int) -> pa.Table:
    """pg_stat_database at snapshot `k`: two databases, counters 100 k and 7 k."""
    return pa.table({
        "snapshot_time": stamp(k, 2), "datid": pa.array([1, 2], pa.int64()),
        "datname": pa.array(["app", "postgres"]),
        "xact_commit": pa.array([100 * k, 7 * k], pa.int64()),
        "blks_read": pa.array([k, 0], pa.int64()), "blks_hit": pa.array([10 * k, 1], pa.int64()),
    })  # fmt: skip


def statements(k: int) -> pa.Table:
    """Three statements without their text (as the collector stores them), calls 3 k + id."""
    ids = [11, 22, 33]
    return pa.table({
        "snapshot_time": stamp(k, 3), "userid": pa.array([10] * 3, pa.int64()),
        "dbid": pa.array([1] * 3, pa.int64()), "queryid": pa.array(ids, pa.int64()),
        "calls": pa.array([3 * k + i for i in ids], pa.int64()),
        "total_exec_time": pa.array([0.5 * k * i for i in ids]),
        "rows": pa.array([k] * 3, pa.int64()),
    })  # fmt: skip


def texts(k: int, version: str) -> pa.Table:
    return pa.table({"snapshot_time": stamp(k, 3), "queryid": pa.array([11, 22, 33], pa.int64()),
                     "query": pa.array([f"select {i} /* {version} */" for i in (11, 22, 33)])})  # fmt: skip


def snapshot(k: int) -> dict[str, pa.Table]:
    frames = {"database": database(k), "statements": statements(k)}
    if k in (0, 20):  # texts stored when first seen; query 22's text changes at 20
        frames["texts"] = texts(k, "v1" if k == 0 else "v2")
    return frames


def write(store, ks) -> list[list]:
    return [write_snapshot(snapshot(k), store) for k in ks]


@pytest.fixture
def fanout3(monkeypatch):
    monkeypatch.setattr(pg_store, "SEGMENT_FANOUT", 3)


def files(store, view: str) -> list[str]:
    return sorted(p.name for p in (store / view).iterdir())


def manifest(store) -> dict:
    return json.loads((store / pg_store.MANIFEST).read_text())


def test_a_gathered_store_reads_as_its_single_files_and_the_planted_values(
    tmp_path, monkeypatch, fanout3
):
    gathered, single = tmp_path / "gathered", tmp_path / "single"
    written = []
    for k in range(40):
        written.append(write_snapshot(snapshot(k), gathered))
        assert all(path.is_file() for path in written[-1])  # what a write returns is there
    monkeypatch.setattr(pg_store, "SEGMENT_FANOUT", 10**9)
    write(single, range(40))
    for view in ("database", "statements"):
        pd.testing.assert_frame_equal(read_pg_stat(gathered, view), read_pg_stat(single, view))
    db = read_pg_stat(gathered, "database")
    assert db["xact_commit"].tolist() == [v for k in range(40) for v in (100 * k, 7 * k)]
    assert db["snapshot_time"].tolist() == [pd.Timestamp(when(k)) for k in range(40) for _ in "ab"]
    st = read_pg_stat(gathered, "statements")
    assert st["calls"].tolist() == [3 * k + i for k in range(40) for i in (11, 22, 33)]
    assert set(st["query"]) == {f"select {i} /* v2 */" for i in (11, 22, 33)}  # the latest
    # 40 snapshots with a fan-out of 3: 27 + 9 + 3 gathered, the last one single
    assert files(gathered, "database") == [
        "20250301T083900.000000Z.parquet",
        "segment-20250301T080000.000000Z.27.parquet",
        "segment-20250301T082700.000000Z.9.parquet",
        "segment-20250301T083600.000000Z.3.parquet",
    ]
    meta = manifest(gathered)
    assert meta["format_version"] == 3
    assert [e["name"] for e in meta["snapshots"]] == [p[0].name for p in written]
    assert len(files(single, "database")) == 40 and manifest(single)["format_version"] == 2


def test_a_store_without_segments_stays_at_version_2(tmp_path):
    store = tmp_path / "store"
    write(store, range(3))  # fewer than SEGMENT_FANOUT: nothing gathered
    assert manifest(store)["format_version"] == 2
    assert all("segment" not in e for e in manifest(store)["snapshots"])


def test_a_snapshot_written_late_is_read_in_time_order(tmp_path, fanout3):
    store = tmp_path / "store"
    order = [*range(5, 14), 2, *range(14, 20), 3]  # 2 and 3 arrive late
    write(store, order)
    db = read_pg_stat(store, "database")
    ks = sorted(order)
    assert db["xact_commit"].tolist() == [v for k in ks for v in (100 * k, 7 * k)]
    assert db["datname"].tolist() == ["app", "postgres"] * len(ks)
    st = read_pg_stat(store, "statements")
    assert st["calls"].tolist() == [3 * k + i for k in ks for i in (11, 22, 33)]


def test_a_disk_that_fills_mid_merge_leaves_the_single_files(
    tmp_path, monkeypatch, fanout3, caplog
):
    store = tmp_path / "store"
    real = pg_store._write_parquet

    def full(table, path, statistics=False):
        if statistics:  # a segment
            raise OSError(28, "No space left on device")
        real(table, path, statistics)

    monkeypatch.setattr(pg_store, "_write_parquet", full)
    write(store, range(7))
    assert files(store, "database") == sorted(
        write_name(k) for k in range(7)
    )  # no segment, no temporary left
    assert manifest(store)["format_version"] == 2
    assert read_pg_stat(store, "database")["xact_commit"].tolist()[::2] == [
        100 * k for k in range(7)
    ]
    said = [r.getMessage() for r in caplog.records if r.name == "perfkit.io.pg_store"]
    assert said and all("could not gather" in m and "No space left" in m for m in said)
    monkeypatch.setattr(pg_store, "_write_parquet", real)
    write(store, [7])  # room again: the next write gathers
    assert len(files(store, "database")) < 8
    assert read_pg_stat(store, "database")["xact_commit"].tolist()[::2] == [
        100 * k for k in range(8)
    ]


def write_name(k: int) -> str:
    return when(k).strftime("%Y%m%dT%H%M%S.%fZ") + ".parquet"


def test_files_a_killed_merge_left_are_never_read_twice_and_then_removed(tmp_path, fanout3):
    store = tmp_path / "store"
    write(store, range(3))
    kept = {k: (store / "database" / write_name(k)).read_bytes() for k in range(3)}
    write(store, [3])  # gathers 0-2
    assert not (store / "database" / write_name(0)).exists()
    for k, data in kept.items():  # as if killed after the commit, before the removal
        (store / "database" / write_name(k)).write_bytes(data)
    orphan = store / "database" / "segment-20250301T090000.000000Z.3.parquet"
    shutil.copy(store / "database" / "segment-20250301T080000.000000Z.3.parquet", orphan)
    expected = [v for k in range(4) for v in (100 * k, 7 * k)]
    assert read_pg_stat(store, "database")["xact_commit"].tolist() == expected
    write(store, [4])
    assert not orphan.exists() and not (store / "database" / write_name(0)).exists()
    assert read_pg_stat(store, "database")["xact_commit"].tolist() == [*expected, 400, 28]


def test_columns_whose_type_changed_are_never_gathered_together(tmp_path, monkeypatch):
    monkeypatch.setattr(pg_store, "SEGMENT_FANOUT", 2)
    store = tmp_path / "store"
    for k in range(8):
        reset = pa.array([k, k] if k < 2 else [f"t{k}", None])  # int, then text
        write_snapshot({"database": database(k).append_column("stats_reset", reset)}, store)
    df = read_pg_stat(store, "database")
    shown = [None if pd.isna(v) else str(v) for v in df["stats_reset"]]
    assert shown == ["0", "0", "1", "1", *[v for k in range(2, 8) for v in (f"t{k}", None)]]
    assert df["xact_commit"].tolist()[::2] == [100 * k for k in range(8)]
    # 0-1 (int) and 2-3 (text) are never put together; 2-3 and 4-5 are
    assert [n for n in files(store, "database") if n.startswith("segment-")] == [
        "segment-20250301T080000.000000Z.2.parquet",
        "segment-20250301T080200.000000Z.4.parquet",
    ]


def test_segments_grow_no_larger_than_segment_rows(tmp_path, monkeypatch, fanout3):
    monkeypatch.setattr(pg_store, "SEGMENT_ROWS", 12)  # 6 snapshots of 2 database rows
    store = tmp_path / "store"
    write(store, range(30))
    sizes = [int(n.split(".")[-2]) for n in files(store, "statements") if n.startswith("seg")]
    assert sizes and max(sizes) == 3  # 9 snapshots would be 18 database rows
    assert read_pg_stat(store, "database")["xact_commit"].tolist()[::2] == [
        100 * k for k in range(30)
    ]


def test_a_reader_beside_a_gathering_writer_always_sees_whole_snapshots(tmp_path, fanout3):
    store = tmp_path / "store"
    write(store, range(2))
    errors: list[BaseException] = []

    def writer():
        try:
            write(store, range(2, 30))
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while thread.is_alive() or reads == 0:
        db = read_pg_stat(store, "database")
        n = len(db) // 2
        assert db["xact_commit"].tolist() == [v for k in range(n) for v in (100 * k, 7 * k)]
        reads += 1
    thread.join()
    assert not errors and reads > 1
    assert len(read_pg_stat(store, "database")) == 60


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda m: m.update(format_version=2), "damaged store manifest: snapshot 0"),
        (lambda m: m["snapshots"][0].update(segment="../../etc/passwd"), "snapshot 0"),
        (lambda m: m["snapshots"][0].update(segment=7), "snapshot 0"),
        (
            lambda m: [
                e.update(segment="segment-20250301T080000.000000Z.9.parquet")
                for e in m["snapshots"][:3]
            ],
            "missing or not a file",
        ),
    ],
)
def test_a_manifest_that_lies_about_segments_is_an_input_error(tmp_path, fanout3, change, says):
    store = tmp_path / "store"
    write(store, range(4))
    meta = manifest(store)
    change(meta)
    (store / pg_store.MANIFEST).write_text(json.dumps(meta))
    with pytest.raises(InputError, match=says) as caught:
        read_pg_stat(store, "database")
    assert str(store) in str(caught.value)


def test_a_stop_signal_after_a_merge_commits_keeps_the_segment(tmp_path, monkeypatch, fanout3):
    """SIGTERM (KeyboardInterrupt in the CLI) landing in the folder sync after the manifest
    names the new segment: the segment stays, every snapshot reads, the next write works."""
    store = tmp_path / "store"
    write(store, range(3))
    real = pg_store._fsync_folder
    calls = []

    def stopped(folder):
        if folder == store:
            calls.append(folder)
            if len(calls) == 2:  # the snapshot's commit, then the merge's commit
                raise KeyboardInterrupt
        real(folder)

    monkeypatch.setattr(pg_store, "_fsync_folder", stopped)
    with pytest.raises(KeyboardInterrupt):
        write(store, [3])
    monkeypatch.setattr(pg_store, "_fsync_folder", real)
    assert manifest(store)["snapshots"][0]["segment"] == "segment-20250301T080000.000000Z.3.parquet"
    expected = [v for k in range(4) for v in (100 * k, 7 * k)]
    assert read_pg_stat(store, "database")["xact_commit"].tolist() == expected
    write(store, [4])
    assert read_pg_stat(store, "database")["xact_commit"].tolist() == [*expected, 400, 28]
