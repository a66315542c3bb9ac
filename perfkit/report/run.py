"""`perfkit report`: execute a notebook with papermill, export one self-contained HTML file.

Parameters are checked against the notebook's tagged ``parameters`` cell
(unknown names are an error listing the valid ones). Values given as text
(the CLI's ``-p key=value``) are read as JSON when they parse (numbers,
booleans, null, lists) and kept as text otherwise. Secrets never go in
parameters: papermill writes them into the notebook. Notebooks read a DSN
from the environment instead.

The HTML export hides code, embeds plotly.js once (the notebooks' renderer
puts it in the first figure's output), loads nothing from any other host
(perfkit's nbconvert template drops require.js, MathJax and mermaid), and
carries a table of contents and the parameters. The summary a notebook
emits (verdicts, key figures) is returned and can be written as JSON; a
notebook that fails leaves its partly executed copy next to the HTML path.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from perfkit.errors import InputError, PerfkitError
from perfkit.report.display import SUMMARY_MIME

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
TEMPLATES = Path(__file__).resolve().parent / "templates"


class ReportFailed(PerfkitError):
    """The notebook raised; `executed` is the partly executed copy kept for diagnosis and
    `ename` the exception's class name (`bad_input` says whether it was an input error)."""

    def __init__(self, message: str, executed: Path, ename: str = "") -> None:
        super().__init__(message)
        self.executed = executed
        self.ename = ename

    @property
    def bad_input(self) -> bool:
        """Whether the notebook stopped on bad input (an `InputError` or an unreachable
        server) rather than on a bug."""
        import perfkit.io.pg_stat
        import perfkit.io.textfiles  # their InputError subclasses

        names, todo = {"InputError", "StatisticsUnavailable"}, [InputError]
        while todo:
            for sub in todo.pop().__subclasses__():
                names.add(sub.__name__)
                todo.append(sub)
        del perfkit
        return self.ename in names


def available(folder: Path = NOTEBOOKS) -> list[str]:
    """The report names (notebook stems) in `folder`."""
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def notebook_path(name: str, folder: Path = NOTEBOOKS) -> Path:
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    candidate = folder / f"{name}.ipynb"
    if not candidate.exists():
        raise InputError(f"no report named {name!r}; available: {', '.join(available(folder))}")
    return candidate


def parameters_of(notebook: Path) -> dict[str, dict]:
    """The notebook's parameters (name -> papermill's description with its default)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def parse_value(text: str) -> Any:
    """A ``-p`` value: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run_report(
    name: str,
    parameters: dict[str, Any] | None = None,
    html: str | Path | None = None,
    json_path: str | Path | None = None,
    keep_notebook: bool = False,
    progress: bool = False,
    folder: Path = NOTEBOOKS,
) -> dict:
    """Execute report `name` with `parameters`, write `html`, return the notebook's summary."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = notebook_path(name, folder)
    known = parameters_of(notebook)
    given = dict(parameters or {})
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InputError(
            f"unknown parameter(s) {', '.join(unknown)} for report {notebook.stem}; "
            f"valid: {', '.join(sorted(known))}"
        )
    html = Path(html or f"reports/{notebook.stem}.html")
    html.parent.mkdir(parents=True, exist_ok=True)
    executed = html.with_suffix(".ipynb")
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=given, kernel_name="python3",
            language="python", cwd=os.getcwd(), progress_bar=progress,
        )  # fmt: skip
    except PapermillExecutionError as exc:
        raise ReportFailed(
            f"report {notebook.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(partly executed notebook kept: {executed})",
            executed, exc.ename,
        ) from exc
    node = nbformat.read(executed, as_version=4)
    summary = extract_summary(node)
    defaults = {k: v.get("default") for k, v in known.items()}
    shown = {**{k: _unquote(v) for k, v in defaults.items()}, **given}
    html.write_text(export_html(node, shown), encoding="utf-8")
    if not keep_notebook:
        executed.unlink()
    if json_path is not None:
        record = {"report": notebook.stem, "html": str(html), "parameters": shown,
                  "generated": _now(), **summary}  # fmt: skip
        Path(json_path).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return summary


def _unquote(value: Any) -> Any:
    """A default as papermill reports it (Python source text) as its value."""
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def extract_summary(node) -> dict:
    """The summary the notebook displayed (`perfkit.report.display.emit_summary`), else {}."""
    for cell in node.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if SUMMARY_MIME in data:
                value = data[SUMMARY_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return {}


def export_html(node, parameters: dict[str, Any]) -> str:
    """One self-contained HTML page: code hidden, summary output dropped, parameters shown."""
    import copy

    from nbconvert import HTMLExporter

    import perfkit

    node = copy.deepcopy(node)
    for cell in node.cells:  # the machine-readable summary is for --json, not for readers
        cell["outputs"] = [o for o in cell.get("outputs", [])
                           if SUMMARY_MIME not in o.get("data", {})]  # fmt: skip
    exporter = HTMLExporter(
        template_name="perfkit", extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )  # fmt: skip
    resources = {"perfkit": {"parameters": {k: json.dumps(v, default=str) if not isinstance(v, str)
                                            else v for k, v in parameters.items()},
                             "version": perfkit.__version__, "generated": _now()}}  # fmt: skip
    body, _ = exporter.from_notebook_node(node, resources=resources)
    return body
