"""read_pg_log on real PostgreSQL 15 server logs (stderr with PostgreSQL's default and pgBadger's
prefix, csvlog, jsonlog; pgbench and planted lock waits, a deadlock, a temp file, errors, secrets,
multi-line statements, auto_explain), recorded by tests/data/wild/pg_log/record.py (provenance in
its README). Truth is each run's truth.json, read from PostgreSQL's own counters for the same
window (pg_stat_statements, pg_stat_database, pg_stat_bgwriter) and what the recorder did."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

import perfkit
from perfkit.io.pg_log_sql import fingerprint
from perfkit.io.redact import redact_sql_text

HERE = Path(__file__).parent / "data" / "wild" / "pg_log"
RUNS = ["stderr_default", "stderr_prefix", "csvlog", "jsonlog"]


def load(name: str):
    """(truth, the whole log, its entries inside the recorder's window): by the log's own
    byte offsets where lines are physical (stderr, jsonlog), by time to the millisecond in
    csvlog (whose records may span lines)."""
    folder = HERE / name
    truth = json.loads((folder / "truth.json").read_text())
    log = perfkit.read_pg_log(folder / truth["log_file"])
    window = truth["window"]
    if name == "csvlog":
        start, end = pd.Timestamp(window["start_utc"]), pd.Timestamp(window["end_utc"])
        return truth, log, log[(log["time"] >= start) & (log["time"] <= end)]
    data = gzip.decompress((folder / truth["log_file"]).read_bytes())
    first = data[: window["start_log_offset"]].count(b"\n") + 1  # the window's first line
    last = data[: window["end_log_offset"]].count(b"\n")  # its last whole line
    return truth, log, log[(log["line"] >= first) & (log["line"] <= last)]


@pytest.mark.parametrize("name", RUNS)
def test_executions_per_statement_equal_pg_stat_statements(name):
    """Every statement pg_stat_statements counted in the window: as many logged executions
    (joined by fingerprint), and their logged time at least its executor time (a logged
    duration covers parse and plan too) and not far above its executor + planner time."""
    truth, _, inside = load(name)
    runs = inside[inside["kind"] == "statement"]
    logged = runs.groupby("fingerprint")["duration_ms"].agg(["size", "sum"])
    # a literal (simple protocol) and a bound $1 (extended) are two queryids with one text in
    # pg_stat_statements; a log's text cannot tell them apart: compare per text
    pgss = pd.DataFrame(truth["pg_stat_statements"])
    # pg_stat_statements keeps a utility statement's password literal; the log frame never does
    pgss["key"] = pgss["query"].map(redact_sql_text).map(fingerprint)
    want = pgss.groupby("key")[["calls", "total_exec_time", "total_plan_time"]].sum()
    # PostgreSQL 15 counts a utility statement run through a prepared statement once per session
    # (pgbench -M prepared's BEGIN/END): simple-protocol runs plus the sessions that prepared it
    simple = runs[runs["name"].isna()].groupby("fingerprint").size()
    sessions = runs[runs["name"].notna()].groupby("fingerprint")["pid"].nunique()
    for key, row in want.iterrows():
        assert key in logged.index, key
        calls, total = logged.loc[key]
        if key.split(" ")[0] in ("begin", "end", "commit"):
            assert simple.get(key, 0) + sessions.get(key, 0) == row["calls"], key
            continue
        assert calls == row["calls"], key
        assert total >= 0.97 * row["total_exec_time"] - 0.05, key
        known = row["total_exec_time"] + row["total_plan_time"]
        if known >= 5 * calls:  # slow statements: parse, analyse and protocol are small beside
            assert abs(total - known) <= 0.1 * known + 1.5 * calls, key
    assert len(want) >= 10
    # the window as a whole: the log's time is the executor's and planner's, plus at most a
    # quarter for what they do not count (parse, analyse, the protocol: BEGIN/END mostly)
    shown = logged.loc[logged.index.intersection(want.index), "sum"].sum()
    known = (want["total_exec_time"] + want["total_plan_time"]).sum()
    assert known <= shown <= 1.25 * known


@pytest.mark.parametrize("name", RUNS)
def test_planted_events_are_found(name):
    truth, _, inside = load(name)
    events = truth["events"]
    kinds = inside["kind"].astype(str)
    waiter = events["lock_wait"]["waiter_pid"]
    waits = inside[(kinds == "lock_wait") & (inside["pid"] == waiter)]
    assert len(waits) == 1 and waits["lock_mode"].iloc[0] == "ShareLock"
    assert fingerprint(waits["statement"].iloc[0]) == \
        fingerprint(events["lock_wait"]["waiter_statement"])  # fmt: skip
    got = inside[(kinds == "lock_acquired") & (inside["pid"] == waiter)]["duration_ms"].iloc[0]
    assert abs(got - events["lock_wait"]["wait_ms_recorder"]) < 100  # the recorder's own clock
    deadlocks = inside[kinds == "deadlock"]
    assert len(deadlocks) == truth["stats_delta"]["database"]["deadlocks"]
    assert set(deadlocks["pid"]) == {int(p) for p in events["deadlock"]["victims"]}
    temp = inside[kinds == "temp_file"]
    assert len(temp) == truth["stats_delta"]["database"]["temp_files"]
    assert temp["temp_bytes"].sum() == truth["stats_delta"]["database"]["temp_bytes"]
    assert set(temp["statement"].map(fingerprint)) == {fingerprint(truth["temp_files"]["statement"])}
    errors = inside[kinds == "error"]
    assert [fingerprint(s) for s in errors["statement"]] == \
        [fingerprint(e["statement_sent"]) for e in events["errors"]]  # fmt: skip
    if name in ("csvlog", "jsonlog"):  # their own sqlstate column
        assert errors["sqlstate"].tolist() == [e["sqlstate"] for e in events["errors"]]
    assert (kinds == "disconnection").sum() == truth["connections"]["disconnections_in_window"]
    done = inside[(kinds == "checkpoint") & inside["duration_ms"].notna()]
    assert len(done) == truth["checkpoints"]["requested_by_CHECKPOINT"]


@pytest.mark.parametrize("name", RUNS)
def test_secrets_never_reach_the_frame_and_multi_line_statements_are_whole(name):
    truth, log, _ = load(name)
    assert "hunter2" not in log.astype(str).to_csv()
    statements = set(log["fingerprint"].dropna())
    for planted in truth["events"]["misc"]["multiline_statements"]:
        assert fingerprint(planted["text"]) in statements, planted["text"]
    assert log.attrs["perfkit"]["rejected"] == 0


def test_csvlog_lines_are_the_files_and_an_unfinished_record_is_counted(tmp_path):
    """`line` is the file line a record starts on (a quoted field spans lines); a live log's
    unfinished last record is left out, counted and sampled, and the rest is read."""
    truth, log, _ = load("csvlog")
    text = gzip.decompress((HERE / "csvlog" / truth["log_file"]).read_bytes()).decode()
    lines = text.splitlines()
    for _, row in log.sample(20, random_state=1).iterrows():
        assert lines[row["line"] - 1].startswith(row["time"].strftime("%Y-%m-%d %H:%M:%S"))
    account = log.attrs["perfkit"]
    assert account["parsed"] == len(log) and account["rejected"] == 0
    cut = tmp_path / "postgresql.csv"
    cut.write_text(text + '2026-12-07 14:00:00.001 UTC,"u","d",1,"h:1",s,1,"idle","unfinished\n')
    with pytest.warns(UserWarning, match="not a csvlog record"):
        again = perfkit.read_pg_log(cut)
    assert len(again) == len(log) and again.attrs["perfkit"]["rejected"] == 1


@pytest.mark.parametrize("backend", [None, "numpy_nullable", "pyarrow"])
def test_every_text_column_takes_the_backends_string_dtype(backend):
    """As pandas.read_csv gives text for each dtype_backend (pandas is the reference)."""
    import io

    want = pd.read_csv(io.StringIO("a\nx\n"), dtype_backend=backend or "numpy_nullable")["a"].dtype \
        if backend else pd.read_csv(io.StringIO("a\nx\n"))["a"].dtype  # fmt: skip
    log = perfkit.read_pg_log(HERE / "csvlog" / "server.csv.gz", dtype_backend=backend)
    for column in ("session", "sqlstate", "statement", "normalized", "message", "detail"):
        assert log[column].dtype == want, column
