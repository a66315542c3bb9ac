"""Issue 14, access logs: times out of range, piped input, far-future lines, ReDoS in the
diagnosis, globs matching folders, and route cardinality. Each test fails without its fix."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import pandas as pd
import pytest

from perfkit import read_access_log
from perfkit.errors import InputError, PerfkitWarning
from perfkit.io import access_log
from perfkit.io.logformat import resolve
from perfkit.io.logformat.spec import diagnose

DATA = Path(__file__).parent / "data"
LINE = '10.0.0.1 - - [{t}] "GET {path} HTTP/1.1" 200 10 "-" "ua" 1500\n'
GOOD_TIME = "10/Oct/2024:13:55:36 +0000"


def _read(path, exact: bool, monkeypatch, **options) -> pd.DataFrame:
    """Read `path` by the fast (tokenizer) or the exact (RE2 line by line) path."""
    with monkeypatch.context() as patch:
        if exact:
            patch.setattr(access_log, "tokenize", lambda *a, **k: None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            return read_access_log(path, on_bad_lines="warn", **options)


# -- 9/17: times out of range ---------------------------------------------------------------

OUT_OF_RANGE = {
    "year 9999": ("10/Oct/9999:13:55:36 +0000", "out of range"),
    "year 1000": ("10/Oct/1000:13:55:36 +0000", "out of range"),
    "year 1677 before the ns range": ("20/Sep/1677:00:00:00 +0000", "out of range"),
    "year 2262 after the ns range": ("12/Apr/2262:00:00:00 +0000", "out of range"),
    "31 February": ("31/Feb/2024:13:55:36 +0000", "valid date"),
    "29 February 2023": ("29/Feb/2023:13:55:36 +0000", "valid date"),
    "hour 25": ("10/Oct/2024:25:55:36 +0000", "valid date"),
    "offset +2500": ("10/Oct/2024:13:55:36 +2500", "UTC offset"),
    "offset -9999": ("10/Oct/2024:13:55:36 -9999", "UTC offset"),
    "offset +1401": ("10/Oct/2024:13:55:36 +1401", "UTC offset"),
    "offset minutes 60": ("10/Oct/2024:13:55:36 +0160", "UTC offset"),
}


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_clf_times_out_of_range_are_rejected_and_counted(tmp_path, monkeypatch, case, exact):
    bad, reason = OUT_OF_RANGE[case]
    path = tmp_path / "access.log"
    path.write_text(
        LINE.format(t=GOOD_TIME, path="/a") + LINE.format(t=bad, path="/b")
        + LINE.format(t="11/Oct/2024:13:55:36 +0000", path="/c")
    )  # fmt: skip
    df = _read(path, exact, monkeypatch, format="combined_us")
    account = df.attrs["perfkit"]
    assert list(df["path"]) == ["/a", "/c"]
    assert df["time"].dt.year.tolist() == [2024, 2024]
    assert (account["lines"], account["parsed"], account["rejected"]) == (3, 2, 1)
    (kept,) = account["rejected_lines"]
    assert (kept["file"], kept["line"]) == (str(path), 2)
    assert reason in kept["reason"] and kept["reason"].startswith("time")


EDGES = {  # (CLF times kept, their UTC readings)
    "range": (("22/Sep/1677:00:00:00 +0000", "10/Apr/2262:00:00:00 +0000",
               "29/Feb/2024:00:00:00 +0100"),
              ("1677-09-22 00:00:00+00:00", "2262-04-10 00:00:00+00:00",
               "2024-02-28 23:00:00+00:00")),
    "offsets": (("10/Oct/2024:13:55:36 +1400", "10/Oct/2024:13:55:36 -1400",
                 "10/Oct/2024:13:55:36 +0559"),
                ("2024-10-09 23:55:36+00:00", "2024-10-11 03:55:36+00:00",
                 "2024-10-10 07:56:36+00:00")),
}  # fmt: skip


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_clf_times_at_the_edges_are_kept(tmp_path, monkeypatch, edge):
    """The oldest and newest times pandas holds, 29 Feb of a leap year, offsets of ±14:00."""
    times, utc = EDGES[edge]
    path = tmp_path / "access.log"
    path.write_text("".join(LINE.format(t=t, path=p) for t, p in zip(times, ["/a", "/b", "/c"],
                                                                       strict=True)))
    fast = _read(path, False, monkeypatch, format="combined_us")
    exact = _read(path, True, monkeypatch, format="combined_us")
    pd.testing.assert_frame_equal(fast, exact)
    assert fast["time"].dt.tz_convert("UTC").astype(str).tolist() == list(utc)


def test_fast_and_exact_paths_agree_on_bad_times(tmp_path, monkeypatch):
    path = tmp_path / "access.log"
    body = [LINE.format(t=GOOD_TIME, path=f"/p{i}") for i in range(5)]
    body += [LINE.format(t=t, path="/bad") for t, _ in OUT_OF_RANGE.values()]
    path.write_text("".join(body))
    fast = _read(path, False, monkeypatch, format="combined_us")
    exact = _read(path, True, monkeypatch, format="combined_us")
    pd.testing.assert_frame_equal(fast, exact)
    for key in ("lines", "parsed", "rejected", "reasons"):
        assert fast.attrs["perfkit"][key] == exact.attrs["perfkit"][key]
    assert fast.attrs["perfkit"]["rejected"] == len(OUT_OF_RANGE)


def _json_line(**fields) -> str:
    record = {"time": "2024-10-10T13:55:36Z", "method": "GET", "path": "/x", "status": 200,
              "bytes": 10, "duration_ms": 3.5}  # fmt: skip
    record.update(fields)
    return json.dumps(record) + "\n"


JSON_CASES = {
    "epoch 99999999999 (year 5138)": ({"time": 99999999999}, "out of range"),
    "epoch ms beyond 2262": ({"time": 9999999999999}, "out of range"),
    "ISO year 9999": ({"time": "9999-10-10T13:55:36Z"}, "out of range"),
    "ISO year 1000": ({"time": "1000-10-10T13:55:36+02:00"}, "out of range"),
    "ISO naive year 9999": ({"time": "9999-10-10T13:55:36"}, "out of range"),
    "ISO 31 February": ({"time": "2024-02-31T13:55:36Z"}, "valid ISO 8601"),
    "ISO offset +20:00": ({"time": "2024-10-10T13:55:36+20:00"}, "UTC offset"),
    "ISO offset -1401": ({"time": "2024-10-10T13:55:36-1401"}, "UTC offset"),
    "ISO offset +01:60": ({"time": "2024-10-10T13:55:36+01:60"}, "UTC offset"),
    "bytes 2^63+5 (a float)": ({"bytes": 2**63 + 5}, "bytes"),
    "bytes 1e300": ({"bytes": 1e300}, "bytes"),
    "status 2^53+1": ({"status": 2**53 + 1}, "status"),
    "duration 1e308": ({"duration_ms": 1e308}, "duration_ms"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_json_lines_with_huge_numbers_and_times_are_rejected(tmp_path, case):
    fields, reason = JSON_CASES[case]
    path = tmp_path / "access.jsonl"
    epoch_good = isinstance(fields.get("time"), int)
    good = _json_line(time=1728568536) if epoch_good else _json_line()
    path.write_text(good + _json_line(**fields) + good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        df = read_access_log(path, format="jsonl")
    account = df.attrs["perfkit"]
    assert (account["parsed"], account["rejected"]) == (2, 1)
    assert df["time"].dt.year.tolist() == [2024, 2024]
    (kept,) = account["rejected_lines"]
    assert kept["line"] == 2 and reason in kept["reason"], kept


# -- 16: the diagnosis of rejected lines is linear ---------------------------------------------

# Adjacent atoms: Python's backtracking `re` tries every split of a line among them
# (O(n^4) here: 200 characters took ~9 s a line, 100 lines a quarter of an hour).
HOSTILE_FORMATS = ['%(h)s%(l)s%(u)s%(U)s%(H)s %(t)s "%(r)s" %(s)s', '%h%l%u%U%H %t "%r" %>s']


@pytest.mark.parametrize("text", HOSTILE_FORMATS, ids=["gunicorn", "apache"])
def test_rejected_lines_are_diagnosed_in_linear_time(tmp_path, text):
    fmt = resolve(text)
    line = "a" * 197
    start = time.perf_counter()
    for i in range(100):
        said = diagnose(fmt, f"{line}{i:03d}")
    assert time.perf_counter() - start < 2.0
    assert said.startswith("expected") and "column" in said
    # and through the loader: 100 such lines, every one diagnosed
    path = tmp_path / "hostile.log"
    path.write_text("".join(f"{line}{i:03d}\n" for i in range(100)))
    start = time.perf_counter()
    with pytest.raises(InputError, match="none of the 100 lines"):
        read_access_log(path, format=text)
    assert time.perf_counter() - start < 5.0


def test_diagnosis_still_says_where_a_line_departs():
    fmt = resolve("combined_us")
    said = diagnose(fmt, '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 2x0 1 "-" "u" 5')
    assert said == "expected an HTTP status (100-599) (status) at column 60, got '2x0 1 \"-\" \"u\" 5'"
    said = diagnose(fmt, '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "u" 5 x')
    assert said.startswith("unexpected text after the last field")


# -- 21: a glob matching only folders ----------------------------------------------------------


def test_glob_matching_only_folders_is_an_input_error(tmp_path):
    (tmp_path / "logs" / "a").mkdir(parents=True)
    (tmp_path / "logs" / "b").mkdir()
    pattern = str(tmp_path / "logs" / "*")
    with pytest.raises(InputError, match="only folders") as info:
        read_access_log(pattern)
    assert pattern in str(info.value)
    from perfkit.io.jsonl import read_jsonl

    with pytest.raises(InputError, match="only folders"):
        read_jsonl(pattern)
    with pytest.raises(InputError, match="only folders"):
        read_access_log(pattern, engine="dask")


# -- 13: piped input ---------------------------------------------------------------------------

BASELINE = Path(__file__).parent.parent / "data" / "baseline"  # a recorded Gunicorn log
RECORDED = gzip.decompress((BASELINE / "access.log.gz").read_bytes())
FORMAT = (BASELINE / "access_log_format.txt").read_text().strip()


def _writer(path: str, data: bytes, delay: float = 0.05) -> threading.Thread:
    """A thread that opens `path` for writing after `delay` s, writes `data` in pieces, closes."""

    def write() -> None:
        time.sleep(delay)
        with open(path, "wb") as fifo:
            for start in range(0, len(data), 4096):
                fifo.write(data[start : start + 4096])
                fifo.flush()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _expected(**options) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        return read_access_log(BASELINE / "access.log.gz", format=FORMAT, **options)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_fifo_is_read_as_a_stream(tmp_path, compress):
    fifo = tmp_path / "access.log"  # no .gz suffix: gzip is told by its magic bytes
    os.mkfifo(fifo)
    data = RECORDED
    writer = _writer(str(fifo), gzip.compress(data) if compress else data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        df = read_access_log(fifo, format=FORMAT)
    writer.join(5)
    expected = _expected()
    assert df.attrs["perfkit"]["lines"] == data.count(b"\n") > 0
    pd.testing.assert_frame_equal(
        df.drop(columns="source"), expected.drop(columns="source")
    )


def test_an_os_pipe_is_read_in_blocks(tmp_path, monkeypatch):
    from perfkit.io import textfiles

    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 4096)  # many blocks: the stream is cut right
    read, write = os.pipe()
    data = RECORDED * 20

    def write_all() -> None:
        with os.fdopen(write, "wb") as end:  # closing it is the end of the stream
            end.write(data)

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            df = read_access_log(f"/dev/fd/{read}", format=FORMAT)
    finally:
        writer.join(5)
        os.close(read)
    assert df.attrs["perfkit"]["lines"] == data.count(b"\n")
    assert len(df) == 20 * len(_expected())


def test_a_fifo_without_a_writer_does_not_hang(tmp_path, monkeypatch):
    from perfkit.io import textfiles

    monkeypatch.setattr(textfiles, "WRITER_WAIT_S", 0.3)
    fifo = tmp_path / "nobody.log"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(InputError, match="no writer") as info:
        read_access_log(fifo)
    assert time.perf_counter() - start < 5
    assert str(fifo) in str(info.value)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_dash_reads_stdin(compress):
    data = RECORDED
    code = (
        "import sys, warnings; warnings.simplefilter('ignore');"
        "from perfkit import read_access_log; df = read_access_log('-', format=sys.argv[1]);"
        "a = df.attrs['perfkit']; print(len(df), a['lines'], a['rejected'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, FORMAT], input=gzip.compress(data) if compress else data,
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    account = _expected().attrs["perfkit"]
    assert done.stdout.decode().split() == [
        str(len(_expected())), str(account["lines"]), str(account["rejected"])
    ]  # fmt: skip


def test_a_pipe_is_refused_by_the_dask_engine(tmp_path):
    fifo = tmp_path / "access.log"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="engine='dask'"):
        read_access_log(fifo, engine="dask")


# -- 23: route cardinality -----------------------------------------------------------------------


def _word(i: int) -> str:
    """A distinct lower-case word per `i` (no digits: the heuristic keeps it as it is)."""
    letters = ""
    while True:
        letters = chr(ord("a") + i % 26) + letters
        i //= 26
        if not i:
            return letters


def _routes_log(path: Path, singletons: int, common: int = 40, each: int = 50) -> None:
    line = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET {} HTTP/1.1" 200 10 "-" "ua" 1500\n'
    lines = [line.format(f"/api/{_word(k)}/{n}") for k in range(common) for n in range(each)]
    # first-level singletons: deeper ones (/tail/<word>) are now inferred as one parameter
    lines += [line.format(f"/{_word(i)}") for i in range(singletons)]
    path.write_text("".join(lines))


def test_the_long_tail_of_routes_is_collapsed_into_other(tmp_path):
    from perfkit.io.routes import OTHER, ROUTE_CAP

    path = tmp_path / "access.log"
    _routes_log(path, singletons=200_000)
    with pytest.warns(PerfkitWarning, match=r"\(other\)"):
        df = read_access_log(path, format="combined_us")
    routes = df["route"].value_counts()
    assert len(routes) == ROUTE_CAP + 1
    kept_tail = ROUTE_CAP - 40
    assert routes[OTHER] == 200_000 - kept_tail
    for k in range(40):  # the frequent routes keep their labels and counts
        assert routes[f"/api/{_word(k)}/{{id}}"] == 50
    info = df.attrs["perfkit"]["routes"]
    assert info["routes"] == ROUTE_CAP
    assert info["other_routes"] == 200_000 - kept_tail
    assert info["other_requests"] == 200_000 - kept_tail
    assert len(df["route"].cat.categories) == ROUTE_CAP + 1


def test_a_log_with_few_routes_keeps_them_all(tmp_path):
    path = tmp_path / "access.log"
    _routes_log(path, singletons=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfkitWarning)
        df = read_access_log(path, format="combined_us")
    assert sorted(df["route"].cat.categories) == sorted(f"/api/{_word(k)}/{{id}}" for k in range(40))
    assert df["route"].value_counts().eq(50).all()
    assert df.attrs["perfkit"]["routes"].get("other_requests", 0) == 0


# -- 15: one far-future line does not expand into millions of intervals -------------------------


def _baseline_requests(extra: str = "") -> pd.DataFrame:
    """The recorded Gunicorn log (1,172 lines), with `extra` lines appended."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        return read_access_log(io.BytesIO(RECORDED + extra.encode()), format=FORMAT)


