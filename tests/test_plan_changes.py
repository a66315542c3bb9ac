"""plan_changes: the statement whose index was dropped between two real pgbench runs (recorded by
tests/data/wild/pg_log/record.py, auto_explain text plans; truth.json from the recorder: each
run's plan nodes per statement, read with EXPLAIN outside the log) is the top row, Index Scan ->
Seq Scan; an A/A pair shows no change. plan_shape on planted text and JSON plans (PostgreSQL's
EXPLAIN formats) gives the same shape for both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import perfkit
from perfkit.analysis.regression.plans import plan_changes, plan_shape
from perfkit.errors import InputError
from perfkit.io.pg_log_sql import fingerprint

PAIR = Path(__file__).parent / "data" / "wild" / "pg_log" / "plans_pair"
TRUTH = json.loads((PAIR / "truth.json").read_text())["runs"]


def read(run: str):
    return perfkit.read_pg_log(PAIR / run / "server.log")


def nodes(run: str) -> dict[str, set[str]]:
    return {fingerprint(q): set(v["nodes"]) for q, v in TRUTH[run].items()}


def test_the_dropped_index_is_the_top_row():
    changes = plan_changes(read("base"), read("cand"))
    top = changes.iloc[0]
    base, cand = nodes("base"), nodes("cand")
    moved = [k for k in base if base[k] != cand[k]]
    assert [top["fingerprint"]] == moved  # the one statement the recorder saw change
    assert bool(top["changed"]) and changes["changed"].sum() == 1
    gone, came = top["change"].split(" -> ")
    assert set(gone.split(" + ")) == base[moved[0]] - cand[moved[0]]
    assert set(came.split(" + ")) == cand[moved[0]] - base[moved[0]]
    truth = {fingerprint(q): v for q, v in TRUTH["cand"].items()}[moved[0]]
    assert top["cand_calls"] == truth["calls"]
    assert top["cand_ms"] == pytest.approx(truth["mean_exec_time_ms"], rel=0.05, abs=0.01)
    assert top["ratio"] > 10 and top["added_ms"] == max(changes["added_ms"])


def test_an_aa_pair_shows_no_plan_change():
    changes = plan_changes(read("base"), read("base_again"))
    assert len(changes) == len(TRUTH["base"]) and not changes["changed"].any()
    for key, row in changes.set_index("fingerprint").iterrows():
        assert set(row["base_plan"].replace("(", ",").replace(")", "").split(", ")) >= \
            nodes("base")[key]  # fmt: skip


TEXT = """Query Text: SELECT * FROM t JOIN u ON u.id = t.uid WHERE t.id = 5
Nested Loop  (cost=0.57..16.61 rows=1 width=8) (actual time=0.010..0.011 rows=1 loops=1)
  ->  Index Scan using t_pkey on t  (cost=0.29..8.30 rows=1 width=8) (actual time=0.005..0.005 rows=1 loops=1)
        Index Cond: (id = 5)
  ->  Seq Scan on u  (cost=0.00..8.30 rows=2 width=4) (actual time=0.003..0.003 rows=400 loops=1)
        Filter: (id = t.uid)"""
JSON = json.dumps({"Query Text": "SELECT ...", "Plan": {
    "Node Type": "Nested Loop", "Plan Rows": 1, "Actual Rows": 1, "Plans": [
        {"Node Type": "Index Scan", "Index Name": "t_pkey", "Relation Name": "t", "Plan Rows": 1,
         "Actual Rows": 1},
        {"Node Type": "Seq Scan", "Relation Name": "u", "Plan Rows": 2, "Actual Rows": 400}]}})


def test_text_and_json_plans_have_one_shape_and_the_misestimate():
    assert plan_shape(TEXT) == plan_shape(JSON) == (
        "Nested Loop(Index Scan using t_pkey on t, Seq Scan on u)", 200.0)  # 400 rows for 2
    assert plan_shape("not a plan") == ("", 1.0)


def test_bad_input_is_named():
    with pytest.raises(InputError, match="the base frame is not read_pg_log's"):
        plan_changes(perfkit.read_gunicorn_log(PAIR.parents[1] / "memory_workers" / "error.log"),
                     read("base"))  # fmt: skip


def test_the_regression_report_shows_the_same_plan_change_as_the_api(tmp_path):
    """Two run folders holding only PostgreSQL's log (as `postgresql.log`): the report finds the
    logs, and its verdict and JSON carry plan_changes' own rows."""
    from perfkit.report.regression import regression_report

    for run in ("base", "cand"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "postgresql.log").write_bytes((PAIR / run / "server.log").read_bytes())
    report = regression_report(tmp_path / "base", tmp_path / "cand")
    api = plan_changes(read("base"), read("cand"))
    changed = api[api["changed"]]
    assert [p["change"] for p in report.summary()["plan_changes"]] == changed["change"].tolist()
    assert report.summary()["plan_changes"][0]["added_ms"] == pytest.approx(
        changed["added_ms"].iloc[0])  # fmt: skip
    text = report.verdict().data
    assert "**1 statement(s) changed plan**" in text and "Seq Scan on pgbench" in text
    assert "access log" not in report.base.sources  # the server log is not an access log
    trust = report.base.trust()
    assert trust.loc[trust["source"] == "PostgreSQL server log", "files"].iloc[0] == \
        "postgresql.log"  # fmt: skip


