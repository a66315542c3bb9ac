"""pg_deltas on real snapshots: exact call counts from pgbench, resets, per-statement resets."""

from __future__ import annotations

import pytest

from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.io.pg import read_pg_stat, snapshot_pg

ACCOUNTS = "UPDATE pgbench_accounts"


def direct(pg, like: str) -> tuple[int, float]:
    """calls and total_exec_time of one statement, read straight from pg_stat_statements by psql."""
    out = pg.psql(
        f"select sum(calls), sum(total_exec_time) from pg_stat_statements where query like '{like}%'"
    )
    calls, total = out.strip().split("|")
    return int(calls or 0), float(total or 0)


@pytest.fixture
def fresh(pg):
    pg.psql(
        "drop table if exists pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
    )
    pg.pgbench("-i", "-s", "1")
    pg.psql("select pg_stat_statements_reset()")
    return pg


def test_deltas_match_the_workload_and_the_view(fresh, tmp_path):
    pg, store = fresh, tmp_path / "store"
    snapshot_pg(pg.dsn(), store, views=("statements",))
    pg.pgbench("-c", "2", "-t", "150")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    before = direct(pg, ACCOUNTS)
    pg.pgbench("-c", "1", "-t", "70")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    after = direct(pg, ACCOUNTS)
    deltas = pg_deltas(read_pg_stat(store, "statements"))
    rows = deltas[deltas["query"].str.startswith(ACCOUNTS)]
    assert rows["status"].tolist() == ["new", "ok"]
    assert rows["calls"].tolist() == [300, 70]  # pgbench: clients x transactions, one UPDATE each
    assert rows["calls"].iloc[1] == after[0] - before[0]
    assert rows["total_exec_time"].iloc[1] == pytest.approx(after[1] - before[1], rel=1e-9)
    assert rows["rows_per_call"].tolist() == [1.0, 1.0]
    assert rows["mean_exec_time"].iloc[1] == pytest.approx((after[1] - before[1]) / 70, rel=1e-9)
    assert (deltas["calls"].dropna() >= 0).all()


def test_a_reset_in_the_middle_is_marked_not_negative(fresh, tmp_path):
    pg, store = fresh, tmp_path / "store"
    pg.pgbench("-c", "1", "-t", "100")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    pg.psql("select pg_stat_statements_reset()")
    pg.pgbench("-c", "1", "-t", "30")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    pg.pgbench("-c", "1", "-t", "40")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    deltas = pg_deltas(read_pg_stat(store, "statements"))
    first, second = sorted(deltas["interval_end"].unique())
    assert set(deltas.loc[deltas["interval_end"] == first, "status"]) == {"reset"}
    assert deltas.loc[deltas["interval_end"] == first, "calls"].isna().all()
    rows = deltas[(deltas["interval_end"] == second) & deltas["query"].str.startswith(ACCOUNTS)]
    assert rows["status"].tolist() == ["ok"] and rows["calls"].tolist() == [40]


def test_one_statement_reset_is_marked_for_that_statement(fresh, tmp_path):
    pg, store = fresh, tmp_path / "store"
    pg.pgbench("-c", "1", "-t", "60")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    queryid = pg.psql(
        f"select queryid from pg_stat_statements where query like '{ACCOUNTS}%'"
    ).strip()
    pg.psql(f"select pg_stat_statements_reset(0, 0, {queryid})")
    pg.pgbench("-c", "1", "-t", "10")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    deltas = pg_deltas(read_pg_stat(store, "statements")).set_index("query")
    accounts = deltas.loc[deltas.index.str.startswith(ACCOUNTS)].iloc[0]
    tellers = deltas.loc[deltas.index.str.startswith("UPDATE pgbench_tellers")].iloc[0]
    assert accounts["status"] == "reset" and accounts["calls"] != accounts["calls"]  # NA
    assert tellers["status"] == "ok" and tellers["calls"] == 10


def test_csv_exports(fresh, tmp_path):
    pg = fresh
    pg.pgbench("-c", "1", "-t", "25")
    exports = pg.root  # psql runs as the server's user, who may write only there
    with_time = exports / "with_time.csv"
    pg.psql(
        f"\\copy (select now() as snapshot_time, * from pg_stat_statements) to '{with_time}' csv header"
    )
    pg.pgbench("-c", "1", "-t", "25")
    plain = exports / "statements-20991231T235959Z.csv"
    pg.psql(f"\\copy (select * from pg_stat_statements) to '{plain}' csv header")
    first = read_pg_stat(with_time, "statements")
    second = read_pg_stat(plain, "statements")
    assert str(second["snapshot_time"].iloc[0]) == "2099-12-31 23:59:59+00:00"
    import pandas as pd

    deltas = pg_deltas(pd.concat([first, second], ignore_index=True))
    rows = deltas[deltas["query"].str.startswith(ACCOUNTS)]
    assert rows["calls"].tolist() == [25]
    nameless = tmp_path / "export.csv"
    nameless.write_text(plain.read_text())
    from perfkit import InputError

    with pytest.raises(InputError, match=r"export\.csv: no snapshot_time column"):
        read_pg_stat(nameless, "statements")
    assert (
        read_pg_stat(nameless, "statements", snapshot_time="2024-01-01T00:00:00Z")["snapshot_time"]
        .notna()
        .all()
    )


def test_evictions_are_flagged_and_never_negative(tmp_path):
    from perfkit.sandbox.postgres import Cluster

    small = Cluster()  # its own server: pg_stat_statements.max at its minimum, 100
    try:
        with open(small.data / "postgresql.conf", "a") as conf:
            conf.write("pg_stat_statements.max = 100\n")
        small.stop()
        small.start()
        small.psql("create extension pg_stat_statements; create table t(a int)")
        store = tmp_path / "store"
        churn = (
            "do $$ begin for i in 1..{n} loop execute format('select %s from t', "
            "array_to_string(array_fill('a'::text, array[i]), ',')); end loop; end $$"
        )
        snapshot_pg(small.dsn(), store, views=("statements",))
        small.psql(churn.format(n=10))
        snapshot_pg(small.dsn(), store, views=("statements",))
        small.psql(churn.format(n=300))  # far more distinct statements than fit: evictions
        snapshot_pg(small.dsn(), store, views=("statements",))
        deltas = pg_deltas(read_pg_stat(store, "statements"))
        first, second = sorted(deltas["interval_end"].unique())
        assert not deltas.loc[deltas["interval_end"] == first, "evictions"].any()
        assert deltas.loc[deltas["interval_end"] == second, "evictions"].all()
        assert (deltas["calls"].dropna() >= 0).all() and (
            deltas["total_exec_time"].dropna() >= 0
        ).all()
    finally:
        small.close()


def test_older_column_names_map_to_the_newest(tmp_path):
    csv = tmp_path / "pg12-20240101T000000Z.csv"
    csv.write_text(
        "queryid,dbid,userid,query,calls,total_time,mean_time,rows,blk_read_time\n"
        "1,5,10,select 1,3,1.5,0.5,3,0.1\n"
    )
    frame = read_pg_stat(csv, "statements")
    assert {"total_exec_time", "mean_exec_time", "shared_blk_read_time"} <= set(frame.columns)
    assert "total_time" not in frame.columns and frame["total_exec_time"].iloc[0] == 1.5
