"""`perfkit demo`: every shipped notebook on the demo data (data/), exported to HTML.

From a clone the notebooks and runs are the top-level ``notebooks/`` and ``data/``; from an
installed wheel, the copies it ships (`perfkit.report.run.shipped`). The notebooks' defaults
name runs as ``data/<run>``: they are read from the demo data wherever ``perfkit demo`` runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError
from perfkit.io.paths import make_folder
from perfkit.report.run import DATA, NOTEBOOKS, _unquote, parameters_of, run_report

ORDER = ("overview", "regression", "memory_leak", "capacity")


def notebooks(folder: Path | None = None) -> list[Path]:
    """The notebooks `perfkit demo` runs (those in `folder`, default `NOTEBOOKS`): the four
    reports first, then any others by name."""
    folder = NOTEBOOKS if folder is None else Path(folder)
    found = {p.stem: p for p in folder.glob("*.ipynb") if not p.name.startswith(".")}
    return [found[n] for n in ORDER if n in found] + [
        found[n] for n in sorted(found) if n not in ORDER
    ]


def demo_parameters(notebook: Path, data: Path | None = None) -> dict[str, str]:
    """The parameters that point `notebook`'s ``data/<run>`` defaults at the demo data in `data`
    (default `DATA`): none when the working folder's ``data/<run>`` is that same folder
    (``make demo`` in a clone, whose reports keep showing ``data/baseline``), else each run's
    absolute path."""
    data = DATA if data is None else Path(data)
    given = {}
    for key, about in parameters_of(notebook).items():
        default = _unquote(about.get("default"))
        if not isinstance(default, str) or not default.startswith("data/"):
            continue
        demo = data / default.removeprefix("data/")
        here = Path(default)
        if demo.exists() and not (here.exists() and here.resolve() == demo.resolve()):
            given[key] = str(demo.resolve())
    return given


def run_demo(
    out: Path, folder: Path | None = None, say: Callable[[str], None] = lambda _text: None,
    keep_notebook: bool = False, data: Path | None = None,
) -> list[Path]:
    """Run each notebook with its default parameters into ``out/<name>.html`` (+ .json, and the
    executed ``<name>.ipynb`` beside it with `keep_notebook`).

    `folder` holds the notebooks (default `NOTEBOOKS`), `data` the demo runs (default `DATA`).
    `out` must be a folder other than `folder` (checked before anything runs);
    it is created when missing. The notebooks read the demo runs in `data`
    (`demo_parameters`).
    """
    out, folder = Path(out), NOTEBOOKS if folder is None else Path(folder)
    if out.resolve() == folder.resolve():
        raise InputError(f"--out {out}: is the notebooks folder; the reports go elsewhere "
                         "(e.g. --out reports)")  # fmt: skip
    make_folder(out, f"--out {out}", "the reports")
    written = []
    books = notebooks(folder)
    for i, notebook in enumerate(books, 1):
        began = time.monotonic()
        say(f"[{i}/{len(books)}] {notebook.stem} ...")
        target = out / f"{notebook.stem}.html"
        run_report(str(notebook), demo_parameters(notebook, data), target,
                   out / f"{notebook.stem}.json", folder=folder,
                   keep_notebook=keep_notebook)  # fmt: skip
        say(f"[{i}/{len(books)}] {notebook.stem}: {target} ({time.monotonic() - began:.0f} s)")
        written.append(target)
    return written
