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
