"""Hostile and damaged profiles (issue 14, cause 18): every one an `InputError` naming the file.

marshal dumps that are not profiles (lists where dicts belong, NaN times, a header
declaring 16 GiB), speedscope files with no samples, negative or NaN weights and
frame indices out of range, py-spy raw files whose first line is longer than any
fixed sniffing prefix, and stacks 100,000 frames deep, which must cost memory in
proportion to their depth.
"""

from __future__ import annotations

import json
import lzma
import marshal
import struct
import time
import tracemalloc
from pathlib import Path

import pytest

from perfkit import InputError, read_profile
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
DUMP = sorted((ROOT / "data" / "baseline" / "profiles").glob("*.prof.xz"))[0]
KEY = ("app.py", 10, "view")
CALLER = ("app.py", 3, "main")


def _dump(tmp_path: Path, name: str, stats: object) -> Path:
    path = tmp_path / name
    path.write_bytes(marshal.dumps(stats))
    return path


def _rejects(path: Path, *what: str, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        read_profile(path, **kwargs).tree()
    message = str(caught.value)
    assert path.name in message
    for word in what:
        assert word in message, message
    return message


# --- cProfile dumps -------------------------------------------------------------------------


BAD_DUMPS = {
    # the brief's case: callers a list, not a dict (was AttributeError)
    "callers_list.prof": {KEY: (1, 1, 0.1, 0.1, [CALLER])},
    "values_list.prof": {KEY: [1, 1, 0.1, 0.1, {}]},
    "caller_numbers_list.prof": {KEY: (1, 1, 0.1, 0.1, {CALLER: [1, 1, 0.1, 0.1]})},
    "caller_key_str.prof": {KEY: (1, 1, 0.1, 0.1, {"main": (1, 1, 0.1, 0.1)})},
    "line_str.prof": {("app.py", "ten", "view"): (1, 1, 0.1, 0.1, {})},
    "time_str.prof": {KEY: (1, 1, "_do_get", 0.1, {})},  # what flipped bytes produced
    "time_nan.prof": {KEY: (1, 1, float("nan"), 0.1, {})},
    "time_inf.prof": {KEY: (1, 1, 0.1, float("inf"), {})},
    "time_negative.prof": {KEY: (1, 1, -0.5, 0.1, {})},
    "calls_negative.prof": {KEY: (-1, 1, 0.1, 0.1, {})},
    "calls_huge.prof": {KEY: (1, 2**64, 0.1, 0.1, {})},
    "caller_time_nan.prof": {KEY: (1, 1, 0.1, 0.1, {CALLER: (1, 1, float("nan"), 0.1)})},
    "late_bad_entry.prof": {
        **{(f"m{i}.py", i, f"f{i}"): (1, 1, 0.1, 0.1, {}) for i in range(200)},
        KEY: (1, 1, 0.1, 0.1, [CALLER]),  # beyond the first 50 entries
    },
    "top_list.prof": [KEY, (1, 1, 0.1, 0.1, {})],
    "empty_dict.prof": {},  # was TypeError in .tree()
}


@pytest.mark.parametrize("name", sorted(BAD_DUMPS))
def test_dumps_that_are_not_profiles(tmp_path, name):
    _rejects(_dump(tmp_path, name, BAD_DUMPS[name]))


def test_a_good_hand_made_dump_still_reads(tmp_path):
    stats = {KEY: (2, 3, 0.25, 0.5, {CALLER: (2, 3, 0.25, 0.5)}), CALLER: (1, 1, 0.0, 0.5, {})}
    profile = read_profile(_dump(tmp_path, "good.prof", stats))
    row = profile.functions.set_index("name").loc["view"]
    assert (row["ncalls"], row["primcalls"], row["tottime_s"]) == (3, 2, 0.25)


@pytest.mark.parametrize("code", [b"[", b"(", b"\xdb"])
def test_marshal_header_asking_for_16_gib(tmp_path, code):
    """15 bytes declaring a 2**31-item container: refused before marshal allocates it."""
    data = b"\xfb)\x03" + code + struct.pack("<i", 2**31 - 1) + b"\x00" * 7
    assert len(data) == 15
    path = tmp_path / "huge.prof"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        message = _rejects(path, "2147483647")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak
    assert "not a profile" in message


def test_marshal_long_asking_for_4_gib(tmp_path):
    path = tmp_path / "long.prof"
    path.write_bytes(b"{" + b"l" + struct.pack("<i", 2**31 - 1) + b"\x00\x00")
    tracemalloc.start()
    try:
        _rejects(path, "digits")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak


def test_real_dumps_still_read_and_walk_fast():
    dumps = sorted((ROOT / "data" / "baseline" / "profiles").glob("*.prof.xz"))
    started = time.perf_counter()
    profile = read_profile(dumps)
    assert time.perf_counter() - started < 10
    assert len(profile.dumps) == len(dumps) > 10
    assert profile.total_s > 0 and (profile.functions["tottime_s"] >= 0).all()
    single = lzma.decompress(DUMP.read_bytes())
    assert marshal.loads(single)  # a real dump, as the fuzz test uses it


# --- speedscope -----------------------------------------------------------------------------


def _speedscope(tmp_path: Path, name: str, samples, weights, frames=None, **profile) -> Path:
    doc = {
        "shared": {"frames": frames if frames is not None else
                   [{"name": "main", "file": "app.py", "line": 1},
                    {"name": "work", "file": "app.py", "line": 5}]},
        "profiles": [{"type": "sampled", "name": "t", "unit": "seconds",
                      "samples": samples, "weights": weights, **profile}],
    }  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps(doc))  # NaN and Infinity as Python's json writes them
    return path


