"""Mutation fuzz over real recorded inputs, one test per loader (issue 14, causes 18 and 22).

`tests/fuzz.py` damages a real file eight ways (truncation, flipped bytes, NUL, inf and
huge numbers, Latin-1, extra columns, dropped/duplicated lines, spliced lines); every
mutant must load or raise `InputError` naming the file. Where a loader returns, the
frame must also be sane: finite numbers, no negative times or sizes, times in range.
Seeded and bounded: 3 seeds x 8 mutations x 4 = 96 mutants per input, a second or two.

The fixed cases first: what an earlier fuzz run found (cause 22).
"""

from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfkit import (
    InputError,
    PerfkitWarning,
    read_ab,
    read_locust,
    read_memory,
    read_profile,
    read_wrk,
)
from tests.fuzz import fuzz_loader

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RUN = ROOT / "data" / "leak"  # a recorded run: Locust CSVs, memory.csv
SEEDS = (0, 1, 2)
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2262-04-11", tz="UTC")

pytestmark = pytest.mark.filterwarnings("ignore::perfkit.errors.PerfkitWarning")


# --- invariants of what a loader returns ------------------------------------------------------


def _sane_numbers(frame: pd.DataFrame, label: str) -> None:
    numbers = frame.select_dtypes("number")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    assert not np.isinf(values).any(), f"{label}: infinite numbers"
    assert not (values < 0).any(), f"{label}: negative numbers"


def _sane_times(times: pd.Series, label: str) -> None:
    assert times.notna().all() and times.between(EARLIEST, LATEST).all(), f"{label}: times"


def _profile(path: Path) -> None:
    profile = read_profile(path)
    functions = profile.functions
    assert np.isfinite(functions[["tottime_s", "cumtime_s"]].to_numpy(np.float64)).all()
    assert (functions["tottime_s"] >= 0).all() and (functions["cumtime_s"] >= 0).all()
    tree = profile.tree(min_fraction=0)
    assert np.isfinite(tree["total_s"]).all() and (tree["self_s"] >= 0).all()


def _locust(kind: str):
    """A loader of one mutated Locust CSV beside the recorded other one."""

    def load(path: Path) -> None:
        for other in ("stats", "stats_history"):
            if other != kind:
                shutil.copy(RUN / f"locust_{other}.csv", path.parent / f"locust_{other}.csv")
        stats = read_locust(path.parent / "locust", table="stats")
        history = read_locust(path.parent / "locust", table="history")
        _sane_numbers(stats, "stats")
        _sane_numbers(history, "history")
        _sane_times(history["time"], "history")

    return load


def _ab(path: Path) -> None:
    frame = read_ab(path)
    _sane_numbers(frame, "ab")
    if "time" in frame:
        _sane_times(frame["time"], "ab")
    else:
        percentiles = frame.filter(like="_ms").iloc[0].dropna().to_numpy()
        assert (np.diff(percentiles) >= 0).all(), "ab percentiles decrease"


def _wrk(path: Path) -> None:
    _sane_numbers(read_wrk(path), "wrk")


def _memory(path: Path) -> None:
    memory = read_memory(path)
    _sane_numbers(memory, "memory")
    _sane_times(memory["time"], "memory")
    assert (memory["rss_bytes"] < 2**53).all() and memory["pid"].notna().all()


# --- the fuzz, one test per loader and input ---------------------------------------------------


def _raw_dump(tmp_path: Path) -> Path:
    dump = sorted((ROOT / "data" / "baseline" / "profiles").glob("*.prof.xz"))[0]
    raw = tmp_path / "source" / dump.name.removesuffix(".xz")
    raw.parent.mkdir()
    raw.write_bytes(lzma.decompress(dump.read_bytes()))
    return raw


