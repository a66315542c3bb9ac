"""`perfkit report`: execute a notebook with papermill, export one self-contained HTML file.

Parameters are checked against the notebook's tagged ``parameters`` cell
(unknown names are an error listing the valid ones). Values given as text
(the CLI's ``-p key=value``) are read as JSON when they parse (numbers,
booleans, null, lists) and kept as text otherwise. Secrets never go in
parameters: papermill writes them into the notebook. Notebooks read a DSN
from the environment instead.

The HTML export hides code, embeds plotly.js once (`embed_plotlyjs`: in the
first figure's cell; the executed notebook itself stays light), loads nothing from any other host
(perfkit's nbconvert template drops require.js, MathJax and mermaid), and
carries a table of contents and the parameters. The summary a notebook
emits (verdicts, key figures) is returned and can be written as JSON
(standard JSON: NaN and infinities are written as null); a notebook that
fails leaves its partly executed copy next to the HTML path.

Outputs never replace an input: every output path is checked before the
notebook runs (not the notebook itself, not a file named in a parameter,
not another output, not a folder, in a folder that can be written; missing
folders are created). The notebook executes in a temporary folder and only
what is kept is moved beside the HTML; each output is written to a temporary
file in its folder and renamed over the old one, so a full disk or a crash
never leaves a half-written report where a whole one was.
"""

from __future__ import annotations

import ast
import datetime as dt
import errno
import json
import math
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from perfkit import _REPORTS
from perfkit.errors import InputError, PerfkitError
from perfkit.io.paths import make_folder
from perfkit.report.display import SUMMARY_MIME, embed_plotlyjs, finite

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent


def shipped(name: str) -> Path:
    """The folder `name` (``notebooks``, ``data``): the clone's top-level folder (the editable
    source) when perfkit runs from a clone, else the copy an installed wheel carries in
    ``perfkit/_shipped/`` (setup.py's build step)."""
    clone = ROOT / name
    if clone.is_dir() and _is_perfkit_clone(ROOT):
        return clone
    return PACKAGE / "_shipped" / name


def _is_perfkit_clone(folder: Path) -> bool:
    """Whether `folder` holds perfkit's own pyproject.toml (not an installed wheel's
    site-packages, nor another project that perfkit was installed into with ``--target``)."""
    import tomllib

    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return project.get("project", {}).get("name") == "perfkit"


NOTEBOOKS = shipped("notebooks")
DATA = shipped("data")  # the demo runs the notebooks' defaults name (data/baseline ...)
TEMPLATES = Path(__file__).resolve().parent / "templates"


# what running and exporting a notebook imports: the ``reports`` extra (not in the core install)
REPORTS_STACK = _REPORTS
INSTALL_REPORTS = "pip install 'perfkit[reports]'"


def require_reports(what: str = "perfkit report") -> None:
    """Raise an `InputError` naming the install command when a package of the ``reports``
    extra is missing (a core install: loaders, analyses and collectors only)."""
    import importlib.util

    missing = [name for name in REPORTS_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"{what} needs the reports extra ({', '.join(missing)} not "
                         f"installed): {INSTALL_REPORTS}")  # fmt: skip


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


def available(folder: Path | None = None) -> list[str]:
    """The report names (notebook stems) in `folder` (default `NOTEBOOKS`)."""
    folder = NOTEBOOKS if folder is None else Path(folder)
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def notebook_path(name: str, folder: Path | None = None) -> Path:
    """The notebook of report `name`: a path to an existing ``.ipynb``, or ``NAME.ipynb`` in
    `folder` (default `NOTEBOOKS`); an `InputError` listing the reports when there is none."""
    folder = NOTEBOOKS if folder is None else Path(folder)
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    candidate = folder / f"{name}.ipynb"
    if not candidate.exists():
        raise InputError(f"no report named {name!r}; available: {', '.join(available(folder))}")
    return candidate


