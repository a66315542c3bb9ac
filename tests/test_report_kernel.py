"""Issue 19: `perfkit report --kernel` (papermill's ``-k``); by default this Python's own kernel.

The adversarial case: a ``python3`` kernel on the Jupyter path that points at another
interpreter (here one that cannot start). The default must not use it; `--kernel NAME` must."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from perfkit.cli import main
from perfkit.report.run import run_report

CELL = """import os, sys
from perfkit.report.display import emit_summary
emit_summary({"report": "kernel", "python": sys.executable, "mark": os.environ.get("MARK")})"""


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    """A Jupyter path with a broken ``python3`` kernel and a working ``other`` one."""
    root = tmp_path / "jupyter" / "kernels"
    specs = {
        "python3": {"argv": ["/bin/false", "{connection_file}"], "env": {"MARK": "python3"}},
        "other": {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                  "env": {"MARK": "other"}},
    }  # fmt: skip
    for name, spec in specs.items():
        (root / name).mkdir(parents=True)
        spec |= {"display_name": name, "language": "python"}
        (root / name / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell(CELL)]  # fmt: skip
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    path = tmp_path / "kernel.ipynb"
    nbformat.write(notebook, path)
    return path


def test_by_default_the_report_runs_in_this_python_not_the_python3_kernel(kernels, tmp_path):
    summary = run_report(str(kernels), html=tmp_path / "a.html")
    assert summary["python"] == sys.executable
    assert summary["mark"] is None  # not the python3 spec's environment


def test_kernel_names_an_installed_kernel(kernels, tmp_path):
    summary = run_report(str(kernels), html=tmp_path / "b.html", kernel="other")
    assert summary["mark"] == "other"


def test_an_unknown_kernel_is_refused_naming_those_installed(kernels, tmp_path, capsys):
    code = main(["report", str(kernels), "-o", str(tmp_path / "c.html"), "--kernel", "nosuch"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--kernel nosuch: no such Jupyter kernel" in err and "other" in err
    assert not (tmp_path / "c.html").exists()
