"""Database insights on a real server: an ORM N+1, index and table findings, problem sessions."""

from __future__ import annotations

import threading
import time

import pandas as pd
import psycopg
import pytest

from perfkit.analysis import db
from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.io.pg import read_pg_stat, snapshot_pg


@pytest.fixture(scope="module")
def shop(pg):
    pg.psql("create database shop")
    pg.psql("create extension if not exists pg_stat_statements", dbname="shop")
    return pg


def test_orm_n_plus_one_is_found(shop, tmp_path):
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from tests.apps.shop_models import Base, Line, Order

    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{shop.port}/shop")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(
            Order(id=i, customer=f"c{i}", lines=[Line(sku=f"SKU-{i}")]) for i in range(200)
        )
        session.commit()
    store = tmp_path / "store"
    snapshot_pg(shop.dsn(dbname="shop"), store, views=("statements",))
    started = pd.Timestamp.now(tz="UTC")
    requests = []
    with Session(engine) as session:
        for request in range(10):  # ten requests of a view that loops over orders: the N+1
            for order in session.scalars(select(Order).where(Order.id % 10 == request)):
                assert order.lines[0].sku.startswith("SKU-")
            requests.append(pd.Timestamp.now(tz="UTC"))
            session.expire_all()
    snapshot_pg(shop.dsn(dbname="shop"), store, views=("statements",))
    engine.dispose()
    deltas = pg_deltas(read_pg_stat(store, "statements"))
    access = pd.DataFrame({"time": requests, "route": "/orders"})
    suspects = db.n_plus_one(deltas, requests=access, min_calls=100)
    assert len(suspects) == 1
    found = suspects.iloc[0]
    assert "order_lines" in found["query"] and found["calls"] == 200
    assert found["rows_per_call"] == 1.0
    assert found["calls_per_request"] == pytest.approx(20.0)
    assert started < found["interval_end"]


def test_tables_and_indexes(shop):
    sql = """
        create table stock(id serial primary key, sku text, location int, qty int, note text);
        alter table stock set (autovacuum_enabled = false);
        insert into stock(sku, location, qty, note)
            select 'SKU-' || i, i % 40, i % 13, repeat('x', 50) from generate_series(1, 20000) i;
        create index stock_sku on stock(sku);
        create index stock_sku_again on stock(sku);
        create unique index stock_sku_location on stock(sku, location);
        create index stock_location on stock(location);
        analyze stock;
        update stock set qty = qty + 1 where id <= 8000;
    """
    shop.psql(sql, dbname="shop")
    for _ in range(3):
        shop.psql(
            "select count(*) from stock where note like '%y%'", dbname="shop"
        )  # sequential scans
    shop.psql("select * from stock where sku = 'SKU-5'", dbname="shop")
    dsn = shop.dsn(dbname="shop")
    time.sleep(0.7)  # statistics reach the cumulative stats system within ~0.5 s of a transaction
    tables, indexes = read_pg_stat(dsn, "tables"), read_pg_stat(dsn, "indexes")
    seq = db.seq_scans_on_large_tables(tables, min_rows=10_000)
    assert "stock" in set(seq["relname"])
    unused = set(db.unused_indexes(indexes)["indexrelname"])
    assert "stock_location" in unused
    assert "stock_pkey" not in unused and "stock_sku_location" not in unused  # pk and unique kept
    duplicates = db.duplicate_indexes(indexes)
    assert len(duplicates) == 1 and set(duplicates.iloc[0][["index", "duplicate_of"]]) == {
        "stock_sku",
        "stock_sku_again",
    }
    dead = db.dead_tuples(tables).set_index("relname")
    assert dead.loc["stock", "n_dead_tup"] == 8000
    assert dead.loc["stock", "dead_ratio"] == pytest.approx(8000 / 28000, rel=0.02)
    ratios = db.cache_hit_ratios(tables, read_pg_stat(dsn, "database")).set_index("name")
    assert (
        0 < ratios.loc["public.stock", "hit_ratio"] <= 1
        and 0 < ratios.loc["shop", "hit_ratio"] <= 1
    )


def test_problem_sessions(shop):
    holder = psycopg.connect(shop.dsn(dbname="shop"), application_name="stuck-worker")
    holder.execute("select 1")  # opens a transaction and leaves it open
    release = threading.Event()
    runner = threading.Thread(target=lambda: _long_query(shop, release))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            activity = read_pg_stat(shop.dsn(dbname="shop"), "activity")
            found = db.problem_sessions(activity, long_query_s=0.5, idle_tx_s=0.5)
            if {"long-running query", "idle in transaction"} <= set(found["problem"]):
                break
            time.sleep(0.2)
        idle = found[found["problem"] == "idle in transaction"].iloc[0]
        assert idle["application_name"] == "stuck-worker" and idle["state_age_s"] > 0.5
        assert "pg_sleep" in found[found["problem"] == "long-running query"].iloc[0]["query"]
    finally:
        release.set()
        runner.join(timeout=30)
        holder.close()


def _long_query(pg, release):
    with psycopg.connect(pg.dsn(dbname="shop"), autocommit=True) as conn:
        conn.execute("select pg_sleep(3)")


def test_top_and_slow_statements(shop, tmp_path):
    store = tmp_path / "store"
    dsn = shop.dsn(dbname="shop")
    snapshot_pg(dsn, store, views=("statements",))
    for _ in range(3):
        shop.psql("select pg_sleep(0.06)", dbname="shop")  # 60 ms each: over the 50 ms target
    for _ in range(40):
        shop.psql("select count(*) from pg_class", dbname="shop")
    snapshot_pg(dsn, store, views=("statements",))
    deltas = pg_deltas(read_pg_stat(store, "statements"))
    slow = db.slow_statements(deltas, target_ms=50)
    assert len(slow) == 1 and "pg_sleep" in slow.iloc[0]["query"]
    assert (
        slow.iloc[0]["mean_exec_time"] == pytest.approx(60, abs=15) and slow.iloc[0]["calls"] == 3
    )
    by_time = db.top_statements(deltas, by="total_exec_time", n=1)
    assert "pg_sleep" in by_time.iloc[0]["query"] and 0 < by_time.iloc[0]["time_share"] <= 1
    by_calls = db.top_statements(deltas, by="calls", n=1)
    assert "pg_class" in by_calls.iloc[0]["query"] and by_calls.iloc[0]["calls"] == 40
