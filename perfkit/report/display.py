"""What notebooks show: figures that render offline, escaped text, and the machine-readable summary.

`setup()` (called by every perfkit notebook) registers the ``perfkit``
plotly renderer: each figure is shown as plotly's own mimetype (JupyterLab
renders it natively) *and* as an HTML div whose script uses a plotly.js
embedded once, inline, on first use - so an nbconvert HTML export renders
offline, with no CDN and no MathJax. Strings from logs and SQL are data:
`md` escapes them before they reach Markdown, and tables go out through
pandas' escaping HTML writer.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import TYPE_CHECKING, Any

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


def setup() -> None:
    """Register and select the offline plotly renderer; escape every table's text."""
    import pandas as pd
    import plotly.io as pio
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineRenderer(NotebookRenderer):
        """plotly.js inline once per notebook; figures as mimetype + div, no MathJax, no CDN."""

        def __init__(self) -> None:
            super().__init__(connected=False, config={"displaylogo": False, "responsive": True})

        def to_mimebundle(self, fig_dict: dict) -> dict:
            div = pio.to_html(
                fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
                full_html=False, default_width="100%", default_height=460, validate=False,
            )  # fmt: skip
            return {"application/vnd.plotly.v1+json": {**fig_dict, "config": self.config},
                    "text/html": div}  # fmt: skip

    if "perfkit" not in pio.renderers:
        pio.renderers["perfkit"] = OfflineRenderer()
    pio.renderers.default = "perfkit"
    pd.set_option("display.max_colwidth", 80)
    pd.set_option("display.html.use_mathjax", False)  # "$" in a query is not maths


def esc(text: object) -> str:
    """`text` safe inside Markdown: HTML escaped, Markdown punctuation backslashed."""
    # quote=False: text, not an attribute; the Markdown converter would escape "&#x27;" again
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def code(text: object) -> str:
    """`text` as inline code inside Markdown, HTML-escaped (a route, a query, a file name)."""
    return f"<code>{html.escape(str(text), quote=True)}</code>"


def md(template: str, **values: object) -> Any:
    """Markdown from a trusted `template` with untrusted `values` escaped into it."""
    from IPython.display import Markdown

    return Markdown(template.format(**{k: esc(v) for k, v in values.items()}))


def table(frame: pd.DataFrame, floats: str = "{:,.2f}", index: bool = True) -> Any:
    """An escaped HTML table (strings from logs and SQL stay text)."""
    import pandas as pd
    from IPython.display import HTML

    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else floats.format(v))
    return HTML(
        shown.to_html(escape=True, border=0, classes="perfkit-table", na_rep="", index=index)
    )


def emit_summary(summary: dict) -> Any:
    """Show the report's summary (verdicts, key figures) so `perfkit report --json` can read it."""
    from IPython.display import display

    data = finite(json.loads(json.dumps(summary, default=_plain)))
    display({SUMMARY_MIME: data, "text/plain": json.dumps(data, indent=1)}, raw=True)
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
