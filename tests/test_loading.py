"""Loading without friction: format files, Gunicorn's formats sniffed, relative paths, bars.

Truth: the format strings perfkit's recorder saved beside data/baseline's log; real Gunicorn
27 logs of ten ``--access-logformat`` variants with the requests sent and their client-side
round trips (tests/data/wild/formats/gunicorn/atoms, README there); folders built here.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import perfkit
from perfkit.errors import InputError, PerfkitWarning
from perfkit.io import access_log
from perfkit.io.logformat import sniff
from perfkit.io.paths import locate, project_root
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "data" / "baseline"
ATOMS = DATA / "wild" / "formats" / "gunicorn" / "atoms"
TRUTH = json.loads((ATOMS / "requests.json").read_text())
LATE_MS = 50
SLEEP_MS = {"/sleep/30": 30, "/sleep/120": 120, "/sleep/1100": 1100}


def copy_baseline(folder: Path, sidecar: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BASELINE / "access.log.gz", folder)
    if sidecar:
        shutil.copy(BASELINE / "access_log_format.txt", folder)
    return folder


# --- format files -------------------------------------------------------------------------


def test_format_may_name_a_file_and_the_one_beside_the_log_is_read(tmp_path):
    fmt_text = (BASELINE / "access_log_format.txt").read_text().strip()
    by_string = perfkit.read_access_log(BASELINE / "access.log.gz", format=fmt_text)
    # %(p)s is a column only when the recorder's format is used: the pids are the truth
    raw_pids = {
        int(line.rsplit("<", 1)[1].split(">")[0])
        for line in gzip.decompress((BASELINE / "access.log.gz").read_bytes()).decode().splitlines()
        if line.strip()
    }
    assert set(by_string["pid"].astype(int)) == raw_pids and len(by_string) > 1000
    assert "format_file" not in by_string.attrs["perfkit"]
    for fmt in (BASELINE / "access_log_format.txt", str(BASELINE / "access_log_format.txt")):
        by_file = perfkit.read_access_log(BASELINE / "access.log.gz", format=fmt)
        assert by_file.equals(by_string)
        assert by_file.attrs["perfkit"]["format_file"] == str(BASELINE / "access_log_format.txt")
    beside = perfkit.read_access_log(BASELINE / "access.log*")  # no format: the file beside
    assert beside.equals(by_string)
    assert beside.attrs["perfkit"]["format_file"] == str(BASELINE / "access_log_format.txt")
    assert beside.attrs["perfkit"]["format_string"] == fmt_text


def test_the_dask_engine_reads_the_file_beside_too(tmp_path):
    pytest.importorskip("dask")
    run = copy_baseline(tmp_path / "run")
    plain = run / "access.log"  # plain, so that it is cut into byte ranges (read as streams)
    plain.write_bytes(gzip.decompress((run / "access.log.gz").read_bytes()))
    (run / "access.log.gz").unlink()
    told = perfkit.read_access_log(BASELINE / "access.log.gz")
    lazy = perfkit.read_access_log(plain, engine="dask", partition_bytes=20_000)
    assert lazy.npartitions > 5
    lazy = lazy.compute()
    assert lazy["duration_ms"].tolist() == told["duration_ms"].tolist()
    assert lazy["pid"].tolist() == told["pid"].tolist()


def test_an_explicit_format_wins_over_the_file_beside(tmp_path):
    run = copy_baseline(tmp_path / "run")
    (run / "access_log_format.txt").write_text('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s\n')
    with pytest.raises(InputError, match=r"none of the .* lines could be read"):
        perfkit.read_access_log(run / "access.log.gz")  # the (wrong) file beside is used
    frame = perfkit.read_access_log(run / "access.log.gz", format=BASELINE / "access_log_format.txt")
    assert frame.attrs["perfkit"]["parsed"] == frame.attrs["perfkit"]["lines"] > 1000


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "expected one line"), ("# a comment\n%(h)s\n%(t)s\n", "got 2 lines"),
     (b"\xff\xfe%(h)s", "unreadable log format")],
)  # fmt: skip
def test_a_bad_format_file_is_an_input_error_naming_it(tmp_path, content, expected):
    run = copy_baseline(tmp_path / "run")
    sidecar = run / "access_log_format.txt"
    sidecar.write_bytes(content if isinstance(content, bytes) else content.encode())
    for call in (lambda: perfkit.read_access_log(run / "access.log.gz"),
                 lambda: perfkit.read_access_log(run / "access.log.gz", format=sidecar)):  # fmt: skip
        with pytest.raises(InputError, match=expected) as info:
            call()
        assert str(sidecar) in str(info.value)


def test_a_missing_format_file_is_named(tmp_path):
    with pytest.raises(InputError, match="nor an existing file") as info:
        perfkit.read_access_log(BASELINE / "access.log.gz", format=str(tmp_path / "fmt.txt"))
    assert "fmt.txt" in str(info.value)


def test_the_reports_read_the_format_file_through_the_loader(tmp_path):
    from perfkit.report.evidence import load_run

    run = copy_baseline(tmp_path / "run")
    shutil.copy(BASELINE / "memory.csv", run)
    loaded = load_run(run)
    assert loaded.problems == {}
    account = loaded.requests.attrs["perfkit"]
    assert account["format_file"] == str(run / "access_log_format.txt")
    assert loaded.requests.equals(perfkit.read_access_log(run / "access.log.gz"))
    trust = loaded.trust().set_index("source")
    note = trust.loc["access log", "note"]
    assert note.startswith("format gunicorn custom (from access_log_format.txt); no line rejected")
    assert str(tmp_path) not in " ".join(map(str, trust.to_numpy().ravel()))  # path-free
    (run / "access_log_format.txt").write_text("")  # the loader's own error, kept as a problem
    assert "expected one line" in load_run(run).problems["access log"]


# --- Gunicorn formats sniffed from real logs --------------------------------------------


@pytest.mark.parametrize("variant", sorted(TRUTH["runs"]))
def test_real_gunicorn_formats_are_sniffed_with_the_right_durations(variant):
    run = TRUTH["runs"][variant]
    lines = (ATOMS / f"{variant}.log").read_text().splitlines()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = perfkit.read_access_log(ATOMS / f"{variant}.log")
    account = frame.attrs["perfkit"]
    assert account["lines"] == account["parsed"] == len(run["requests"]) == len(lines)
    sent = run["requests"]
    assert frame["method"].tolist() == [r["method"] for r in sent]
    assert frame["path"].tolist() == [r["target"].split("?")[0] for r in sent]
    assert frame["status"].tolist() == [r["status"] for r in sent]
    atoms = run["format"].split('"%(a)s"')[1]
    if not any(a in atoms for a in ("D", "L", "T", "M")):
        assert frame["duration_ms"].isna().all()
        assert account["durations"] == "absent"
    for duration, request in zip(frame["duration_ms"], sent, strict=True):
        if math.isnan(duration):
            continue
        # Gunicorn logs after closing the response: up to LATE_MS past the client's receipt
        latest = (request["after_utc_s"] - request["before_utc_s"]) * 1000 + LATE_MS
        sleep = SLEEP_MS.get(request["target"], 0)
        if "%(D)s" in atoms or "%(L)s" in atoms:  # microseconds
            assert sleep <= duration <= latest
        elif "%(M)s" in atoms:  # whole milliseconds, floored
            assert sleep <= duration <= latest and duration == int(duration)
        else:  # %(T)s: whole seconds, floored
            assert duration == 1000 * math.floor(duration / 1000)
            assert latest - 1000 - LATE_MS < duration <= latest
    if "%(p)s" in atoms:
        assert frame["pid"].nunique() == 1 and frame["pid"].iloc[0] > 1
    tiny = [str(w.message) for w in caught if "too small for microseconds" in str(w.message)]
    assert bool(tiny) == (atoms.strip() in ("%(T)s", "%(M)s"))  # said when guessed


def test_the_recorders_format_is_sniffed_without_the_file_beside(tmp_path):
    run = copy_baseline(tmp_path / "run", sidecar=False)
    sniffed = perfkit.read_access_log(run / "access.log.gz")
    told = perfkit.read_access_log(BASELINE / "access.log.gz")
    assert "format_file" not in sniffed.attrs["perfkit"]
    assert sniffed.attrs["perfkit"]["rejected"] == 0
    assert sniffed["duration_ms"].tolist() == told["duration_ms"].tolist()
    assert sniffed["pid"].tolist() == told["pid"].tolist()


def test_integers_too_small_for_microseconds_are_seconds_or_milliseconds():
    head = '10.0.0.1 - - [01/Jan/2026:00:00:0{} +0000] "GET /a HTTP/1.1" 200 5 "-" "ua" {}'
    seconds = sniff([head.format(i, v) for i, v in enumerate([0, 0, 0, 2, 0, 1])], "s")
    millis = sniff([head.format(i, v) for i, v in enumerate([3, 1, 0, 2, 45, 1])], "m")
    micros = sniff([head.format(i, v) for i, v in enumerate([300, 120, 80, 2000, 45, 91])], "u")
    assert [f.name for f in (seconds, millis, micros)] == ["combined_s", "gunicorn_M", "combined_us"]
    assert seconds.notes and millis.notes and not micros.notes


# --- relative paths: one rule --------------------------------------------------------------


@pytest.mark.parametrize("cwd", [".", "notebooks"])
def test_readme_path_reads_from_the_repository_and_from_notebooks(cwd, monkeypatch):
    monkeypatch.chdir(ROOT / cwd)
    frame = perfkit.read_access_log("data/baseline/access.log*")
    assert frame.attrs["perfkit"]["rejected"] == 0 and frame["duration_ms"].notna().all()
    assert frame.attrs["perfkit"]["files"][0]["file"] == str(
        Path("data/baseline/access.log.gz") if cwd == "." else ROOT / "data/baseline/access.log.gz"
    )
    assert project_root() == ROOT


LOADERS = {
    "read_locust": (lambda p: perfkit.read_locust(p, table="history"), "data/baseline"),
    "read_locust prefix": (
        lambda p: perfkit.read_locust(p, table="history"),
        "data/baseline/locust",
    ),
    "read_pg_stat": (lambda p: perfkit.read_pg_stat(p, "statements"), "data/baseline/pg"),
    "read_memory": (perfkit.read_memory, "data/leak/memory.csv"),
    "read_profile": (lambda p: perfkit.read_profile(p).functions, "data/baseline/profiles/*"),
    "read_jsonl": (perfkit.read_jsonl, "data/baseline/outbound.jsonl.gz"),
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_follows_the_rule_from_notebooks(loader, monkeypatch):
    load, relative = LOADERS[loader]
    expected = load(str(ROOT / relative))
    monkeypatch.chdir(ROOT / "notebooks")
    assert not (ROOT / "notebooks" / relative.split("/")[0]).exists()
    got = load(relative)
    assert len(got) > 0 and got.equals(expected)


def test_pg_exports_and_connection_strings_are_not_taken_for_paths(monkeypatch):
    from perfkit.io.pg_stat import resolve_source

    monkeypatch.chdir(ROOT / "notebooks")
    # "" is libpq's defaults (PGHOST, PGPORT... as `perfkit collect pg` without --dsn), never
    # the project root it would name under the rule
    for dsn in ("postgresql:///db?host=/tmp/", "host=/tmp dbname=x", "data=1", ""):
        assert resolve_source(dsn) == ("dsn", dsn)
    assert locate("") == Path("")
    kind, store = resolve_source("data/baseline/pg")
    assert (kind, store) == ("store", ROOT / "data" / "baseline" / "pg")


@pytest.mark.parametrize("marker", ["pyproject", "folders"])
def test_the_project_root_is_found_from_the_working_directory(tmp_path, monkeypatch, marker):
    """A project elsewhere (no tie to where perfkit is installed): its data/ from notebooks/."""
    project = tmp_path / "project"
    copy_baseline(project / "data" / "baseline")
    (project / "notebooks" / "deep").mkdir(parents=True)
    if marker == "pyproject":
        (project / "pyproject.toml").write_text('[project]\nname = "perfkit"\n')
        (project / "notebooks").rename(project / "nb")
        start = project / "nb" / "deep"
    else:
        (project / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
        start = project / "notebooks" / "deep"
    monkeypatch.chdir(start)
    assert project_root() == project
    assert locate("data/baseline") == project / "data" / "baseline"
    frame = perfkit.read_access_log("data/baseline/access.log*")
    assert frame.attrs["perfkit"]["format_file"] == str(
        project / "data/baseline/access_log_format.txt"
    )
    from perfkit.report.evidence import load_run

    assert load_run("data/baseline").folder == project / "data" / "baseline"
    # the working directory comes first: a local data/ shadows the project's
    copy_baseline(start / "data" / "baseline", sidecar=False)
    assert locate("data/baseline") == Path("data/baseline")


def test_outside_any_project_the_error_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_root() is None
    with pytest.raises(InputError, match="no such file") as info:
        perfkit.read_access_log("data/baseline/access.log.gz")
    assert str(tmp_path) in str(info.value)
    with pytest.raises(InputError, match="matches no file"):
        perfkit.read_access_log("data/baseline/access.log*")


def test_a_deleted_working_directory_is_an_input_error(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert project_root() is None
    with pytest.raises(InputError, match="no longer exists"):
        perfkit.read_access_log("data/baseline/access.log.gz")
    assert len(perfkit.read_access_log(BASELINE / "access.log.gz")) > 1000  # absolute: fine


def test_an_installed_copy_resolves_from_the_working_directory(tmp_path):
    """perfkit imported from a copy outside the repository (as a regular install would be)."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "perfkit", site / "perfkit",
                    ignore=shutil.ignore_patterns("__pycache__", "sandbox"))  # fmt: skip
    code = textwrap.dedent("""
        import perfkit, sys
        assert perfkit.__file__.startswith(sys.argv[1]), perfkit.__file__
        frame = perfkit.read_access_log("data/baseline/access.log*")
        print(len(frame), frame.attrs["perfkit"]["format_file"])
    """)
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); " + code,
         str(site)], cwd=ROOT / "notebooks", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    count, fmt_file = done.stdout.split()
    assert int(count) == len(perfkit.read_access_log(BASELINE / "access.log.gz"))
    assert fmt_file == str(BASELINE / "access_log_format.txt")


