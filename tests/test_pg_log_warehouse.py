"""read_pg_log on a real PostgreSQL 15 server log written under the warehouse app (Flask +
SQLAlchemy 2 + psycopg 3 under Gunicorn, Locust load) and a side script (server-side cursors,
IN-lists, psycopg prepared statements, a portal fetched in batches), recorded by
tests/data/wild/pg_log/record_warehouse.py (provenance in tests/data/wild/pg_log/warehouse/README.md).
The same window is logged twice: stderr with a pgBadger-style ``%m`` prefix and jsonlog. Truth
is pg_stat_statements' own deltas over the window (`truth.json`), never the log.

What PostgreSQL 15 logs against what it counts (the judgements tested here):

- extended protocol (psycopg sends every statement with parameters this way): the ``execute``
  line's duration is the executor's time; planning happens at ``bind`` (its own line). For a
  SELECT the portal (and auto_explain's ExecutorEnd) is closed after the line is written, so
  the execute lines' total equals ``total_exec_time`` to a few microseconds a call;
- simple protocol: one ``statement:`` line covers parse, plan, execute and auto_explain;
- a portal run in batches (Execute with a row limit): one ``execute`` line, then an
  ``execute fetch from`` line per further batch; pg_stat_statements counts one call;
- SQL cursors: ``DECLARE`` is one call, each ``FETCH`` text its own statement; the cursor's
  query is never logged or counted on its own;
- statements run inside others (foreign-key checks; pg_stat_statements.track = all) are counted
  (toplevel false) but not logged; ``DEALLOCATE`` is logged but never counted.
"""

from __future__ import annotations

import functools
import gzip
import json

import pandas as pd
import pytest

import perfkit
from perfkit.io.pg_log_sql import fingerprint
from perfkit.io.redact import redact_sql_text
from tests.test_pg_log_wild import HERE

FOLDER = HERE / "warehouse"
LOGS = ["stderr", "jsonlog"]
ROUNDING = 0.0005  # ms: the log prints durations to 3 decimals
# the side script's portal, fetched 10 rows at a time (25 rows: Execute, fetch, fetch)
PORTAL = fingerprint("SELECT id, sku FROM products WHERE id <= 25 ORDER BY id")


@functools.cache
def load(name: str) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(truth, the whole log, its entries inside the window): the window is the log's bytes
    [start_log_offset, end_log_offset), file sizes read between pg_stat_statements' two
    snapshots (stderr continuation lines belong to the entry above them)."""
    folder = FOLDER / name
    truth = json.loads((folder / "truth.json").read_text())
    given = folder / "log_line_prefix.txt"
    prefix = given.read_text().rstrip("\n") if given.exists() else None
    log = perfkit.read_pg_log(folder / truth["log_file"], prefix=prefix)
    window = truth["window"]
    data = gzip.decompress((folder / truth["log_file"]).read_bytes())
    first = data[: window["start_log_offset"]].count(b"\n") + 1
    last = data[: window["end_log_offset"]].count(b"\n")
    return truth, log, log[(log["line"] >= first) & (log["line"] <= last)]


def pgss(truth: dict, toplevel: bool = True) -> pd.DataFrame:
    """pg_stat_statements' deltas per fingerprint of its own query text."""
    rows = pd.DataFrame(truth["pg_stat_statements"])
    rows = rows[rows["toplevel"] == toplevel].copy()
    rows["key"] = rows["query"].map(redact_sql_text).map(fingerprint)
    return rows.groupby("key")[["calls", "total_exec_time", "total_plan_time", "plans"]].sum()


def executions(inside: pd.DataFrame) -> pd.DataFrame:
    """Per fingerprint: executions (``statement`` lines), their time with the portal's further
    batches (``fetch`` lines), and whether all ran through the extended protocol."""
    kind = inside["kind"].astype(str)
    runs = inside[kind.isin(["statement", "fetch"])].assign(run=kind == "statement")
    return runs.groupby("fingerprint").agg(
        count=("run", "sum"), ms=("duration_ms", "sum"),
        extended=("name", lambda names: bool(names.notna().all())))  # fmt: skip


