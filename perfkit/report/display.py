"""What notebooks show: figures that render offline, escaped text, and the machine-readable summary.

`setup()` (called by every perfkit notebook) registers the ``perfkit``
plotly renderer: each figure is shown as plotly's own mimetype (JupyterLab
renders it natively) *and* as an HTML div for an HTML export, with no CDN
and no MathJax. The notebook stays light: plotly.js (about 4.6 MB) is not
in it; `embed_plotlyjs` puts it once into the copy `perfkit report` exports,
so the HTML renders offline. ``setup(standalone=True)`` embeds it in the
notebook instead (the first figure's output), for JupyterLab's own "Save and
Export Notebook As > HTML". Strings from logs and SQL are data:
`md` escapes them before they reach Markdown, and tables go out through
pandas' escaping HTML writer, inside a wrapper that scrolls sideways when a
table is wider than the page.

Warnings: after `setup()`, perfkit's own warnings (`PerfkitWarning`) are kept,
without filesystem paths, and shown as styled notes in the data-trust section
(`notes()`; `Run.trust()` lists those not shown yet); other libraries' warnings
never print into the page (they go to the kernel's own stderr, which `perfkit
report` keeps out of the terminal).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_MIME = "application/vnd.perfkit.summary+json"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
# what a terminal acts on: C0 controls, DEL, C1 controls (CSI, OSC ... as single bytes), the bidi
# embeddings, overrides, isolates and marks that reorder text, and the Unicode line separators
_BIDI_AND_SEPARATORS = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(rf"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_CONTROL_BUT_LAYOUT = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")


def safe_text(text: object, newlines: bool = True) -> str:
    """`text` safe to print on a terminal: every control character shown as an escape
    (``\\x1b``, ``\\r``, ``\\u202e``) so that input can never move the cursor, recolour, retitle
    or reorder what is shown. Newlines and tabs stay layout unless `newlines` is False."""
    pattern = _CONTROL_BUT_LAYOUT if newlines else _CONTROL
    return pattern.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}.get(
        code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    )


def shorten(text: str, width: int = 61) -> str:
    """`text` at most `width` characters: its start and end kept around one ellipsis
    (``/reports/quarterly-…-review/{id}``: two thirds start, one third end)."""
    if width < 5 or len(text) <= width:
        return text if len(text) <= max(width, 1) else text[: max(width, 1)]
    head = round((width - 1) * 2 / 3)
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


_NOTES: dict[str, bool] = {}  # perfkit warning (paths scrubbed) -> already shown by notes()
_PATHLIKE = re.compile(r"(?<![\w/.~-])(?:~|\.{1,2})?/?(?:[^\s/:'\"()<>]+/)+[^\s/:'\"()<>]*")


def scrub_paths(text: str) -> str:
    """`text` with every filesystem path that exists here cut to its last folder and name
    (``/srv/runs/flaskr_base/access.log`` -> ``flaskr_base/access.log``); routes and URLs,
    which name no file here, stay as they are."""

    def cut(match: re.Match) -> str:
        token = match.group()
        path = os.path.expanduser(token.rstrip("/"))
        if not path or not (os.path.exists(path) or os.path.isdir(os.path.dirname(path) or "-")):
            return token
        if not os.path.exists(path) and token.count("/") < 2:  # "/health": a route, not a file
            return token
        parts = [p for p in path.split("/") if p]
        return "/".join(parts[-2:])

    return _PATHLIKE.sub(cut, text)


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:  # fmt: skip
    """`warnings.showwarning` in a report's kernel: perfkit's warnings kept as notes for the
    data-trust section; anything else to the process's own stderr, never into the page."""
    from perfkit.errors import PerfkitWarning

    if issubclass(category, PerfkitWarning):
        _NOTES.setdefault(scrub_paths(str(message)), False)
        return
    stream = sys.__stderr__
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):
            stream.write(warnings.formatwarning(message, category, filename, lineno, line))


def pending_notes(mark_shown: bool = False) -> list[str]:
    """perfkit's warnings kept since `setup()` and not yet shown by `notes()`."""
    pending = [text for text, shown in _NOTES.items() if not shown]
    if mark_shown:
        for text in pending:
            _NOTES[text] = True
    return pending


def notes() -> Any:
    """perfkit's warnings of this run as styled notes (HTML, escaped), or None when none."""
    from IPython.display import HTML

    pending = pending_notes(mark_shown=True)
    if not pending:
        return None
    items = "".join(f"<li>{html.escape(text)}</li>" for text in pending)
    return HTML(f'<div class="perfkit-notes" role="note"><strong>Warnings while reading and '
                f"analysing this run</strong><ul>{items}</ul></div>")  # fmt: skip


