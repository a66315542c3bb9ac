"""The reference workload end to end: a short recording, and every loader reads every artifact."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import perfkit
from examples.warehouse.record import ACCESS_FORMAT
from perfkit.analysis.pg_deltas import pg_deltas
from tests.servers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("recorded")
    run = subprocess.run(
        [sys.executable, "-m", "examples.warehouse.record", "--short", "--out", str(out), "baseline"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out / "baseline"


def test_every_loader_reads_every_artifact(recorded):
    manifest = json.loads((recorded / "manifest.json").read_text())
    requests = perfkit.read_access_log(recorded / "access.log.gz", format=ACCESS_FORMAT,
                                       on_bad_lines="error")  # fmt: skip
    assert len(requests) == manifest["measured"]["requests"] > 100
    assert requests.attrs["perfkit"]["rejected"] == 0
    routes = set(requests["route"].astype(str))
    assert {"/dashboard", "/api/orders/{id}", "/api/stock/{code}", "/static/app.css"} <= routes
    # %(p)s read: every pid in the log is one of the two workers the RSS collector saw (psutil's
    # process tree); on a busy machine one worker may have accepted every request
    workers = perfkit.read_memory(recorded / "memory.csv").query("role == 'worker'")["pid"]
    assert set(requests["pid"].astype(int)) <= set(workers.astype(int))
    assert workers.nunique() == 2

    profile = perfkit.read_profile(str(recorded / "profiles" / "*.prof.xz"))
    assert len(profile.dumps) == manifest["measured"]["profiles_kept"] > 5
    assert profile.dumps["route"].notna().all()
    if (recorded / "pyspy.json.gz").exists():  # py-spy needs ptrace; recorded when it could
        assert perfkit.read_profile(recorded / "pyspy.json.gz").total_s > 0

    store = recorded / "pg"
    statements = perfkit.read_pg_stat(store, "statements")
    assert statements["snapshot_time"].nunique() >= 2
    deltas = pg_deltas(statements)
    assert deltas["calls"].sum() > len(requests)  # several statements per request
    for view in ("tables", "indexes", "database"):
        assert len(perfkit.read_pg_stat(store, view))

    memory = perfkit.read_memory(recorded / "memory.csv")
    assert set(memory["role"].astype(str)) == {"master", "worker"}
    assert memory["pid"].nunique() == 3

    stats = perfkit.read_locust(recorded / "locust", table="stats")
    history = perfkit.read_locust(recorded / "locust", table="history")
    aggregated = stats.set_index("name").loc["Aggregated", "request_count"]
    assert abs(aggregated - len(requests)) <= 0.05 * len(requests)  # Locust's count vs Gunicorn's
    assert len(history)

    calls = perfkit.read_jsonl(recorded / "outbound.jsonl.gz")
    assert len(calls) and set(calls["host"]) == {"127.0.0.1"}
    assert calls["inbound_path"].str.startswith("/api/").all()