FAR_LINE = '127.0.0.1 - - [{t}] "GET /health HTTP/1.1" 200 12 "-" "ua" {us} <30978>\n'


@pytest.mark.parametrize(
    "line",
    [
        FAR_LINE.format(t="02/Dec/2099:18:29:47 +0000", us=762),
        FAR_LINE.format(t="02/Dec/2030:18:29:47 +0000", us=762),
        FAR_LINE.format(t="02/Dec/2026:18:30:00 +0000", us=999_999_999_999_999),  # began 31 years earlier
    ],
    ids=["year 2099", "year 2030", "a 31-year request"],
)
def test_a_far_time_is_reported_not_expanded(line):
    from perfkit.analysis.concurrency import concurrency_from_log

    bulk = concurrency_from_log(_baseline_requests(), "1min")
    requests = _baseline_requests(line)
    assert len(requests) == len(RECORDED.splitlines()) + 1
    tracemalloc.start()
    try:
        with pytest.warns(PerfkitWarning, match="1 request"):
            out = concurrency_from_log(requests, "1min")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    assert out.attrs["time_outliers"] == 1
    assert len(out) <= (bulk["requests"] > 0).sum() + 2
    pd.testing.assert_frame_equal(out, bulk, check_like=False)  # the bulk's numbers unchanged


