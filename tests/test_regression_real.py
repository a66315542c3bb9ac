"""Verdicts on real recorded runs: the blog app (`tests/data/blog`) and the warehouse (`data/`).

Both were recorded with real Gunicorn, Locust, psql or perfkit's collectors, and
ProfilerMiddleware; their truth is planted in the recording (code, data or a CPU hog beside
the load), written in each scenario's ``manifest.json``. The blog differs from the warehouse
in shape: one route takes 63 % of the traffic, five endpoints, sync workers, raw psycopg,
statistics as psql CSV exports, ``/auth/login`` as two endpoints under one path.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import perfkit
from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.analysis.queries import STATEMENT_MIN_RATIO, compare_queries
from perfkit.report.regression import regression_report
from tests.servers import ROOT

BLOG = ROOT / "tests" / "data" / "blog"
DATA = ROOT / "data"
RULES = ["/", "/<int:id>", "/user/<username>", "/create", "/auth/login", "/health"]


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def route_of(key: str) -> str:
    """An endpoint key without its method ("GET /user/<username>" -> "/user/<username>")."""
    method, _, rest = key.partition(" ")
    return rest if rest.startswith("/") and method.isupper() else key


@pytest.fixture(scope="module")
def blog():
    reports = {}

    def report(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in reports:
            reports[key] = regression_report(BLOG / "base", BLOG / name, routes=RULES, **options)
        return reports[key]

    return report


@pytest.mark.parametrize("scenario", ["base_repeat", "drift"])
def test_the_blogs_aa_pairs_raise_no_alarm_anywhere(blog, scenario):
    assert manifest(BLOG / scenario)["expect"]["regressed_routes"] == []
    summary = blog(scenario).summary()
    for key in ("regressed", "improved", "errors_regressed", "queries_regressed",
                "functions_regressed", "loadtest_regressed"):  # fmt: skip
        assert summary[key] == [], (key, summary[key])
    assert summary["shift"]["estimated"] and summary["shift"]["keys"] >= 5


def test_the_blogs_grown_data_regresses_the_two_routes_and_their_statements(blog):
    truth = manifest(BLOG / "grown")["expect"]
    report = blog("grown")
    summary = report.summary()
    assert sorted(map(route_of, summary["regressed"])) == sorted(map(route_of,
                                                                     truth["regressed_routes"]))
    assert summary["improved"] == truth["improved_routes"] == []
    assert len(summary["queries_regressed"]) == 2
    assert any("order by created desc" in q for q in summary["queries_regressed"])
    assert any("u.username = $1" in q for q in summary["queries_regressed"])
    top = report.functions.iloc[0]  # ranked by contribution: the database driver's wait
    assert "psycopg" in top["function"] and top["contribution_s"] > 0


def test_the_report_and_the_api_agree_on_the_blogs_runs(blog):
    def read(name):
        folder = BLOG / name
        fmt = (folder / "access_log_format.txt").read_text().strip()
        return perfkit.read_access_log(folder / "access.log.gz", format=fmt, routes=RULES)

    base = read("base")
    for name in ("base_repeat", "drift", "grown"):
        api = perfkit.compare(base, read(name))
        assert api["verdict"].to_dict() == blog(name).endpoints["verdict"].to_dict(), name
        assert api.attrs["shift"] == blog(name).shift


def test_raw_mode_still_reports_the_shift_and_says_which_regressions_are_within_it(blog):
    for name in ("base_repeat", "drift"):
        raw = blog(name, normalize=False)
        table, shift = raw.endpoints, raw.shift
        assert shift.estimated and not shift.applied
        within = table[(table["verdict"] == "regressed")
                       & (table["relative_verdict"] != "regressed")]  # fmt: skip
        text = raw.verdict().data
        if len(within) and shift.material:
            assert "**Raw mode:**" in text and all(str(k) in text for k in within.index)
        assert shift.describe() in text


def test_get_and_post_under_one_path_are_two_endpoints(blog):
    report = blog("base_repeat")
    assert {"GET /auth/login", "POST /auth/login"} <= set(report.endpoints.index)
    locust = report.loadtest
    assert {"GET /auth/login", "POST /auth/login"} <= set(locust.index)
    stats = perfkit.read_locust(BLOG / "base" / "locust", table="stats")
    posts = stats[(stats["name"] == "/auth/login") & (stats["type"] == "POST")]
    assert locust.loc["POST /auth/login", "n_base"] == int(posts["request_count"].iloc[0])


def test_the_blogs_logs_without_request_times_judge_error_rates_only():
    base, cand = BLOG / "errors_base", BLOG / "errors_cand"
    truth = manifest(cand)["expect"]
    report = regression_report(base, cand, routes=RULES)
    summary = report.summary()
    assert summary["regressed"] == [] and set(report.endpoints["verdict"]) == {"cannot judge"}
    assert any("no request times" in reason for reason in summary["cannot_judge"])
    assert sorted(map(route_of, set(summary["errors_regressed"]) - {"(all requests)"})) == \
        sorted(map(route_of, truth["more_errors_routes"]))  # fmt: skip
    assert "(all requests)" in summary["errors_regressed"]
    whole = report.errors.loc["(all requests)"]
    for side, folder in (("base", base), ("cand", cand)):
        measured = manifest(folder)["measured"]
        assert whole[f"errors_{side}"] == measured["status_5xx"]
        assert whole[f"n_{side}"] == measured["requests"]
    assert "Gunicorn" in report.verdict().data and "%(D)s" in report.verdict().data


def statements(folder):
    return pg_deltas(perfkit.read_pg_stat(folder / "pg", "statements"))


AA_PAIRS = [(DATA / "baseline", DATA / "baseline_repeat"), (DATA / "baseline", DATA / "baseline_drift"),
            (BLOG / "base", BLOG / "base_repeat"), (BLOG / "base", BLOG / "drift")]  # fmt: skip


def test_the_statement_floor_sits_above_what_real_aa_pairs_move():
    """The 25 % floor of `compare_queries` is calibrated on real A/A pairs: none of their
    statements (with at least 0.1 ms a call) moved by it, and none is flagged; the planted
    changes (a dropped index, a grown table) are."""
    for base, cand in AA_PAIRS:
        table = compare_queries(statements(base), statements(cand))
        judged = table.dropna(subset=["ratio"])
        sizeable = judged[judged["mean_ms_base"] >= 0.1]
        assert len(sizeable) >= 1
        assert (np.abs(sizeable["ratio"] - 1) < STATEMENT_MIN_RATIO).all(), (base, cand)
        assert not judged["verdict"].isin(["regressed", "improved"]).any(), (base, cand)
    planted = compare_queries(statements(DATA / "baseline"), statements(DATA / "candidate"))
    scans = planted[planted["query"].str.contains("FROM stock JOIN locations")]
    assert (scans["verdict"] == "regressed").all() and len(scans) >= 1
    grown = compare_queries(statements(BLOG / "base"), statements(BLOG / "grown"))
    assert (grown["verdict"] == "regressed").sum() == 2


@pytest.mark.parametrize("scenario", ["baseline_repeat", "baseline_drift", "candidate"])
def test_the_warehouse_pairs_find_their_truth(scenario):
    from examples.warehouse.record import PLANS

    truth = PLANS[scenario].expect
    report = regression_report(DATA / truth["compare_with"], DATA / scenario)
    summary = report.summary()
    assert sorted(summary["regressed"]) == sorted(truth["regressed_routes"])
    assert summary["improved"] == []
    if scenario == "baseline_drift":
        assert summary["shift"]["estimated"]


def test_every_report_says_it_cannot_judge_latency_without_request_times():
    from perfkit.report.capacity import capacity_report
    from perfkit.report.overview import overview_report

    run = BLOG / "errors_base"
    overview = overview_report(run)
    summary = overview.summary()
    assert summary["failing"] == []  # no latency figure is not a missed target
    assert all(c["meets"] is not False for c in summary["classes"].values())
    assert any("no request times" in reason for reason in summary["cannot_judge"])
    text = overview.verdict().data
    assert "Latency targets cannot be judged" in text and "nan" not in text
    capacity = capacity_report(run)
    assert any("no request times" in reason for reason in capacity.summary()["cannot_judge"])


REVIEW = ROOT / "tests" / "data" / "review_inputs"  # a third app, under Gunicorn and nginx


def review(case: str, candidate: str = "candidate"):
    return regression_report(REVIEW / case / "baseline", REVIEW / case / candidate)


def test_a_change_to_half_the_endpoints_is_not_hidden_as_a_shift():
    """4 of 8 endpoints +40 % (a shared helper): the endpoints split into two groups, which
    no run-wide shift explains; raw verdicts stand and the four are regressed."""
    report = review("case1_4of8")
    assert report.shift.split and not report.shift.applied
    planted = {"/api/users/{id}", "/api/orders", "/api/orders/{id}", "/api/products"}
    assert planted <= set(report.summary()["regressed"])
    assert "do not move together" in report.verdict().data


def test_no_cliff_at_the_shifts_floor():
    """Only POST /api/cart +40 %; the rest moved +2 % with the machine. Scaling the candidate
    by 0.998 or 1.002 (either side of the 2 % floor) finds the same regression and nothing
    else regressed (only the label of the rest moves: unchanged or moved with shift)."""
    folder = REVIEW / "case5_cliff"
    fmt = (folder / "baseline" / "access_log_format.txt").read_text().strip()
    base, cand = (perfkit.read_access_log(folder / side / "access.log.gz", format=fmt)
                  for side in ("baseline", "candidate"))  # fmt: skip
    verdicts = [perfkit.compare(base, cand.assign(duration_ms=cand["duration_ms"] * f))
                ["verdict"].to_dict() for f in (0.998, 1.0, 1.002)]  # fmt: skip
    for table in verdicts:
        assert [k for k, v in table.items() if v == "regressed"] == ["POST /api/cart"]
        assert set(table.values()) <= {"regressed", "unchanged", "moved with shift",
                                       "insufficient data"}  # fmt: skip
    assert {"HEAD /api/users/{id}", "OPTIONS /api/cart", "GET /api/cart"} <= set(verdicts[1])


def test_too_few_requests_cannot_answer_the_gate():
    report = review("case7_tiny")
    assert report.summary()["cannot_judge"] and report.summary()["regressed"] == []
    assert "No endpoint could be judged" in report.verdict().data


def test_an_aa_pair_with_a_hog_and_millisecond_times_raises_no_alarm():
    report = review("case6_nginx_ms", "candidate_hog")  # nginx $request_time: 1 ms steps
    summary = report.summary()
    assert summary["regressed"] == [] and summary["improved"] == []
    assert report.shift.material and report.shift.ci_high > report.shift.ci_low  # never [x, x]


def test_nginx_combined_logs_judge_the_planted_error_rates():
    report = review("case6_nginx_combined")
    summary = report.summary()
    assert sorted(summary["errors_regressed"]) == ["(all requests)", "/api/orders",
                                                   "/api/products"]  # fmt: skip
    assert {e["verdict"] for e in summary["endpoints"].values()} == {"cannot judge"}
    assert "access logs have no request times" in summary["cannot_judge"][0]
