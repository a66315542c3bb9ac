"""A compiled access-log format: literals and fields in order, and what follows from them.

From the item sequence a `LogFormat` derives the full-line RE2 pattern (the
general path) and, when every field is a space-separated token, the column
layout for Arrow's multi-threaded CSV tokenizer (the fast path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from perfkit.io.logformat.fields import QUOTED_BODY, Field, Literal

Item = Field | Literal


@dataclass(frozen=True)
class Column:
    """One column of the fast tokenizer: which raw field it holds and how it is wrapped."""

    name: str | None  # raw field name, or None for a literal word that is checked
    literal: str | None = None  # the word expected when `name` is None
    strip: str = ""  # characters wrapped around the value ('[', ']')
    quoted: bool = False  # the value is written between double quotes


@dataclass(frozen=True)
class LogFormat:
    """An access-log format of one server, compiled from its format string."""

    name: str
    server: str  # "gunicorn", "nginx", "apache" (decides quoting and escapes)
    source: str  # the format string as the server's configuration writes it
    items: tuple[Item, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def fields(self) -> list[Field]:
        return [item for item in self.items if isinstance(item, Field)]

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.fields}

    @cached_property
    def regex(self) -> str:
        """The full-line RE2 pattern with one named group per field."""
        return "^" + "".join(self._pieces(capture=True)) + r"\r?\n?$"

    def _pieces(self, capture: bool) -> list[str]:
        pieces: list[str] = []
        items = list(self.items)
        for i, item in enumerate(items):
            if isinstance(item, Literal):
                pieces.append(re.escape(item.text))
                continue
            pattern = item.spec.pattern
            if _quoted(items, i):
                pattern = QUOTED_BODY[self.server]
            elif pattern == r"\S+" and i + 1 < len(items) and isinstance(items[i + 1], Field):
                pattern = r"\S+?"  # let a field written right after it (%U%q) take its part
            elif pattern == ".*" and i + 1 < len(items):
                pattern = ".*?"
            pieces.append(f"(?P<{item.name}>{pattern})" if capture else f"(?:{pattern})")
        return pieces

    @cached_property
    def columns(self) -> tuple[Column, ...] | None:
        """The fast tokenizer's columns, or None when the format is not space-tokenizable."""
        text = _render(self.items)
        columns: list[Column] = []
        for word in text.split(" "):
            column = _word_columns(word, self.items)
            if column is None:
                return None
            columns.extend(column)
        return tuple(columns)

    @cached_property
    def quotes_per_line(self) -> int:
        """How many '"' a well-formed line holds (the fast path checks it)."""
        return "".join(i.text for i in self.items if isinstance(i, Literal)).count('"')


def _quoted(items: list[Item], i: int) -> bool:
    before = items[i - 1] if i > 0 else None
    after = items[i + 1] if i + 1 < len(items) else None
    return (
        isinstance(before, Literal)
        and before.text.endswith('"')
        and isinstance(after, Literal)
        and after.text.startswith('"')
    )


_SLOT = re.compile(r"\x00(\d+)\x00")
OFFSET_SUFFIX = "__offset"  # the tokenizer splits a CLF time at its space


def _render(items: tuple[Item, ...]) -> str:
    """The format with each field as a placeholder ``\\0N\\0`` (N its index in `items`)."""
    return "".join(
        item.text if isinstance(item, Literal) else f"\x00{n}\x00" for n, item in enumerate(items)
    )


def _word_columns(word: str, items: tuple[Item, ...]) -> list[Column] | None:
    slots = _SLOT.findall(word)
    if not slots:
        return [Column(None, literal=word)]
    if len(slots) != 1:
        return None
    item = items[int(slots[0])]
    assert isinstance(item, Field)
    wrapper = _SLOT.sub("", word)
    inner = _SLOT.sub("X", word)
    if wrapper == '""' and inner == '"X"':
        return [Column(item.name, quoted=True)]
    if item.spec.spaces and item.kind != "time_clf":
        return None  # an unquoted value with spaces cannot be tokenized
    if item.kind == "time_clf" and inner in ("X", "[X]"):
        return [
            Column(item.name, strip="[" if inner == "[X]" else ""),
            Column(item.name + OFFSET_SUFFIX, strip="]" if inner == "[X]" else ""),
        ]
    if inner in ("X", "[X]"):
        return [Column(item.name, strip="[]" if inner == "[X]" else "")]
    return None


def diagnose(fmt: LogFormat, line: str) -> str:
    """Say where `line` first departs from `fmt`: what was expected at which column."""
    return diagnose_many(fmt, [line])[0]


def diagnose_many(fmt: LogFormat, lines: list[str]) -> list[str]:
    """`diagnose` for many lines at once, in time linear in their length.

    Each prefix of the format (its first k items) is matched with RE2 over all
    the lines still undiagnosed; the first prefix a line fails names what was
    expected there. Python's backtracking `re` took minutes on formats of
    adjacent fields (``%(h)s%(l)s%(u)s``); RE2 never backtracks.
    """
    pieces = fmt._pieces(capture=False)
    said: list[str | None] = [None] * len(lines)
    ends = [0] * len(lines)
    pending = list(range(len(lines)))
    for k, item in enumerate(fmt.items):
        if not pending:
            break
        pattern = "^(?P<m>" + "".join(pieces[: k + 1]) + ")"
        found = pc.extract_regex(pa.array([lines[i] for i in pending], pa.string()), pattern)
        matched = pc.struct_field(found, "m").to_pylist()
        still = []
        for i, text in zip(pending, matched, strict=True):
            if text is None:
                pos = ends[i]
                what = f"{item.text!r}" if isinstance(item, Literal) else (
                    f"{item.spec.expected} ({item.name})")  # fmt: skip
                said[i] = f"expected {what} at column {pos + 1}, got {lines[i][pos : pos + 40]!r}"
            else:
                ends[i] = len(text)
                still.append(i)
        pending = still
    for i in pending:
        pos = ends[i]
        rest = lines[i][pos:].rstrip("\r\n")
        said[i] = f"unexpected text after the last field at column {pos + 1}: {rest[:40]!r}"
    return [s or "" for s in said]