def test_too_many_intervals_is_an_input_error_not_memory_error():
    from perfkit.analysis.concurrency import concurrency_from_log

    frame = pd.DataFrame({
        "time": pd.to_datetime(["2026-12-02 18:29:47", "2099-12-02 18:29:47"], utc=True),
        "duration_ms": [5.0, 5.0],
    })  # fmt: skip
    with pytest.raises(InputError, match="intervals"):
        concurrency_from_log(frame, "1min")
    assert len(concurrency_from_log(frame, "3650D")) == 9  # 73 years in 10-year intervals


def test_read_jsonl_times_out_of_range_are_nat_and_counted(tmp_path):
    from perfkit.io.jsonl import read_jsonl

    path = tmp_path / "calls.jsonl"
    path.write_text(
        '{"time": "2024-10-10T13:55:36Z", "ms": 1}\n{"time": "9999-10-10T13:55:36Z", "ms": 2}\n'
        '{"time": "1000-01-01T00:00:00Z", "ms": 3}\n'
    )
    df = read_jsonl(path)
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["time"].isna().tolist() == [False, True, True]
    assert any("2 values are not times" in n for n in df.attrs["perfkit"]["notes"])
    path.write_text('{"time": 1728568536, "ms": 1}\n{"time": 99999999999, "ms": 2}\n')
    df = read_jsonl(path)
    assert df["time"].dt.year.tolist()[0] == 2024 and df["time"].isna().tolist() == [False, True]


