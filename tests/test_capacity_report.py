"""The capacity report on data/capacity names the chosen model, its held-out error, the server
cap and where it came from; its verdict and its JSON summary carry the same numbers as
fit_capacity itself (the API and the report agree)."""

from __future__ import annotations

import json
import warnings

import pytest

from perfkit.analysis.capacity import fit_capacity, server_concurrency
from perfkit.analysis.concurrency import locust_steps
from perfkit.errors import PerfkitWarning
from perfkit.report.capacity import capacity_report
from perfkit.report.evidence import load_run


@pytest.fixture(scope="module")
def report():
    return capacity_report("data/capacity")


def test_the_report_and_the_api_agree(report):
    run = load_run("data/capacity")
    steps = locust_steps(run.locust_history, settle_s=5)
    gunicorn = next(c for c in json.loads((run.folder / "manifest.json").read_text())["commands"]
                    if "--access-logfile" in c)  # fmt: skip
    cap = server_concurrency(run.requests, command=gunicorn)
    assert cap.servers == 8  # the recorder's gthread 2 workers x 4 threads
    assert cap.max_in_flight <= 8.05  # and the server never held more
    fit = fit_capacity(steps["users"], steps["throughput_per_s"], steps["mean_ms"] / 1000,
                       servers=cap.servers)  # fmt: skip
    summary = report.summary()["capacity"]
    assert summary["model"] == fit.model
    assert summary["holdout_error"] == pytest.approx(fit.holdout_error)
    assert summary["servers"] == 8 and "2 gthread workers x 4 threads" in summary["servers_source"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        for row in summary["projection"]:
            assert row["throughput_per_s"] == pytest.approx(fit.predict(row["users"]))
            low, high = fit.predict_interval(row["users"])
            assert (row["low_per_s"], row["high_per_s"]) == pytest.approx((low, high))
    assert [r["range"] for r in summary["projection"]][-1] == "extrapolated"


def test_the_verdict_names_the_model_error_and_cap(report):
    text = report.verdict().data
    c = report.summary()["capacity"]
    assert f"**Capacity model: {c['model']}**" in text
    assert f"held-out error {c['holdout_error']:.1%}" in text
    assert f"Server cap: {c['servers']} requests at once" in text
    assert "the Gunicorn command" in text and f"{c['max_in_flight']:.2f} in flight" in text
    for row in c["projection"]:
        assert (f"at {row['users']:.0f} users: {row['throughput_per_s']:.1f} req/s "
                f"[{row['low_per_s']:.1f}, {row['high_per_s']:.1f}]") in text  # fmt: skip
    assert "(extrapolated)" in text
    assert ("**uncertain**" in text) is c["uncertain"]
    assert report.summary()["verdict_rests_on"].startswith(f"the {c['model']} model")


def test_the_figures_show_both_concurrencies_and_label_extrapolation(report):
    fig = report.capacity_figure()
    names = [t.name for t in fig.data]
    assert f"{report.capacity.model}, extrapolated" in names
    assert any(a.text == "extrapolated" for a in fig.layout.annotations)
    sides = report.concurrency_figure()
    client, server = sides.data[0], sides.data[1]
    assert list(client.y) == list(report.steps["users"])
    assert max(server.y) <= 8.05 < max(client.y)  # users ran to 64, the server held <= 8


def test_erlang_c_is_checked_against_the_runs_own_clients():
    from perfkit.analysis.sizing import check_queue

    baseline = capacity_report("data/baseline")  # a steady A/A run: 15 users, no step load
    q = baseline.summary()["queue_check"]
    run = load_run("data/baseline")
    client = float(run.locust_stats.set_index("name")["mean_ms"]["Aggregated"])
    api = check_queue(run.requests, 8, client)  # gthread 2 x 4, from the manifest's command
    assert q["servers"] == 8 and q["measured_ms"] == pytest.approx(client)
    assert q["per_route_ms"] == pytest.approx(api.per_route_ms)
    assert q["service_scv"] > 1  # the route mix is far more variable than exponential
    text = baseline.verdict().data
    assert (f"{q['erlang_c_ms']:.0f} ms mean response" in text
            and f"measured {q['measured_ms']:.0f} ms" in text)  # fmt: skip
    # the log misses only what lies outside the worker: a few ms at this load
    assert 0 <= q["measured_ms"] - q["per_route_ms"] < 0.25 * q["measured_ms"]


def test_a_hostile_worker_class_is_escaped_in_the_figures():
    from perfkit.analysis.capacity import server_concurrency
    from perfkit.plots.charts import capacity_curve, concurrency_sides

    cap = server_concurrency(command='gunicorn -w 2 --threads 1 -k "<a href=x>evil</a>" app:app')
    assert cap.servers == 2 and "<a href=x>" in cap.source  # as found: escaped where shown
    fit = fit_capacity([1, 2, 4, 8, 16], [10, 19, 30, 31, 30], servers=2,
                       servers_source=cap.source)  # fmt: skip
    for fig in (capacity_curve([1, 2, 4, 8, 16], [10, 19, 30, 31, 30], fit, "t"),
                concurrency_sides([1, 2, 4], [1, 2, 2], 2, "t", cap.source)):
        assert "<a href" not in fig.layout.title.text and "&lt;a href" in fig.layout.title.text
