"""Allocation sites behind a leak (issue 21): tracemalloc snapshots from perfkit's Gunicorn hook,
memray captures, growth per site, the memory report's section.

Truth comes from outside perfkit: the planted leak app (`tests/data/wild/allocations/leak_app.py`:
the marked lines, ``sys.getsizeof`` of what a request keeps), the client's own log of which worker
answered and when, ``tracemalloc.Snapshot.statistics`` and memray's own ``memray stats``. The
runs are recorded live (real Gunicorn, 2 sync workers, 127.0.0.1) by the folder's `record.py`;
`leak_run/` is one such recording, committed, for the report.
"""

from __future__ import annotations

import gzip
import json
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.allocations import allocation_growth, snapshot_series
from perfkit.analysis.leak import sen
from perfkit.errors import InputError
from perfkit.io.allocations import read_memray, read_tracemalloc

HERE = Path(__file__).resolve().parent / "data" / "wild" / "allocations"
sys.path.insert(0, str(HERE))
from record import record  # noqa: E402  (the recorder beside the data)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _site(frame: pd.DataFrame, line: str) -> pd.Series:
    rows = frame[frame["site"].str.endswith("/" + line)]
    assert len(rows) == 1, (line, frame["site"].head(10).tolist())
    return rows.iloc[0]


