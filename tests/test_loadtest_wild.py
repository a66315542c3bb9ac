"""Locust results as real Locust writes them under any ``--csv`` prefix, and the capacity report
on a Locust-only run (recordings: tests/data/wild/loadmem/README.md)."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import perfkit
from perfkit.errors import InputError

WILD = Path(__file__).parent / "data" / "wild" / "loadmem"
RUNS = [("ramp", "locust", "2.47.0"), ("results", "results", "2.20.1")]
REQUEST = re.compile(r'"GET (\S+) HTTP/1\.1" (\d{3}) ')


def access_truth(run: str) -> tuple[Counter, int]:
    """Requests per Locust name and 404s, counted from Gunicorn's access log (probe left out)."""
    names: Counter = Counter()
    not_found = 0
    for line in (WILD / f"{run}_access.log").read_text().splitlines():
        path, status = REQUEST.search(line).groups()
        if path == "/health":  # the recorder's readiness probe, before Locust started
            continue
        name = "/books/[id]" if re.fullmatch(r"/books/\d+", path) else path.split("?")[0]
        names[name] += 1
        not_found += status == "404"
    return names, not_found


@pytest.mark.parametrize(("run", "prefix", "version"), RUNS)
def test_any_prefix_is_found_and_counts_match_the_access_log(run, prefix, version):
    stats = perfkit.read_locust(WILD / run, table="stats")
    history = perfkit.read_locust(WILD / run, table="history")  # the folder, not the prefix
    by_file = perfkit.read_locust(WILD / run / f"{prefix}_stats_history.csv", table="stats")
    assert by_file.equals(stats)
    assert stats.attrs["perfkit"]["prefix"].endswith(f"{run}/{prefix}")
    names, not_found = access_truth(run)
    rows = stats.set_index("name")
    assert rows.loc["Aggregated", "request_count"] == sum(names.values())
    assert rows.loc["Aggregated", "failure_count"] == not_found > 0  # the planted 404s
    for name, count in names.items():
        assert rows.loc[name, "request_count"] == count, name
    # Locust 2.47's history ends with the final totals; 2.20.1 stopped writing it when the
    # shape's users stopped (the last 5 s are missing): the stats table is the one to count
    last = history[history["name"] == "Aggregated"].iloc[-1]
    if version == "2.47.0":
        assert last["total_request_count"] == rows.loc["Aggregated", "request_count"]
    else:
        assert last["total_request_count"] < rows.loc["Aggregated", "request_count"]
    assert history["user_count"].max() == 10
    with open(WILD / run / f"{prefix}_stats.csv", newline="") as handle:  # csv module: truth
        raw = {r["Name"]: r for r in csv.DictReader(handle)}
    assert rows.loc["Aggregated", "mean_ms"] == pytest.approx(
        float(raw["Aggregated"]["Average Response Time"])
    )
    assert stats.attrs["perfkit"]["failures"][0]["occurrences"] == not_found


def test_several_pairs_are_an_error_naming_them_and_prefix_chooses(tmp_path):
    for run, prefix, _ in RUNS:
        for kind in ("stats", "stats_history"):
            shutil.copy(WILD / run / f"{prefix}_{kind}.csv", tmp_path / f"{prefix}_{kind}.csv")
    with pytest.raises(InputError, match=r"2 Locust result sets \(locust, results\).*prefix="):
        perfkit.read_locust(tmp_path, table="stats")
    stats = perfkit.read_locust(tmp_path, prefix="results", table="stats")
    names, _ = access_truth("results")
    assert stats.set_index("name").loc["Aggregated", "request_count"] == sum(names.values())


def test_no_pair_names_the_patterns_and_the_lone_half(tmp_path):
    with pytest.raises(InputError, match=r"<prefix>_stats\.csv \+ <prefix>_stats_history\.csv"):
        perfkit.read_locust(tmp_path, table="history")
    shutil.copy(WILD / "ramp" / "locust_stats.csv", tmp_path / "run1_stats.csv")
    # a stats file without its history is not a pair: the error says which half was found
    with pytest.raises(InputError, match=r"found only run1_stats\.csv without its other half"):
        perfkit.read_locust(tmp_path, table="stats")
    with pytest.raises(InputError, match=r"run1_stats_history\.csv: no such file"):
        perfkit.read_locust(tmp_path / "run1", table="history")  # a prefix, as before
    with pytest.raises(InputError, match=r"run1_stats_history\.csv: no such file"):
        # a file of the pair names its prefix
        perfkit.read_locust(tmp_path / "run1_stats.csv", table="history")


def test_a_history_file_is_not_taken_for_a_stats_file(tmp_path):
    # "x_stats_history.csv" ends in "_history.csv", never in "_stats.csv": no "x_stats" prefix
    shutil.copy(WILD / "ramp" / "locust_stats_history.csv", tmp_path / "a_stats_history.csv")
    shutil.copy(WILD / "ramp" / "locust_stats_history.csv", tmp_path / "a_stats_stats.csv")
    assert perfkit.io.loadtest.locust_prefixes(tmp_path) == []