@pytest.mark.parametrize("name", LOGS)
def test_every_statement_is_logged_as_often_as_pg_stat_statements_counted_it(name):
    """Per statement (joined by fingerprint of pg_stat_statements' own text), one logged
    execution per call, both ways: no statement missing, none merged with another (IN-lists
    of each length are their own statement, as PostgreSQL 15 jumbles them), none invented."""
    truth, _, inside = load(name)
    want = pgss(truth)
    got = executions(inside)
    assert len(want) >= 40
    for key, row in want.iterrows():
        assert key in got.index, key
        assert got.loc[key, "count"] == row["calls"], key
    lengths = {n["length"] for n in truth["side"]["sqlalchemy"]["in_lists"]}  # 1, 2, 3, 5, 8
    in_lists = got[got.index.str.startswith("select stock . id from stock where stock . "
                                            "product_id in (")]  # fmt: skip
    assert sorted(in_lists.index.str.count(r"\?") - 1) == sorted(lengths)  # + the LIMIT
    # logged, never counted: DEALLOCATE (psycopg's, when a session's prepared statements go)
    assert set(got.index) - set(want.index) == {"deallocate all"}
    # transactions: psycopg's BEGIN (simple protocol) every time, as pg_stat_statements counts
    assert got.loc["begin", "count"] == want.loc["begin", "calls"] == \
        want.loc["commit", "calls"] + want.loc["rollback", "calls"]  # fmt: skip


@pytest.mark.parametrize("name", LOGS)
def test_execute_durations_are_the_executors_time(name):
    """Extended-protocol SELECTs: the execute lines' total is total_exec_time plus a few
    microseconds a call (the rounding and the protocol), per statement and over the window;
    planning is on the bind lines. Every other statement's logged time covers at least what
    PostgreSQL counted for it (simple protocol: planning too)."""
    truth, _, inside = load(name)
    want = pgss(truth)
    got = executions(inside).join(want, how="inner")
    select = got[got["extended"] & got.index.str.startswith("select")]
    assert len(select) >= 15
    excess = (select["ms"] - select["total_exec_time"]) / select["calls"]
    assert excess.between(-ROUNDING, 0.05).all(), excess.sort_values().tail(3)
    assert abs(select["ms"].sum() / select["total_exec_time"].sum() - 1) < 0.002
    binds = inside[inside["kind"].astype(str) == "bind"].groupby("fingerprint")["duration_ms"]
    planned = select.join(binds.sum().rename("bind_ms"))
    assert (planned["bind_ms"] >= planned["total_plan_time"] - ROUNDING * planned["plans"]).all()
    rest = got.drop(index=select.index)
    floor = rest["total_exec_time"] + rest["total_plan_time"].where(~rest["extended"], 0)
    assert (rest["ms"] >= floor - ROUNDING * rest["calls"]).all()
    assert (rest["ms"] <= floor + rest["total_plan_time"] + 5 * rest["calls"]).all()


@pytest.mark.parametrize("name", LOGS)
def test_server_side_cursors_are_declare_and_fetch(name):
    """SQLAlchemy's stream_results and psycopg's named cursor: each DECLARE once (the app's
    cursor names differ), each FETCH text as often as sent; the cursor's query is not logged
    or counted on its own."""
    truth, _, inside = load(name)
    got = executions(inside)
    side = truth["side"]
    declares = got[got.index.str.startswith("declare ")]
    cursors = len(side["sqlalchemy"]["server_side_cursors"]) + 1  # + psycopg's named cursor
    assert len(declares) == cursors and (declares["count"] == 1).all()
    fetches = got[got.index.str.startswith("fetch ")]
    assert fetches.loc['fetch forward 12 from "perfkit_named"', "count"] == \
        len(side["psycopg_prepared"]["named_cursor_batches"])  # fmt: skip
    assert fetches["count"].sum() == pgss(truth).filter(like="fetch ", axis=0)["calls"].sum()
    inner = fingerprint("SELECT id FROM orders WHERE id <= $1 ORDER BY id")
    assert inner not in got.index


@pytest.mark.parametrize("name", LOGS)
def test_prepared_statements_join_the_unnamed_ones(name):
    """psycopg prepares a statement after prepare_threshold runs on a connection: `execute
    _pg3_n` lines and `execute <unnamed>` lines of one text are one statement; the side
    script's prepare_threshold=0 statements are prepared from the first call."""
    truth, _, inside = load(name)
    runs = inside[inside["kind"].astype(str) == "statement"]
    names = runs.groupby("fingerprint")["name"].agg(lambda n: set(n.dropna().astype(str)))
    mixed = names[names.map(lambda n: "<unnamed>" in n and any(x.startswith("_pg3_") for x in n))]
    assert len(mixed) >= 1  # the app's own connections crossed the threshold
    first = fingerprint("SELECT sku, price_cents FROM products WHERE id = $1")
    assert names[first] == {"_pg3_0"}
    assert (runs["fingerprint"] == first).sum() == pgss(truth).loc[first, "calls"] == 6


