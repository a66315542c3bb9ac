"""The warehouse recorder's issue-21 evidence (examples/warehouse/record.py): Redis statistics
throughout, tracemalloc snapshots of the leak, a line profile of the dashboard view.

`examples.warehouse.lineprof` is checked against line_profiler's own reading of its dumps
(threads, rotation every N calls). The recorder runs one short scenario (real PostgreSQL,
Gunicorn, redis-server, Locust) that carries all three, and each artifact is read back by
perfkit and checked against a truth from outside it: Redis's own INFO counters, the access
log's request counts, line_profiler's ``load_stats``, the leaking line found in app.py's text.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

import perfkit
from examples.warehouse import lineprof

pytest.importorskip("line_profiler")


def _view(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    time.sleep(0.001)
    return total


def _calls(dump: Path) -> int:
    from line_profiler import load_stats

    stats = load_stats(str(dump))
    return sum(min(t)[1] for t in stats.timings.values() if t)


def test_view_profiler_rotates_every_n_calls_across_threads(tmp_path):
    profiled = lineprof.ViewProfiler(_view, tmp_path, every=5)
    threads = [threading.Thread(target=lambda: [profiled(20) for _ in range(6)])
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _view(3)  # unprofiled: counted nowhere
    last = profiled.close()
    dumps = sorted(tmp_path.glob("*.lprof"))
    per_dump = [_calls(d) for d in dumps]
    # line_profiler's own count: every threaded call once, 5 per dump, the rest at exit
    assert sorted(per_dump) == [4, 5, 5, 5, 5]
    assert last is not None and _calls(last) == 4 and not list(tmp_path.glob("*.part"))
    assert profiled.close() is None  # nothing more to write
    frame = perfkit.read_line_profile(tmp_path, by_file=True)
    assert set(frame["function"]) == {"_view"}
    first = frame[frame["line"] == frame["line"].min()]
    assert sorted(first["hits"]) == sorted(per_dump)


def test_view_profiler_off_without_its_folder(monkeypatch):
    monkeypatch.delenv(lineprof.DIR_ENV, raising=False)

    class Worker:
        wsgi = None  # touched only when profiling is asked for

    lineprof.post_worker_init(Worker())
    assert lineprof._active is None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_short_recording_carries_redis_tracemalloc_and_line_profile(tmp_path):
    """One 15 s scenario (the leak app, profiled and traced): the three artifacts, readable,
    agreeing with the tools' own counts (about 60 s)."""
    from examples.warehouse.record import LEAK_BYTES_PER_CALL, Plan, record
    from perfkit.io.allocations import read_tracemalloc
    from perfkit.io.redis import read_redis

    plan = Plan("leak_profiled", "leak", 15, profile_rate=0.0, collect_pg=False,
                tracemalloc=True, lprof=True, truth="test")  # fmt: skip
    out = tmp_path / plan.name
    manifest = record(plan, out, short=True)
    assert json.loads((out / "manifest.json").read_text())["measured"] == json.loads(
        json.dumps(manifest["measured"]))
    measured = manifest["measured"]
    requests = perfkit.read_access_log(out / "access.log.gz",
                                       format=(out / "access_log_format.txt").read_text().strip())
    routes = requests["route"].value_counts()

    # Redis: perfkit's last snapshot shows the counts Redis itself gave after the load; every
    # product lookup hit the warmed cache (2,000 products, ids 1-2,000)
    redis = measured["redis"]
    assert redis["keyspace_hits"] == routes["/api/products/{id}"] > 0
    assert redis["keyspace_misses"] == 0
    info = read_redis(out / "redis", "info")
    assert info["snapshot_time"].nunique() == redis["snapshots"] >= 2
    last = info[info["snapshot_time"] == info["snapshot_time"].max()].set_index("field")
    assert last.loc["keyspace_hits", "number"] == redis["keyspace_hits"]
    assert last.loc["keyspace_misses", "number"] == 0

    # tracemalloc: the top growing site is the planted line, at its planted rate per request
    site = measured["tracemalloc"]["leak_site"]
    source = (Path(__file__).parents[1] / site["file"]).read_text().splitlines()
    assert "os.urandom" in source[site["line"] - 1] and "_RENDERED[" in source[site["line"] - 1]
    snapshots = read_tracemalloc(out / "tracemalloc")
    assert snapshots["snapshot"].nunique() == measured["tracemalloc"]["snapshots"] >= 12
    growth = perfkit.allocation_growth(snapshots)
    top = growth.iloc[0]
    assert top["site"].endswith(f"{site['file']}:{site['line']}") and top["verdict"] == "growing"
    share = routes["/api/products/{id}"] / len(requests)  # the hook counts every request
    assert top["slope_bytes_per_request"] == pytest.approx(LEAK_BYTES_PER_CALL * share, rel=0.3)

    # line profile: the dashboard only, every call line_profiler counted, its source kept
    lines = perfkit.read_line_profile(out / "lprof", by_file=True, source_root=out / "source")
    assert set(lines["function"]) == {"create_app.<locals>.dashboard"}
    first = lines[lines["line"] == lines["line"].min()]
    assert first["hits"].sum() == measured["lprof"]["calls"] == routes["/dashboard"] > 0
    assert lines["source"].notna().all() and not lines.attrs["perfkit"]["source_stale"]
    from perfkit.report.evidence import load_run

    run = load_run(out)
    assert run.redis is not None and run.allocations is not None
    assert run.line_profile is not None and not run.problems
