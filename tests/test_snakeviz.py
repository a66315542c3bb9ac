"""open_snakeviz serves a real snakeviz on 127.0.0.1 with the profile's data."""

from __future__ import annotations

import cProfile
import json
import urllib.request

from perfkit import open_snakeviz, read_profile
from tests.conftest import DATA


def work():
    return sorted(json.dumps({"k": list(range(500))}) for _ in range(200))


def test_snakeviz_serves_a_merged_dump(tmp_path):
    paths = []
    for i in range(3):
        profiler = cProfile.Profile()
        profiler.runcall(work)
        paths.append(tmp_path / f"{i}.prof")
        profiler.dump_stats(paths[-1])
    merged = read_profile(paths)
    with open_snakeviz(merged) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=20) as response:
            assert response.status == 200
            page = response.read().decode()
        assert "table_data" in page and "test_snakeviz.py" in page and "work" in page
        process = server.process
    assert process.poll() is not None  # stopped on leaving the block
    assert "iframe" in server._repr_html_()


def test_snakeviz_on_a_py_spy_profile():
    with (
        open_snakeviz(DATA / "profiles" / "pyspy_work.speedscope.json") as server,
        urllib.request.urlopen(server.url, timeout=20) as response,
    ):
        assert response.status == 200
        assert "regex" in response.read().decode()