@pytest.mark.parametrize("name", LOGS)
def test_sqlalchemy_binds_are_the_servers_text_and_values_are_redacted(name):
    """SQLAlchemy's %(name)s binds reach the server as $n: the normalised text is the one
    pg_stat_statements stored (it trims the text's ends); the parameters are redacted."""
    truth, log, inside = load(name)
    normalized = set(inside["normalized"].dropna().str.strip())
    texts = [r["query"] for r in truth["pg_stat_statements"] if r["toplevel"]
             and r["query"].upper().startswith(("SELECT", "INSERT"))]  # fmt: skip
    assert len(texts) >= 20
    assert [t for t in texts if t not in normalized] == []
    params = inside["parameters"].dropna()
    assert len(params) >= 500 and params.str.fullmatch(r"(\$\d+ = ('REDACTED'|NULL)(, )?)+").all()
    assert "locust" not in log.astype(str).to_csv()  # the app's INSERT of customer 'locust'


@pytest.mark.parametrize("name", LOGS)
def test_nested_statements_are_counted_but_not_logged(name):
    """Foreign-key checks run inside the app's INSERTs: pg_stat_statements (track = all)
    counts them, not top-level; the log has no line of theirs."""
    truth, _, inside = load(name)
    nested = pgss(truth, toplevel=False)
    assert len(nested) >= 2 and nested.index.str.contains("for key share").all()
    assert not set(nested.index) & set(inside["fingerprint"].dropna())


@pytest.mark.parametrize("name", LOGS)
def test_a_portal_fetched_in_batches_is_one_execution(name):
    """A portal read in batches (`execute <unnamed>`, then `execute fetch from <unnamed>`
    lines) is one execution, as pg_stat_statements counts it; the further batches are
    ``fetch``."""
    truth, _, inside = load(name)
    runs = inside[(inside["kind"].astype(str) == "statement") & (inside["fingerprint"] == PORTAL)]
    assert len(truth["side"]["portal"]) == pgss(truth).loc[PORTAL, "calls"] == 2
    assert len(runs) == 2 and set(runs["name"]) == {"<unnamed>"}


@pytest.mark.parametrize("name", LOGS)
def test_a_portal_fetched_in_batches_keeps_its_time(name):
    """All of the portal's lines (execute and execute fetch from) add up to its executor time."""
    truth, _, inside = load(name)
    kind = inside["kind"].astype(str)
    lines = inside[kind.isin(["statement", "fetch"]) & (inside["fingerprint"] == PORTAL)]
    want = pgss(truth).loc[PORTAL]
    batches = sum(len(p["batches"]) for p in truth["side"]["portal"])
    assert len(lines) == batches == 6
    assert want["total_exec_time"] - ROUNDING * batches <= lines["duration_ms"].sum() \
        <= want["total_exec_time"] + 0.05 * batches  # fmt: skip


@pytest.mark.parametrize("name", LOGS)
def test_every_plan_names_its_whole_statement(name):
    """auto_explain (log_analyze, text) logs each top-level statement's plan with its text:
    every plan's fingerprint is one of the logged statements'."""
    _, _, inside = load(name)
    plans = inside[inside["kind"].astype(str) == "plan"]
    statements = set(inside.loc[inside["kind"].astype(str) == "statement", "fingerprint"])
    assert len(plans) >= 500
    assert plans["fingerprint"].isin(statements).all()


def test_the_prefix_is_sniffed():
    truth, log, _ = load("stderr")
    sniffed = perfkit.read_pg_log(FOLDER / "stderr" / truth["log_file"])
    assert len(sniffed) == len(log) and sniffed["user"].notna().sum() == log["user"].notna().sum()


def test_stderr_and_jsonlog_agree():
    """One window, two destinations: the same statements, counts and durations."""
    _, _, text = load("stderr")
    _, _, json_ = load("jsonlog")
    a, b = executions(text), executions(json_)
    pd.testing.assert_frame_equal(a, b)
