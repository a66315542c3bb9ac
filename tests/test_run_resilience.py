"""One broken source never takes a report down: run folders copied from data/ with one source
damaged, and run folders whose pg/ holds psql CSV exports as users collect them."""

from __future__ import annotations

import html
import json
import lzma
import re
import shutil

import pytest

import perfkit
from perfkit import InputError
from perfkit.report.capacity import capacity_report
from perfkit.report.evidence import load_run
from perfkit.report.memory import memory_report
from perfkit.report.overview import overview_report
from tests.servers import ROOT

DATA = ROOT / "data"


def copy(scenario: str, tmp_path):
    return shutil.copytree(DATA / scenario, tmp_path / scenario)


def trust_row(run, label: str) -> dict:
    rows = run.trust()
    rows = rows[rows["source"] == label]
    assert len(rows) == 1, run.trust()
    return rows.iloc[0].to_dict()


def shown(figure) -> str:
    """The text a report section shows when it is a message rather than a chart (Markdown's
    escapes undone)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", getattr(figure, "data", "") or ""))


def test_damaged_memory_samples(tmp_path):
    run = copy("baseline", tmp_path)
    (run / "memory.csv").write_text("when,how much\nyesterday,lots\n")
    report = overview_report(run)
    row = trust_row(report.run, "memory samples")
    assert row["note"].startswith("FAILED, not used: baseline/memory.csv: expected a 'time'")
    assert row["files"] == "memory.csv"
    summary = report.summary()
    assert summary["leaks"] is None  # not judged, never "no leak"
    assert [r for r in summary["cannot_judge"] if r.startswith("memory leaks: the memory samples")
            and "baseline/memory.csv" in r]  # fmt: skip
    assert not summary["failing"] and "database" in summary["classes"]  # the rest ran
    assert "could not be read" in shown(report.memory_table()) and "memory.csv" in shown(
        report.memory_table())  # fmt: skip
    assert "Cannot judge everything" in report.verdict().data

    leak = copy("leak", tmp_path)
    (leak / "memory.csv").write_bytes(lzma.compress(b"x" * 100)[:20])
    memory = memory_report(leak, limit_mib=512)
    summary = memory.summary()
    assert summary["leak"] is None and summary["leaks"] == []
    assert len(summary["cannot_judge"]) == 1 and "leak/memory.csv" in summary["cannot_judge"][0]
    assert "Cannot judge whether memory leaks" in memory.verdict().data
    assert "leak/memory.csv" in shown(memory.figure()) and "leak/memory.csv" in shown(
        memory.fit_table())  # fmt: skip
    assert "memory.csv" in trust_row(memory.run, "memory samples")["note"]


def test_damaged_profile_dump(tmp_path):
    run = copy("baseline", tmp_path)
    dump = sorted((run / "profiles").iterdir())[3]
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    loaded = load_run(run)
    assert loaded.profile is None and loaded.requests is not None and loaded.statements is not None
    assert dump.name in loaded.problems["profiles"]
    report = overview_report(loaded)
    assert dump.name in trust_row(report.run, "profiles")["note"]
    summary = report.summary()
    assert dump.name in summary["failed_sources"]["profiles"]
    assert summary["cannot_judge"] == []  # the overview judges nothing from profiles
    assert summary["n_plus_one_suspects"] == 0 and summary["leaks"] == []


def test_damaged_pg_store_and_pg_exports(tmp_path):
    run = copy("baseline", tmp_path)
    broken = sorted((run / "pg" / "statements").iterdir())[2]
    broken.write_bytes(b"PAR1 half a snapshot")
    report = overview_report(run)
    assert report.run.statements is None
    assert broken.name in trust_row(report.run, "PostgreSQL statistics")["note"]
    summary = report.summary()
    assert "database" not in summary["classes"] and "api" in summary["classes"]
    assert summary["n_plus_one_suspects"] is None and summary["unused_indexes"] is None
    reason = [r for r in summary["cannot_judge"] if r.startswith("the database target")]
    assert len(reason) == 1 and broken.name in reason[0]
    for section in ("slow", "n_plus_one", "unused_indexes"):
        assert broken.name in shown(report.db_table(section)), section

    # a damaged snapshot of one other view: only its sections say so
    run = copy("candidate", tmp_path)
    broken = sorted((run / "pg" / "indexes").iterdir())[0]
    broken.write_bytes(b"")
    report = overview_report(run)
    assert report.run.statements is not None and "seq_scans" in report.health
    assert broken.name in shown(report.db_table("unused_indexes"))
    summary = report.summary()
    assert [r for r in summary["cannot_judge"] if r.startswith("unused indexes: the PostgreSQL "
                                                               "index statistics")]  # fmt: skip
    assert broken.name in trust_row(report.run, "PostgreSQL index statistics")["note"]


def test_truncated_locust_stats(tmp_path):
    run = copy("capacity", tmp_path)
    text = (run / "locust_stats.csv").read_text()
    (run / "locust_stats.csv").write_text(text[: len(text) // 2])  # cut mid-row
    report = capacity_report(run, cores=2)
    assert report.usl is None and report.log_usl is not None and report.plan is not None
    row = trust_row(report.run, "Locust statistics")
    assert "locust_stats.csv: row " in row["note"] and "truncated" in row["note"]
    summary = report.summary()
    assert len(summary["cannot_judge"]) == 1
    assert "step load" in summary["cannot_judge"][0]
    assert "capacity/locust_stats.csv" in summary["cannot_judge"][0]
    assert "locust_stats.csv" in shown(report.usl_figure())
    assert "locust_stats.csv" in shown(report.steps_table())
    assert "Cannot judge everything" in report.verdict().data


def test_every_source_failed_or_none_raises(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(InputError, match="no evidence found"):
        load_run(run)
    (run / "memory.csv").write_text("nothing useful\n")
    (run / "locust_stats.csv").write_text("Type,Name\nGET\n")
    with pytest.raises(InputError, match=r"no source could be read: memory samples: .*memory\.csv"):
        load_run(run)


def test_a_bug_is_not_swallowed(tmp_path, monkeypatch):
    run = copy("leak", tmp_path)

    def bug(*args, **kwargs):
        raise RuntimeError("a bug in the loader")

    monkeypatch.setattr(perfkit, "read_memory", bug)
    with pytest.raises(RuntimeError, match="a bug in the loader"):
        load_run(run)


@pytest.mark.slow
def test_the_overview_notebook_on_a_damaged_run(tmp_path):
    from perfkit.report.run import run_report

    run = copy("baseline", tmp_path)
    (run / "memory.csv").write_text("garbage\n")
    html, out = tmp_path / "overview.html", tmp_path / "overview.json"
    summary = run_report("overview", {"run": str(run)}, html, out)
    assert summary["leaks"] is None and summary["cannot_judge"]
    assert "memory.csv" in summary["cannot_judge"][0]
    assert json.loads(out.read_text())["cannot_judge"] == summary["cannot_judge"]
    page = html.read_text()
    assert "FAILED, not used" in page and "could not be read" in page
    assert "Slowest endpoints by p95" in page  # the rest ran
    leak = copy("leak", tmp_path)
    (leak / "memory.csv").write_text("garbage\n")
    memory = run_report("memory_leak", {"run": str(leak)}, tmp_path / "memory.html")
    assert memory["leak"] is None and "leak/memory.csv" in memory["cannot_judge"][0]
    assert "Cannot judge whether memory leaks" in (tmp_path / "memory.html").read_text()
    capacity = copy("capacity", tmp_path)
    (capacity / "locust_stats_history.csv").write_text("Timestamp,User Count\n1,2,3\n")
    result = run_report("capacity", {"run": str(capacity)}, tmp_path / "capacity.html")
    assert "locust_stats_history.csv" in result["cannot_judge"][0]
    assert result["gunicorn"]["workers"] >= 1  # sized from the access log


def test_a_run_whose_pg_folder_holds_psql_exports(pg, tmp_path):
    from tests.test_pg_csv_series import workload, writable_folder

    pg.psql("create table if not exists csv_series_orders (id serial primary key, customer int)")
    exports = writable_folder(pg)
    plain = {"statements": "select now() as snapshot_time, * from pg_stat_statements",
             "tables": "select now() as snapshot_time, * from pg_stat_user_tables",
             "indexes": "select now() as snapshot_time, * from pg_stat_user_indexes"}  # fmt: skip
    for k in range(2):
        workload(pg, 20)
        for view, sql in plain.items():
            pg.psql(f"\\copy ({sql}) to '{exports}/{view}-{k}.csv' csv header")
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(DATA / "baseline" / "access.log.gz", run)
    shutil.copy(DATA / "baseline" / "access_log_format.txt", run)
    shutil.copytree(exports, run / "pg")
    loaded = load_run(run)
    assert loaded.problems == {} and loaded.statements["interval_end"].nunique() == 1
    report = overview_report(loaded)
    assert {"slow", "top", "n_plus_one", "seq_scans", "dead_tuples"} <= set(report.health)
    assert "lack heap_blks_read" in shown(report.db_table("cache"))
    assert "lack indisprimary" in shown(report.db_table("unused_indexes"))
    summary = report.summary()
    assert summary["cannot_judge"] == [] and "database" in summary["classes"]
    assert report.run.trust()["source"].tolist()[:2] == ["access log", "pg_stat_statements"]

    # the joined exports the section suggests give every database section
    from perfkit.report.overview import _FIX

    for view in ("tables", "indexes"):
        sql = _FIX[view].split("`\\copy (")[1].split(f") to '{view}.csv'")[0]
        for k in range(2):
            (run / "pg" / f"{view}-{k}.csv").unlink()
            pg.psql(f"\\copy ({sql}) to '{exports}/{view}-joined-{k}.csv' csv header")
            shutil.copy(exports / f"{view}-joined-{k}.csv", run / "pg")
    report = overview_report(run)
    assert {"cache", "seq_scans", "dead_tuples", "unused_indexes"} <= set(report.health)
    assert "csv_series_orders" in set(report.health["cache"]["name"].str.split(".").str[-1])

    (run / "pg" / "notes.csv").write_text("who,what\nme,this\n")  # garbage beside the exports
    report = overview_report(run)
    assert report.run.statements is None
    assert "notes.csv: columns (who, what) match no statistics view" in trust_row(
        report.run, "PostgreSQL statistics")["note"]  # fmt: skip
