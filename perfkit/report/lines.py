"""A line profile as annotated source: each recorded line with a heat column, as static HTML.

No JavaScript, no stylesheet or font from the network: the HTML works offline, in a notebook, a
saved report or a mail. Every string from the data (file names, function names, source text)
is HTML-escaped. The view reads no file: lines come with their text from
`perfkit.io.line_profile.read_line_profile` (lines without text show as such).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfkit._palette import FONT, REGRESSED
from perfkit.errors import InputError

_KEYS = ["file", "function", "first_line"]
_STYLE = (
    "<style>"
    f".pk-lines{{font-family:{FONT};font-size:13px;border-collapse:collapse;margin:0 0 1.2em}}"
    ".pk-lines caption{text-align:left;font-weight:600;padding:4px 0}"
    ".pk-lines th{text-align:right;padding:2px 8px;border-bottom:1px solid #ccc;font-weight:600}"
    ".pk-lines td{text-align:right;padding:1px 8px;white-space:nowrap}"
    ".pk-lines td.src{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;"
    "white-space:pre}"
    ".pk-lines td.heat{width:90px;padding:1px 4px}"
    f".pk-lines .bar{{height:11px;background:{REGRESSED}}}"
    ".pk-lines tr.gap td{color:#999;text-align:left}"
    "</style>"
)


@dataclass(frozen=True)
class LineHeat:
    """A line profile's functions as annotated source; shows itself in Jupyter
    (``_repr_html_``) and writes a self-contained page (`to_html`, `save`)."""

    body: str
    functions: int
    left_out: int

    def _repr_html_(self) -> str:
        return self.body

    def to_html(self, title: str = "Line profile") -> str:
        """A whole HTML page (no script, nothing fetched)."""
        return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
                f"{html.escape(title)}</title></head><body>{self.body}</body></html>")  # fmt: skip

    def save(self, path: str) -> None:
        """Write `to_html` to `path` (UTF-8)."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.to_html())


def line_heat(frame: pd.DataFrame, function: str | None = None, top: int = 5) -> LineHeat:
    """The `top` functions of a `read_line_profile` frame by recorded time (or those named
    `function`: a function name, or ``file:name``), each as its recorded lines with hits, time
    (ms), time per hit (µs), share of the function and a heat bar of that share. A
    ``by_file=True`` frame is summed over its dumps first."""
    needed = {"file", "function", "first_line", "line", "hits", "time_s"}
    if not needed <= set(frame.columns):
        raise InputError("line_heat: not a read_line_profile frame (missing "
                         f"{sorted(needed - set(frame.columns))})")  # fmt: skip
    rows = _merged(frame)
    totals = rows.groupby(_KEYS, sort=False)["time_s"].sum().sort_values(ascending=False,
                                                                         kind="stable")  # fmt: skip
    chosen = totals.index
    if function is not None:
        names = chosen.get_level_values("function").astype(str)
        files = chosen.get_level_values("file").astype(str)
        mask = (names == function) | ((files + ":" + names) == function)
        mask |= np.array([function == n.rsplit(".", 1)[-1] for n in names], dtype=bool)
        chosen = chosen[mask]
        if not len(chosen):
            raise InputError(f"line_heat: no function {function!r} in the profile (it holds "
                             f"{', '.join(sorted(set(names)))[:300]})")  # fmt: skip
    left_out = max(0, len(chosen) - top)
    chosen = chosen[:top]
    parts = [_STYLE]
    grouped = rows.groupby(_KEYS, sort=False)
    for key in chosen:
        parts.append(_table(grouped.get_group(key).sort_values("line"), key,
                            float(totals.loc[key])))  # fmt: skip
    if left_out:
        parts.append(f"<p>{left_out} more function(s) not shown (top={top}).</p>")
    return LineHeat("".join(parts), len(chosen), left_out)


def _merged(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [*_KEYS, "line"]
    data = pd.DataFrame({c: frame[c].to_numpy() for c in columns})
    data["hits"] = frame["hits"].to_numpy(dtype=np.int64)
    data["time_s"] = frame["time_s"].to_numpy(dtype=float)
    data["source"] = (frame["source"].astype(object).where(frame["source"].notna(), None)
                      .to_numpy() if "source" in frame else None)  # fmt: skip
    return data.groupby(columns, sort=False, as_index=False).agg(
        hits=("hits", "sum"), time_s=("time_s", "sum"), source=("source", "first")
    )


def _table(lines: pd.DataFrame, key: tuple[str, str, int], total: float) -> str:
    file, function, first = key
    caption = (f"{html.escape(str(function))} — {html.escape(str(file))}:{int(first)} "
               f"({total * 1e3:,.3f} ms recorded)")  # fmt: skip
    out = [f"<table class=\"pk-lines\"><caption>{caption}</caption><thead><tr><th>line</th>"
           "<th>hits</th><th>time ms</th><th>per hit µs</th><th>% of function</th>"
           "<th>heat</th><th style=\"text-align:left\">source</th></tr></thead>"
           "<tbody>"]  # fmt: skip
    previous = None
    for line, hits, time_s, source in zip(lines["line"], lines["hits"], lines["time_s"],
                                          lines["source"], strict=True):  # fmt: skip
        if previous is not None and line > previous + 1:
            out.append(f"<tr class=\"gap\"><td></td><td colspan=\"6\">… {line - previous - 1} "
                       "line(s) not recorded</td></tr>")  # fmt: skip
        previous = line
        share = time_s / total if total > 0 else 0.0
        per_hit = time_s / hits * 1e6 if hits else float("nan")
        text = html.escape(source) if isinstance(source, str) else "<i>(source not found)</i>"
        out.append(
            f"<tr><td>{int(line)}</td><td>{int(hits):,}</td><td>{time_s * 1e3:,.3f}</td>"
            f'<td>{per_hit:,.2f}</td><td>{share:.1%}</td><td class="heat"><div class="bar" '
            f'style="width:{max(0.0, min(share, 1.0)) * 100:.1f}%;opacity:'
            f'{0.25 + 0.75 * max(0.0, min(share, 1.0)):.2f}"></div></td>'
            f'<td class="src">{text}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)