# --- progress bars --------------------------------------------------------------------------


def test_importing_ipykernel_is_not_being_a_kernel():
    """papermill's caller and a test session import ipykernel without being a kernel: no
    widget bar there (it would print its text form to stdout)."""
    import ipykernel  # noqa: F401
    import IPython

    assert "ipykernel" in sys.modules and IPython.get_ipython() is None
    assert not access_log._in_kernel()


def test_a_kernel_without_ipywidgets_gets_a_text_bar_and_no_warning(monkeypatch, capsys):

    from tqdm.std import TqdmWarning, tqdm

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    monkeypatch.setattr(access_log, "_in_kernel", lambda: True)
    monkeypatch.setattr(access_log, "PROGRESS_MIN_BYTES", 0)
    assert access_log._bar_class() is tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        with warnings.catch_warnings(record=True) as caught:  # an error filter alone would not
            warnings.simplefilter("always")  # see tqdm.auto's warning: it swallows its own
            frame = perfkit.read_access_log(BASELINE / "access.log.gz")
    assert len(frame) > 1000
    assert not [w for w in caught if not issubclass(w.category, PerfkitWarning)]
    assert "read_access_log" in capsys.readouterr().err  # the text bar was drawn


@pytest.mark.slow
def test_in_a_real_kernel_without_ipywidgets_no_iprogress_warning():
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"))
    try:
        code = textwrap.dedent("""
            import sys, warnings
            sys.modules["ipywidgets"] = None  # absent, as in a Lab without the [lab] extra
            warnings.simplefilter("always")
            import perfkit, perfkit.io.access_log as al
            al.PROGRESS_MIN_BYTES = 0
            df = perfkit.read_access_log("data/baseline/access.log*")
            print("rows", len(df))
        """)
        outputs = []
        client.execute_interactive(code, timeout=120, output_hook=outputs.append)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    streams = {}
    for message in outputs:
        if message["msg_type"] == "stream":
            name = message["content"]["name"]
            streams[name] = streams.get(name, "") + message["content"]["text"]
        assert message["msg_type"] != "error", message["content"]
    rows = len(perfkit.read_access_log(BASELINE / "access.log.gz"))
    assert f"rows {rows}" in streams.get("stdout", "")
    assert "IProgress" not in streams.get("stderr", "") and "Warning" not in streams.get(
        "stderr", ""
    )
    assert "read_access_log" in streams.get("stderr", "")  # a text bar instead