@pytest.mark.parametrize("column", ["bytes", "duration"])
@pytest.mark.parametrize("value", ["-1", "-0.5", "-inf", "inf", "nan", "NaN"])
def test_negative_and_non_finite_numbers_are_rejected_on_both_paths(
    tmp_path, monkeypatch, value, column
):
    """Found by the fuzz (seeds 3 and 9): the tokenizer converted them, the pattern did not."""
    line = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /{} HTTP/1.1" 200 {} "-" "ua" {}\n'
    bad = line.format("b", 10, value) if column == "duration" else line.format("b", value, 0.5)
    path = tmp_path / "access.log"
    path.write_text(line.format("a", 10, 0.5) + bad + line.format("c", 10, 1.5))
    frames = [_read(path, exact, monkeypatch, format="nginx_timed") for exact in (False, True)]
    pd.testing.assert_frame_equal(*frames)
    for df in frames:
        assert list(df["path"]) == ["/a", "/c"]
        (kept,) = df.attrs["perfkit"]["rejected_lines"]
        assert kept["line"] == 2


# -- review: stdin from a regular compressed file, a newline in a file name -------------------


def test_dash_sniffs_stdin_redirected_from_a_regular_gz_file(tmp_path):
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(RECORDED))
    code = (
        "import sys, warnings; warnings.simplefilter('ignore');"
        "from perfkit import read_access_log; df = read_access_log('-', format=sys.argv[1]);"
        "a = df.attrs['perfkit']; print(len(df), a['lines'], a['rejected'])"
    )
    with gz.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", code, FORMAT], stdin=stdin,
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    account = _expected().attrs["perfkit"]
    assert done.stdout.decode().split() == [
        str(len(_expected())), str(account["lines"]), str(account["rejected"])
    ]  # fmt: skip


