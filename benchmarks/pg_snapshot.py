"""Benchmark: one `snapshot_pg` on a database holding 5,000 distinct statements.

Starts a throw-away PostgreSQL (perfkit/sandbox/postgres.py), runs 5,000 structurally
different statements so pg_stat_statements holds that many entries, then
times `snapshot_pg` (every view, one READ ONLY transaction, Parquet written)
and the statements view alone. Goal: under 100 ms. A store keeps each query
text once: later snapshots read pg_stat_statements without its text file. The reads take only
AccessShareLock on statistics views and run with lock_timeout, so they
never queue behind, or block, the application's locks.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(statements: int = 5000, repeat: int = 7) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from perfkit.io.pg import read_pg_stat, snapshot_pg
    from perfkit.sandbox.postgres import Cluster

    cluster = Cluster()  # pg_stat_statements.max = 10000 there
    try:
        cluster.psql("create extension pg_stat_statements")
        tables = -(-statements // 1000)
        for k in range(tables):
            cluster.psql(f"create table t{k}(a int); insert into t{k} values (1)")
        # pg_stat_statements ignores constants and aliases: vary the shape (columns x table)
        cluster.psql(
            f"do $$ begin for i in 0..{statements - 1} loop "
            "execute format('select %s from t%s', "
            "array_to_string(array_fill('a'::text, array[i % 1000 + 1]), ','), i / 1000); "
            "end loop; end $$"
        )
        held = int(cluster.psql("select count(*) from pg_stat_statements").strip())
        with tempfile.TemporaryDirectory() as tmp:
            first = _times(lambda: snapshot_pg(cluster.dsn(), Path(tmp) / "store"), 1)[0]
            full = _times(lambda: snapshot_pg(cluster.dsn(), Path(tmp) / "store"), repeat)
        only = _times(lambda: read_pg_stat(cluster.dsn(), "statements"), repeat)
    finally:
        cluster.close()
    print(f"pg_stat_statements      : {held:,} entries")
    print(
        f"snapshot_pg, all views  : best {min(full) * 1e3:.0f} ms, median {statistics.median(full) * 1e3:.0f} ms "
        "(connect, read, write Parquet; goal < 100 ms)"
    )
    print(f"first snapshot of store : {first * 1e3:.0f} ms (also stores every query text once)")
    print(
        f"statements view alone   : best {min(only) * 1e3:.0f} ms, median {statistics.median(only) * 1e3:.0f} ms"
    )
    return {"entries": held, "snapshot_ms": min(full) * 1e3, "first_ms": first * 1e3}


def _times(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out
