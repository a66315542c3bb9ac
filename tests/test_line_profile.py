"""line_profiler ``.lprof`` files: loading, merging, comparing, the HTML view and the report.

Truths come from outside perfkit: line_profiler's own ``get_stats()`` / ``load_stats()``, the
counts planted in the profiled functions (a loop of known length), the requests the client
sent to a Gunicorn app (tests/data/wild/line_profile/README.md), and a slow line planted in a
candidate. line_profiler 5.1.0 runs the live cases; a 4.1.3 recording is read from the corpus.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from line_profiler import LineProfiler, load_stats

from perfkit.analysis.regression.lines import CHANGED, compare_line_profiles
from perfkit.errors import InputError
from perfkit.io.line_profile import read_line_profile
from perfkit.report.lines import line_heat
from tests.conftest import DATA

WILD = DATA / "wild" / "line_profile"
KNOWN = ("known_v5", "known_v4")


def reference(path: Path) -> dict[tuple[str, str, int], tuple[int, float]]:
    """(file, function, line) -> (hits, seconds) from line_profiler's own load_stats."""
    stats = load_stats(str(path))
    return {
        (f, name, line): (hits, ticks * stats.unit)
        for (f, first, name), rows in stats.timings.items()
        for line, hits, ticks in rows
    }


def as_dict(frame: pd.DataFrame) -> dict[tuple[str, str, int], tuple[int, float]]:
    return {(r.file, r.function, r.line): (r.hits, r.time_s) for r in frame.itertuples()}


# -- loading: equal to line_profiler's own numbers --------------------------------------------
@pytest.mark.parametrize("name", KNOWN)
def test_recorded_files_equal_line_profilers_own_stats(name):
    path = WILD / f"{name}.lprof"
    frame = read_line_profile(path, source_root=WILD)
    truth = json.loads((WILD / f"{name}.truth.json").read_text())  # get_stats() when recorded
    expected = {(t["file"], t["function"], line): (hits, ticks * truth["unit"])
                for t in truth["timings"] for line, hits, ticks in t["lines"]}  # fmt: skip
    assert as_dict(frame) == expected  # exact: hits and seconds, not approximately
    assert as_dict(frame) == reference(path)  # the installed line_profiler reads it alike
    assert frame.attrs["perfkit"]["units_s"] == [truth["unit"]]
    # the planted counts: squares(10, 100, 1000) runs its loop body 1110 times in 3 calls
    rows = frame.set_index(["function", "line"])
    assert rows.loc[("squares", 8), "hits"] == 1110
    assert rows.loc[("squares", 6), "hits"] == 3
    assert rows.loc[("branchy", 17), "hits"] == 8 and rows.loc[("branchy", 19), "hits"] == 7
    assert rows.loc[("squares", 8), "source"].strip() == "total += i * i"
    share = frame.groupby("function")["share"].sum()
    assert np.allclose(share, 1.0)
    first = frame.groupby("function")["first_line"].first()
    assert first["squares"] == 4 and first["words"] == 23  # the def lines of known.py


