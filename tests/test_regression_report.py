"""The regression report and the Python API agree, case by case, on run folders.

Each truth case of `tests/test_regression_shift.py` is written as two run folders holding a
Gunicorn access log (its default format plus ``%(D)s``), then judged twice: by
`perfkit.compare` on `read_access_log` frames (the API's defaults) and by the report's
builder; one case goes through the notebook (papermill) and the CLI gates too.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import perfkit
from perfkit.report.regression import regression_report
from perfkit.report.run import run_report
from tests.servers import ROOT

TIMED = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
THIRTY = {f"/r{i:02d}": 8.0 + 9 * i for i in range(30)}


def write_log(folder, medians: dict, counts: dict, factors: dict | None = None, seed=0,
              error_rate: float = 0.0, timed: bool = True):
    """A run folder whose access.log has `counts[route]` requests per route over an hour."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    routes = np.concatenate([[r] * counts[r] for r in medians])
    rng.shuffle(routes)
    ms = np.array([medians[r] * (factors or {}).get(r, 1.0) for r in routes])
    ms *= rng.lognormal(0, 0.5, len(routes))
    failed = rng.random(len(routes)) < error_rate
    with open(folder / "access.log", "w") as out:
        for i, (route, value, bad) in enumerate(zip(routes, ms, failed, strict=True)):
            second = i * 3600 // len(routes)
            stamp = f"02/Dec/2026:{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            status = 500 if bad else 200
            tail = f" {int(value * 1000)}" if timed else ""
            out.write(f'10.0.0.{i % 250} - - [{stamp} +0000] "GET {route}?page={i % 3} '
                      f'HTTP/1.1" {status} 512 "-" "locust/2.47"{tail}\n')  # fmt: skip
    if timed:
        (folder / "access_log_format.txt").write_text(TIMED + "\n")
    return folder


def both(tmp_path, medians, counts, factors, name):
    base = write_log(tmp_path / f"{name}-base", medians, counts, seed=1)
    cand = write_log(tmp_path / f"{name}-cand", medians, counts, factors, seed=2)
    return base, cand


def api_and_report(base, cand):
    read = {folder: perfkit.read_access_log(folder / "access.log", format=TIMED)
            for folder in (base, cand)}  # fmt: skip
    api = perfkit.compare(read[base], read[cand])
    report = regression_report(base, cand)
    assert report.endpoints["verdict"].to_dict() == api["verdict"].to_dict()
    assert report.shift == api.attrs["shift"]
    return api, report