@pytest.fixture(scope="module")
def leak(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """600 requests to the leak app (about 1 KB kept per request, a 60-entry cache: 122 KB)."""
    out = tmp_path_factory.mktemp("leak")
    record(out, leak_bytes=1000, requests=600, every=10, cache_entries=60)
    return out, json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The same app without the leak: only the warm-up cache fills, then stays full."""
    out = tmp_path_factory.mktemp("clean")
    record(out, leak_bytes=0, requests=600, every=10, cache_entries=60)
    return out, json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def recycled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The leak under ``--max-requests 200``: each worker lives 200 requests, then a new one."""
    out = tmp_path_factory.mktemp("recycled")
    record(out, leak_bytes=1000, requests=800, every=10, max_requests=200, cache_entries=30)
    return out, json.loads((out / "truth.json").read_text())


def test_the_planted_leak_is_the_top_growing_site_at_its_rate(leak: tuple[Path, dict]) -> None:
    out, truth = leak
    growth = allocation_growth(read_tracemalloc(out / "tracemalloc"))
    top = growth.iloc[0]
    assert top["site"].endswith("/" + truth["leak_line"])
    assert top["verdict"] == "growing"
    planted = truth["leak_bytes_per_request"]  # sys.getsizeof(bytes(1000)) = 1033
    assert abs(top["slope_bytes_per_request"] - planted) <= 0.10 * planted
    assert top["ci_low_bytes_per_request"] <= planted <= top["ci_high_bytes_per_request"] + 1
    # nothing else grows: the list's slots (8 bytes a request) and the cache stay under the floor
    assert growth.loc[growth["verdict"] == "growing", "site"].tolist() == [top["site"]]
    # each worker's last snapshot holds what that worker kept: 1033 x its requests (the client's
    # count of its answers)
    per_process = allocation_growth(read_tracemalloc(out / "tracemalloc"), per_process=True)
    rows = per_process[per_process["site"] == top["site"]].dropna(subset=["pid"])
    for _, row in rows.iterrows():
        served = truth["workers"][str(row["pid"])]["responses"]
        assert row["latest_bytes"] == planted * served


def test_bytes_per_second_match_each_workers_rate_from_the_client(
    leak: tuple[Path, dict],
) -> None:
    """Each worker's rate on the client's clock: scipy's Theil-Sen of the count the worker
    returned against the time the client received it (the typical rate; first-to-last
    averages include pauses, and a 3 s run is noisy)."""
    from scipy import stats

    out, truth = leak
    answers = np.array(json.loads((out / "client.json").read_text())["answers"])
    growth = allocation_growth(read_tracemalloc(out / "tracemalloc"), per_process=True)
    rows = growth[growth["site"].str.endswith("/" + truth["leak_line"]) & growth["pid"].notna()]
    assert len(rows) == 2
    for _, row in rows.iterrows():
        mine = answers[answers[:, 0] == row["pid"]]
        rate = stats.theilslopes(mine[:, 1], mine[:, 3])[0]  # requests/s, client clock
        expected = truth["leak_bytes_per_request"] * rate
        assert abs(row["slope_bytes_per_s"] - expected) <= 0.10 * expected, (row, expected)


def test_a_warm_up_cache_is_not_a_leak(leak: tuple[Path, dict]) -> None:
    """Adversarial: the cache grew by 122 KB per worker, its least-squares slope over the run is
    positive and its Mann-Kendall trend significant, so "the slope is positive" calls it a
    leak; it filled and stopped."""
    out, truth = leak
    frame = read_tracemalloc(out / "tracemalloc")
    cache = _site(allocation_growth(frame), truth["cache_line"])
    assert cache["verdict"] == "warm-up-then-flat"
    assert cache["slope_bytes_per_request"] == 0
    # the naive rule on the same data: growth first to last, and Theil-Sen over the whole run
    rows = frame[frame["site"].str.endswith("/" + truth["cache_line"])]
    snaps = snapshot_series(frame)
    first_last = rows.groupby("pid")["size_bytes"].agg(["first", "last"])
    assert ((first_last["last"] - first_last["first"]) >= 0.8 * truth["cache_bytes"] / 2).all()
    series = [rows[rows["pid"] == pid] for pid in snaps["pid"].unique()]
    *_, p_value, _ = sen(
        [s["requests"].to_numpy(dtype=float) for s in series],
        [s["size_bytes"].to_numpy(dtype=float) for s in series],
    )
    assert p_value < 0.01  # a "significant upward trend" over the whole run
    for s in series:  # and a clearly positive least-squares slope in every worker
        assert np.polyfit(s["requests"].to_numpy(dtype=float),
                          s["size_bytes"].to_numpy(dtype=float), 1)[0] > 50  # fmt: skip
    # and the cache holds what was planted: 60 entries of sys.getsizeof(bytes(2000)) each
    assert cache["latest_bytes"] >= truth["cache_bytes"]


def test_no_leak_no_growing_site(clean: tuple[Path, dict]) -> None:
    out, truth = clean
    growth = allocation_growth(read_tracemalloc(out / "tracemalloc"))
    assert not (growth["verdict"] == "growing").any(), growth.head()
    assert _site(growth, truth["cache_line"])["verdict"] == "warm-up-then-flat"
    assert not growth["site"].str.endswith("/" + truth["leak_line"]).any()  # never ran


def test_recycled_workers_restart_their_series_and_the_pooled_slope_holds(
    recycled: tuple[Path, dict],
) -> None:
    out, truth = recycled
    frame = read_tracemalloc(out / "tracemalloc")
    snaps = snapshot_series(frame)
    pids = set(truth["workers"])  # the client saw every worker that answered
    assert len(pids) >= 4 and {str(p) for p in snaps["pid"].unique()} == pids
    assert snaps["series"].nunique() == len(pids)  # one series per generation
    assert (snaps.groupby("series")["requests"].max() <= 200).all()  # max_requests 200
    top = allocation_growth(frame).iloc[0]
    planted = truth["leak_bytes_per_request"]
    assert top["site"].endswith("/" + truth["leak_line"]) and top["verdict"] == "growing"
    assert abs(top["slope_bytes_per_request"] - planted) <= 0.10 * planted
    assert top["series"] == len(pids)


def test_a_reused_pid_whose_requests_restart_is_a_new_series() -> None:
    """Adversarial for pooling: the same pid serving again from request 10 (pid reuse after a
    recycle). One series across both would see the drop as shrinking; each generation grows
    1000 bytes a request."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for generation in range(2):
        for k in range(1, 31):
            requests = 10 * k
            rows.append({"time": start + pd.Timedelta(seconds=generation * 100 + k),
                         "pid": 7, "requests": requests, "snapshot": f"s{generation}-{k}",
                         "site": "a.py:1", "traceback": "a.py:1",
                         "size_bytes": 1000 * requests, "count": requests})  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["pid"] = frame["pid"].astype("Int64")
    frame["requests"] = frame["requests"].astype("Int64")
    assert snapshot_series(frame)["series"].nunique() == 2
    row = allocation_growth(frame).iloc[0]
    assert row["slope_bytes_per_request"] == 1000 and row["series"] == 2
    assert row["verdict"] == "growing"


def test_read_tracemalloc_equals_tracemalloc_own_statistics(
    leak: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = leak
    path = sorted((out / "tracemalloc").glob("*.pickle"))[-1]
    snapshot = tracemalloc.Snapshot.load(str(path))  # the hook's own file: trusted here
    frame = read_tracemalloc(path)
    for key, depth in (("lineno", 1), ("traceback", snapshot.traceback_limit)):
        stats = snapshot.statistics(key)
        expected = {
            " <- ".join(f"{f.filename}:{f.lineno}" for f in reversed(s.traceback)): (
                s.size,
                s.count,
            )
            for s in stats
        }  # fmt: skip  (reversed: innermost first)
        got = read_tracemalloc(path, depth=depth)
        assert dict(zip(got["traceback"], zip(got["size_bytes"], got["count"], strict=True),
                        strict=True)) == expected  # fmt: skip
    assert frame["size_bytes"].sum() == sum(s.size for s in snapshot.statistics("lineno"))
    # gzip, the hook's name read back, and the pyarrow backend
    packed = tmp_path / (path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    again = read_tracemalloc(packed, dtype_backend="pyarrow")
    assert again["size_bytes"].sum() == frame["size_bytes"].sum()
    assert str(again["site"].dtype) == "string[pyarrow]"
    pid, requests, micros = path.name.removeprefix("tracemalloc-").split(".")[0].split("-")
    assert again["pid"].iloc[0] == int(pid) and again["requests"].iloc[0] == int(requests)
    assert again["time"].iloc[0] == pd.Timestamp(int(micros), unit="us", tz="UTC")


class _Planted:
    """Unpickles to ``os.system('touch <flag>')``."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (f"touch {self.flag}",))


def test_a_hostile_snapshot_is_refused_and_never_runs(tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    hostile = tmp_path / "tracemalloc-1-10-1700000000000000.pickle"
    hostile.write_bytes(pickle.dumps(_Planted(flag)))
    with pytest.raises(
        InputError, match=r"tracemalloc-1-10.*refused to unpickle (posix|os)\.system"
    ):
        read_tracemalloc(hostile)
    assert not flag.exists()
    # hidden inside a real snapshot's traces: refused too
    tracemalloc.start()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    snapshot.traces._traces = (*snapshot.traces._traces[:3], _Planted(flag))  # type: ignore[attr-defined]
    inside = tmp_path / "inside.pickle"
    inside.write_bytes(pickle.dumps(snapshot))
    with pytest.raises(InputError, match="refused to unpickle"):
        read_tracemalloc(inside)
    assert not flag.exists()
    # not a snapshot at all, and a truncated one: InputError naming the file
    other = tmp_path / "dict.pickle"
    other.write_bytes(pickle.dumps({"traces": [1, 2]}))
    with pytest.raises(InputError, match=r"dict\.pickle: not a tracemalloc snapshot"):
        read_tracemalloc(other)
    cut = tmp_path / "cut.pickle"
    cut.write_bytes(pickle.dumps(snapshot.__class__.__new__(snapshot.__class__))[:-3])
    with pytest.raises(InputError, match=r"cut\.pickle"):
        read_tracemalloc(cut)


def test_memray_captures_of_two_workers_summed_per_site(tmp_path: Path) -> None:
    """memray.Tracker in each Gunicorn worker (tests/data/wild/allocations/memray_conf.py); the
    leak line's leaked bytes per worker equal memray's own `memray stats` for that line (the
    leak is never freed, so allocated = leaked) and 1033 x the worker's answers; summed over the
    two captures, 1033 x every request."""
    pytest.importorskip("memray")
    record(tmp_path, leak_bytes=1000, requests=600, memray=True)
    truth = json.loads((tmp_path / "truth.json").read_text())
    captures = sorted((tmp_path / "memray").glob("memray-*.bin"))
    assert len(captures) == 2
    per_process = read_memray(captures, combine=False)
    leak_line = truth["leak_line"]
    for capture in captures:
        stats_file = tmp_path / (capture.stem + ".json")
        subprocess.run([sys.executable, "-m", "memray", "stats", "--json", "-f", "-n", "200",
                        "-o", str(stats_file), str(capture)], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)  # fmt: skip
        stats = json.loads(stats_file.read_text())
        by_line = {
            e["location"].split(":", 1)[1]: e["size"] for e in stats["top_allocations_by_size"]
        }  # fmt: skip  function:file:line
        pid = int(capture.stem.split("-")[1])
        rows = per_process[(per_process["pid"] == pid)
                           & per_process["site"].str.endswith("/" + leak_line)]  # fmt: skip
        assert len(rows) == 1
        mine = int(rows["size_bytes"].iloc[0])
        memray_own = [v for k, v in by_line.items() if k.endswith("/" + leak_line)]
        assert memray_own == [mine]
        assert mine == truth["leak_bytes_per_request"] * truth["workers"][str(pid)]["responses"]
        assert rows["count"].iloc[0] == truth["workers"][str(pid)]["responses"]
    combined = read_memray(captures)
    top = combined.iloc[0]
    assert top["site"].endswith("/" + leak_line) and top["capture"] == "2"
    assert top["size_bytes"] == truth["leak_bytes_per_request"] * 600


def test_read_memray_names_the_extra_when_memray_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "memray", None)  # import memray raises ImportError
    with pytest.raises(InputError, match=r"pip install 'perfkit\[memray\]'"):
        read_memray(tmp_path / "x.bin")


def test_read_memray_refuses_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    pytest.importorskip("memray")
    bad = tmp_path / "not-memray.bin"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match=r"not-memray\.bin: not a memray capture"):
        read_memray(bad)


