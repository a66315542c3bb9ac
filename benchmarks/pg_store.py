"""Benchmark: reading a snapshot store of 2,000 `perfkit collect pg` snapshots.

Builds the store from the recorded baseline snapshots (`data/baseline/pg`): each
view's table repeated for 2,000 snapshot times a minute apart, the statements
widened to 200 query ids, the query texts stored once (as a collector stores
them), written in the store's layout and manifest (`perfkit.io.pg_store`). Then
times `read_pg_stat(store, view)` for every view, median of `repeat`, in this
process. Goal (issue 18): at most 0.5 s a view.

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


def build(store: Path, snapshots: int = 2000, statements: int = 200) -> Path:
    """Write a store of `snapshots` snapshots to `store` (a new folder); return it."""
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
    entries = []
    for k in range(snapshots):
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
    pg_store._write_manifest(store, entries)
    return store


def run(snapshots: int = 2000, repeat: int = 3) -> dict[str, float]:
    from perfkit.io.pg import VIEW_NAMES, read_pg_stat

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = build(Path(tmp) / "store", snapshots)
        print(f"store: {snapshots:,} snapshots of {len(VIEW_NAMES)} views (statements: 200 "
              "query ids each)")  # fmt: skip
        for view in VIEW_NAMES:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                frame = read_pg_stat(store, view)
                times.append(time.perf_counter() - t0)
            out[view] = statistics.median(times)
            every = " ".join(f"{t:.2f}" for t in times)
            print(f"read_pg_stat {view:<11}: median {out[view]:.2f} s ({len(frame):,} rows; "
                  f"runs {every} s; goal <= 0.5 s)")  # fmt: skip
    return out
