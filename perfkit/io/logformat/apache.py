"""Apache httpd ``LogFormat`` strings (mod_log_config), compiled to a `LogFormat`.

Apache writes '"' as '\\"' and '\\' as '\\\\' inside values; ``%t`` carries
its brackets; ``%q`` is the query string with its leading '?' (or nothing).
"""

from __future__ import annotations

import re

from perfkit.errors import InputError
from perfkit.io.logformat.fields import Field, Literal
from perfkit.io.logformat.naming import column_name, merge_literals, unique_name
from perfkit.io.logformat.spec import Item, LogFormat

COMMON = '%h %l %u %t "%r" %>s %b'
COMBINED = COMMON + ' "%{Referer}i" "%{User-agent}i"'

DIRECTIVES: dict[str, str] = {
    "h": "client",
    "a": "client",
    "l": "ident",
    "u": "user",
    "r": "request",
    "m": "method",
    "U": "path",
    "q": "query_apache",
    "H": "protocol",
    "s": "status",
    "b": "bytes",
    "B": "bytes",
    "O": "bytes",
    "D": "duration_us",
    "T": "duration_s",
    "P": "pid",
}
T_UNITS = {"us": "duration_us", "ms": "duration_ms", "s": "duration_s"}
HEADER_KINDS = {"referer": "referrer", "user-agent": "user_agent"}
_DIRECTIVE = re.compile(r"%(?P<mod>[<>]?)(?:\{(?P<arg>[^}]*)\})?(?P<letter>[A-Za-z%])")


def looks_like(text: str) -> bool:
    """Whether `text` is written with Apache's ``%`` directives."""
    return bool(re.search(r"%[<>]?(?:\{[^}]*\})?[hatrsbDTUu]", text)) and "%(" not in text


def compile_format(text: str, name: str = "apache") -> LogFormat:
    """Compile an Apache ``LogFormat`` string."""
    items: list[Item] = []
    names: set[str] = set()
    pos = 0
    for match in _DIRECTIVE.finditer(text):
        items.append(Literal(text[pos : match.start()]))
        pos = match.end()
        items.extend(_directive(match, names, text))
    items.append(Literal(text[pos:]))
    return LogFormat(name, "apache", text, merge_literals(items))


def _directive(match: re.Match[str], names: set[str], text: str) -> list[Item]:
    letter, arg = match["letter"], match["arg"]
    if letter == "%":
        return [Literal("%")]
    if letter == "t" and arg is None:
        return [Literal("["), Field("time_clf", unique_name("time", names)), Literal("]")]
    if letter == "T" and arg in T_UNITS:
        kind = T_UNITS[arg]
        return [Field(kind, unique_name(kind, names))]
    if letter in ("i", "o", "e", "n", "C") and arg:
        key = arg.lower()
        kind = HEADER_KINDS.get(key, "extra") if letter == "i" else "extra"
        prefix = {"i": "", "o": "response_", "e": "env_", "n": "note_", "C": "cookie_"}[letter]
        base = kind if kind != "extra" else prefix + column_name(key)
        return [Field(kind, unique_name(base, names))]
    if letter in DIRECTIVES and arg is None:
        kind = DIRECTIVES[letter]
        return [Field(kind, unique_name(kind.removesuffix("_apache"), names))]
    if letter in "vVpkLRXIS" and arg is None:
        return [Field("extra_word", unique_name(f"apache_{letter}", names))]
    raise InputError(
        f"unsupported Apache directive '{match.group(0)}' in LogFormat {text!r}; supported: "
        f"%{' %'.join(DIRECTIVES)} %t %{{Header}}i %{{ms|us|s}}T"
    )
