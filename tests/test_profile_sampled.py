"""py-spy profiles: speedscope JSON and raw collapsed stacks, recorded by py-spy 0.4.3.

tests/data/profiles/pyspy_work.* were recorded at 100 Hz from pyspy_work.py:
    py-spy record --format speedscope -r 100 -o pyspy_work.speedscope.json -- python pyspy_work.py
    py-spy record --format raw -r 100 -o pyspy_work.txt -- python pyspy_work.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from perfkit import InputError, read_profile
from tests.conftest import DATA

PROFILES = DATA / "profiles"


def test_speedscope_weights_become_seconds():
    doc = json.loads((PROFILES / "pyspy_work.speedscope.json").read_text())
    n_samples = sum(len(p["samples"]) for p in doc["profiles"])
    profile = read_profile(PROFILES / "pyspy_work.speedscope.json")
    assert profile.kind == "sampled"
    assert profile.total_s == pytest.approx(n_samples / 100)  # one weight of 0.01 s per sample
    functions = profile.functions.set_index("name")
    # cumulative time of <module> is every sample that has it: all but the idle ones
    with_module = sum(1 for p in doc["profiles"] for s in p["samples"] if s)
    assert functions.loc["<module>", "cumtime_s"] == pytest.approx(with_module / 100)
    assert {"parse", "regex", "db"} <= set(functions.index)
    assert functions["ncalls"].isna().all()  # sampling knows no call counts


def test_collapsed_counts_over_rate():
    text = (PROFILES / "pyspy_work.txt").read_text()
    counts = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.strip()]
    at_100 = read_profile(PROFILES / "pyspy_work.txt")
    at_250 = read_profile(PROFILES / "pyspy_work.txt", rate=250)
    assert at_100.total_s == pytest.approx(sum(counts) / 100)
    assert at_250.total_s == pytest.approx(sum(counts) / 250)
    regex_self = sum(
        c
        for line, c in zip(text.splitlines(), counts, strict=True)
        if line.rsplit(" ", 1)[0].endswith("regex (work.py:8)")
    )
    row = at_100.functions.set_index("name").loc["regex"]
    assert row["tottime_s"] == pytest.approx(regex_self / 100)


def test_sampled_tree_is_exact():
    profile = read_profile(PROFILES / "pyspy_work.speedscope.json")
    tree = profile.tree(min_fraction=0)
    assert tree["total_s"].iloc[0] == pytest.approx(profile.total_s)
    children = tree.groupby("parent")["total_s"].sum()
    for node, total, own in tree[["id", "total_s", "self_s"]].itertuples(index=False):
        assert own + children.get(node, 0.0) == pytest.approx(total)
    assert tree["self_s"].sum() == pytest.approx(profile.total_s)


def test_bad_sampled_files(tmp_path):
    empty_profiles = tmp_path / "empty.json"
    empty_profiles.write_text('{"shared": {"frames": []}, "profiles": []}')
    with pytest.raises(InputError, match=r"empty\.json: not a speedscope profile.*py-spy record"):
        read_profile(empty_profiles)
    broken = tmp_path / "broken.json"
    broken.write_text('{"shared": {"frames": [')
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON"):
        read_profile(broken)
    evented = tmp_path / "evented.json"
    evented.write_text(
        json.dumps({"shared": {"frames": [{"name": "f"}]}, "profiles": [{"type": "evented"}]})
    )
    with pytest.raises(InputError, match=r"evented\.json: speedscope profile type 'evented'"):
        read_profile(evented)
    bad_frame = tmp_path / "bad_frame.json"
    bad_frame.write_text(
        json.dumps(
            {
                "shared": {"frames": [{"name": "f"}]},
                "profiles": [
                    {"type": "sampled", "unit": "seconds", "samples": [[0, 5]], "weights": [0.01]}
                ],
            }
        )
    )
    with pytest.raises(InputError, match=r"bad_frame\.json: a sample refers to a frame"):
        read_profile(bad_frame)
    collapsed = tmp_path / "stacks.txt"
    collapsed.write_text("main (app.py:1);work (app.py:5) 3\nmain (app.py:1) three\n")
    with pytest.raises(InputError, match=r"stacks\.txt:2: expected 'frame;frame;\.\.\. count'"):
        read_profile(collapsed)


@pytest.mark.skipif(
    shutil.which("py-spy") is None and not (DATA.parents[1] / ".venv/bin/py-spy").exists(),
    reason="py-spy is not installed",
)
def test_live_py_spy_recording(tmp_path):
    spy = shutil.which("py-spy") or str(DATA.parents[1] / ".venv/bin/py-spy")
    out = tmp_path / "live.json"
    script = "import time\ndef spin():\n    t = time.time()\n    while time.time() - t < 1.5:\n        sum(range(1000))\nspin()\n"
    (tmp_path / "spin.py").write_text(script)
    result = subprocess.run(
        [
            spy,
            "record",
            "--format",
            "speedscope",
            "-r",
            "100",
            "-o",
            str(out),
            "--",
            sys.executable,
            str(tmp_path / "spin.py"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    profile = read_profile(out)
    spin = profile.functions.set_index("name").loc["spin"]
    assert 0.5 < spin["cumtime_s"] <= profile.total_s <= 3.0