INPUTS = {
    "cprofile_xz": (_profile, lambda tmp: sorted((ROOT / "data/baseline/profiles").glob("*.xz"))[0]),
    "cprofile_raw": (_profile, _raw_dump),
    "speedscope": (_profile, lambda tmp: DATA / "profiles" / "pyspy_work.speedscope.json"),
    "speedscope_gz": (_profile, lambda tmp: ROOT / "data" / "baseline" / "pyspy.json.gz"),
    "pyspy_raw": (_profile, lambda tmp: DATA / "profiles" / "pyspy_work.txt"),
    "locust_stats": (_locust("stats"), lambda tmp: RUN / "locust_stats.csv"),
    "locust_history": (_locust("stats_history"), lambda tmp: RUN / "locust_stats_history.csv"),
    "ab_gnuplot": (_ab, lambda tmp: DATA / "loadtest" / "ab_gnuplot.tsv"),
    "ab_percentiles": (_ab, lambda tmp: DATA / "loadtest" / "ab_percentiles.csv"),
    "wrk": (_wrk, lambda tmp: DATA / "loadtest" / "wrk_latency.txt"),
    "memory": (_memory, lambda tmp: RUN / "memory.csv"),
    "memory_recycling": (_memory, lambda tmp: ROOT / "data" / "recycling" / "memory.csv"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_fuzz_loader(tmp_path, name):
    load, source = INPUTS[name]
    source_path = source(tmp_path)
    clean = tmp_path / "clean" / source_path.name
    clean.parent.mkdir()
    shutil.copy(source_path, clean)
    load(clean)  # the unharmed input reads and is sane
    totals = {"ok": 0, "input_error": 0}
    for seed in SEEDS:
        work = tmp_path / f"seed{seed}"
        work.mkdir()
        for outcome, count in fuzz_loader(load, source_path, work, seed=seed).items():
            totals[outcome] += count
    assert sum(totals.values()) == 32 * len(SEEDS)
    if not name.startswith(("cprofile", "speedscope")):  # text: damaged rows are left out
        assert totals["ok"] > 0, totals  # so some mutants load; not everything is refused


def test_locust_failures_file_fuzz(tmp_path):
    source = DATA / "blog" / "errors_cand"

    def load(path: Path) -> None:
        for kind in ("stats", "stats_history"):
            shutil.copy(source / f"locust_{kind}.csv", path.parent / f"locust_{kind}.csv")
        read_locust(path.parent / "locust", table="stats")

    for seed in SEEDS:
        (tmp_path / f"s{seed}").mkdir()
        fuzz_loader(load, source / "locust_failures.csv", tmp_path / f"s{seed}", seed=seed)


# --- what the fuzz found (cause 22), one test each --------------------------------------------


def _copy_with(tmp_path: Path, source: Path, name: str, change) -> Path:
    path = tmp_path / name
    path.write_bytes(change(source.read_bytes()))
    return path


@pytest.mark.filterwarnings("default")
def test_ab_percentiles_with_an_extra_row(tmp_path):
    source = DATA / "loadtest" / "ab_percentiles.csv"
    path = _copy_with(tmp_path, source, "ab_percentiles.csv",
                      lambda data: data.replace(b"\n90,", b"\n90,1.5,extra\n90,", 1))  # fmt: skip
    with pytest.warns(PerfkitWarning, match=r"ab_percentiles\.csv: 1 damaged row left out"):
        frame = read_ab(path)
    assert frame.drop(columns="name").equals(read_ab(source).drop(columns="name"))


@pytest.mark.filterwarnings("default")
def test_ab_times_out_of_range(tmp_path):
    source = DATA / "loadtest" / "ab_gnuplot.tsv"
    lines = source.read_bytes().split(b"\n")
    for at, seconds in ((5, b"99999999999999"), (9, b"17957\xfc5828")):
        fields = lines[at].split(b"\t")  # OutOfBoundsDatetime; a flipped byte: DateParseError
        lines[at] = b"\t".join([fields[0], seconds, *fields[2:]])
    path = tmp_path / "ab_gnuplot.tsv"
    path.write_bytes(b"\n".join(lines))
    with pytest.warns(PerfkitWarning, match=r"ab_gnuplot\.tsv: 2 damaged rows left out.*6, 10"):
        frame = read_ab(path)
    assert len(frame) == len(read_ab(source)) - 2
    _sane_times(frame["time"], "ab")


def _locust_run(tmp_path: Path, stats=None, history=None) -> Path:
    for kind, change in (("stats", stats), ("stats_history", history)):
        data = (RUN / f"locust_{kind}.csv").read_bytes()
        (tmp_path / f"locust_{kind}.csv").write_bytes(change(data) if change else data)
    return tmp_path / "locust"


@pytest.mark.filterwarnings("default")
def test_locust_history_times_out_of_range(tmp_path):
    def far(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[3] = b"99999999999" + lines[3][lines[3].index(b",") :]
        lines[7] = b"-5" + lines[7][lines[7].index(b",") :]
        return b"\n".join(lines)

    prefix = _locust_run(tmp_path, history=far)
    with pytest.warns(PerfkitWarning, match=r"locust_stats_history\.csv: 2 damaged rows.*4, 8"):
        history = read_locust(prefix, table="history")
    recorded = read_locust(RUN / "locust", table="history")
    assert len(history) == len(recorded) - 2
    _sane_times(history["time"], "history")


@pytest.mark.filterwarnings("default")
def test_locust_latin1_name_read_with_replacement(tmp_path):
    def latin1(data: bytes) -> bytes:
        return data.replace(b"/api/orders (POST)", "/api/bestellungen/Müller".encode("latin-1"))

    prefix = _locust_run(tmp_path, stats=latin1)
    with pytest.warns(PerfkitWarning, match=r"locust_stats\.csv: 1 line not UTF-8 \(line 3\)"):
        stats = read_locust(prefix, table="stats")
    assert "/api/bestellungen/M\ufffdller" in set(stats["name"])
    recorded = read_locust(RUN / "locust", table="stats")
    assert len(stats) == len(recorded)
    assert stats["request_count"].tolist() == recorded["request_count"].tolist()


def test_locust_values_out_of_range(tmp_path):
    def damage(data: bytes) -> bytes:
        lines = data.split(b"\n")
        fields = lines[2].split(b",")
        fields[2] = b"inf"  # Request Count
        lines[2] = b",".join(fields)
        fields = lines[3].split(b",")
        fields[4] = b"-3"  # Median Response Time
        lines[3] = b",".join(fields)
        return b"\n".join(lines)

    # the stats table has one row per endpoint and the total: a damaged row is an error
    prefix = _locust_run(tmp_path, stats=damage)
    with pytest.raises(InputError, match=r"locust_stats\.csv:3: expected a number >= 0 in "
                                         r"request_count"):  # fmt: skip
        read_locust(prefix, table="stats")

    # the history is a time series: damaged rows are left out and counted
    def damage_history(data: bytes) -> bytes:
        lines = data.split(b"\n")
        for i, value in ((4, b"inf"), (5, b"-3")):
            fields = lines[i].split(b",")
            fields[17] = value  # Total Request Count
            lines[i] = b",".join(fields)
        return b"\n".join(lines)

    clean = read_locust(RUN / "locust", table="history")
    prefix = _locust_run(tmp_path, history=damage_history)
    with pytest.warns(PerfkitWarning, match=r"locust_stats_history\.csv: 2 damaged rows.*5, 6"):
        stats = read_locust(prefix, table="stats")
        history = read_locust(prefix, table="history")
    _sane_numbers(stats, "stats")
    assert stats["request_count"].dtype == np.int64
    assert len(history) == len(clean) - 2


def test_loadtest_frames_unchanged_on_recorded_runs():
    """The columnar readers give what pandas' inference gave on clean recorded files."""
    stats = read_locust(RUN / "locust", table="stats")
    history = read_locust(RUN / "locust", table="history")
    assert stats["request_count"].dtype == np.int64 and stats["p50_ms"].dtype == np.int64
    assert history["p50_ms"].dtype == np.float64  # N/A at the start
    assert str(history["time"].dt.tz) == "UTC" and history["time"].is_monotonic_increasing
    frame = read_ab(DATA / "loadtest" / "ab_gnuplot.tsv")
    assert len(frame) == 300 and frame["duration_ms"].dtype == np.float64


def test_wrk_numbers_out_of_range(tmp_path):
    source = DATA / "loadtest" / "wrk_latency.txt"
    for name, old, new in (("dots.txt", b"83.87ms", b"83.8.7ms"),
                           ("count.txt", b"284 requests", b"18446744073709551616 requests")):  # fmt: skip
        path = _copy_with(tmp_path, source, name, lambda data, a=old, b=new: data.replace(a, b))
        with pytest.raises(InputError, match=name.replace(".", r"\.")):
            read_wrk(path)


# --- review: a byte order mark (Excel) ----------------------------------------------------------


def test_locust_csvs_with_a_byte_order_mark(tmp_path):
    for kind in ("stats", "stats_history", "failures"):
        source = RUN / f"locust_{kind}.csv"
        (tmp_path / source.name).write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    stats = read_locust(tmp_path / "locust", table="stats")
    history = read_locust(tmp_path / "locust", table="history")
    plain_stats = read_locust(RUN / "locust", table="stats")
    plain_history = read_locust(RUN / "locust", table="history")
    pd.testing.assert_frame_equal(stats, plain_stats)
    pd.testing.assert_frame_equal(history, plain_history)


def test_memory_csv_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "memory.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (RUN / "memory.csv").read_bytes())
    pd.testing.assert_frame_equal(
        read_memory(path).drop(columns="source"),
        read_memory(RUN / "memory.csv").drop(columns="source"),
    )