def test_a_text_plan_and_a_json_plan_of_the_same_statement_have_one_shape():
    """The same pgbench workload logged with auto_explain's text format (stderr_prefix) and its
    JSON format (jsonlog): every statement planned in both has the same usual shape, so a base
    and a candidate logged in different formats compare (ModifyTable is 'Update' in text)."""
    wild = PAIR.parent
    text = perfkit.read_pg_log(wild / "stderr_prefix" / "server.log.gz")
    data = perfkit.read_pg_log(wild / "jsonlog" / "server.json.gz")
    changes = plan_changes(text, data)
    assert len(changes) >= 5 and not changes["changed"].any(), changes[changes["changed"]]
    assert {"Update on pgbench_accounts(Index Scan using pgbench_accounts_pkey on "
            "pgbench_accounts)"} <= set(changes["cand_plan"])  # fmt: skip


BACKWARD = """Limit  (cost=0.29..1.00 rows=3 width=8) (actual time=0.01..0.02 rows=3 loops=1)
  ->  Index Scan Backward using t_pkey on t  (cost=0.29..100.00 rows=400 width=8) (actual time=0.01..0.02 rows=3 loops=1)"""
BITMAP = """Finalize HashAggregate  (cost=1.00..2.00 rows=1 width=8) (actual time=0.1..0.2 rows=1 loops=1)
  ->  Bitmap Heap Scan on u  (cost=4.18..12.64 rows=4 width=8) (actual time=0.1..0.2 rows=4 loops=1)
        ->  Bitmap Index Scan on u_x_idx  (cost=0.00..4.18 rows=4 width=0) (actual time=0.1..0.1 rows=4 loops=1)
  ->  Function Scan on generate_series g  (cost=0.00..0.10 rows=10 width=4) (actual time=0.0..0.0 rows=10 loops=1)"""


def test_text_and_json_name_the_other_node_kinds_alike():
    """EXPLAIN's text format writes some JSON fields into the node's name (Backward, Finalize,
    'on <index>' for a bitmap index scan, 'on <function>'); a node under a Limit that stops
    early (3 rows of 400 planned) is not a misestimate."""
    backward = {"Node Type": "Limit", "Plan Rows": 3, "Actual Rows": 3, "Plans": [
        {"Node Type": "Index Scan", "Scan Direction": "Backward", "Index Name": "t_pkey",
         "Relation Name": "t", "Plan Rows": 400, "Actual Rows": 3}]}
    bitmap = {"Node Type": "Aggregate", "Strategy": "Hashed", "Partial Mode": "Finalize",
              "Plan Rows": 1, "Actual Rows": 1, "Plans": [
                  {"Node Type": "Bitmap Heap Scan", "Relation Name": "u", "Plan Rows": 4,
                   "Actual Rows": 4, "Plans": [{"Node Type": "Bitmap Index Scan",
                                               "Index Name": "u_x_idx", "Plan Rows": 4,
                                               "Actual Rows": 4}]},
                  {"Node Type": "Function Scan", "Function Name": "generate_series",
                   "Alias": "g", "Plan Rows": 10, "Actual Rows": 10}]}  # fmt: skip
    for text, tree, shape in (
        (BACKWARD, backward, "Limit(Index Scan Backward using t_pkey on t)"),
        (BITMAP, bitmap, "Finalize HashAggregate(Bitmap Heap Scan on u(Bitmap Index Scan on "
                         "u_x_idx), Function Scan on generate_series)"),
    ):  # fmt: skip
        assert plan_shape(text) == plan_shape(json.dumps({"Plan": tree})) == (shape, 1.0)


def test_a_run_folder_names_its_log_line_prefix(tmp_path):
    """An uncommon log_line_prefix (`<%p> %m `) is sniffed by no one: a copy of the server's
    postgresql.conf in the run folder gives it, as access_log_format.txt does for access logs."""
    from perfkit.report.evidence import load_run

    text = (PAIR / "base" / "server.log").read_text()
    lines = [f"<{m.group(2)}> {m.group(1)} {m.group(3)}" for m in
             (re.match(r"^(\S+ \S+ \S+) \[(\d+)\] (.*)$", line) for line in text.splitlines())
             if m]  # fmt: skip
    (tmp_path / "postgresql.log").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="log_line_prefix"):  # named, not guessed
        load_run(tmp_path)
    (tmp_path / "postgresql.conf").write_text("log_line_prefix = '<%p> %m '\n")
    run = load_run(tmp_path)
    assert not run.problems and (run.pg_log["kind"] == "plan").sum() == \
        (read("base")["kind"] == "plan").sum()  # fmt: skip
