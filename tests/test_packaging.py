"""environment.yml mirrors pyproject.toml; the README states the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {
    "psycopg[binary]": "psycopg",
    "memory-profiler": "memory_profiler",
    "prometheus-client": "prometheus_client",
}


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower()
    return CONDA_NAMES.get(name, re.sub(r"\[.*\]", "", name))


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    listed = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"^\s+-\s+([A-Za-z0-9_.\-\[\]]+)", line)
        if match and match[1] not in ("pip", "python") and not line.strip().startswith("- -e"):
            listed.add(_name(match[1]))
    assert wanted == listed, (
        f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    )
    assert project["requires-python"] == ">=3.11"


def test_readme_and_ci_run_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_section = readme.split("## Usage")[0]  # the two commands come first
    assert "make demo" in first_section and "make test" in first_section
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci


def test_design_api_names_exist_and_load_lazily():
    import subprocess
    import sys

    import perfkit

    design = ["read_access_log", "read_profile", "read_pg_stat", "snapshot_pg", "pg_deltas",
              "read_memory", "read_locust", "read_jsonl", "open_snakeviz", "summarize", "compare",
              "compare_profiles", "fit_leak", "fit_usl", "erlang_c", "size_workers"]  # fmt: skip
    assert all(callable(getattr(perfkit, name)) for name in design)
    code = "import sys, perfkit; perfkit.read_access_log; print('scipy' in sys.modules)"
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "False"  # reading logs does not pull in scipy
