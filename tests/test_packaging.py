"""Issue 19: Python conventions — `python -m perfkit`, one version (pyproject.toml's, read from
the installed metadata), and `py.typed` shipped for type checkers."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

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
