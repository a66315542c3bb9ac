"""RSS collection from a real Gunicorn whose workers recycle, and read_memory's sources."""

from __future__ import annotations

import gzip
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import warnings

import pandas as pd
import pytest

from perfkit import InputError, PerfkitWarning
from perfkit.collect.rss import collect_rss
from perfkit.io.memory import read_memory
from tests.servers import ROOT, gunicorn


@pytest.fixture
def recycling_gunicorn(tmp_path):
    errors = tmp_path / "gunicorn-error.log"
    options = ("--workers", "2", "--max-requests", "4", "--max-requests-jitter", "0",
               "--error-logfile", str(errors))  # fmt: skip
    with gunicorn(*options) as (proc, port):
        yield proc, port, errors


def test_collector_follows_recycled_workers(recycling_gunicorn, tmp_path):
    proc, port, errors = recycling_gunicorn
    out = tmp_path / "rss.csv"
    collector = threading.Thread(
        target=collect_rss, args=(proc.pid, out), kwargs={"interval_s": 0.05, "duration_s": 4.0}
    )
    collector.start()
    for _ in range(24):  # 2 workers x max_requests 4: about three generations each
        urllib.request.urlopen(f"http://127.0.0.1:{port}/sleep?ms=40", timeout=10).read()
        time.sleep(0.08)
    collector.join(timeout=30)
    booted = {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", errors.read_text())}
    assert len(booted) >= 5  # the first two workers and at least three replacements
    memory = read_memory(out)
    workers = set(memory.loc[memory["role"] == "worker", "pid"])
    assert booted <= workers  # every recycled worker was followed
    master = memory[memory["role"] == "master"]
    assert set(master["pid"]) == {proc.pid}
    # a Python process holds several MiB (a worker sampled while exiting may hold less)
    assert (memory.groupby("pid")["rss_bytes"].max() > 5 * 2**20).all()
    assert (memory["rss_bytes"] > 0).all()
    assert memory["time"].is_monotonic_increasing
    assert (
        memory["uss_bytes"].notna().any()
        and (
            memory["uss_bytes"].dropna() <= memory.loc[memory["uss_bytes"].notna(), "rss_bytes"]
        ).all()
    )


def test_collector_stops_when_the_master_exits(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    rows = collect_rss(child.pid, tmp_path / "short.csv", interval_s=0.05, duration_s=30)
    child.wait()
    assert 3 <= rows < 100  # it ended with the process, long before 30 s
    with pytest.raises(InputError, match="no process with pid"):
        collect_rss(child.pid, tmp_path / "gone.csv")


def test_mprof_file_with_children(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(60 * 2**20); time.sleep(1.2)'])\n"
        "block = bytearray(40 * 2**20)\n"
        "time.sleep(1.2)\nchild.wait()\n"
    )
    dat = tmp_path / "mprofile.dat"
    mprof = ROOT / ".venv" / "bin" / "mprof"
    subprocess.run(
        [
            str(mprof),
            "run",
            "--include-children",
            "--multiprocess",
            "-T",
            "0.1",
            "-o",
            str(dat),
            sys.executable,
            str(script),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    memory = read_memory(dat)
    main, child = memory[memory["role"] == "main"], memory[memory["role"] == "child"]
    assert len(main) > 5 and len(child) > 3
    assert main["rss_bytes"].max() > 40 * 2**20  # the 40 MiB block, MiB converted to bytes
    assert child["rss_bytes"].max() > 60 * 2**20
    first = dat.read_text().splitlines()
    mem = next(line for line in first if line.startswith("MEM "))
    assert memory.loc[memory["role"] == "main", "rss_bytes"].iloc[0] == round(
        float(mem.split()[1]) * 2**20
    )


def test_prometheus_scrape_and_range_query(tmp_path):
    from prometheus_client import REGISTRY, generate_latest

    scrape = tmp_path / "metrics.txt"
    scrape.write_bytes(generate_latest(REGISTRY))  # this process's own exporter output
    memory = read_memory(scrape)
    import resource

    assert len(memory) == 1
    assert memory["rss_bytes"].iloc[0] > 10 * 2**20
    assert (
        memory["rss_bytes"].iloc[0]
        <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 1.5
    )
    query = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {
                        "__name__": "process_resident_memory_bytes",
                        "job": "gunicorn",
                        "pid": "4242",
                    },
                    "values": [[1700000000, "52428800"], [1700000015, "53477376"]],
                },
            ],
        },
    }
    ranged = tmp_path / "range.json"
    ranged.write_text(json.dumps(query))
    series = read_memory(ranged)
    assert series["pid"].tolist() == [4242, 4242]
    assert series["rss_bytes"].tolist() == [52428800, 53477376]
    assert series["time"].iloc[1] - series["time"].iloc[0] == pd.Timedelta(seconds=15)
    assert series["labels"].iloc[0] == "job=gunicorn,pid=4242"


