"""Load-test results: a real Locust run against a local Gunicorn; recorded ab and wrk output."""

from __future__ import annotations

import re
import subprocess

import pytest

from perfkit import InputError
from perfkit.io.loadtest import read_ab, read_locust, read_wrk, throughput
from tests.conftest import DATA
from tests.servers import ROOT, gunicorn

LOCUSTFILE = """
from locust import HttpUser, constant, task

class Shopper(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(1)
    def slow(self):
        self.client.get("/sleep?ms=30", name="/sleep")

    @task(1)
    def broken(self):
        self.client.get("/status/500", name="/status/500")
"""


@pytest.fixture
def server():
    with gunicorn("--workers", "2") as (_, port):
        yield port


def test_real_locust_run(server, tmp_path):
    # never import locust here: it monkey-patches the interpreter with gevent on import
    locust = ROOT / ".venv" / "bin" / "locust"
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    run = subprocess.run(
        [
            str(locust),
            "-f",
            "locustfile.py",
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "--host",
            f"http://127.0.0.1:{server}",
            "--csv",
            "run",
            "--only-summary",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        text=True,
    )
    assert run.returncode in (0, 1), run.stderr  # Locust exits 1 when any request failed
    stats = read_locust(tmp_path / "run", table="stats")
    history = read_locust(tmp_path / "run", table="history")
    rows = stats.set_index("name")
    assert {"/", "/sleep", "/status/500", "Aggregated"} <= set(rows.index)
    assert rows.loc["Aggregated", "request_count"] == rows.drop("Aggregated")["request_count"].sum()
    assert rows.loc["/status/500", "failure_count"] == rows.loc["/status/500", "request_count"] > 0
    assert rows.loc["/", "failure_count"] == 0
    assert rows.loc["/sleep", "median_ms"] >= 30 and rows.loc["/sleep", "p95_ms"] >= 30
    assert rows.loc["/", "p50_ms"] < 30
    assert (
        stats.attrs["perfkit"]["failures"][0]["occurrences"]
        == rows.loc["/status/500", "failure_count"]
    )
    steps = throughput(history)
    assert str(steps["time"].dt.tz) == "UTC" and steps["time"].is_monotonic_increasing
    assert steps["user_count"].max() == 4
    assert history["total_request_count"].iloc[-1] <= rows.loc["Aggregated", "request_count"]
    assert history.filter(like="_ms").isna().any().any()  # Locust's N/A at the start became NaN


def test_recorded_ab_and_wrk():
    folder = DATA / "loadtest"
    requests = read_ab(folder / "ab_gnuplot.tsv")
    assert len(requests) == 300
    assert (requests["duration_ms"] >= 20).all()  # every request slept 20 ms
    summary = (folder / "ab_summary.txt").read_text()
    mean = float(summary.split("Time per request:")[1].split("[ms]")[0])
    assert requests["duration_ms"].mean() == pytest.approx(
        mean, abs=1.0
    )  # ab's integer ms vs its mean
    percentiles = read_ab(folder / "ab_percentiles.csv").iloc[0]
    assert percentiles["p50_ms"] == pytest.approx(requests["duration_ms"].median(), abs=1.5)
    wrk = read_wrk(folder / "wrk_latency.txt").iloc[0]
    text = (folder / "wrk_latency.txt").read_text()
    assert wrk["request_count"] == int(text.split(" requests in ")[0].split()[-1])
    assert wrk["p50_ms"] == pytest.approx(float(text.split("50%")[1].split("ms")[0]))
    assert wrk["requests_per_s"] == pytest.approx(float(text.split("Requests/sec:")[1].split()[0]))
    assert wrk["p99_ms"] >= wrk["p50_ms"] >= 20 and wrk["failure_count"] == 0


def test_bad_load_test_files(tmp_path):
    with pytest.raises(
        InputError, match=r"run_stats\.csv: no such file; expected the files `locust --csv run`"
    ):
        read_locust(tmp_path / "run", table="stats")
    other = tmp_path / "other.txt"
    other.write_text("hello\n")
    with pytest.raises(InputError, match=r"other\.txt: expected ab -g"):
        read_ab(other)
    with pytest.raises(InputError, match=r"other\.txt: expected the output of `wrk --latency`"):
        read_wrk(other)
    odd = tmp_path / "odd.txt"
    recorded = (DATA / "loadtest" / "wrk_latency.txt").read_text()
    odd.write_text(re.sub(r"(Latency\s+)(\S+)", r"\g<1>83.87parsecs", recorded, count=1))
    with pytest.raises(
        InputError, match=r"odd\.txt: expected a wrk duration like 83\.87ms, got '83\.87parsecs'"
    ):
        read_wrk(odd)