FIVE = {"/": 14.6, "/create": 29.6, "/post/1": 9.0, "/user/ada": 18.0, "/login": 6.0}
FIVE_COUNTS = {"/": 3150, "/create": 300, "/post/1": 600, "/user/ada": 500, "/login": 450}
CASES = {
    "a": (THIRTY, dict.fromkeys(THIRTY, 300), dict.fromkeys(THIRTY, 1.15), [], True),
    "b": (FIVE, FIVE_COUNTS, {"/": 1.68}, ["/"], False),
    "c": (THIRTY, dict.fromkeys(THIRTY, 300), dict.fromkeys(THIRTY, 1.15) | {"/r07": 1.61},
          ["/r07"], True),
    "d": ({"/a": 10.0, "/b": 25.0, "/c": 60.0}, dict.fromkeys(["/a", "/b", "/c"], 500),
          dict.fromkeys(["/a", "/b", "/c"], 1.2), ["/a", "/b", "/c"], False),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_report_and_the_api_agree_on_every_truth_case(tmp_path, case):
    medians, counts, factors, regressed, shifted = CASES[case]
    _, report = api_and_report(*both(tmp_path, medians, counts, factors, case))
    summary = report.summary()
    assert sorted(summary["regressed"]) == sorted(regressed)
    assert summary["improved"] == []
    assert summary["shift"]["material"] is shifted
    text = report.verdict().data
    if shifted:
        assert "Two readings fit" in text and "moved with the shift" in text
    if case == "d":
        assert "too few (under 5) to tell a run-wide shift from a change" in text


def test_the_notebook_and_the_cli_gates_say_the_same(tmp_path):
    base, cand = both(tmp_path, *CASES["a"][:3], "nb")
    api, _ = api_and_report(base, cand)
    out = tmp_path / "a.html"
    summary = run_report("regression", {"baseline": str(base), "candidate": str(cand)}, out)
    verdicts = {k: v["verdict"] for k, v in summary["endpoints"].items()}
    assert verdicts == api["verdict"].to_dict()
    assert summary["shift"]["factor"] == pytest.approx(api.attrs["shift"].factor)
    assert summary["regressed"] == [] and len(summary["moved_with_shift"]) >= 20

    def cli(*flags):
        command = [sys.executable, "-m", "perfkit.cli", "report", "regression", "-p",
                   f"baseline={base}", "-p", f"candidate={cand}", "-o",
                   str(tmp_path / "cli.html"), *flags]  # fmt: skip
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert cli("--fail-on-regression").returncode == 0  # nothing regressed beyond the shift
    shift = cli("--fail-on-shift", "--json", str(tmp_path / "s.json"))
    assert shift.returncode == 1 and "the whole candidate run is slower" in shift.stderr
    assert json.loads((tmp_path / "s.json").read_text())["shift"]["direction"] == "slower"


def test_a_5xx_rate_going_from_0_2_to_3_percent_is_a_regression(tmp_path):
    medians, counts = FIVE, FIVE_COUNTS
    base = write_log(tmp_path / "base", medians, counts, seed=3, error_rate=0.002)
    cand = write_log(tmp_path / "cand", medians, counts, seed=4, error_rate=0.03)
    api = perfkit.compare_error_rates(perfkit.read_access_log(base / "access.log", format=TIMED),
                                      perfkit.read_access_log(cand / "access.log", format=TIMED))
    whole = api.loc["(all requests)"]
    assert whole["verdict"] == "regressed" and 0.001 < whole["rate_base"] < 0.004
    assert whole["diff_ci_low"] < whole["rate_cand"] - whole["rate_base"] < whole["diff_ci_high"]
    from scipy import stats

    table = [[whole["errors_cand"], whole["n_cand"] - whole["errors_cand"]],
             [whole["errors_base"], whole["n_base"] - whole["errors_base"]]]  # fmt: skip
    assert whole["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue)
    report = regression_report(base, cand)
    assert report.summary()["errors_regressed"] == list(api.index[api["verdict"] == "regressed"])
    assert "(all requests)" in report.summary()["errors_regressed"]
    same = write_log(tmp_path / "same", medians, counts, seed=5, error_rate=0.002)
    assert regression_report(base, same).summary()["errors_regressed"] == []


def test_logs_without_request_times_cannot_judge_latency_but_judge_errors(tmp_path):
    base = write_log(tmp_path / "base", FIVE, FIVE_COUNTS, seed=6, error_rate=0.002, timed=False)
    cand = write_log(tmp_path / "cand", FIVE, FIVE_COUNTS, seed=7, error_rate=0.002, timed=False)
    worse = write_log(tmp_path / "worse", FIVE, FIVE_COUNTS, seed=8, error_rate=0.03, timed=False)
    requests = perfkit.read_access_log(base / "access.log")
    assert perfkit.parse_account(requests)["durations"] == "absent"
    api = perfkit.compare(requests, perfkit.read_access_log(cand / "access.log"))
    assert set(api["verdict"]) == {"cannot judge"} and api.attrs["no_metric"]
    report = regression_report(base, cand)
    summary = report.summary()
    assert summary["regressed"] == [] and summary["cannot_judge"]
    assert {e["verdict"] for e in summary["endpoints"].values()} == {"cannot judge"}
    assert summary["endpoints"].keys() == api["verdict"].to_dict().keys()
    text = report.verdict().data
    assert "Latency cannot be judged" in text and "%(D)s" in text and "$request_time" in text
    assert "No endpoint regressed" not in text
    assert set(report.endpoints["verdict"]) == {"cannot judge"}  # never "unchanged"

    def gate(candidate):
        command = [sys.executable, "-m", "perfkit.cli", "report", "regression", "-p",
                   f"baseline={base}", "-p", f"candidate={candidate}", "-o",
                   str(tmp_path / "g.html"), "--fail-on-regression"]  # fmt: skip
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    unanswered = gate(cand)
    assert unanswered.returncode == 2, unanswered.stderr
    assert "cannot answer the gate" in unanswered.stderr and "no request times" in unanswered.stderr
    found = gate(worse)  # the error rate regressed: that much is known
    assert found.returncode == 1 and "5xx rate regressed" in found.stderr


def test_a_broken_source_is_that_sections_problem_not_the_reports(tmp_path):
    base, cand = both(tmp_path, *CASES["b"][:3], "broken")
    (cand / "pg").mkdir()
    (cand / "pg" / "statements-20261202T100000Z.csv").write_text("this is not,a csv\n\x00\x01")
    (base / "memory.csv").write_text("garbage")
    report = regression_report(base, cand)
    assert report.summary()["regressed"] == ["/"]
    assert "pg" in report.cand.problems
    trust = report.trust().data
    assert "FAILED" in trust and "statements-20261202T100000Z.csv" in trust
    (cand / "access.log").write_text("not a log line\n" * 20)
    (cand / "memory.csv").write_bytes((ROOT / "data" / "baseline" / "memory.csv").read_bytes())
    report = regression_report(base, cand)
    assert report.endpoints is None and report.summary()["cannot_judge"]
    assert "access log could not be read" in report.verdict().data