@pytest.fixture(scope="module")
def ramp_report(tmp_path_factory):
    """The capacity report on the Locust-only ramp, through the CLI's code path (run_report)."""
    from perfkit.report.run import run_report

    out = tmp_path_factory.mktemp("capacity")
    summary = run_report("capacity", {"run": str(WILD / "ramp")}, out / "c.html", out / "c.json")
    return summary, (out / "c.html").read_text(), json.loads((out / "c.json").read_text())


def held_step_truth(users: int = 10, settle_s: float = 5.0) -> tuple[int, float]:
    """Requests and seconds of the held step, from Locust's running totals (csv module)."""
    with open(WILD / "ramp" / "locust_stats_history.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"
                and r["User Count"] == str(users)]  # fmt: skip
    first = int(rows[0]["Timestamp"])
    kept = [r for r in rows if int(r["Timestamp"]) >= first + settle_s]
    count = int(kept[-1]["Total Request Count"]) - int(kept[0]["Total Request Count"])
    return count, int(kept[-1]["Timestamp"]) - int(kept[0]["Timestamp"])


def test_capacity_verdict_on_a_locust_only_ramp_says_what_it_rests_on(ramp_report):
    summary, page, saved = ramp_report
    assert summary == {k: v for k, v in saved.items() if k in summary}
    section = page[page.index(">Verdict<") : page.index(">Scalability<")]
    verdict = section[section.index("Evidence:") :]  # what the report wrote, after the prose
    assert "Locust statistics" in verdict
    names, _ = access_truth("ramp")
    assert f"{sum(names.values()):,} requests" in verdict  # the evidence line's count
    assert "access log" not in verdict.lower()  # nothing about a log that is not there
    assert "does not cover" not in page
    assert summary["evidence"] == [e for e in summary["evidence"] if e.startswith("Locust")]
    assert "measured" in summary["verdict_rests_on"] and summary["usl"] is None
    requests, seconds = held_step_truth()
    measured = summary["measured"]
    assert (measured["users"], measured["requests"], measured["seconds"]) == (10, requests, seconds)
    rate = requests / seconds
    assert measured["throughput_per_s"] == pytest.approx(rate)
    assert f"{rate * 60:,.0f} req/min ({rate:.1f} req/s" in verdict
    assert ("Enough for the brief" in verdict) is (rate * 60 >= 500)
    # independent of Locust: the access log's lines in the same seconds (whole-second stamps)
    stamps = Counter(re.search(r"\[(\S+) ", line)[1]
                     for line in (WILD / "ramp_access.log").read_text().splitlines())  # fmt: skip
    busiest = sorted(stamps.values())[-seconds:]
    assert sum(busiest) / seconds == pytest.approx(rate, rel=0.15)


def test_a_ramp_with_no_held_step_says_it_cannot_judge():
    """Locust 2.20.1's 12 s ramp reaches 10 users 2 s before its history ends: no step is held
    past the 5 s settling time (the report used to fail on the empty step table)."""
    from perfkit.report.capacity import capacity_report
    from perfkit.report.evidence import Run

    stats = perfkit.read_locust(WILD / "results", table="stats")
    history = perfkit.read_locust(WILD / "results", table="history")
    run = Run("results", locust_stats=stats, locust_history=history, sources={"locust": ["x"]})
    report = capacity_report(run, settle_s=5.0)
    summary, text = report.summary(), report.verdict().data
    assert summary["measured"] is None and summary["usl"] is None and summary["gunicorn"] is None
    assert summary["verdict_rests_on"].startswith("nothing: Locust held no user count longer")
    assert "**Cannot judge capacity from this run.**" in text
    assert "Enough" not in text and "Not shown to be enough" not in text
    with open(WILD / "results" / "results_stats_history.csv", newline="") as handle:
        rows = [(int(r["Timestamp"]), r["User Count"]) for r in csv.DictReader(handle)]
    spans = Counter()  # seconds each user count lasted, from the file itself
    for (t0, users), (t1, _) in itertools.pairwise(rows):
        spans[users] += t1 - t0
    assert max(spans.values()) < 5  # truly nothing held past the settling time


def test_read_locust_returns_one_frame_and_the_old_tuple_call_says_what_to_write(tmp_path):
    run = WILD / "results"
    stats = perfkit.read_locust(run, table="stats")
    history = perfkit.read_locust(run, table="history")
    assert isinstance(stats, pd.DataFrame) and isinstance(history, pd.DataFrame)
    with open(run / "results_stats.csv", newline="") as handle:  # the file, read by csv
        names = [row["Name"] for row in csv.DictReader(handle)]
    assert stats["name"].tolist() == names and "Aggregated" in names
    with open(run / "results_stats_history.csv", newline="") as handle:
        assert len(history) == sum(1 for _ in csv.DictReader(handle))
    assert stats.attrs["perfkit"]["table"] == "stats"
    assert history.attrs["perfkit"]["table"] == "history"
    # perfkit 0.1.0's call unpacked a tuple; now it is an InputError naming both tables
    with pytest.raises(InputError, match=r"no table: pass table='history'.*table='stats'.*"
                                         r"stats = read_locust\(src, table='stats'\)"):  # fmt: skip
        stats, history = perfkit.read_locust(run)
    with pytest.raises(InputError, match=r"got table='summary'"):
        perfkit.read_locust(run, table="summary")
