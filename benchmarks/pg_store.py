"""Benchmark: reading a snapshot store of 2,000 `perfkit collect pg` snapshots.

Builds the store from the recorded baseline snapshots (`data/baseline/pg`): each
view's table repeated for 2,000 snapshot times a minute apart, the statements
widened to 200 query ids, the query texts stored once (as a collector stores
them), each snapshot written by the collector's own `write_snapshot` (so the store
has the segments a collector leaves: every `SEGMENT_SNAPSHOTS` gathered into one
file per view). Then times `read_pg_stat(store, view)` for every view, median of
`repeat`, in this process, beside the same store read file by file (the single
files before gathering: the baseline). Goal (issue 18): at most 0.5 s a view.

    python -m benchmarks pg_store [--snapshots N]
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "baseline" / "pg"


def build(store: Path, snapshots: int = 2000, statements: int = 200, gather: bool = True) -> Path:
    """Write a store of `snapshots` snapshots to `store` (a new folder); return it. With
    `gather`, single-file snapshots are gathered into segments as the collector does."""
    from perfkit.io import pg_store

    store.mkdir(parents=True)
    first = {v: pq.read_table(sorted((SOURCE / v).glob("*.parquet"))[-1])
             for v in pg_store.STORE_VIEWS}  # fmt: skip
    base = first["statements"]
    copies = -(-statements // max(base.num_rows, 1))
    wide = pa.concat_tables([base] * copies).slice(0, statements)
    wide = wide.set_column(wide.schema.get_field_index("queryid"), "queryid",
                           pa.array(range(1, statements + 1), pa.int64()))  # fmt: skip
    sample = first["texts"].column("query").to_pylist() or ["select 1"]
    queries = [f"{sample[k % len(sample)]} /* {k} */" for k in range(statements)]
    texts = pa.table({
        name: (wide.column(name) if name != "query" else pa.array(queries, field.type))
        for name, field in zip(first["texts"].schema.names, first["texts"].schema, strict=True)
    })  # fmt: skip
    tables = {**first, "statements": wide, "texts": texts}
    start = pc.min(base.column("snapshot_time")).as_py()
    entries: list[tuple[str, tuple[str, ...]]] = []
    segments: dict[str, str] = {}
    for k in range(snapshots):  # a collector's writes without its fsyncs (12 ms each here)
        when = start + dt.timedelta(minutes=k)
        name = pg_store._unique_name(pd.Timestamp(when), set())
        views = [v for v in pg_store.STORE_VIEWS if v != "texts" or k == 0]
        for view in views:
            table = tables[view]
            i = table.schema.get_field_index("snapshot_time")
            stamp = pa.array([when] * table.num_rows, table.schema.field(i).type)
            table = table.set_column(i, "snapshot_time", stamp)
            (store / view).mkdir(exist_ok=True)
            pq.write_table(pg_store._with_metadata(table, view), store / view / name,
                           write_statistics=False, write_page_checksum=True)  # fmt: skip
        entries.append((name, tuple(views)))
        if gather:  # as write_snapshot does after each commit
            pg_store._gather(store, entries, segments, keep=name)
            manifest = pg_store._read_manifest(store)  # written when it gathered
            segments = manifest.segments if manifest else {}
    pg_store._write_manifest(store, entries, segments)
    return store


def run(snapshots: int = 2000, repeat: int = 3) -> dict[str, float]:
    from perfkit.io.pg import VIEW_NAMES, read_pg_stat

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = build(Path(tmp) / "store", snapshots)
        single = build(Path(tmp) / "single", snapshots, gather=False)
        print(f"store: {snapshots:,} snapshots of {len(VIEW_NAMES)} views (statements: 200 "
              f"query ids each), gathered {_segment()} files at a time as the collector does; "
              "baseline: the same snapshots one file each (perfkit before segments)")  # fmt: skip
        for view in VIEW_NAMES:
            times: dict[str, list[float]] = {"store": [], "single": []}
            for _ in range(repeat):  # paired: both layouts in turn
                for key, folder in (("store", store), ("single", single)):
                    t0 = time.perf_counter()
                    frame = read_pg_stat(folder, view)
                    times[key].append(time.perf_counter() - t0)
            out[view] = statistics.median(times["store"])
            base = statistics.median(times["single"])
            every = " ".join(f"{t:.2f}" for t in times["store"])
            print(f"read_pg_stat {view:<11}: median {out[view]:.2f} s ({len(frame):,} rows; "
                  f"runs {every} s; goal <= 0.5 s); one file a snapshot {base:.2f} s "
                  f"({base / out[view]:.1f}x)")  # fmt: skip
    return out


def _segment() -> int:
    from perfkit.io.pg_store import SEGMENT_FANOUT

    return SEGMENT_FANOUT