def test_a_file_name_with_a_newline_is_read(tmp_path, monkeypatch):
    path = tmp_path / "two\nlines.log"
    path.write_text(LINE.format(t=GOOD_TIME, path="/a"))
    df = _read(path, False, monkeypatch, format="combined_us")
    assert list(df["path"]) == ["/a"]
    df = _read(str(path), True, monkeypatch, format="combined_us")
    assert list(df["path"]) == ["/a"]


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
def test_nginx_iso_times_with_impossible_offsets_are_rejected(tmp_path, monkeypatch, exact):
    fmt = '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent $request_time'
    path = tmp_path / "access.log"
    path.write_text("".join(
        f'10.0.0.1 [{t}] "GET /{n} HTTP/1.1" 200 1 0.001\n' for n, t in enumerate([
            "2024-10-10T13:55:36+14:00", "2024-10-10T13:55:36+20:00",
            "2024-10-10T13:55:36-14:30", "2024-10-10T13:55:36+00:00",
        ])
    ))  # fmt: skip
    df = _read(path, exact, monkeypatch, format=fmt)
    account = df.attrs["perfkit"]
    assert list(df["path"]) == ["/0", "/3"]
    assert df["time"].dt.tz_convert("UTC").astype(str).tolist() == [
        "2024-10-09 23:55:36+00:00", "2024-10-10 13:55:36+00:00"
    ]  # fmt: skip
    assert [r["line"] for r in account["rejected_lines"]] == [2, 3]
    assert all("UTC offset" in r["reason"] for r in account["rejected_lines"])


