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
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# C0 and C1 controls, bidi marks, embeddings, overrides and isolates, Unicode line separators
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
WIDTH = 100  # characters of one fact or verdict line at most


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
              frame: Any = None, rows: int = 10) -> str:
    """An HTML repr leading with the verdict in bold, the facts as a short list, then the first
    `rows` rows of `frame` (a DataFrame) when given; every string escaped."""
    parts = [f'<div class="perfkit-repr"><p><strong>{html.escape(kind)}: '
             f"{html.escape(one_line(verdict))}</strong></p>"]  # fmt: skip
    if facts:
        items = "".join(f"<li>{html.escape(name)}: {html.escape(one_line(value))}</li>"
                        for name, value in facts)  # fmt: skip
        parts.append(f"<ul>{items}</ul>")
    if frame is not None and len(frame):
        from perfkit.report.display import table_html

        parts.append(table_html(frame.head(rows)))
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
        found = [f"{count(len(_keys(summary.get(key))), label)} {word}"
                 for key, label, word in (("regressed", "endpoint", "regressed"),
                                          ("improved", "endpoint", "improved"),
                                          ("errors_regressed", "error rate", "regressed"),
                                          ("queries_regressed", "statement", "regressed"),
                                          ("functions_regressed", "function", "regressed"))
                 if _keys(summary.get(key)) or key in ("regressed", "improved")]  # fmt: skip
        return f"{subject}: {', '.join(found)}{tail}"
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
                 f"{gunicorn.get('workers')} workers x {gunicorn.get('threads')} threads "
                 f"{'meet' if meets else 'do not meet'} the targets")  # fmt: skip
        return f"{summary.get('run')}: {found}{tail}"
    return f"{kind}{tail}"