def parameters_of(notebook: Path) -> dict[str, dict]:
    """The notebook's parameters (name -> papermill's description with its default).

    A file that is not a valid Jupyter notebook (empty, truncated, not JSON,
    another schema) is an `InputError` naming it.
    """
    require_reports()
    import nbformat
    import papermill

    try:
        nbformat.validate(nbformat.read(notebook, as_version=4))
        return papermill.inspect_notebook(str(notebook))
    except OSError as exc:
        raise InputError(f"{notebook}: cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # nbformat's NotJSONError, ValidationError, KeyError, ...: the file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise InputError(f"{notebook}: not a valid Jupyter notebook ({type(exc).__name__}"
                         f"{': ' + reason if reason else ''})") from None  # fmt: skip


def parse_value(text: str) -> Any:
    """A ``-p`` value: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def check_parameters(
    parameters: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`parameters` checked (and returned) before a notebook runs.

    NaN and infinite numbers are refused anywhere in a value (``-p x=NaN``,
    ``Infinity``, ``1e999``): no report means anything with them and JSON
    cannot carry them. With the notebook's `defaults`, a value must have its
    default's kind: a number for a number (``nan``, text, null and lists
    refused), true/false for a boolean; a number given for a text default is
    taken as its text (``-p run=2026`` names a folder ``2026``). Defaults of
    None accept anything.
    """
    checked = dict(parameters)
    for key, value in parameters.items():
        todo = [value]
        while todo:
            item = todo.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise InputError(f"parameter {key}: {item!r} is not a finite number; expected a "
                                 "finite number (or null for none)")  # fmt: skip
            if isinstance(item, dict):
                todo.extend(item.values())
            elif isinstance(item, list | tuple):
                todo.extend(item)
        if defaults is None or key not in defaults:
            continue
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise InputError(f"parameter {key}: expected true or false, got {value!r}")
        elif isinstance(default, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"parameter {key}: expected a number, got {value!r}")
        elif isinstance(default, str) and isinstance(value, int | float) and not isinstance(
            value, bool
        ):
            checked[key] = json.dumps(value)
    return checked


def check_outputs(
    outputs: Mapping[str, str | os.PathLike | None],
    inputs: Iterable[object] = (),
    append: bool = False,
) -> None:
    """Refuse, before any work, outputs that would destroy something or fail late.

    `outputs` maps a label (``-o``, ``--json``) to a path. Refused with an
    `InputError` naming the label and path: a path that is an existing folder,
    one equal to any of `inputs` (paths or path-like strings; symlinks and
    relative paths resolved), an existing file other than a report (.html)
    inside an input folder, one equal to another output, one whose folder
    cannot be created or written (read-only, permissions). Missing parent folders are
    created. `append` outputs are opened for appending (no temporary file).
    """
    seen: dict[str, str] = {}
    sources = [_identity(Path(p)) for p in inputs if isinstance(p, str | os.PathLike) and p]
    folders = [s for s in sources if Path(s).is_dir()]
    for label, raw in outputs.items():
        if raw is None:
            continue
        path = Path(raw)
        key = _identity(path)
        if key in sources:
            raise InputError(f"{label} {path}: is an input of this run; refusing to write over it")
        inside = [s for s in folders if key.startswith(s.rstrip(os.sep) + os.sep)]
        if inside and path.is_file() and path.suffix.lower() != ".html":  # a run's memory.csv
            raise InputError(f"{label} {path}: is a file of the input folder {inside[0]}; "
                             "refusing to write over it")  # fmt: skip
        if key in seen:
            raise InputError(f"{label} {path}: is also the {seen[key]} output; give each output "
                             "its own file")  # fmt: skip
        seen[key] = label
        if path.is_dir():
            raise InputError(f"{label} {path}: is a folder; expected a file path")
        if path.exists() and not path.resolve().is_file():
            continue  # a device or pipe (/dev/stdout): written in place
        writable_folder(path.resolve().parent, f"{label} {path}")
        if append and path.exists():
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise InputError(f"{label} {path}: cannot write it "
                                 f"({exc.strerror or exc})") from None  # fmt: skip


def writable_folder(folder: str | os.PathLike, label: str) -> None:
    """Create `folder` (and its parents) when missing and check a file can be created in it;
    an `InputError` starting with `label` says why not (read-only, permissions, a file on
    the way)."""
    folder = make_folder(folder, label, "outputs")
    try:
        handle, probe = tempfile.mkstemp(prefix=".perfkit-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{label}: cannot write in {folder} ({exc.strerror or exc})") from None


def _identity(path: Path) -> str:
    """A path as the file it names: absolute, symlinks resolved."""
    return str(path.expanduser().resolve())


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` to `path` whole or not at all: a temporary file in the same folder, flushed
    to disk, then renamed over `path` with the old file's permissions (an old file stays
    intact if anything fails). A path that exists and is not a regular file (``/dev/stdout``,
    a pipe) is written in place. Any write failure (full disk, read-only, quota) is an
    `InputError` naming `path`."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            with open(path, "wb") as handle:
                handle.write(raw)
            return
        target = path.resolve()  # through a symlink to the file it names
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(temporary, flags, 0o666)
        try:
            with open(descriptor, "wb") as out:
                if target.exists():  # the old file's permissions, not the umask's
                    os.chmod(out.fileno(), stat.S_IMODE(target.stat().st_mode))
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc}); nothing was "
                         "changed there") from None  # fmt: skip


def _path_values(values: Iterable[Any]) -> list[str]:
    """The strings among parameter values (and in lists of them): the paths a run may read."""
    found: list[str] = []
    for value in values:
        items = value if isinstance(value, list | tuple) else [value]
        found += [v for v in items if isinstance(v, str) and v and "\n" not in v]
    return found


def run_report(
    name: str,
    parameters: dict[str, Any] | None = None,
    html: str | Path | None = None,
    json_path: str | Path | None = None,
    keep_notebook: bool = False,
    progress: bool = False,
    folder: Path | None = None,
    kernel: str | None = None,
) -> dict:
    """Execute report `name` with `parameters`, write `html`, return the notebook's summary.

    Every output is checked before the notebook runs (`check_outputs`); `html`
    must end in ``.html``. The executed notebook is kept (``keep_notebook``,
    or when the notebook fails) as ``<html stem>.ipynb`` beside the HTML, or
    ``<stem>.executed.ipynb`` when that name is the source notebook. `kernel` names an
    installed Jupyter kernel (as papermill's ``-k``); by default the notebook runs in this
    Python (its ipykernel), whatever the ``python3`` kernel of the Jupyter paths points to.
    A report `name` is looked up in `folder` (default `NOTEBOOKS`: the clone's or the
    installed wheel's notebooks).
    """
    require_reports()
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = notebook_path(name, folder)
    kernel_name = _kernel_name(kernel)
    known = parameters_of(notebook)
    given = dict(parameters or {})
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InputError(
            f"unknown parameter(s) {', '.join(unknown)} for report {notebook.stem}; "
            f"valid: {', '.join(sorted(known))}"
        )
    defaults = {k: _unquote(v.get("default")) for k, v in known.items()}
    given = check_parameters(given, defaults)
    html = Path(html or f"reports/{notebook.stem}.html")
    if html.suffix.lower() != ".html":
        raise InputError(f"-o {html}: expected an .html file name (the report is HTML; "
                         "--keep-notebook keeps the executed notebook beside it)")  # fmt: skip
    shown = {**defaults, **given}
    inputs: list[str | Path] = [notebook, *_path_values(shown.values())]
    kept = html.with_suffix(".ipynb")
    if _identity(kept) in {_identity(Path(p)) for p in inputs} or (
        json_path is not None and _identity(kept) == _identity(Path(json_path))
    ):
        kept = html.with_name(f"{html.stem}.executed.ipynb")
    outputs = {"-o": html, "--json": json_path, "--keep-notebook": kept if keep_notebook else None}
    check_outputs(outputs, inputs)
    with tempfile.TemporaryDirectory(prefix="perfkit-report-") as scratch:
        executed = Path(scratch) / f"{notebook.stem}.ipynb"
        try:
            with open(Path(scratch) / "kernel.log", "wb") as kernel_log:
                papermill.execute_notebook(
                    str(notebook), str(executed), parameters=given, kernel_name=kernel_name,
                    language="python", cwd=os.getcwd(), progress_bar=progress,
                    kernel_manager_class=_quiet_kernel_manager(kernel_log, kernel is None),
                )  # fmt: skip
        except PapermillExecutionError as exc:
            if executed.exists():
                write_atomic(kept, executed.read_bytes())
            raise ReportFailed(
                f"report {notebook.stem} failed in cell {exc.exec_count}: {exc.ename}: "
                f"{exc.evalue} (partly executed notebook kept: {kept})",
                kept, exc.ename,
            ) from exc
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
                raise
            raise InputError(f"{scratch}: cannot write the executed notebook ({exc.strerror}); "
                             "free space there or set TMPDIR") from None  # fmt: skip
        node = nbformat.read(executed, as_version=4)
        summary = finite(extract_summary(node))
        write_atomic(html, export_html(node, shown))
        if json_path is not None:
            record = {"report": notebook.stem, "html": str(html), "parameters": shown,
                      "generated": _now(), **summary}  # fmt: skip
            write_atomic(json_path, summary_json(record))
        if keep_notebook:
            write_atomic(kept, executed.read_bytes())
    return summary


def _kernel_name(kernel: str | None) -> str:
    """The Jupyter kernel to ask papermill for: `kernel`, checked to be installed, or
    ``python3`` (which `_quiet_kernel_manager` runs in this interpreter)."""
    if kernel is None:
        return "python3"
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs()
    if kernel not in found:
        listed = ", ".join(sorted(found)) or "none"
        raise InputError(f"--kernel {kernel}: no such Jupyter kernel; installed: {listed} "
                         "(jupyter kernelspec list)")  # fmt: skip
    return kernel


def _quiet_kernel_manager(log, this_python: bool = False) -> type:
    """A kernel manager whose kernel writes its own stdout and stderr to `log` (an open file),
    not to the terminal: the kernel's log lines (``KeyboardInterrupt caught in kernel`` when
    it is interrupted at shutdown, its TCP notice) and other libraries' warnings are noise
    to the person running ``perfkit report``; cell outputs travel over the kernel's sockets
    and are unaffected. With `this_python`, the kernel is this interpreter's ipykernel."""
    from jupyter_client import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["stdout"], kw["stderr"] = log, log
            if this_python:  # not the python3 spec's interpreter, nor its environment
                kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f",
                              self.connection_file]  # fmt: skip
                env = dict(kw.get("env") or os.environ)
                for key in (self.kernel_spec.env or {}) if self.kernel_spec else {}:
                    env.pop(key, None)
                    if key in os.environ:
                        env[key] = os.environ[key]
                kw["env"] = env
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def summary_json(record: Mapping[str, Any]) -> str:
    """`record` as standard JSON text (NaN and infinities as ``null``, other objects as text),
    which strict parsers (``parse_constant`` raising, JavaScript's ``JSON.parse``) accept."""
    return json.dumps(finite(dict(record)), indent=2, default=str, allow_nan=False) + "\n"


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


def page_title(parameters: Mapping[str, Any]) -> str:
    """The HTML page's title: the report's ``title`` parameter and the run(s) it read, as plain
    text (the template escapes it; no Markdown escaping reaches it)."""
    title = str(parameters.get("title") or "perfkit report")
    runs = [Path(str(parameters[k])).name for k in ("run", "baseline", "candidate")
            if isinstance(parameters.get(k), str) and parameters.get(k)]  # fmt: skip
    return f"{title}: {' vs '.join(runs)}" if runs else title


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

    require_reports("an HTML export")
    from nbconvert import HTMLExporter

    import perfkit

    node = copy.deepcopy(node)
    for cell in node.cells:  # the machine-readable summary is for --json, not for readers
        cell["outputs"] = [o for o in cell.get("outputs", [])
                           if SUMMARY_MIME not in o.get("data", {})]  # fmt: skip
    embed_plotlyjs(node)  # once, ahead of the first figure: the page draws offline
    exporter = HTMLExporter(
        template_name="perfkit", extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )  # fmt: skip
    resources = {"perfkit": {"parameters": {k: json.dumps(v, default=str) if not isinstance(v, str)
                                            else v for k, v in parameters.items()},
                             "version": perfkit.__version__, "generated": _now()}}  # fmt: skip
    resources["metadata"] = {"name": page_title(parameters)}
    body, _ = exporter.from_notebook_node(node, resources=resources)
    return body