def profile_twice(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("lp_known", WILD / "known.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dumps, stats = [], []
    for i, n in enumerate((50, 300)):
        profiler = LineProfiler()
        squares = profiler(module.squares)
        for _ in range(i + 2):
            squares(n)
        dumps.append(tmp_path / f"d{i}.lprof")
        profiler.dump_stats(dumps[-1])
        stats.append(profiler.get_stats())
    return dumps, stats


def test_live_dumps_and_their_merge_equal_get_stats(tmp_path):
    dumps, stats = profile_twice(tmp_path)
    for dump, stat in zip(dumps, stats, strict=True):
        own = {
            (f, name, line): (hits, ticks * stat.unit)
            for (f, _, name), rows in stat.timings.items()
            for line, hits, ticks in rows
        }
        assert as_dict(read_line_profile(dump)) == own
    merged = read_line_profile(dumps)
    both = stats[0] + stats[1]  # line_profiler's own sum of two LineStats
    own = {
        (f, name, line): (hits, ticks * both.unit)
        for (f, _, name), rows in both.timings.items()
        for line, hits, ticks in rows
    }
    assert as_dict(merged) == own
    assert merged.set_index("line").loc[8, "hits"] == 2 * 50 + 3 * 300
    per_dump = read_line_profile(dumps, by_file=True)
    assert per_dump["dump"].nunique() == 2 and len(per_dump) == 2 * len(merged)


def test_gzip_folders_and_the_unit_of_each_file(tmp_path):
    dumps, stats = profile_twice(tmp_path)
    # a dump written with a microsecond unit (line_profiler < 4 on most systems): same hits,
    # its ticks are seconds * 1e6; merged with a nanosecond dump, each file's unit applies
    stat = stats[0]
    micro = {"timings": {k: [(ln, h, t // 1000) for ln, h, t in rows]
                         for k, rows in stat.timings.items()}, "unit": 1e-6}  # fmt: skip
    folder = tmp_path / "run" / "lprof"
    folder.mkdir(parents=True)
    (folder / "micro.lprof.gz").write_bytes(gzip.compress(_lineststats_pickle(micro)))
    shutil.copy(dumps[1], folder / "nano.lprof")
    frame = read_line_profile(tmp_path / "run")
    line8 = frame.set_index("line").loc[8]
    nano = {ln: (h, t) for ln, h, t in next(iter(stats[1].timings.values()))}
    micro8 = {ln: t for ln, _, t in micro["timings"][next(iter(stat.timings))]}[8]
    expected = micro8 * 1e-6 + nano[8][1] * 1e-9
    assert line8["hits"] == 2 * 50 + 3 * 300
    assert line8["time_s"] == pytest.approx(expected, rel=1e-12)
    assert frame.attrs["perfkit"]["units_s"] == [1e-9, 1e-6]


def _lineststats_pickle(state: dict, old: bool = True) -> bytes:
    """What dump_stats writes for `state`: line_profiler's own LineStats pickled (the class of
    3.x and 4.x, ``line_profiler._line_profiler``, kept in 5.x; or 5.x's)."""
    from line_profiler import _line_profiler, line_profiler

    cls = _line_profiler.LineStats if old else line_profiler.LineStats
    return pickle.dumps(cls(state["timings"], state["unit"]), pickle.HIGHEST_PROTOCOL)


def test_line_profilers_own_class_pickled_by_hand_reads_alike(tmp_path):
    path = tmp_path / "h.lprof"
    path.write_bytes(_lineststats_pickle({"timings": {("f.py", 1, "f"): [(2, 3, 40)]},
                                          "unit": 1e-6}, old=False))  # fmt: skip
    assert load_stats(str(path)).timings == {("f.py", 1, "f"): [(2, 3, 40)]}
    frame = read_line_profile(path)
    assert frame["hits"].tolist() == [3] and frame["time_s"].tolist() == [40 * 1e-6]
    assert frame["source"].isna().all()  # f.py does not exist here


# -- hostile and broken files -------------------------------------------------------------------
class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Writer:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('pwned')",))


def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    attacks = {
        "system.lprof": pickle.dumps(_System(f"touch {marker}")),
        "writer.lprof": pickle.dumps(_Writer(str(marker))),
        # line_profiler's own class, a payload inside its timings
        "nested.lprof": _lineststats_pickle(
            {"timings": {("f.py", 1, "f"): _System(f"touch {marker}")}, "unit": 1e-6}
        ),
    }
    for name, data in attacks.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError, match=rf"{name}.*refused to unpickle"):
            read_line_profile(path)
    assert not marker.exists()
    # the same bytes do run under plain pickle: the attack is real
    pickle.loads(attacks["system.lprof"])
    assert marker.exists()


@pytest.mark.parametrize("data, reason", [
    (b"", "not a line_profiler"),
    (b"\x80\x04\x95", "not a line_profiler"),
    (pickle.dumps({"timings": {}, "unit": 1e-6}), "holds a dict"),
    (None, "not \\(filename, first_lineno"),
    ("hits", "whole numbers"),
    ("unit", "timer unit"),
])  # fmt: skip
def test_a_file_that_is_not_a_line_profile_names_itself(tmp_path, data, reason):
    path = tmp_path / "bad.lprof"
    if data is None:
        data = _lineststats_pickle({"timings": {("f.py", "1", "f"): []}, "unit": 1e-6})
    elif data == "hits":
        data = _lineststats_pickle({"timings": {("f.py", 1, "f"): [(2, -1, 3)]}, "unit": 1e-6})
    elif data == "unit":
        data = _lineststats_pickle({"timings": {}, "unit": float("nan")})
    path.write_bytes(data)
    with pytest.raises(InputError, match=rf"bad\.lprof.*{reason}"):
        read_line_profile(path)


def test_source_edited_since_profiling_is_not_shown(tmp_path):
    code = tmp_path / "known.py"
    code.write_text("# a block added after the profile was taken\n# so def lines moved\n"
                    + (WILD / "known.py").read_text())  # fmt: skip
    frame = read_line_profile(WILD / "known_v5.lprof", source_root=tmp_path)
    stale = frame.attrs["perfkit"]["source_stale"]
    assert len(stale) == 3 and frame["source"].isna().all()  # not someone else's line text
    fresh = read_line_profile(WILD / "known_v5.lprof", source_root=WILD)
    assert fresh["source"].notna().all() and not fresh.attrs["perfkit"]["source_stale"]


# -- a Flask app under Gunicorn with 2 workers, each dumping its own .lprof -------------------------
def check_gunicorn_run(folder: Path, both_served: bool = False) -> None:
    truth = json.loads((folder / "truth.json").read_text())["requests"]
    dumps = sorted(folder.glob("worker-*.lprof"))
    assert len(dumps) == 2
    frame = read_line_profile(dumps, source_root=WILD / "app")
    hits = frame.set_index(["function", "source"])["hits"]
    assert hits[("list_books", "    ids = sorted(BOOKS)")] == truth["GET /books"]
    assert hits[("show_book", "    book = BOOKS.get(book_id)")] == truth["GET /books/<int:book_id>"]
    assert hits[("show_book", '        return jsonify(error="no such book"), 404')] == truth[
        "status_404"]  # fmt: skip
    assert hits[("total_pages", '        pages += BOOKS[i]["pages"]')] == 50 * truth["GET /books"]
    per_worker = read_line_profile(dumps, by_file=True).groupby("dump")["hits"].sum()
    assert (per_worker > 0).all()
    if both_served:  # the recorded run: both workers served requests, the merge sums them
        assert len(per_worker) == 2
    summed = {}
    for dump in dumps:  # line_profiler's own reading of each worker's file, summed
        for key, (h, _) in reference(dump).items():
            summed[key] = summed.get(key, 0) + h
    assert {k: v[0] for k, v in as_dict(read_line_profile(dumps)).items()} == summed


def test_recorded_gunicorn_workers_merge_to_the_requests_sent():
    check_gunicorn_run(WILD / "gunicorn", both_served=True)


def test_live_gunicorn_workers_merge_to_the_requests_sent(tmp_path):
    subprocess.run([sys.executable, str(WILD / "record_gunicorn.py"), str(tmp_path / "g")],
                   check=True, timeout=60, capture_output=True)  # fmt: skip
    check_gunicorn_run(tmp_path / "g")


# -- comparing: a planted slow line, an A/A pair, shifted lines ------------------------------------
BASE = """import time


def handler(n):
    total = 0
    for i in range(n):
        total += i
    time.sleep(0.002)
    total += 1
    total += 1
    return total
"""
SLOW = BASE.replace("    time.sleep(0.002)\n", "    time.sleep(0.002)\n    time.sleep(0.02)\n")
SHIFTED = BASE.replace("def handler", "# a comment block\n# of three lines\n# above\ndef handler")


def record(tmp_path: Path, sources: dict[str, str], dumps: int = 6, calls: dict | None = None):
    """Each side's module in its own folder, profiled into `dumps` dumps, the sides interleaved
    (as an A/A check should be: the same machine state for both)."""
    handlers = {}
    for side, text in sources.items():
        folder = tmp_path / side
        (folder / "lprof").mkdir(parents=True)
        (folder / "source").mkdir()
        (folder / "source" / "app.py").write_text(text)
        (folder / "app.py").write_text(text)
        spec = importlib.util.spec_from_file_location(f"lp_{side}", folder / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handlers[side] = module.handler
    for rep in range(dumps):
        for side, handler in handlers.items():
            profiler = LineProfiler()
            wrapped = profiler(handler)
            for _ in range((calls or {}).get(side, 8)):
                wrapped(200)
            profiler.dump_stats(tmp_path / side / "lprof" / f"r{rep}.lprof")
    return {side: read_line_profile(tmp_path / side / "lprof", by_file=True) for side in sources}


def test_a_planted_slow_line_is_the_top_row_and_regressed(tmp_path):
    frames = record(tmp_path, {"base": BASE, "cand": SLOW})
    table = compare_line_profiles(frames["base"], frames["cand"])
    top = table.iloc[0]
    assert top["source"].strip() == "time.sleep(0.02)" and top["verdict"] == "regressed"
    assert top["matched_by"] == "candidate only" and top["time_per_call_s_base"] == 0
    assert 0.02 <= top["time_per_call_s_cand"] < 0.03  # the sleep asked for 20 ms per call
    assert top["hits_per_call_cand"] == 1.0
    assert (table["verdict"].iloc[1:] != "regressed").all()
    # the lines after the inserted one still match their baseline lines by text
    moved = table[table["source"].str.strip() == "return total"].iloc[0]
    assert (moved["line_base"], moved["line_cand"]) == (11, 12)


def test_an_a_a_pair_shows_no_changed_line(tmp_path):
    frames = record(tmp_path, {"base": BASE, "again": BASE})
    table = compare_line_profiles(frames["base"], frames["again"], detail=True)
    assert not table["verdict"].isin(CHANGED).any()
    # not because nothing could be judged: the sleep line (2 ms per call) was tested
    sleep = table[table["source"].str.strip() == "time.sleep(0.002)"].iloc[0]
    assert sleep["verdict"] == "unchanged" and np.isfinite(sleep["p_value"])


def test_lines_shifted_by_a_comment_block_still_match(tmp_path):
    frames = record(tmp_path, {"base": BASE, "cand": SHIFTED})
    table = compare_line_profiles(frames["base"], frames["cand"], detail=True)
    assert (table["matched_by"] == "source text").all()
    assert ((table["line_cand"] - table["line_base"]) == 3).all()
    assert not table["verdict"].isin(CHANGED).any()
    # two lines of the same text (total += 1) pair in order, not both with the first
    twins = table[table["source"].str.strip() == "total += 1"].sort_values("line_base")
    assert twins["line_base"].tolist() == [9, 10] and twins["line_cand"].tolist() == [12, 13]
    # without source text (sources gone), the offset from the def line still matches them
    bare = [f.assign(source=pd.NA) for f in (frames["base"], frames["cand"])]
    fallback = compare_line_profiles(*bare, detail=True)
    assert (fallback["matched_by"] == "line offset").all()
    assert ((fallback["line_cand"] - fallback["line_base"]) == 3).all()


def test_per_call_not_per_dump_more_calls_is_not_a_slower_line(tmp_path):
    # the candidate calls the handler 3x as often per dump: 3x the time per dump, same per call
    frames = record(tmp_path, {"base": BASE, "busy": BASE}, calls={"base": 4, "busy": 12})
    table = compare_line_profiles(frames["base"], frames["busy"], detail=True)
    sleep = table[table["source"].str.strip() == "time.sleep(0.002)"].iloc[0]
    assert sleep["calls_cand"] == 3 * sleep["calls_base"] == 3 * 4 * 6
    assert sleep["hits_per_call_base"] == sleep["hits_per_call_cand"] == 1.0
    assert not table["verdict"].isin(CHANGED).any()
    merged = read_line_profile(sorted((tmp_path / "busy" / "lprof").glob("*.lprof")))
    loop = merged[merged["source"].str.strip() == "total += i"].iloc[0]
    assert loop["hits"] == 200 * 12 * 6  # the planted loop count, independent of perfkit


def test_one_dump_per_side_is_ranked_but_not_judged(tmp_path):
    frames = record(tmp_path, {"base": BASE, "cand": SLOW}, dumps=1)
    table = compare_line_profiles(frames["base"], frames["cand"])
    assert table.iloc[0]["source"].strip() == "time.sleep(0.02)"
    assert (table["verdict"] == "insufficient data").all()


# -- the HTML view ---------------------------------------------------------------------------
def test_line_heat_is_escaped_static_html(tmp_path):
    hostile = BASE.replace("total = 0", "total = len('<script>alert(1)</script>') * 0")
    frames = record(tmp_path, {"x": hostile}, dumps=1)
    view = line_heat(frames["x"], function="handler")
    page = view.to_html()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http" not in page and "src=" not in page  # nothing fetched: works offline
    merged = read_line_profile(tmp_path / "x" / "lprof")
    loop = merged[merged["source"].str.strip() == "total += i"].iloc[0]
    assert f"<td>{loop['hits']:,}</td>" in page  # 1,600: 200 iterations x 8 calls
    assert view._repr_html_() in page and view.functions == 1
    with pytest.raises(InputError, match="no function 'nope'"):
        line_heat(frames["x"], function="nope")


# -- the report ----------------------------------------------------------------------------
def test_the_regression_report_shows_the_apis_line_table(tmp_path):
    from perfkit.report.regression import regression_report

    frames = record(tmp_path, {"base": BASE, "cand": SLOW})
    for side in ("base", "cand"):
        (tmp_path / side / "app.py").unlink()  # the report reads each run's own source/ copy
    report = regression_report(tmp_path / "base", tmp_path / "cand")
    api = compare_line_profiles(
        read_line_profile(tmp_path / "base" / "lprof", by_file=True,
                          source_root=tmp_path / "base" / "source"),
        read_line_profile(tmp_path / "cand" / "lprof", by_file=True,
                          source_root=tmp_path / "cand" / "source"))  # fmt: skip
    pd.testing.assert_frame_equal(report.lines, api, check_like=False)
    assert report.lines.iloc[0]["source"].strip() == "time.sleep(0.02)"
    assert report.summary()["lines_regressed"] == [f"{tmp_path}/cand/app.py:9 handler"]
    html = report.line_table().data if hasattr(report.line_table(), "data") else str(
        report.line_table())  # fmt: skip
    assert "time.sleep(0.02)" in html
    trust = report.base.trust(notes=False).set_index("source")
    assert trust.loc["line profile", "records"] == len(frames["base"])
    assert "6 .lprof dumps" in trust.loc["line profile", "note"]


def test_a_broken_lprof_is_the_runs_problem_not_the_reports(tmp_path):
    from perfkit.report.evidence import load_run

    record(tmp_path, {"base": BASE}, dumps=1)
    (tmp_path / "base" / "lprof" / "evil.lprof").write_bytes(pickle.dumps(_System("true")))
    (tmp_path / "base" / "access.log").write_text(
        '127.0.0.1 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"\n'
    )
    run = load_run(tmp_path / "base")
    assert run.line_profile is None and "refused to unpickle" in run.problem("line profile")
    assert run.requests is not None


LOOP_FIRST = """def handler(n):
    for i in range(n):
        n += 0
    return n
"""


def test_a_function_opening_with_a_loop_is_flagged_per_pass_not_per_call(tmp_path):
    # the easy rule (calls = hits of the first body line) counts loop passes here: 201 per call
    frames = record(tmp_path, {"base": LOOP_FIRST, "cand": LOOP_FIRST}, dumps=1)
    table = compare_line_profiles(frames["base"], frames["cand"], detail=True)
    assert len(table.attrs["loop_first_line"]) == 2  # both sides' handler, named
    merged = read_line_profile(tmp_path / "base" / "lprof")
    assert merged.set_index("line").loc[2, "hits"] == 201 * 8  # range(200) + the exit test


@pytest.mark.parametrize("backend", [None, "numpy_nullable", "pyarrow"])
def test_dtype_backends_keep_the_values(backend):
    frame = read_line_profile(WILD / "known_v5.lprof", source_root=WILD, dtype_backend=backend)
    plain = read_line_profile(WILD / "known_v5.lprof", source_root=WILD)
    assert frame["hits"].tolist() == plain["hits"].tolist()
    assert frame["time_s"].astype(float).tolist() == plain["time_s"].tolist()
    if backend == "pyarrow":
        assert str(frame["hits"].dtype) == "int64[pyarrow]"
    with pytest.raises(InputError, match="dtype_backend"):
        read_line_profile(WILD / "known_v5.lprof", dtype_backend="nope")


def test_a_line_whose_text_changed_matches_by_its_offset_and_regresses(tmp_path):
    # the easy rule (match by text only) would call the old line gone and the new one new
    longer = BASE.replace("time.sleep(0.002)", "time.sleep(0.012)")
    frames = record(tmp_path, {"base": BASE, "cand": longer})
    table = compare_line_profiles(frames["base"], frames["cand"])
    top = table.iloc[0]
    assert top["matched_by"] == "line offset" and top["line_base"] == top["line_cand"] == 8
    assert top["source"].strip() == "time.sleep(0.012)" and top["verdict"] == "regressed"
    # 10 ms more per call, as planted (a loaded machine oversleeps either side by a little)
    assert 0.009 <= top["change_s"] < 0.02


def test_a_profile_whose_functions_never_ran_is_empty_not_broken(tmp_path):
    from line_profiler import line_profiler

    path = tmp_path / "idle.lprof"
    path.write_bytes(pickle.dumps(line_profiler.LineStats({("a.py", 1, "f"): []}, 1e-9)))
    frame = read_line_profile(path)
    assert frame.empty and frame.attrs["perfkit"]["not_run"] == ["a.py:1 f"]
    assert str(frame["file"].dtype) == "str"
    assert line_heat(frame).functions == 0


def test_an_open_file_reads_like_its_path():
    with open(WILD / "known_v4.lprof", "rb") as handle:
        frame = read_line_profile(handle)
    assert as_dict(frame) == reference(WILD / "known_v4.lprof")


def test_a_hostile_profile_cannot_read_other_files_into_the_frame(tmp_path, monkeypatch):
    """The source path comes from the .lprof, which may be hostile: /proc files, credentials
    files and paths that climb out of source_root are never read; a Python file's secrets are
    masked."""
    import pickle

    from line_profiler.line_profiler import LineStats

    monkeypatch.setenv("PERFKIT_PLANTED", "hunter2-planted-secret")
    creds = tmp_path / "home" / ".aws" / "credentials"
    creds.parent.mkdir(parents=True)
    creds.write_text("[default]\naws_secret_access_key = AKIA-planted-secret\n")
    root = tmp_path / "src"
    root.mkdir()
    (tmp_path / "settings.py").write_text("def view():\n    PASSWORD = 'pw-planted-secret'\n")
    timings = {
        ("/proc/self/environ", 1, "<module>"): [(1, 1, 10)],
        (str(creds), 1, "<module>"): [(1, 1, 10), (2, 1, 10)],
        ("../settings.py", 1, "view"): [(2, 1, 10)],
        (str(tmp_path / "settings.py"), 1, "view"): [(2, 1, 10)],
    }
    dump = tmp_path / "hostile.lprof"
    dump.write_bytes(pickle.dumps(LineStats(timings, 1e-6)))
    for frame in (read_line_profile(dump), read_line_profile(dump, source_root=root)):
        shown = frame.to_csv() + line_heat(frame).to_html()
        assert "planted-secret" not in shown
        assert frame.loc[frame["file"].str.contains("proc|credentials"), "source"].isna().all()


def test_a_pickle_that_would_allocate_or_recurse_is_refused(tmp_path):
    """`bytearray(2**30)` in 29 bytes is refused before it allocates; a timings key of 5,000
    nested tuples (deeper than str() can go) is an InputError, not a RecursionError."""
    bomb = tmp_path / "bomb.lprof"
    bomb.write_bytes(b"cbuiltins\nbytearray\n(J\x00\x00\x00\x40tR.")
    with pytest.raises(InputError, match="refused"):
        read_line_profile(bomb)
    from line_profiler.line_profiler import LineStats

    key: object = ("f.py", 1, "g")
    for _ in range(5_000):
        key = (key,)
    deep = tmp_path / "deep.lprof"
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        deep.write_bytes(pickle.dumps(LineStats({key: [(1, 1, 1)]}, 1e-6)))
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(InputError, match="timings key"):
        read_line_profile(deep)