def test_csv_units_epoch_times_and_contract(tmp_path):
    text = "time,pid,rss_mib\n1700000000,10,100\n1700000001.5,10,101.5\n"
    path = tmp_path / "psutil.csv"
    path.write_text(text)
    packed = tmp_path / "psutil.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    frames = [read_memory(path), read_memory(packed), read_memory(io.BytesIO(text.encode()))]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(
            frames[0].drop(columns="source"), frame.drop(columns="source")
        )
    first = frames[0]
    assert first["rss_bytes"].tolist() == [100 * 2**20, int(101.5 * 2**20)]
    assert str(first["time"].dt.tz) == "UTC" and first["time"].iloc[1] == pd.Timestamp(
        1700000001.5, unit="s", tz="UTC"
    )
    assert first["pid"].dtype == "Int64"


def test_bad_memory_input(tmp_path):
    no_unit = tmp_path / "no_unit.csv"
    no_unit.write_text("time,pid,rss\n1700000000,1,100\n")
    with pytest.raises(
        InputError, match=r"no_unit\.csv: expected a 'time' column and RSS with its unit"
    ):
        read_memory(no_unit)
    bad_time = tmp_path / "bad_time.csv"
    bad_time.write_text("time,pid,rss_bytes\n2024-01-01T00:00:00Z,1,100\nyesterday,1,100\n")
    with pytest.raises(InputError, match=r"bad_time\.csv:3: expected a time"):
        read_memory(bad_time)
    bad_number = tmp_path / "bad_number.csv"
    bad_number.write_text("time,pid,rss_bytes\n2024-01-01T00:00:00Z,1,lots\n")
    with pytest.raises(InputError, match=r"bad_number\.csv:2: expected a number in rss_bytes"):
        read_memory(bad_number)
    broken_mprof = tmp_path / "broken.dat"
    broken_mprof.write_text(
        "CMDLINE python app.py\nMEM 12.5 1700000000.0\nMEM twelve 1700000001.0\n"
    )
    with pytest.raises(InputError, match=r"broken\.dat:3: expected 'MEM <MiB> <time>'"):
        read_memory(broken_mprof)
    other_metric = tmp_path / "other.prom"
    other_metric.write_text(
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n"
    )
    with pytest.raises(InputError, match=r"other\.prom: no process_resident_memory_bytes samples"):
        read_memory(other_metric)


def test_killed_collector_keeps_whole_rows(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    out = tmp_path / "rss.csv"
    collector = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "perfkit"),
            "collect",
            "rss",
            "--pid",
            str(sleeper.pid),
            "--out",
            str(out),
            "--interval",
            "0.01",
        ]
    )
    deadline = time.monotonic() + 30
    while (not out.exists() or out.read_text().count("\n") < 22) and time.monotonic() < deadline:
        time.sleep(0.02)
    collector.send_signal(signal.SIGKILL)
    collector.wait(timeout=10)
    sleeper.kill()
    sleeper.wait()
    whole = out.read_text().count("\n") - 1  # rows fully written (flushed) before the kill
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a partial last line, if the kill landed mid-row
        memory = read_memory(out)
    assert len(memory) == whole >= 20
    assert set(memory["pid"]) == {sleeper.pid}
    partial = tmp_path / "partial.csv"
    partial.write_text(out.read_text().rstrip("\n") + "\n2026-01-01T00:00:00+00:00,1,0,wor")
    with pytest.warns(PerfkitWarning, match=r"partial\.csv:\d+: incomplete last line left out"):
        assert len(read_memory(partial)) == whole


def test_sigterm_stops_the_collector_cleanly(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    out = tmp_path / "rss.csv"
    command = [str(ROOT / ".venv" / "bin" / "perfkit"), "collect", "rss", "--pid", str(sleeper.pid),
               "--out", str(out), "--interval", "0.05"]  # fmt: skip
    # started with SIGINT ignored, as a background job of a non-interactive shell is
    collector = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    deadline = time.monotonic() + 30
    while (not out.exists() or out.read_text().count("\n") < 6) and time.monotonic() < deadline:
        time.sleep(0.02)
    collector.send_signal(signal.SIGTERM)
    assert collector.wait(timeout=10) == 0
    assert "stopped" in collector.stderr.read()
    sleeper.kill()
    sleeper.wait()
    assert out.read_text().endswith("\n")  # no partial row
    assert len(read_memory(out)) >= 5


def test_load_test_files_from_buffers_and_gz(tmp_path):
    from perfkit.io.loadtest import read_ab, read_wrk
    from tests.conftest import DATA

    tsv = (DATA / "loadtest" / "ab_gnuplot.tsv").read_bytes()
    packed = tmp_path / "ab_gnuplot.tsv.gz"
    packed.write_bytes(gzip.compress(tsv))
    plain = read_ab(DATA / "loadtest" / "ab_gnuplot.tsv")
    pd.testing.assert_frame_equal(plain, read_ab(packed))
    pd.testing.assert_frame_equal(plain, read_ab(io.BytesIO(tsv)))
    assert str(plain["time"].dt.tz) == "UTC"
    text = (DATA / "loadtest" / "wrk_latency.txt").read_bytes()
    pd.testing.assert_frame_equal(
        read_wrk(DATA / "loadtest" / "wrk_latency.txt"), read_wrk(io.BytesIO(text))
    )