def test_memory_report_shows_the_same_sites_as_the_api() -> None:
    """The recorded run (leak_run/: RSS samples and the hook's snapshots, gzip): the report's
    frame is allocation_growth's, and its table and text show the planted line."""
    from perfkit.report.memory import memory_report

    run = HERE / "leak_run"
    truth = json.loads((run / "truth.json").read_text())
    report = memory_report(run)
    api = allocation_growth(read_tracemalloc(run / "tracemalloc"))
    assert report.allocations is not None
    pd.testing.assert_frame_equal(report.allocations, api)
    arrow = allocation_growth(read_tracemalloc(run / "tracemalloc", dtype_backend="pyarrow"))
    pd.testing.assert_frame_equal(arrow, api)  # the backend changes dtypes, not the fits
    shown = report.growing_sites()
    assert shown.iloc[0]["site"].endswith("/" + truth["leak_line"])
    assert shown["verdict"].tolist() == ["growing", "warm-up-then-flat"]
    html = report.allocation_sites()._repr_html_()
    assert truth["leak_line"] in html and "1,033" in html and "1 allocation site(s) grow" in html
    summary = report.summary()["allocation_sites"]
    assert [s["site"].rsplit("/", 1)[1] for s in summary] == [truth["leak_line"]]
    assert summary[0]["bytes_per_request"] == pytest.approx(truth["leak_bytes_per_request"],
                                                            rel=0.10)  # fmt: skip
    trust = report.run.trust()
    row = trust[trust["source"] == "tracemalloc snapshots"].iloc[0]
    assert row["records"] == len(list((run / "tracemalloc").glob("*.pickle.gz")))
    # the RSS trend agrees there is a leak: the workers' fits
    assert (report.fits.loc[report.fits["role"] == "worker", "slope_mib_per_hour"] > 0).all()