BAD_SPEEDSCOPE = {
    "empty.json": ([], [], "no samples"),  # was TypeError in .tree()
    "negative_weight.json": ([[0, 1], [0]], [0.01, -0.01], "weight"),
    "nan_weight.json": ([[0, 1], [0]], [0.01, float("nan")], "weight"),
    "inf_weight.json": ([[0, 1], [0]], [float("inf"), 0.01], "weight"),
    "string_weight.json": ([[0, 1]], ["0.01"], "weight"),
    "negative_frame.json": ([[0, -1]], [0.01], "frame"),
    "frame_out_of_range.json": ([[0, 2]], [0.01], "frame"),
    "float_frame.json": ([[0, 1.5]], [0.01], "frame"),
    "string_frame.json": ([[0, "1"]], [0.01], "frame"),
    "sample_not_list.json": ([0], [0.01], "sample"),
    "nested_sample.json": ([[[1]], [0, 1]], [0.01, 0.01], "frame"),
    "nested_sample_alone.json": ([[[1]]], [0.01], "frame"),
}


@pytest.mark.parametrize("name", sorted(BAD_SPEEDSCOPE))
def test_speedscope_bad_samples_and_weights(tmp_path, name):
    samples, weights, what = BAD_SPEEDSCOPE[name]
    _rejects(_speedscope(tmp_path, name, samples, weights), what)


@pytest.mark.parametrize(
    "name, frames, profile",
    [
        ("frame_not_dict.json", ["main", "work"], {}),
        ("frame_line_text.json", [{"name": "main", "line": "one"}, {"name": "w"}], {}),
        ("frame_line_inf.json", [{"name": "main", "line": 1e309}, {"name": "w"}], {}),
        ("unit_list.json", None, {"unit": ["seconds"]}),
    ],
)
def test_speedscope_bad_frames_and_units(tmp_path, name, frames, profile):
    _rejects(_speedscope(tmp_path, name, [[0, 1]], [0.01], frames=frames, **profile))


def test_speedscope_profile_not_an_object(tmp_path):
    path = tmp_path / "profile_list.json"
    path.write_text(json.dumps({"shared": {"frames": []}, "profiles": [["sampled"]]}))
    _rejects(path)


def test_rate_must_be_a_positive_number():
    for rate in (0, -100, float("nan"), float("inf")):
        with pytest.raises(InputError, match="rate"):
            read_profile(DATA / "profiles" / "pyspy_work.txt", rate=rate)


def test_collapsed_count_beyond_any_float(tmp_path):
    path = tmp_path / "huge_count.txt"
    path.write_text("main (app.py:1);work (app.py:5) " + "9" * 400 + "\n")
    _rejects(path, ":1")


# --- sniffing on content --------------------------------------------------------------------


def test_raw_file_with_a_first_line_over_4_kb(tmp_path):
    """A deep first stack made the first line longer than the sniffed prefix: it read as cProfile."""
    frames = ";".join(f"f{i} (deep.py:{i})" for i in range(1000))
    assert len(frames) > 16384
    path = tmp_path / "deep.txt"
    path.write_text(f"{frames} 7\nmain (app.py:1) 3\n")
    profile = read_profile(path)
    assert profile.kind == "sampled"
    assert profile.total_s == pytest.approx(0.10)
    tree = profile.tree(min_fraction=0)
    assert tree["depth"].max() == 1000


# --- deep stacks cost memory in proportion to their depth -----------------------------------


def _deep(tmp_path: Path, depth: int) -> Path:
    """A recursive descent `depth` frames deep, as py-spy --format raw writes it."""
    chain = ";".join(f"step{i % 7} (deep.py:{i % 7 + 1})" for i in range(depth))
    path = tmp_path / f"deep{depth}.txt"
    path.write_text(f"main (app.py:1);{chain} 5\nmain (app.py:1) 2\n")
    return path


def _peak(path: Path) -> tuple[int, float, object]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        profile = read_profile(path)
        tree = profile.tree(min_fraction=0)
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - started, tree
    finally:
        tracemalloc.stop()


def test_deep_stack_memory_grows_linearly(tmp_path):
    small, _, small_tree = _peak(_deep(tmp_path, 10_000))
    large, large_s, large_tree = _peak(_deep(tmp_path, 100_000))
    assert len(small_tree) == 10_002 and len(large_tree) == 100_002  # root + main + the chain
    assert large_tree["depth"].max() == 100_001
    assert large_tree["total_s"].iloc[-1] == pytest.approx(0.05)
    assert large < 20 * small, (small, large)
    assert large < 1024 * 2**20, large  # a quadratic cost was 947 MB at 10k already
    assert large_s < 60, large_s


def test_deep_speedscope_stack(tmp_path):
    depth = 100_000
    frames = [{"name": f"step{i}", "file": "deep.py", "line": i + 1} for i in range(7)]
    path = _speedscope(tmp_path, "deep.json", [[i % 7 for i in range(depth)], [0]],
                       [0.01, 0.02], frames=frames)  # fmt: skip
    tracemalloc.start()
    try:
        tree = read_profile(path).tree(min_fraction=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tree["depth"].max() == depth
    assert peak < 1024 * 2**20, peak
