"""`perfkit report` / `perfkit demo` outputs: never over an input, clashes refused before anything
runs, atomic writes, full disks and read-only folders as exit 2, strict JSON, and the snakeviz
link escaped. Real notebooks, real files, the real installed command (a subprocess)."""

from __future__ import annotations

import cProfile
import errno
import hashlib
import json
import resource
import shutil
import signal
import subprocess
import time
import urllib.request
from html.parser import HTMLParser

import pytest

from perfkit import InputError
from perfkit.report.display import finite
from perfkit.report.run import check_outputs, write_atomic
from tests.servers import ROOT

PERFKIT = str(ROOT / ".venv" / "bin" / "perfkit")
NOTEBOOK = ROOT / "notebooks" / "memory_leak.ipynb"


def perfkit(*args: str, timeout: float = 300):
    return subprocess.run([PERFKIT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def refused(run, *named: str) -> None:
    """Exit 2, no traceback, a message naming each of `named`."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "perfkit: error:" in run.stderr, run.stderr
    for text in named:
        assert text in run.stderr, (text, run.stderr)


@pytest.mark.slow
def test_a_report_written_beside_its_own_notebook_leaves_it_byte_identical(tmp_path):
    """The issue's case: ``report /x/memory_leak.ipynb -o /x/memory_leak.html`` used to write the
    executed copy over the source, then delete it."""
    folder = tmp_path / "x"
    folder.mkdir()
    source = shutil.copy(NOTEBOOK, folder / "memory_leak.ipynb")
    before = digest(source)
    json_path = tmp_path / "new" / "deeper" / "memory_leak.json"  # missing folders: created
    run = perfkit("report", str(source), "-o", str(folder / "memory_leak.html"),
                  "--json", str(json_path), "--keep-notebook")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert digest(source) == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "memory_leak.executed.ipynb", "memory_leak.html", "memory_leak.ipynb"]  # no temp files
    assert "plotly.js v" in (folder / "memory_leak.html").read_text()
    record = strict_json(json_path.read_text())
    assert record["leak"] is True and record["parameters"]["limit_mib"] == 512
    kept = json.loads((folder / "memory_leak.executed.ipynb").read_text())
    assert any(cell.get("outputs") for cell in kept["cells"])  # the executed copy, not the source


@pytest.mark.slow
def test_a_failing_report_beside_its_own_notebook_keeps_the_copy_elsewhere(tmp_path):
    """A notebook that fails keeps its partly executed copy for diagnosis, never over the
    source (the old code wrote it to <html stem>.ipynb, which was the source here)."""
    source = shutil.copy(NOTEBOOK, tmp_path / "memory_leak.ipynb")
    before = digest(source)
    run = perfkit("report", str(source), "-o", str(tmp_path / "memory_leak.html"),
                  "-p", f"run={tmp_path / 'no-such-run'}")  # fmt: skip
    refused(run, "no-such-run", "memory_leak.executed.ipynb")
    assert digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "memory_leak.executed.ipynb", "memory_leak.ipynb"]  # fmt: skip


@pytest.mark.slow
def test_a_full_disk_under_json_is_exit_two_naming_the_path(tmp_path):
    run = perfkit("report", "memory_leak", "-o", str(tmp_path / "m.html"), "--json", "/dev/full")
    refused(run, "/dev/full", "No space left on device")
    assert (tmp_path / "m.html").stat().st_size > 100_000  # what could be written was written


def test_clashing_or_impossible_outputs_are_refused_before_anything_runs(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    source = shutil.copy(NOTEBOOK, folder / "memory_leak.ipynb")
    before = digest(source)
    (tmp_path / "dir.html").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "old.json").write_text('{"old": 1}')
    html = str(folder / "r.html")
    cases = [
        (("-o", str(source)), (str(source), ".html")),  # the notebook itself
        (("-o", str(folder / "r.ipynb")), ("r.ipynb", ".html")),  # used to say "wrote", leave none
        (("-o", html, "--json", html), ("--json", "r.html", "-o")),  # --json over the HTML
        (("-o", html, "--json", str(source)), ("--json", "memory_leak.ipynb", "input")),
        (("-o", str(tmp_path / "dir.html")), ("dir.html", "folder")),
        (("-o", html, "--json", str(tmp_path)), (str(tmp_path), "folder")),
        (("-o", "/sys/perfkit-r.html"), ("/sys/perfkit-r.html", "cannot write")),  # even root
        (("-o", str(tmp_path / "afile" / "r.html")), ("afile", "cannot create")),
        (("-o", html, "-p", f"run={tmp_path / 'old.json'}", "--json", str(tmp_path / "old.json")),
         ("old.json", "input")),  # a file a parameter names is an input
    ]
    for extra, named in cases:
        began = time.monotonic()
        run = perfkit("report", str(source), *extra, timeout=60)
        refused(run, *named)
        assert time.monotonic() - began < 20, extra  # refused up front, nothing executed
    assert digest(source) == before
    assert sorted(p.name for p in folder.iterdir()) == ["memory_leak.ipynb"]
    assert (tmp_path / "old.json").read_text() == '{"old": 1}'
    assert not any(p.name.startswith(".") for p in tmp_path.rglob("*"))  # no probe left behind


def test_a_damaged_notebook_is_an_input_error_naming_it(tmp_path):
    """Seven damaged copies of a real notebook; each names the file (exit 2, not 3)."""
    real = NOTEBOOK.read_bytes()
    damaged = {"empty": b"", "object": b"{}", "text": b"not a notebook\n", "binary": real[:50] +
               b"\x00\xff" * 20, "truncated": real[: len(real) // 2], "list": b"[1, 2]",
               "cells": b'{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'}  # fmt: skip
    for name, content in damaged.items():
        path = tmp_path / f"{name}.ipynb"
        path.write_bytes(content)
        run = perfkit("report", str(path), "-o", str(tmp_path / f"{name}.html"), timeout=60)
        refused(run, f"{name}.ipynb", "notebook")
        assert path.read_bytes() == content and not (tmp_path / f"{name}.html").exists()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "[1, NaN]",
                                   '{"a": -Infinity}'])  # fmt: skip
def test_non_finite_parameters_are_refused_naming_the_parameter(tmp_path, value):
    run = perfkit("report", "memory_leak", "-p", f"limit_mib={value}", "-o",
                  str(tmp_path / "m.html"), "--json", str(tmp_path / "m.json"), timeout=60)  # fmt: skip
    refused(run, "limit_mib", "finite")
    assert not (tmp_path / "m.html").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(("parameter", "expected"), [
    ("limit_mib=nan", "a number"),  # not JSON: arrives as the text 'nan'
    ("limit_mib=lots", "a number"),
    ('limit_mib="512"', "a number"),
    ("limit_mib=null", "a number"),
    ("limit_mib=[512]", "a number"),
    ("limit_mib=true", "a number"),
])  # fmt: skip
def test_parameters_of_the_wrong_type_are_refused_before_running(tmp_path, parameter, expected):
    run = perfkit("report", "memory_leak", "-p", parameter, "-o", str(tmp_path / "m.html"),
                  timeout=60)  # fmt: skip
    refused(run, "limit_mib", expected)
    assert list(tmp_path.iterdir()) == []  # nothing ran, no notebook kept


def test_parameter_types_follow_the_notebooks_defaults():
    from perfkit.report.run import check_parameters

    defaults = {"run": "data/leak", "limit_mib": 512.0, "cores": 0, "normalize": True,
                "routes": None}  # fmt: skip
    given = {"run": 2026, "limit_mib": 100, "cores": 2, "normalize": False, "routes": ["/a"]}
    assert check_parameters(given, defaults) == {**given, "run": "2026"}  # a folder named 2026
    with pytest.raises(InputError, match="normalize: expected true or false, got 1"):
        check_parameters({"normalize": 1}, defaults)
    with pytest.raises(InputError, match="cores: expected a number, got 'two'"):
        check_parameters({"cores": "two"}, defaults)


def test_demo_refuses_to_write_into_the_notebooks_folder():
    before = {p.name: digest(p) for p in (ROOT / "notebooks").iterdir()}
    for out in ("notebooks", str(ROOT / "notebooks"), "notebooks/../notebooks/"):
        began = time.monotonic()
        run = perfkit("demo", "--out", out, timeout=60)
        refused(run, "notebooks")
        assert time.monotonic() - began < 20
    assert {p.name: digest(p) for p in (ROOT / "notebooks").iterdir()} == before


def test_demo_into_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    refused(perfkit("demo", "--out", str(tmp_path / "afile"), timeout=60), "afile")


def test_an_interrupted_write_leaves_the_old_report_whole(tmp_path):
    """A write that fails part way (here: the file-size limit, as a full disk would) raises an
    InputError naming the file; the old report is untouched and no temporary file remains."""
    old = tmp_path / "r.html"
    old.write_text("<p>the old report</p>")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(InputError, match=r"r\.html: cannot write it \(File too large\)"):
            write_atomic(old, "x" * 1_000_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert old.read_text() == "<p>the old report</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    old.chmod(0o600)  # a private report stays private when replaced
    write_atomic(old, "<p>new</p>")
    assert old.read_text() == "<p>new</p>" and [p.name for p in tmp_path.iterdir()] == ["r.html"]
    assert old.stat().st_mode & 0o777 == 0o600


def test_write_atomic_through_a_symlink_and_into_a_device(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    with pytest.raises(InputError, match="/dev/full: cannot write it") as caught:
        write_atomic("/dev/full", "x" * 10_000)
    assert "No space left" in str(caught.value)
    assert caught.value.__cause__ is None or getattr(caught.value.__cause__, "errno", 0) in (
        errno.ENOSPC, 0)  # fmt: skip


def test_check_outputs_resolves_relative_paths_and_symlinks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.log").write_text("x")
    (tmp_path / "alias.csv").symlink_to(tmp_path / "in.log")
    with pytest.raises(InputError, match="input"):
        check_outputs({"--csv": "alias.csv"}, [str(tmp_path / "in.log")])
    with pytest.raises(InputError, match="input"):
        check_outputs({"--csv": "./sub/../in.log"}, ["in.log"])
    check_outputs({"--csv": "new/t.csv"}, ["in.log"])
    assert (tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []


def test_summaries_with_nan_and_infinity_become_standard_json():
    import numpy as np

    from perfkit.report.run import summary_json

    record = {"shift": {"factor": float("nan"), "ci": [float("-inf"), np.float64("inf"), 1.5]},
              "nested": [{"x": float("nan")}], "ok": 2, "name": "NaN"}  # fmt: skip
    parsed = strict_json(summary_json(record))
    assert parsed == {"shift": {"factor": None, "ci": [None, None, 1.5]}, "nested": [{"x": None}],
                      "ok": 2, "name": "NaN"}  # fmt: skip
    assert finite((float("nan"), 1.0)) == [None, 1.0]


def test_snakeviz_link_escapes_a_hostile_file_name(tmp_path):
    from perfkit import open_snakeviz

    name = tmp_path / 'p"><script>alert(1)<b x=".prof'  # a file name holds no "/"
    profiler = cProfile.Profile()
    profiler.runcall(sorted, list(range(10_000)))
    profiler.dump_stats(name)
    with open_snakeviz(name) as server:
        page = server._repr_html_()
        with urllib.request.urlopen(server.url, timeout=20) as response:
            assert response.status == 200  # the quoted URL still names the file
    assert "<script>" not in page and "<b x=" not in page
    assert "&lt;script&gt;" in page and "&quot;&gt;" in page
    tags = Tags()
    tags.feed(page)
    assert [t for t, _ in tags.seen] == ["p", "code", "a", "iframe"]  # no tag from the name
    assert tags.seen[2][1]["href"] == tags.seen[3][1]["src"] == server.url
    assert set(tags.seen[2][1]) == {"href", "target"}  # no attribute from the name


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))


def test_json_over_a_file_inside_the_run_folder_is_refused(tmp_path):
    """`--json` naming a file of the run folder (its memory.csv) would replace the evidence:
    refused before running, the file byte-identical; a new file there is fine to plan."""
    run = tmp_path / "leak"
    shutil.copytree(ROOT / "data" / "leak", run)
    before = digest(run / "memory.csv")
    refused(perfkit("report", "memory_leak", "-p", f"run={run}", "-o", str(tmp_path / "r.html"),
                    "--json", str(run / "memory.csv"), timeout=60),
            "memory.csv", "input folder")  # fmt: skip
    assert digest(run / "memory.csv") == before
    from perfkit.report.run import check_outputs

    check_outputs({"--json": run / "summary.json"}, [run])  # a new file: no clash
