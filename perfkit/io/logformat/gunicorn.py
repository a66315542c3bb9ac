"""Gunicorn's ``access_log_format``: its atoms, compiled to a `LogFormat`.

Gunicorn renders the format with Python %-formatting over its atoms
(``%(h)s``); every string atom has '"' escaped as '\\"', a missing atom is
'-', and ``%(t)s`` carries its own brackets.
"""

from __future__ import annotations

import re

from perfkit.errors import InputError
from perfkit.io.logformat.fields import Field, Literal
from perfkit.io.logformat.naming import column_name, merge_literals, unique_name
from perfkit.io.logformat.spec import Item, LogFormat

DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

ATOMS: dict[str, str] = {
    "h": "client",
    "l": "ident",
    "u": "user",
    "r": "request",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "B": "bytes",
    "b": "bytes",
    "f": "referrer",
    "a": "user_agent",
    "T": "duration_s",
    "D": "duration_us",
    "L": "duration_s",
    "M": "duration_ms",
    "p": "pid",
}
HEADER_KINDS = {"referer": "referrer", "user-agent": "user_agent"}
_TOKEN = re.compile(r"%\((?P<atom>[^)]*)\)s|%%")


def looks_like(text: str) -> bool:
    """Whether `text` is written in Gunicorn's atom syntax."""
    return bool(re.search(r"%\([^)]+\)s", text))


def compile_format(text: str, name: str = "gunicorn") -> LogFormat:
    """Compile a Gunicorn ``access_log_format`` string."""
    items: list[Item] = []
    names: set[str] = set()
    pos = 0
    for match in _TOKEN.finditer(text):
        _check_plain(text[pos : match.start()], text)
        items.append(Literal(text[pos : match.start()]))
        pos = match.end()
        if match.group(0) == "%%":
            items.append(Literal("%"))
            continue
        items.extend(_atom(match["atom"], names, text))
    _check_plain(text[pos:], text)
    items.append(Literal(text[pos:]))
    return LogFormat(name, "gunicorn", text, merge_literals(items))


def _atom(atom: str, names: set[str], text: str) -> list[Item]:
    if atom == "t":
        return [Literal("["), Field("time_clf", unique_name("time", names)), Literal("]")]
    if atom in ATOMS:
        kind = ATOMS[atom]
        return [Field(kind, unique_name(kind, names))]
    header = re.fullmatch(r"\{(?P<key>[^}]+)\}(?P<where>[ioe])", atom)
    if header is None:
        raise InputError(
            f"unknown Gunicorn atom '%({atom})s' in access_log_format {text!r}; "
            f"known: {' '.join(ATOMS)} t, {{header}}i, {{header}}o, {{variable}}e"
        )
    key = header["key"].lower()  # Gunicorn lower-cases header and environ keys
    kind = HEADER_KINDS.get(key, "extra") if header["where"] == "i" else "extra"
    prefix = {"i": "", "o": "response_", "e": "env_"}[header["where"]]
    return [Field(kind, unique_name(kind if kind != "extra" else prefix + column_name(key), names))]


def _check_plain(literal: str, text: str) -> None:
    if "%(" in literal:
        raise InputError(f"unclosed Gunicorn atom in access_log_format {text!r}")
