"""Run every shipped notebook on the demo data and export each to HTML."""

from __future__ import annotations

from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks `perfkit demo` runs, in name order."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def run_demo(out: Path, folder: Path = NOTEBOOKS) -> list[Path]:
    """Execute each notebook with papermill and write ``out/<name>.html``; return the files."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in notebooks(folder):
        executed = out / notebook.name
        papermill.execute_notebook(
            str(notebook), str(executed), cwd=str(folder), progress_bar=False
        )
        html, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        target = out / f"{notebook.stem}.html"
        target.write_text(html, encoding="utf-8")
        executed.unlink()
        written.append(target)
    return written