def test_a_broken_snapshot_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    from perfkit.report.evidence import load_run

    (tmp_path / "memory.csv").write_text((HERE / "leak_run" / "memory.csv").read_text())
    (tmp_path / "tracemalloc").mkdir()
    (tmp_path / "tracemalloc" / "tracemalloc-1-10-1700000000000000.pickle").write_bytes(b"junk")
    run = load_run(tmp_path)
    assert run.allocations is None and "allocations" in run.problems
    assert np.isfinite(len(run.memory))  # the rest loaded


@pytest.mark.parametrize("tag", ["py39", "py310", "py311", "py312", "py313"])
def test_snapshots_of_each_cpython_read_as_that_cpython_counts_them(tag: str) -> None:
    """Snapshot.dump files written by CPython 3.9 to 3.13 (versions/plant.py): read with the
    restricted unpickler (tracemalloc.Snapshot and _Traces only), the sites, bytes and blocks
    equal that interpreter's own Snapshot.statistics, by line and by 2-frame traceback."""
    folder = HERE / "versions"
    truth = json.loads((folder / f"{tag}.truth.json").read_text())
    lines = (folder / "plant.py").read_text().splitlines()
    marked = next(n for n, t in enumerate(lines, 1) if t.endswith("# BYTES LINE"))
    for key, depth in (("lineno", 1), ("traceback", 2)):
        frame = read_tracemalloc(folder / f"{tag}.pickle.gz", depth=depth)
        got = {
            t: (s, c)
            for t, s, c in zip(frame["traceback"], frame["size_bytes"], frame["count"], strict=True)
        }
        expected = {
            " <- ".join(f"{f}:{n}" for f, n in stack): (size, count)
            for stack, size, count in truth[key]
        }
        assert got == expected
    top = read_tracemalloc(folder / f"{tag}.pickle.gz").iloc[0]
    assert top["site"].endswith(f"plant.py:{marked}") and top["count"] == 40
    assert frame.attrs["perfkit"]["traceback_limit"] == [truth["traceback_limit"]]


