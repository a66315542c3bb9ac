"""Short, readable displays of perfkit's result objects: one verdict line, a few facts.

Every result object (a report, a profile, a comparison table) shows in a
terminal or a notebook as a handful of lines - what it is, its sizes, its
verdict - instead of a wall of text; the full figures stay on the object.
`text_repr` builds the plain ``__repr__``, `html_repr` the ``_repr_html_``
that leads with the verdict; every string in them comes from data and is
escaped (`html.escape`), and clipped to one line. `verdict_line` turns a
report's ``summary()`` dictionary into the one line a notebook shows in place
of the machine-readable summary.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# C0 and C1 controls, bidi marks, embeddings, overrides and isolates, Unicode line separators
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
WIDTH = 160  # characters of one fact or verdict line at most


def one_line(text: object, width: int = WIDTH) -> str:
    """`text` on one line of at most `width` characters: control characters (newlines,
    escapes, bidi overrides) as spaces, runs of blanks collapsed, the end cut with "…"."""
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def names(values: Iterable[object], most: int = 3) -> str:
    """Up to `most` names joined by commas, then "and N more" (``/a, /b, /c and 2 more``)."""
    items = [str(v) for v in values]
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"


def count(n: object, unit: str) -> str:
    """``1 endpoint``, ``1,518 rows``: `n` with thousands separators and `unit` pluralised."""
    n = int(n)  # type: ignore[call-overload]
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


def text_repr(kind: str, verdict: str, facts: Sequence[tuple[str, object]] = ()) -> str:
    """A plain repr: ``<kind: verdict>`` then one indented ``name: value`` line per fact."""
    lines = [f"<{kind}: {one_line(verdict)}>"]
    lines += [f"  {name}: {one_line(value)}" for name, value in facts]
    return "\n".join(lines)


def html_repr(kind: str, verdict: str, facts: Sequence[tuple[str, object]] = (),
              frame: Any = None, rows: int = 10, index: bool = True) -> str:
    """An HTML repr leading with the verdict in bold, the facts as a short list, then the first
    `rows` rows of `frame` (a DataFrame) when given; every string escaped."""
    parts = [f'<div class="perfkit-repr"><p><strong>{html.escape(kind)}: '
             f"{html.escape(one_line(verdict))}</strong></p>"]  # fmt: skip
    if facts:
        items = "".join(f"<li>{html.escape(name)}: {html.escape(one_line(value))}</li>"
                        for name, value in facts)  # fmt: skip
        parts.append(f"<ul>{items}</ul>")
    if frame is not None and len(frame):
        parts.append(table_html(frame.head(rows), floats="{:,.3g}", index=index))
        if len(frame) > rows:
            parts.append(f"<p>first {rows} of {len(frame):,} rows</p>")
    parts.append("</div>")
    return "".join(parts)


def _keys(value: object) -> list:
    return list(value) if isinstance(value, list | tuple | dict) else []


def verdict_line(summary: Mapping[str, Any]) -> str:
    """A report's verdict in one line, from its ``summary()`` (the same dictionary
    ``perfkit report --json`` prints): what was compared or read, then what was found."""
    kind = summary.get("report")
    unjudged = _keys(summary.get("cannot_judge"))
    tail = f"; {count(len(unjudged), 'thing')} could not be judged" if unjudged else ""
    if kind == "regression":
        subject = f"{summary.get('baseline')} vs {summary.get('candidate')}"
        changes = [f"{count(len(_keys(summary.get(key))), label)} {word}"
                 for key, label, word in (("regressed", "endpoint", "regressed"),
                                          ("improved", "endpoint", "improved"),
                                          ("errors_regressed", "error rate", "regressed"),
                                          ("queries_regressed", "statement", "regressed"),
                                          ("functions_regressed", "function", "regressed"))
                 if _keys(summary.get(key)) or key in ("regressed", "improved")]  # fmt: skip
        return f"{subject}: {', '.join(changes)}{tail}"
    if kind == "memory_leak":
        leak = summary.get("leak")
        leaks = _keys(summary.get("leaks"))
        found = ("not judged (no memory series)" if leak is None
                 else f"leak in {names(leaks)}" if leaks else "no leak")  # fmt: skip
        return f"{summary.get('run')}: {found}{tail}"
    if kind == "overview":
        failing = _keys(summary.get("failing"))
        found = (f"{names(failing)} miss{'es' if len(failing) == 1 else ''} the targets"
                 if failing else "no route class misses its target")  # fmt: skip
        return f"{summary.get('run')}: {found}{tail}"
    if kind == "capacity":
        gunicorn = summary.get("gunicorn") or {}
        meets = summary.get("meets_targets")
        found = ("no sizing (nothing to size from)" if meets is None else
                 f"{count(gunicorn.get('workers') or 0, 'worker')} x "
                 f"{count(gunicorn.get('threads') or 0, 'thread')} "
                 f"{'meet' if meets else 'do not meet'} the targets")  # fmt: skip
        return f"{summary.get('run')}: {found}{tail}"
    return f"{kind}{tail}"


# -- numbers by unit ---------------------------------------------------------------------------
# a column's unit from its name: ``p50_ms``, ``cum_s_base``, ``slope_mib_per_hour``, ``n_base``
_UNITS = (
    ("p", re.compile(r"(^|_)p_(value|adjusted)($|_)|^p$")),
    ("ms", re.compile(r"(^|_)ms($|_)")),
    ("s", re.compile(r"(^|_)s($|_)|(^|_)(tottime|cumtime|seconds)($|_)|_h($|_)")),
    ("mib", re.compile(r"(^|_)[mk]ib($|_)")),
    ("count", re.compile(r"^n($|_)|(^|_)(ncalls|primcalls|calls|count|requests|samples|runs|"
                         r"errors|workers|threads|users|rows|tuples)($|_)|_n$|(^|_)(blks|tup|scans?|seq_scan|idx_scan)"
                         r"($|_)")),
)
_IDENTIFIER = re.compile(r"(^|_)(pid|id|queryid|userid|dbid)$")
_PER = re.compile(r"_per_")  # "calls_per_request", "slope_mib_per_hour": a rate, not a count
_DECIMALS = {"ms": 3, "s": 6, "mib": 3, None: 6}  # finest shown: a microsecond, a KiB


def unit_of(column: object) -> str | None:
    """The unit a column's name announces: ``"p"``, ``"ms"``, ``"s"`` (also hours: ``_h``),
    ``"mib"``, ``"count"``, or None."""
    name = str(column).lower()
    if _PER.search(name):  # a rate ("slope_mib_per_hour", "calls_per_request"): no unit rule
        return None
    for unit, pattern in _UNITS:
        if pattern.search(name):
            return unit
    return None


def number(value: float, digits: int = 3, decimals: int = 6) -> str:
    """`value` with about `digits` significant digits, never in exponent form: ``1,720``,
    ``12.3``, ``0.0387``; at most `decimals` decimals (``<0.000001`` below that)."""
    if value != value:  # NaN
        return ""
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    places = min(decimals, max(0, digits - 1 - math.floor(math.log10(size))))
    text = f"{value:,.{places}f}"
    if float(text.replace(",", "")) == 0:
        return f"{'-' if value < 0 else ''}<{10.0**-decimals:.{decimals}f}"
    return text


def format_column(values: Any, column: object = "", floats: str | None = None) -> Any:
    """A numeric column's values as text by the unit its name announces (`unit_of`): counts
    as integers with thousands separators, ms and s with three significant digits (to the
    microsecond), p-values in three digits; `floats` (a format string) for other floats."""
    import pandas as pd

    unit = unit_of(column)
    if _IDENTIFIER.search(str(column).lower()):  # a process or query id, not a quantity
        return values.map(lambda v: "" if pd.isna(v) else str(v))
    data = pd.to_numeric(values, errors="coerce").astype(float)
    integral = bool(((data.dropna() % 1) == 0).all())
    if pd.api.types.is_integer_dtype(values) or (unit == "count" and integral):
        return data.map(lambda v: "" if v != v else f"{v:,.0f}")
    if unit == "p":  # below 1e-4 the exact value says nothing more: "<0.0001"
        return data.map(lambda v: "" if v != v else "<0.0001" if v < 1e-4 else number(v))
    general = re.fullmatch(r"\{:,?\.(\d+)g\}", floats or "")
    if unit is None and general:  # "{:,.3g}": significant digits, but never 1.72e+03
        digits = int(general.group(1))
        return data.map(lambda v: number(v, digits=digits))
    if unit is None and floats:
        def fallback(v: float) -> str:
            if v != v:
                return ""
            text = floats.format(v)
            return number(v) if "e" in text.lower() and "inf" not in text.lower() else text
        return data.map(fallback)
    return data.map(lambda v: number(v, decimals=_DECIMALS.get(unit, 6)))


_NEWLINE = "\ue000"  # a newline through pandas' HTML writer (which shows "\n" as text)


def _text_cell(value: object) -> object:
    """A text cell with its line breaks marked for `table_html`; a missing value blank."""
    import pandas as pd

    if isinstance(value, str):
        return value.replace(_NEWLINE, "").replace("\r\n", "\n").replace("\n", _NEWLINE)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return value


def table_html(frame: Any, floats: str | None = "{:,.2f}", index: bool = True) -> str:
    """`frame` as an escaped HTML table, numbers formatted by unit (`format_column`), text
    with its line breaks kept (SQL shows as written), inside a sideways-scrolling wrapper."""
    import pandas as pd

    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_bool_dtype(values):
            if values.hasnans:  # nullable booleans: a missing value blank, as elsewhere
                shown[column] = values.astype(object).map(lambda v: "" if v is pd.NA else v)
            continue
        if pd.api.types.is_numeric_dtype(values):
            shown[column] = format_column(values, column, floats)
        elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            shown[column] = values.astype(object).map(_text_cell)
    body = shown.to_html(escape=True, border=0, classes="perfkit-table", na_rep="", index=index)
    body = re.sub(r"<td>([^<]*\ue000[^<]*)</td>",
                  lambda m: f'<td style="white-space:pre-wrap">{m.group(1)}</td>',
                  body).replace(_NEWLINE, "\n")  # fmt: skip
    return f'<div class="perfkit-scroll" style="overflow-x:auto;max-width:100%">{body}</div>'


def display_float(value: float) -> str:
    """pandas' ``display.float_format`` after `perfkit.report.setup()`: whole numbers with
    thousands separators, others with four significant digits, never in exponent form."""
    if value == value and value not in (float("inf"), float("-inf")) and value % 1 == 0:
        return f"{value:,.0f}"
    return number(value, digits=4)


def safely(make: Any, default: Any = "(not available)") -> Any:
    """`make()`, or `default` when it raises: a repr must never fail."""
    try:
        return make()
    except Exception:  # a display falls back rather than raising
        return default


def sizes(frame: Any, unit: str) -> str:
    """``1,234 requests``, or ``none`` when `frame` is None."""
    return "none" if frame is None else count(len(frame), unit)


class ReportDisplay:
    """Mixin for the report objects: a short ``__repr__`` and an ``_repr_html_`` leading with
    the verdict (`verdict_line` of the report's ``summary()``), from `_display_facts` and
    `_display_frame`, which each report defines."""

    def _display_facts(self) -> list[tuple[str, object]]:
        return []

    def _display_frame(self) -> Any:
        return None

    def _display_parts(self) -> tuple[str, list[tuple[str, object]]]:
        headline = safely(lambda: verdict_line(self.summary()))  # type: ignore[attr-defined]
        facts = safely(self._display_facts, [])
        unjudged = safely(lambda: list(self.cannot_judge), [])  # type: ignore[attr-defined]
        if unjudged:
            facts.append(("could not judge", names(unjudged, most=2)))
        return headline, facts

    def __repr__(self) -> str:
        return text_repr(type(self).__name__, *self._display_parts())

    def _repr_html_(self) -> str:
        frame = safely(self._display_frame, None)
        return html_repr(type(self).__name__, *self._display_parts(), frame=frame)


def frame_html(frame: Any, max_rows: int = 30, min_rows: int = 10, max_columns: int = 20) -> str:
    """A DataFrame as a notebook shows it after `perfkit.report.setup()`: formatted by unit
    like the reports' tables (`table_html`), text escaped with its line breaks; longer than
    `max_rows`, its first and last `min_rows` / 2 rows; wider than `max_columns`, its first
    ones; a line says what was left out. pandas' own HTML when the frame has duplicate
    column names or cannot be formatted."""
    import pandas as pd

    try:
        if not frame.columns.is_unique:
            return frame._repr_html_()
        rows, columns = frame.shape
        shown, left_out = frame, []
        if rows > max_rows:
            half = max(min_rows // 2, 1)
            shown = pd.concat([frame.head(half), frame.tail(half)])
            left_out.append(f"the first and last {half} of {rows:,} rows")
        if columns > max_columns:
            shown = shown.iloc[:, :max_columns]
            left_out.append(f"the first {max_columns} of {columns:,} columns")
        page = table_html(shown, floats="{:,.4g}")
        if left_out:
            page += f"<p>{html.escape(' and '.join(left_out))} shown</p>"
        return page
    except Exception:  # never worse than pandas' own display
        return frame._repr_html_()
