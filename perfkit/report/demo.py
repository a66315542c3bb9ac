"""`perfkit demo`: every shipped notebook on the demo data (data/), exported to HTML."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError
from perfkit.io.paths import make_folder
from perfkit.report.run import NOTEBOOKS, run_report

ORDER = ("overview", "regression", "memory_leak", "capacity")


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks `perfkit demo` runs: the four reports first, then any others by name."""
    found = {p.stem: p for p in folder.glob("*.ipynb") if not p.name.startswith(".")}
    return [found[n] for n in ORDER if n in found] + [
        found[n] for n in sorted(found) if n not in ORDER
    ]


def run_demo(
    out: Path, folder: Path = NOTEBOOKS, say: Callable[[str], None] = lambda _text: None,
    keep_notebook: bool = False,
) -> list[Path]:
    """Run each notebook with its default parameters into ``out/<name>.html`` (+ .json, and the
    executed ``<name>.ipynb`` beside it with `keep_notebook`).

    `out` must be a folder other than `folder` (checked before anything runs);
    it is created when missing.
    """
    out = Path(out)
    if out.resolve() == Path(folder).resolve():
        raise InputError(f"--out {out}: is the notebooks folder; the reports go elsewhere "
                         "(e.g. --out reports)")  # fmt: skip
    make_folder(out, f"--out {out}", "the reports")
    written = []
    books = notebooks(folder)
    for i, notebook in enumerate(books, 1):
        began = time.monotonic()
        say(f"[{i}/{len(books)}] {notebook.stem} ...")
        target = out / f"{notebook.stem}.html"
        run_report(str(notebook), {}, target, out / f"{notebook.stem}.json", folder=folder,
                   keep_notebook=keep_notebook)  # fmt: skip
        say(f"[{i}/{len(books)}] {notebook.stem}: {target} ({time.monotonic() - began:.0f} s)")
        written.append(target)
    return written