def test_too_few_snapshots_are_inconclusive_not_flat() -> None:
    """Adversarial: two snapshots 500 KB apart cannot be judged; "no significant trend" must
    not read as flat."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    frame = pd.DataFrame({
        "time": [start, start + pd.Timedelta(seconds=60)], "pid": pd.array([1, 1], "Int64"),
        "requests": pd.array([100, 200], "Int64"), "snapshot": ["a", "b"],
        "site": ["a.py:1"] * 2, "traceback": ["a.py:1"] * 2,
        "size_bytes": [100_000, 600_000], "count": [1, 6],
    })  # fmt: skip
    assert allocation_growth(frame)["verdict"].tolist() == ["inconclusive"]


def test_tracing_one_worker_of_two_and_its_successors(tmp_path: Path) -> None:
    """PERFKIT_TRACEMALLOC_WORKERS=1: one traced worker at a time; when it is recycled its
    slot passes to a new worker, so the traced lives follow one another without overlap and the
    pooled slope still finds the planted rate."""
    record(tmp_path, leak_bytes=1000, requests=600, every=10, max_requests=150, cache_entries=30,
           env={"PERFKIT_TRACEMALLOC_WORKERS": "1"})  # fmt: skip
    truth = json.loads((tmp_path / "truth.json").read_text())
    frame = read_tracemalloc(tmp_path / "tracemalloc")
    lives = frame.groupby("pid")["time"].agg(["min", "max"]).sort_values("min")
    assert 2 <= len(lives) < len(truth["workers"])  # some workers were never traced
    assert (lives["min"].iloc[1:].to_numpy() > lives["max"].iloc[:-1].to_numpy()).all()
    top = allocation_growth(frame).iloc[0]
    planted = truth["leak_bytes_per_request"]
    assert top["site"].endswith("/" + truth["leak_line"])
    assert abs(top["slope_bytes_per_request"] - planted) <= 0.10 * planted


def test_the_memory_notebook_shows_the_growing_sites(tmp_path: Path) -> None:
    """The memory_leak notebook run by papermill on the recorded run: its --json summary names
    the planted line at its rate, and the HTML shows the section's table."""
    from perfkit.report.run import run_report

    truth = json.loads((HERE / "leak_run" / "truth.json").read_text())
    html = tmp_path / "memory.html"
    summary = run_report("memory_leak", {"run": str(HERE / "leak_run")}, html)
    sites = summary["allocation_sites"]
    assert [s["site"].rsplit("/", 1)[1] for s in sites] == [truth["leak_line"]]
    assert sites[0]["bytes_per_request"] == pytest.approx(truth["leak_bytes_per_request"], rel=0.1)
    page = html.read_text()
    assert "Allocation sites" in page and "warm-up-then-flat" in page


