"""Issue 19: Python conventions — `python -m perfkit`, one version (pyproject.toml's, read from
the installed metadata), `py.typed` shipped for type checkers, a core without the report stack
(extras named when missing), environment.yml in step with pyproject.toml, and a clone reading
its own notebooks/ and data/ (tests/test_install.py installs the wheel and the sdist)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import perfkit

ROOT = Path(__file__).resolve().parents[1]
DECLARED = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_python_dash_m_perfkit_prints_the_declared_version():
    done = subprocess.run([sys.executable, "-m", "perfkit", "--version"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"perfkit {DECLARED}"


def test_the_console_script_and_the_module_attribute_agree():
    script = Path(sys.executable).with_name("perfkit")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"perfkit {DECLARED}")
    assert perfkit.__version__ == DECLARED
    assert not re.search(r"__version__\s*=\s*['\"]", (ROOT / "perfkit" / "__init__.py").read_text())


def test_python_dash_m_perfkit_runs_the_cli_with_its_exit_codes():
    done = subprocess.run([sys.executable, "-m", "perfkit", "summary", str(ROOT / "nowhere.log")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nowhere.log" in done.stderr


def test_py_typed_is_in_the_package_and_its_data():
    assert (ROOT / "perfkit" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["perfkit"]


def test_nbconvert_finds_the_perfkit_template_for_a_users_own_notebook(tmp_path):
    """`jupyter nbconvert --template perfkit` exports any notebook as the reports are: no
    script from another host, a table of contents; the report header only for reports."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("## Mine\n\nA user's own analysis.")]
    nbformat.write(notebook, tmp_path / "mine.ipynb")
    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run([str(jupyter), "nbconvert", "--to", "html", "--template", "perfkit",
                           str(tmp_path / "mine.ipynb")], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "mine.html").read_text()
    assert 'id="perfkit-toc"' in page and "A user's own analysis." in page
    assert "cdnjs" not in page and "require.js" not in page and "mathjax" not in page.lower()
    assert "perfkit-meta" not in page.split("</style>")[-1]  # no report header, no parameters


def test_a_report_page_keeps_its_header_with_the_parameters_escaped():
    import nbformat

    from perfkit.report.run import export_html

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("## Verdict")]
    page = export_html(notebook, {"run": "runs/<b>today</b>", "limit_mib": 768})
    header = page.split('<header class="perfkit-meta">')[1].split("</header>")[0]
    assert f"perfkit {perfkit.__version__}" in header and "Parameters of this report" in header
    assert "runs/&lt;b&gt;today&lt;/b&gt;" in header and "<b>today" not in header
    assert "<td>limit_mib</td><td><code>768</code></td>" in header


def _groups_of_pyproject() -> dict[str, dict[str, str]]:
    """{"core" or an extra: {canonical name: specifier}} without perfkit's own extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    return {group: {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, lines)
                    if canonicalize_name(r.name) != "perfkit"}
            for group, lines in groups.items()}  # fmt: skip


def _groups_of_environment() -> dict[str, dict[str, str]]:
    """environment.yml's dependencies by their ``# [group]`` comment (python and pip apart)."""
    groups: dict[str, dict[str, str]] = {}
    group = None
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if header := re.match(r"\s+# \[(\w+)\]", line):
            group = header.group(1)
        elif (item := re.match(r"  - ([\w.-]+)\s*([<>=!~].*)?$", line)) and group:
            name, specifier = item.group(1), (item.group(2) or "").strip()
            groups.setdefault(group, {})[canonicalize_name(name)] = str(
                Requirement(f"x{specifier}").specifier)  # fmt: skip
    return groups


def test_environment_yml_mirrors_pyproject_group_by_group():
    """Each group of environment.yml (the core, each extra) names the packages and bounds of
    the same group in pyproject.toml (conda's names: psycopg for psycopg[binary], dask for
    dask[dataframe], underscores or hyphens alike)."""
    ours, conda = _groups_of_pyproject(), _groups_of_environment()
    assert set(conda) == set(ours)
    for group in ours:
        assert conda[group] == ours[group], group
    assert "jupyterlab" not in ours["core"] and "papermill" in ours["reports"]  # the split


