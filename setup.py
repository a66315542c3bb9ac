"""The build step pyproject.toml cannot declare: the wheel ships the report notebooks and the demo
data under ``perfkit/_shipped/`` (``notebooks/*.ipynb`` and the runs of ``data/`` those notebooks
name as defaults, with ``data/README.md``), copied from the top-level folders, which stay the
editable source. An editable install ships nothing: perfkit then reads the clone's folders
(`perfkit.report.run.shipped`). A run a notebook names that is missing (an sdist whose
MANIFEST.in lacks it) fails the build instead of making a wheel whose demo cannot run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = Path("perfkit") / "_shipped"


def demo_runs(notebooks: Path) -> list[str]:
    """The ``data/<run>`` folders the notebooks' tagged ``parameters`` cells name as defaults."""
    runs: set[str] = set()
    for notebook in sorted(notebooks.glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                source = "".join(cell["source"])
                runs.update(re.findall(r"""["']data/([\w.-]+)/?["']""", source))
    return sorted(runs)


class BuildWithShipped(build_py):
    """build_py, then notebooks/ and the demo runs of data/ copied into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the clone's folders are used in place
            return
        notebooks, data = HERE / "notebooks", HERE / "data"
        target = Path(self.build_lib) / SHIPPED
        if target.exists():
            shutil.rmtree(target)  # a rebuild never keeps a notebook or run since removed
        (target / "data").mkdir(parents=True)
        shutil.copytree(notebooks, target / "notebooks",
                        ignore=shutil.ignore_patterns(".*"))  # fmt: skip
        if (data / "README.md").is_file():
            shutil.copy2(data / "README.md", target / "data" / "README.md")
        for run in demo_runs(notebooks):
            if not (data / run).is_dir():
                raise SystemExit(f"setup.py: data/{run} (a notebook's default run) is missing; "
                                 "add it to MANIFEST.in")  # fmt: skip
            shutil.copytree(data / run, target / "data" / run,
                            ignore=shutil.ignore_patterns(".*", "__pycache__"))  # fmt: skip


setup(cmdclass={"build_py": BuildWithShipped})
