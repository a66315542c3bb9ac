"""Issue 19: perfkit installed as users install it, outside the repository.

The wheel and the sdist are built from a copy of the sources with setuptools' own PEP 517 hooks
(what ``python -m build --no-isolation`` calls; no download), and the sdist is built again into
a wheel. Each is installed (``pip install --no-deps --no-index``) into a new venv whose
site-packages holds exactly the distributions its requirements need, and nothing else: the
requirement closure of the wheel's own metadata (the core, or the core with ``[reports]``),
markers and extras evaluated, each distribution linked from the dev venv, where the installed
version must satisfy every specifier. That venv is what pip would install, without the wait on
a registry. No test here reads the repository from inside those venvs (no PYTHONPATH, a HOME
and a working folder of their own).
"""

from __future__ import annotations

import csv
import gzip
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "environment.yml",
           "perfkit", "notebooks", "data")  # fmt: skip
# the Jupyter and report stack: none of it in a core install
JUPYTER = re.compile(r"^(jupyter.*|ipykernel|ipython|ipywidgets|nbconvert|nbformat|nbclient|"
                     r"papermill|plotly|notebook|widgetsnbextension|snakeviz|tornado)$")  # fmt: skip
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def _run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 300):
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _build(source: Path, out: Path, hook: str) -> Path:
    """Run setuptools' PEP 517 `hook` (build_wheel, build_sdist) in `source`; the file made."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])"
    done = _run([sys.executable, "-c", code, out], cwd=source)
    assert done.returncode == 0, done.stderr[-3000:]
    (made,) = out.glob("*.whl" if hook == "build_wheel" else "*.tar.gz")
    return made


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[str, Path]:
    """{"wheel": the wheel built from the sources, "sdist": the sdist, "sdist_wheel": the wheel
    built from the unpacked sdist, "source": the copy of the sources}; built once a session."""
    base = tmp_path_factory.mktemp("built")
    source = base / "source"
    source.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=skip)
        else:
            shutil.copy2(path, source / name)
    sdist = _build(source, base / "dist", "build_sdist")
    wheel = _build(source, base / "dist", "build_wheel")
    with tarfile.open(sdist) as archive:
        archive.extractall(base / "unpacked", filter="data")
    (unpacked,) = (base / "unpacked").iterdir()
    return {"wheel": wheel, "sdist": sdist, "source": source,
            "sdist_wheel": _build(unpacked, base / "from-sdist", "build_wheel")}  # fmt: skip


def _wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode())


def closure(
    wheel: Path, extras: tuple[str, ...] = ()
) -> dict[str, importlib.metadata.Distribution]:
    """The distributions (canonical name -> the dev venv's) installing `wheel` with `extras`
    brings in: Requires-Dist followed through every distribution's own metadata, markers
    evaluated for this interpreter and the extras asked (``perfkit[reports]`` inside an extra
    included). Each version installed here must satisfy every specifier met on the way."""
    env = default_environment()
    found: dict[str, importlib.metadata.Distribution] = {}
    done: dict[str, set[str]] = {}
    todo = [("perfkit", {"", *extras})]
    while todo:
        name, wanted = todo.pop()
        new = wanted - done.setdefault(name, set())
        if not new:
            continue
        done[name] |= new
        if name == "perfkit":
            lines = _wheel_metadata(wheel).get_all("Requires-Dist") or []
        else:
            found[name] = importlib.metadata.distribution(name)
            lines = found[name].requires or []
        for line in lines:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({**env, "extra": e}) for e in new):
                continue
            key = canonicalize_name(req.name)
            if key != "perfkit":
                version = importlib.metadata.version(key)
                assert req.specifier.contains(version, prereleases=True), (line, version)
            todo.append((key, {"", *req.extras}))
    return found


def _link(dist: importlib.metadata.Distribution, prefix: Path) -> None:
    """Put `dist`'s files into the venv at `prefix`: its top-level packages and modules (and
    its .dist-info) as links into the dev venv's site-packages, its data files (Jupyter's
    share/ folders) as links at the same place under `prefix`; its scripts are left out."""
    assert dist.files is not None, f"{dist.metadata['Name']}: no RECORD"
    site = prefix / SITE
    for file in dist.files:
        if file.parts[0] == "..":
            real = Path(os.path.normpath(dist.locate_file(file)))
            relative = real.relative_to(sys.prefix)
            if relative.parts[0] == "bin":
                continue
            target = prefix / relative
        else:
            if file.parts[0] == "__pycache__":
                continue
            real = Path(os.path.normpath(dist.locate_file(file.parts[0])))
            target = site / file.parts[0]
        if not target.exists() and not target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(real)


@pytest.fixture(scope="session")
def venvs(built, tmp_path_factory):
    """venv(kind, extras) -> (python, env): a venv with the `kind` wheel ("wheel" or
    "sdist_wheel") installed with `extras` (each made once a session)."""
    made: dict[tuple, tuple[Path, dict]] = {}
    base = tmp_path_factory.mktemp("venvs")

    def venv(kind: str, extras: tuple[str, ...] = ()) -> tuple[Path, dict]:
        if (kind, extras) not in made:
            prefix = base / "-".join((kind, *extras))
            done = _run([sys.executable, "-m", "venv", "--without-pip", prefix], cwd=base)
            assert done.returncode == 0, done.stderr
            for dist in closure(built[kind], extras).values():
                _link(dist, prefix)
            python = prefix / "bin" / "python"
            done = _run([sys.executable, "-m", "pip", "--python", python, "install",
                         "--no-deps", "--no-index", "--quiet", built[kind]], cwd=base)  # fmt: skip
            assert done.returncode == 0, done.stderr
            home = base / f"home-{prefix.name}"
            home.mkdir()
            env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(home),
                   "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8",
                   "TMPDIR": os.environ.get("TMPDIR", "/tmp")}  # fmt: skip
            made[kind, extras] = (python, env)
        return made[kind, extras]

    return venv


def test_the_core_requirements_have_nothing_of_jupyter(built):
    """The wheel's core requirement closure (what `pip install perfkit` installs) holds no
    Jupyter or report package; with ``[reports]`` it does (the control: the check sees them)."""
    core = closure(built["wheel"])
    assert not [n for n in core if JUPYTER.match(n)], sorted(core)
    assert {"pandas", "pyarrow", "numpy", "scipy", "psycopg", "psycopg-binary", "psutil"} <= set(
        core
    )
    reports = closure(built["wheel"], ("reports",))
    assert {"papermill", "nbconvert", "ipykernel", "plotly"} <= set(reports)
    assert "jupyterlab" not in reports and "jupyterlab" in closure(built["wheel"], ("lab",))


@pytest.mark.parametrize("kind", ["wheel", "sdist_wheel"])
def test_the_core_install_runs_the_rss_collector_without_jupyter(venvs, kind, sleeper, tmp_path):
    """`perfkit collect rss` from the installed core (no Jupyter package in its venv) samples a
    sleeping process: its pid, and an RSS within 25 % of what psutil reads here."""
    import psutil

    python, env = venvs(kind)
    listed = _run([python, "-c", "import importlib.metadata as m, importlib.util as u, json; "
                   "print(json.dumps([sorted(d.metadata['Name'].lower() for d in "
                   "m.distributions()), [n for n in ('papermill', 'nbconvert', 'IPython', "
                   "'plotly', 'jupyter_client') if u.find_spec(n)]]))"], tmp_path, env)  # fmt: skip
    names, importable = json.loads(listed.stdout)
    assert "perfkit" in names and not [n for n in names if JUPYTER.match(n)] and not importable
    out = tmp_path / "memory.csv"
    done = _run([python.with_name("perfkit"), "collect", "rss", "--pid", sleeper.pid, "--out",
                 out, "--interval", "0.2", "--duration", "1"], tmp_path, env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows and {int(r["pid"]) for r in rows} == {sleeper.pid}
    rss = psutil.Process(sleeper.pid).memory_info().rss
    assert all(abs(int(r["rss_bytes"]) - rss) < 0.25 * rss for r in rows), (rows, rss)


def test_the_core_install_names_the_extra_a_report_needs(venvs, tmp_path):
    """`perfkit report` and `perfkit demo` without the reports extra: exit 2, the install
    command, no traceback; `perfkit.plots` from Python: an import error naming it."""
    python, env = venvs("wheel")
    for argv in (["report", "overview"], ["demo", "--out", tmp_path / "out"]):
        done = _run([python.with_name("perfkit"), *argv], tmp_path, env)
        assert done.returncode == 2, done.stderr
        assert "pip install 'perfkit[reports]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    done = _run([python, "-c", "import perfkit; perfkit.plots"], tmp_path, env)
    assert (
        "perfkit.plots needs plotly, of the reports extra: pip install 'perfkit[reports]'"
        in (done.stderr.splitlines()[-1])
    )


def test_the_core_install_summarizes_a_log_and_knows_its_version(built, venvs, tmp_path):
    """`perfkit summary` from the core install: /dashboard's count and mean as the log's own
    %(D)s field gives them (read here with a regular expression); `python -m perfkit
    --version` prints the version the wheel's metadata declares."""
    python, env = venvs("wheel")
    log = ROOT / "data" / "baseline" / "access.log.gz"
    done = _run([python.with_name("perfkit"), "summary", log, "--csv", tmp_path / "s.csv"],
                tmp_path, env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {r["route"]: r for r in csv.DictReader((tmp_path / "s.csv").open())}
    times = _times_by_class(log)["dashboard"]
    assert int(rows["/dashboard"]["count"]) == len(times)
    assert float(rows["/dashboard"]["mean_ms"]) == pytest.approx(sum(times) / len(times))
    done = _run([python, "-m", "perfkit", "--version"], tmp_path, env)
    declared = _wheel_metadata(built["wheel"])["Version"]
    assert (done.returncode, done.stdout.strip()) == (0, f"perfkit {declared}")


def _times_by_class(log: Path) -> dict[str, list[float]]:
    """Request times (ms, the log's %(D)s microseconds) by the path's first segment (api,
    dashboard, static, health), read here with a regular expression, not with perfkit."""
    times: dict[str, list[float]] = {}
    pattern = re.compile(r'"[A-Z]+ /(\w+)[^"]*" \d{3} \S+ "[^"]*" "[^"]*" (\d+) ')
    with gzip.open(log, "rt") as lines:
        for line in lines:
            match = pattern.search(line)
            if match:
                times.setdefault(match.group(1), []).append(int(match.group(2)) / 1000)
    return times


def _means_by_class(log: Path) -> dict[str, float]:
    """Mean request time (ms) of each class of `_times_by_class`."""
    return {k: sum(v) / len(v) for k, v in _times_by_class(log).items()}


@pytest.mark.parametrize("kind", ["wheel", "sdist_wheel"])
def test_the_installed_reports_run_the_overview_on_a_copy_of_baseline(venvs, kind, tmp_path):
    """From the installed wheel (``[reports]``), outside the repository, `perfkit report
    overview` on a copy of data/baseline cut to its first 700 requests (not the run the
    wheel ships) writes one HTML page whose figures are that copy's: each class's mean
    request time as the log's own %(D)s gives it."""
    python, env = venvs(kind, ("reports",))
    run = tmp_path / "baseline"
    shutil.copytree(ROOT / "data" / "baseline", run)
    with gzip.open(ROOT / "data" / "baseline" / "access.log.gz", "rt") as whole:
        kept = whole.readlines()[:700]
    with gzip.open(run / "access.log.gz", "wt") as cut:
        cut.writelines(kept)
    done = _run([python.with_name("perfkit"), "report", "overview", "-p", f"run={run}", "-o",
                 tmp_path / "out" / "overview.html", "--json", tmp_path / "out" / "o.json"],
                tmp_path, env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "overview.html").read_text()
    assert 'id="perfkit-toc"' in page and "Service overview: baseline" in page
    classes = json.loads((tmp_path / "out" / "o.json").read_text())["classes"]
    expected = _means_by_class(run / "access.log.gz")
    shipped = _means_by_class(ROOT / "data" / "baseline" / "access.log.gz")
    assert expected["api"] != pytest.approx(shipped["api"])  # the copy is not the shipped run
    for name, key in (("api", "api"), ("dashboard", "dashboard"), ("static", "static")):
        assert classes[name]["mean_ms"] == pytest.approx(expected[key], rel=1e-9), name


def test_the_installed_demo_reads_the_shipped_notebooks_and_runs(venvs, tmp_path):
    """The installed wheel finds its own copies of the repository's notebooks (byte for byte)
    and points every notebook's ``data/<run>`` default at a run it ships."""
    python, env = venvs("wheel", ("reports",))
    code = ("import json; from perfkit.report import run, demo; print(json.dumps("
            "[str(run.NOTEBOOKS), str(run.DATA), {p.stem: demo.demo_parameters(p) "
            "for p in demo.notebooks()}]))")  # fmt: skip
    done = _run([python, "-c", code], tmp_path, env)
    assert done.returncode == 0, done.stderr
    notebooks, data, parameters = json.loads(done.stdout)
    site = python.parent.parent / SITE
    assert Path(notebooks) == site / "perfkit" / "_shipped" / "notebooks"
    ours = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in Path(notebooks).iterdir()) == ours
    for name in ours:
        assert (Path(notebooks) / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    assert sorted(parameters) == sorted(Path(n).stem for n in ours)
    named = {"overview": {"run": "baseline"}, "memory_leak": {"run": "leak"},
             "capacity": {"run": "capacity"},
             "regression": {"baseline": "baseline", "candidate": "candidate"}}  # fmt: skip
    for notebook, keys in named.items():
        assert {
            k: Path(v).relative_to(data).as_posix() for k, v in parameters[notebook].items()
        } == keys
    for run in {r for keys in named.values() for r in keys.values()}:
        # pip byte-compiles the .py files a run ships (source/); neither side counts __pycache__
        ours = sorted(p.relative_to(ROOT / "data" / run).as_posix()
                      for p in (ROOT / "data" / run).rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)  # fmt: skip
        theirs = sorted(p.relative_to(Path(data) / run).as_posix()
                        for p in (Path(data) / run).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)  # fmt: skip
        assert theirs == ours, run


def test_the_wheel_from_the_sdist_has_the_wheels_files(built):
    """The sdist carries everything the wheel is built from: the two wheels list the same
    files (notebooks, demo runs, the nbconvert template, py.typed)."""

    def listed(wheel: Path) -> set[str]:
        with zipfile.ZipFile(wheel) as archive:
            return {n for n in archive.namelist() if ".dist-info/" not in n}

    files = listed(built["wheel"])
    assert files == listed(built["sdist_wheel"])
    assert "perfkit/py.typed" in files and "perfkit/_shipped/data/README.md" in files
    template = "/data/share/jupyter/nbconvert/templates/perfkit/conf.json"  # a data file
    assert [n for n in files if n.endswith(template) and n.startswith("perfkit-")]
    assert not [n for n in files if "__pycache__" in n or "baseline_drift" in n]


def test_an_editable_install_reads_the_clones_folders(built, tmp_path):
    """An editable install ships no copies: perfkit reads the source tree's notebooks/ and
    data/ (edits show at once) and no perfkit/_shipped/ appears in it."""
    source = tmp_path / "clone"
    shutil.copytree(built["source"], source)
    prefix = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", prefix], tmp_path).returncode == 0
    for dist in [*closure(built["wheel"]).values(), importlib.metadata.distribution("setuptools")]:
        _link(dist, prefix)  # setuptools: the build backend, run in that venv (no isolation)
    python = prefix / "bin" / "python"
    done = _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                 "--no-index", "--no-build-isolation", "--quiet", "-e", source], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    code = ("import json; from perfkit.report import run; "
            "print(json.dumps([str(run.NOTEBOOKS), str(run.DATA), run.__file__]))")  # fmt: skip
    env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONNOUSERSITE": "1"}  # fmt: skip
    done = _run([python, "-c", code], tmp_path, env)
    assert done.returncode == 0, done.stderr
    notebooks, data, module = json.loads(done.stdout)
    assert (Path(notebooks), Path(data)) == (source / "notebooks", source / "data")
    assert Path(module) == source / "perfkit" / "report" / "run.py"
    assert not (source / "perfkit" / "_shipped").exists()