def test_the_dev_extra_brings_every_other_extra():
    """`pip install -e '.[dev]'` (make test, make demo) installs every other extra too (reports,
    lab, dask, memray): the tests run notebooks, JupyterLab, dask and memray."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (self,) = [Requirement(r) for r in dev["dev"] if Requirement(r).name == "perfkit"]
    assert self.extras == set(dev) - {"dev"}
    assert {"reports", "lab", "dask", "memray"} <= self.extras


@pytest.mark.parametrize("argv", [["report", "overview"], ["report", "overview", "--help"],
                                  ["demo", "--out", "reports-never-made"]])  # fmt: skip
def test_a_report_without_the_reports_extra_names_the_install_command(argv, monkeypatch, capsys,
                                                                      tmp_path):  # fmt: skip
    """papermill missing (a core install): exit 2, the install command, no traceback, no output
    folder; with it installed the same check passes (the control)."""
    from perfkit.cli import main
    from perfkit.report.run import require_reports

    require_reports()  # the dev venv has the extra
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "papermill", None)  # import papermill now fails
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "(papermill not installed): pip install 'perfkit[reports]'" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


def test_the_rss_collector_imports_nothing_of_the_reports_stack(sleeper, tmp_path):
    """`perfkit collect rss` runs without importing papermill, nbconvert, nbformat, plotly,
    IPython, ipykernel or jupyter_*, nor pandas, pyarrow or numpy (a collector on a production
    host starts in a fraction of a second); the probe sees them once a report's parameters are
    read (the control)."""
    probe = (
        "import sys\n"
        "from perfkit.cli import main\n"
        "stack = ('papermill', 'nbconvert', 'nbformat', 'plotly', 'IPython', 'ipykernel',"
        " 'jupyter_client', 'jupyter_core', 'pandas', 'pyarrow', 'numpy')\n"
        f"assert main(['collect', 'rss', '--pid', '{sleeper.pid}', '--out', sys.argv[1],"
        " '--interval', '0.2', '--duration', '0.3']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(stack)))\n"
        "from perfkit.report.run import NOTEBOOKS, parameters_of\n"
        "parameters_of(NOTEBOOKS / 'overview.ipynb')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(stack)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "memory.csv")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    collect, report = done.stdout.splitlines()
    assert collect == "[]"
    assert "papermill" in report and "nbformat" in report
    assert (tmp_path / "memory.csv").read_text().count(f",{sleeper.pid},") >= 1


def test_a_clone_reads_its_own_notebooks_and_data(monkeypatch, tmp_path):
    """From the clone (the editable install), reports and the demo read the top-level
    notebooks/ and data/; the demo passes no paths when run from the clone's root (reports show
    ``data/baseline``) and the clone's absolute run folders from anywhere else."""
    from perfkit.report import demo, run

    assert (run.NOTEBOOKS, run.DATA) == (ROOT / "notebooks", ROOT / "data")
    assert not (ROOT / "perfkit" / "_shipped").exists()
    overview, regression = (
        ROOT / "notebooks" / "overview.ipynb",
        ROOT / "notebooks" / "regression.ipynb",
    )
    monkeypatch.chdir(ROOT)
    assert demo.demo_parameters(overview) == {} == demo.demo_parameters(regression)
    monkeypatch.chdir(tmp_path)
    assert demo.demo_parameters(overview) == {"run": str(ROOT / "data" / "baseline")}
    assert demo.demo_parameters(regression) == {"baseline": str(ROOT / "data" / "baseline"),
                                                "candidate": str(ROOT / "data" / "candidate")}  # fmt: skip


def test_only_perfkits_own_source_tree_counts_as_a_clone(tmp_path):
    """The top-level folders are read only beside perfkit's own pyproject.toml: not in another
    project perfkit was installed into (``pip install --target``), nor beside a broken file."""
    from perfkit.report.run import _is_perfkit_clone

    (tmp_path / "notebooks").mkdir()
    assert not _is_perfkit_clone(tmp_path)  # no pyproject.toml: a site-packages
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert not _is_perfkit_clone(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert not _is_perfkit_clone(tmp_path)
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    assert _is_perfkit_clone(tmp_path)