def test_clf_times_read_back_as_strftime_writes_them():
    """Which CLF date-times are kept (`_reads_back`, by the numbers) equals the reference
    test it replaced: Arrow's strftime of the parsed time, compared case-insensitively.
    Fuzzed around the edges: days 0-32, 29 February, hours 24-25, seconds 60-61, one-digit
    fields, years 0-9999 and five digits, month names in any case or too long, trailing text."""
    import random

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from perfkit.io.logformat.convert import CLF_LOCAL, _reads_back

    rng = random.Random(5)
    months = ["Jan", "Feb", "Mar", "May", "Sep", "Dec", "jan", "MAR", "Foo", "Sept", "ma"]
    texts = [
        f"{rng.choice([f'{rng.randint(0, 32):02d}', str(rng.randint(1, 9)), ' 1'])}/"
        f"{rng.choice(months)}/{rng.choice([f'{rng.randint(0, 9999):04d}', '2024', '20266'])}:"
        f"{rng.choice([f'{rng.randint(0, 25):02d}', '7'])}:{rng.randint(0, 61):02d}:"
        f"{rng.choice([f'{rng.randint(0, 61):02d}', '5', '60'])}{rng.choice(['', '', ' ', 'x'])}"
        for _ in range(50_000)
    ] + [None, "", "29/Feb/2024:00:00:00", "29/Feb/2023:00:00:00", "31/Dec/9999:23:59:59"]
    texts = pa.array(texts)
    parsed = pc.strptime(texts, format=CLF_LOCAL, unit="s", error_is_null=True)
    written = pc.utf8_lower(pc.strftime(parsed, format=CLF_LOCAL))
    reference = pc.fill_null(pc.equal(written, pc.utf8_lower(texts)), False).to_numpy(False)
    kept = pc.fill_null(_reads_back(texts, parsed), False).to_numpy(False)
    assert 500 < reference.sum() < len(reference) // 2  # both kinds are there to tell apart
    np.testing.assert_array_equal(kept, reference)