def test_snapshots_not_named_by_the_hook_use_their_mtime_and_a_time_axis(tmp_path: Path) -> None:
    """Files from elsewhere (no pid, no request count in the name): time is the file's
    modification time and the slope is per second only."""
    import os
    import shutil

    source = HERE / "versions" / "py311.pickle.gz"
    base = pd.Timestamp("2026-03-01 12:00:00", tz="UTC")
    for k in range(8):
        copy = tmp_path / f"snap{k}.pickle.gz"
        shutil.copy(source, copy)
        stamp = (base + pd.Timedelta(seconds=10 * k)).timestamp()
        os.utime(copy, (stamp, stamp))
    frame = read_tracemalloc(sorted(tmp_path.glob("snap*.pickle.gz")))
    assert frame["pid"].isna().all() and frame["requests"].isna().all()
    assert str(frame["pid"].dtype) == "Int64" and str(frame["requests"].dtype) == "Int64"
    assert frame["time"].drop_duplicates().tolist() == [
        base + pd.Timedelta(seconds=10 * k) for k in range(8)
    ]
    assert frame.attrs["perfkit"]["time_from_mtime"] == 8
    growth = allocation_growth(frame, min_growth_bytes=0)
    assert growth.attrs["perfkit"]["axis"] == "time"
    assert growth["slope_bytes_per_request"].isna().all()
    assert (growth["slope_bytes_per_s"] == 0).all() and (growth["verdict"] == "flat").all()


def test_site_text_from_a_snapshot_is_escaped_in_the_report() -> None:
    """A file name is data: one holding markup is shown as text, in the sentence and table."""
    from perfkit.report.evidence import Run
    from perfkit.report.memory import MemoryReport

    start = pd.Timestamp("2026-01-01", tz="UTC")
    hostile = "<img src=x onerror=alert(1)>.py:3"
    frame = pd.DataFrame({
        "time": [start + pd.Timedelta(seconds=k) for k in range(30)],
        "pid": pd.array([5] * 30, "Int64"), "requests": pd.array(range(10, 310, 10), "Int64"),
        "snapshot": [f"s{k}" for k in range(30)], "site": hostile, "traceback": hostile,
        "size_bytes": [10_000 * (k + 1) for k in range(30)], "count": 1,
    })  # fmt: skip
    report = MemoryReport(Run("x"), None, None, None, None, 0,
                          allocations=allocation_growth(frame))  # fmt: skip
    page = report.allocation_sites()._repr_html_()
    assert "<img" not in page and "&lt;img" in page