def setup(standalone: bool = False) -> None:
    """Register and select the offline plotly renderer; escape every table's text; keep
    perfkit's warnings for the data-trust section and other warnings out of the page.

    The notebook stays light by default (JupyterLab draws plotly's own mimetype, and
    `perfkit report` embeds plotly.js in the HTML it writes); `standalone` embeds plotly.js
    (about 4.6 MB) once in the notebook, so that JupyterLab's own HTML export draws the
    figures offline too."""
    import pandas as pd
    import plotly.io as pio
    from plotly.io._base_renderers import NotebookRenderer

    from perfkit._display import display_float

    class OfflineRenderer(NotebookRenderer):
        """Figures as mimetype + div, no MathJax, no CDN; plotly.js inline once per notebook
        only when `standalone` (plotly's global initialisation on first use)."""

        def __init__(self, standalone: bool) -> None:
            super().__init__(connected=False, config={"displaylogo": False, "responsive": True})
            self.global_init = standalone

        def to_mimebundle(self, fig_dict: dict) -> dict:
            div = pio.to_html(
                fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
                full_html=False, default_width="100%", default_height=460, validate=False,
            )  # fmt: skip
            # through plotly's JSON encoder: NaN/inf (a gap in a line) become null; raw floats
            # would make jupyter_client warn "Out of range float values are not JSON compliant"
            plain = json.loads(pio.to_json(fig_dict, validate=False, remove_uids=False))
            return {"application/vnd.plotly.v1+json": {**plain, "config": self.config},
                    "text/html": div}  # fmt: skip

    pio.renderers["perfkit"] = OfflineRenderer(standalone)  # anew: `standalone` may change
    pio.renderers.default = "perfkit"
    pd.set_option("display.max_colwidth", 80)
    pd.set_option("display.float_format", display_float)  # 1,720 and 0.0000387, not 1.72e+03
    pd.set_option("display.max_rows", 30)  # longer frames: the first and last 5 rows
    pd.set_option("display.min_rows", 10)
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:  # frames shown in a notebook: by unit, as the reports' tables
        from perfkit._display import frame_html

        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
    pd.set_option("display.html.use_mathjax", False)  # "$" in a query is not maths
    warnings.showwarning = _show_warning
    _NOTES.clear()


PLOTLY_MIME = "application/vnd.plotly.v1+json"
_PLOTLYJS_MARK = "plotly.js v"  # the bundle's banner comment, once per copy of plotly.js


def _is_plotlyjs(output: dict) -> bool:
    """Whether a notebook output is a copy of plotly.js (plotly's global initialisation)."""
    page = output.get("data", {}).get("text/html", "")
    page = "".join(page) if isinstance(page, list) else str(page)
    return len(page) > 500_000 and _PLOTLYJS_MARK in page


def _is_figure(output: dict) -> bool:
    data = output.get("data", {})
    page = data.get("text/html", "")
    return PLOTLY_MIME in data or "plotly-graph-div" in ("".join(page) if isinstance(page, list)
                                                         else str(page))  # fmt: skip


def embed_plotlyjs(node: Any) -> bool:
    """Put plotly.js once into executed notebook `node` (nbformat, changed in place) for an
    HTML export that draws offline: as the first output of the first cell that shows a
    figure, every other copy removed (a notebook run with ``setup(standalone=True)``).
    Returns whether there was a figure to draw."""
    import nbformat
    from plotly.offline import get_plotlyjs

    first = None
    for cell in node.cells:
        if "outputs" not in cell:
            continue
        cell["outputs"] = [o for o in cell["outputs"] if not _is_plotlyjs(o)]
        if first is None and any(_is_figure(o) for o in cell["outputs"]):
            first = cell
    if first is None:
        return False
    script = ('<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};'
              f'</script>\n<script type="text/javascript">{get_plotlyjs()}</script>')
    first["outputs"].insert(0, nbformat.v4.new_output("display_data", data={"text/html": script}))
    return True


def esc(text: object) -> str:
    """`text` safe inside Markdown: HTML escaped, Markdown punctuation backslashed."""
    # quote=False: text, not an attribute; the Markdown converter would escape "&#x27;" again
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def code(text: object) -> str:
    """`text` as inline code inside Markdown (a route, a query, a file name): an HTML ``<code>``
    element, whose content Markdown still parses, so escaped as `esc` does (HTML and Markdown
    punctuation): ``[x](javascript:…)`` stays text, ``flaskr_base`` shows no backslash."""
    return f"<code>{esc(text)}</code>"


_CODE_FIELD = re.compile(r"`\{(\w+)\}`")


def md(template: str, **values: object) -> Any:
    """Markdown from a trusted `template` with untrusted `values` escaped into it. A field in
    backticks (`` `{run}` ``) becomes HTML ``<code>``: Markdown backslash escapes are literal
    inside a code span, so ``runs/flaskr_base`` would show as ``runs/flaskr\\_base``."""
    from IPython.display import Markdown

    coded = set(_CODE_FIELD.findall(template))
    template = _CODE_FIELD.sub(r"{\1}", template)
    return Markdown(template.format(**{k: code(v) if k in coded else esc(v)
                                       for k, v in values.items()}))  # fmt: skip


def table(frame: pd.DataFrame, floats: str = "{:,.2f}", index: bool = True) -> Any:
    """An escaped HTML table (strings from logs and SQL stay text, with their line breaks),
    numbers formatted by the unit their column's name announces (`perfkit._display.unit_of`:
    counts as integers, ms and s in three significant digits); `floats` for other floats."""
    from IPython.display import HTML

    from perfkit._display import table_html

    return HTML(table_html(frame, floats=floats, index=index))


def emit_summary(summary: dict) -> Any:
    """Put the report's summary (verdicts, key figures) in the notebook for `perfkit report
    --json`, under its own mimetype, which JupyterLab does not render: a reader sees only its
    one-line text form (``perfkit summary: regression baseline vs candidate: 1 endpoint
    regressed, ...``), and the HTML export drops the output altogether."""
    from IPython.display import display

    from perfkit._display import one_line, verdict_line

    data = finite(json.loads(json.dumps(summary, default=_plain)))
    line = one_line(f"perfkit summary: {data.get('report', 'report')} - {verdict_line(data)}",
                    width=200)
    display({SUMMARY_MIME: data, "text/plain": line}, raw=True)
    return None


def finite(value: Any) -> Any:
    """`value` (JSON-shaped: dicts, lists, scalars) with every NaN and infinity as None, so that
    it serialises as standard JSON (``null``), which strict parsers accept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _plain(value: object) -> object:
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def show_all(figures: list) -> None:
    """Display several figures (or messages) in order."""
    from IPython.display import display

    for figure in figures:
        display(figure)
