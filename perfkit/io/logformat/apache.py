"""Apache httpd ``LogFormat`` strings (mod_log_config, 2.4), compiled to a `LogFormat`.

A directive is ``%`` then, in any order, modifiers -- ``<`` (original
request) / ``>`` (final request), a status condition (``400,501``, negated
with ``!``: the value is written only for those statuses, '-' otherwise) and
``{argument}`` -- and finally a letter (or ``^ti``/``^to``/``^FB``), as
Apache's own parser reads it. A format Apache refuses (a lone ``%``, an
unclosed ``{``, a ``%`` followed by no letter) raises `InputError` naming the
position. Letters perfkit does not model (modules register their own, e.g.
mod_ssl's ``%{VAR}x``) are read as opaque string columns.

Apache writes '"' as '\\"' and '\\' as '\\\\' inside values; ``%t`` carries
its brackets; ``%q`` is the query string with its leading '?' (or nothing).
``%s`` is the original request's status and ``%>s`` the final one (they
differ after an internal redirect, e.g. an ErrorDocument).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from perfkit.errors import InputError
from perfkit.io.logformat import strftime
from perfkit.io.logformat.fields import KINDS, Field, Literal
from perfkit.io.logformat.naming import column_name, merge_literals, unique_name
from perfkit.io.logformat.spec import Item, LogFormat

COMMON = '%h %l %u %t "%r" %>s %b'
COMBINED = COMMON + ' "%{Referer}i" "%{User-agent}i"'

# letter -> (kind, column base name) for letters without an argument
DIRECTIVES: dict[str, tuple[str, str]] = {
    "h": ("client", "client"),
    "a": ("client", "client"),
    "A": ("extra_word", "local_addr"),
    "l": ("ident", "ident"),
    "u": ("user", "user"),
    "r": ("request", "request"),
    "m": ("method", "method"),
    "U": ("path", "path"),
    "q": ("query_apache", "query"),
    "H": ("protocol", "protocol"),
    "s": ("status", "status"),
    "b": ("bytes", "bytes"),
    "B": ("bytes", "bytes"),
    "O": ("bytes", "bytes_sent"),  # mod_logio: body and headers
    "I": ("extra_word", "bytes_received"),
    "S": ("extra_word", "bytes_transferred"),
    "D": ("duration_us", "duration_us"),
    "T": ("duration_s", "duration_s"),
    "P": ("pid", "pid"),
    "p": ("extra_word", "port"),
    "f": ("extra_word", "filename"),
    "k": ("extra_word", "keepalives"),
    "L": ("extra_word", "log_id"),
    "R": ("extra_word", "handler"),
    "v": ("extra_word", "server"),
    "V": ("extra_word", "server_name"),
    "X": ("extra_word", "connection_status"),
    "^FB": ("extra_opt", "ttfb_us"),  # mod_logio; empty when not measured
}
# letters whose {argument} names a header, variable, cookie...: (column prefix)
NAMED_ARGS = {
    "i": "",
    "o": "response_",
    "e": "env_",
    "n": "note_",
    "C": "cookie_",
    "^ti": "trailer_",
    "^to": "response_trailer_",
    "x": "ssl_",
}
T_UNITS = {"": "duration_s", "s": "duration_s", "ms": "duration_ms", "us": "duration_us"}
HEADER_KINDS = {"referer": "referrer", "user-agent": "user_agent"}
TIME_TOKENS = {"sec": "time_sec", "msec": "time_msec", "usec": "time_usec"}
FRACTIONS = {"msec_frac": ("ms", r"\d{3}"), "usec_frac": ("us", r"\d{6}")}
# letters whose value is the original request's by default (mod_log_config's registrations)
ORIGINAL_BY_DEFAULT = set("sUr")


@dataclass(frozen=True)
class Directive:
    """One parsed ``%...`` directive."""

    letter: str
    arg: str | None
    original: bool | None  # True '<', False '>', None: the letter's default
    conditions: tuple[int, ...]
    negated: bool
    position: int  # 1-based character position of its '%' in the format

    @property
    def wants_original(self) -> bool:
        if self.original is not None:
            return self.original
        return self.letter in ORIGINAL_BY_DEFAULT

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)


def looks_like(text: str) -> bool:
    """Whether `text` is written with Apache's ``%`` directives."""
    return (
        bool(re.search(r"%[<>!,0-9]*(?:\{[^}]*\})?[<>!,0-9]*[hatrsbDTUum]", text))
        and "%(" not in text
    )


def compile_format(text: str, name: str = "apache") -> LogFormat:
    """Compile an Apache ``LogFormat`` string; `InputError` where Apache would refuse it."""
    items: list[Item] = []
    directives: list[tuple[Directive, int]] = []  # (directive, index of its field in items)
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "%":
            literal.append(text[i])
            i += 1
            continue
        if text[i + 1 : i + 2] == "%":
            literal.append("%")
            i += 2
            continue
        directive, i = _parse(text, i)
        items.append(Literal("".join(literal)))
        literal = []
        items.append(Literal(""))  # placeholder, filled below
        directives.append((directive, len(items) - 1))
    items.append(Literal("".join(literal)))
    names: set[str] = set()
    fields = [(d, _field(d, names, text)) for d, _ in directives]
    fields = _prefer(fields, names)
    out: list[Item] = []
    slots = {index: k for k, (_, index) in enumerate(directives)}
    for index, item in enumerate(items):
        if index in slots:
            out.extend(fields[slots[index]][1])
        else:
            out.append(item)
    return LogFormat(name, "apache", text, merge_literals(out))


def _parse(text: str, start: int) -> tuple[Directive, int]:
    """The directive whose '%' is at `start`, and the index after it (Apache's parse_log_item)."""
    i = start + 1
    original: bool | None = None
    conditions: list[int] = []
    negated = False
    arg: str | None = None
    while i < len(text):
        c = text[i]
        if c == "!":
            negated = not negated
            i += 1
        elif c in "<>":
            original = c == "<"
            i += 1
        elif c == ",":
            i += 1
        elif c == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise _malformed(text, start, f"'{{' at column {i + 1} is never closed by '}}'")
            arg = text[i + 1 : end]
            i = end + 1
        elif c.isdigit():
            digits = re.match(r"\d+", text[i:])
            assert digits is not None
            conditions.append(int(digits[0]))
            i += len(digits[0])
        elif c == "^":
            three = text[i : i + 3]
            if three not in ("^ti", "^to", "^FB"):
                raise _malformed(text, start, f"'%{three}' is not a directive (^ti, ^to, ^FB are)")
            return Directive(three, arg, original, tuple(conditions), negated, start + 1), i + 3
        elif c.isascii() and c.isalpha():
            return Directive(c, arg, original, tuple(conditions), negated, start + 1), i + 1
        else:
            raise _malformed(text, start, f"{c!r} at column {i + 1} is not a directive letter")
    raise _malformed(text, start, "the format ends before the directive's letter")


def _malformed(text: str, start: int, why: str) -> InputError:
    return InputError(
        f"malformed Apache LogFormat {text!r}: the directive at column {start + 1} "
        f"({text[start : start + 12]!r}): {why} (Apache refuses this format too)"
    )


def _field(d: Directive, names: set[str], text: str) -> list[Item]:
    """The items one directive writes."""
    letter, arg = d.letter, d.arg
    if letter == "t":
        items = _time(d, names, text)
    elif letter in NAMED_ARGS and arg:
        key = arg.lower()
        kind = HEADER_KINDS.get(key, "extra") if letter == "i" else "extra"
        base = kind if kind != "extra" else NAMED_ARGS[letter] + column_name(key)
        items = [Field(kind, unique_name(base, names))]
    elif letter == "T":
        unit = T_UNITS.get((arg or "").lower())
        if unit is None:  # Apache writes the bogus unit itself: keep it as text
            items = [Field("extra_opt", unique_name(f"T_{column_name(arg or '')}", names))]
        else:
            items = [Field(unit, unique_name(unit, names))]
    elif letter in ("a", "h") and arg:  # %{c}a, %{c}h: the peer of the connection
        items = [Field("client", unique_name("peer", names))]
    elif letter == "p" and arg:
        base = {"canonical": "port", "local": "local_port", "remote": "remote_port"}.get(
            arg.lower(), f"port_{column_name(arg)}"
        )
        items = [Field("extra_word", unique_name(base, names))]
    elif letter == "P" and arg and arg.lower() != "pid":
        items = [Field("extra_word", unique_name(column_name(arg), names))]
    elif letter in DIRECTIVES:
        kind, base = DIRECTIVES[letter]
        if letter == "s" and d.wants_original:
            base = "status"
        items = [Field(kind, unique_name(base, names))]
    else:  # a letter perfkit does not model (a module's): an opaque column
        kind = "extra" if arg else "extra_opt"
        base = f"apache_{letter}" + (f"_{column_name(arg)}" if arg else "")
        items = [Field(kind, unique_name(base, names))]
    if d.conditional:
        items = [_conditional(item) if isinstance(item, Field) else item for item in items]
    return items


def _conditional(f: Field) -> Field:
    """A field under a status condition: '-' on lines whose status the condition excludes."""
    return replace(f, pattern=f"(?:{f.spec.pattern})|-", spaces=f.spec.spaces, optional=True)


def _time(d: Directive, names: set[str], text: str) -> list[Item]:
    """``%t`` and ``%{[begin:|end:]FORMAT}t``."""
    arg = d.arg or ""
    flavor = "begin"
    for prefix in ("begin", "end"):
        if arg == prefix or arg.startswith(prefix + ":"):
            flavor, arg = prefix, arg[len(prefix) + 1 :]
    if arg == "":
        name = unique_name("time", names)
        return [Literal("["), Field("time_clf", name, arg=flavor), Literal("]")]
    if arg in TIME_TOKENS:
        kind = TIME_TOKENS[arg]
        return [Field(kind, unique_name(kind, names), arg=flavor)]
    if arg in FRACTIONS:
        unit, pattern = FRACTIONS[arg]
        return [Field("time_frac", unique_name("time_frac", names), pattern=pattern,
                      arg=f"{flavor}|{unit}")]  # fmt: skip
    where = f" (directive at column {d.position} of {text!r})"
    pattern = strftime.regex(arg, where=where)
    return [Field("time_strf", unique_name("time_strf", names), pattern=pattern,
                  spaces=bool(re.search(r"[ \\]", pattern)) or "\\s" in pattern,
                  arg=f"{flavor}|{arg}")]  # fmt: skip


# each directive with the items it writes
_Fields = list[tuple[Directive, list[Item]]]

_FRAME_COLUMNS = {"time", "client", "method", "path", "query", "status", "bytes", "referrer",
                  "user_agent", "duration_ms", "protocol", "user", "pid"}  # fmt: skip
# which of several fields of one column the frame takes, by preference
_GROUPS = {
    "status": ("status",),
    "request": ("request",),
    "path": ("path",),
    "query": ("query_apache",),
    "method": ("method",),
    "bytes": ("bytes",),
    "client": ("client",),
    "duration": ("duration_us", "duration_ms", "duration_s"),
}


def _prefer(fields: _Fields, names: set[str]) -> _Fields:
    """Keep one field per frame column; the others become opaque string columns.

    Status: the final request's (``%>s``) before the original's; request line,
    path, query: the original request's (what the client asked for); bytes:
    ``%b``/``%B`` before ``%O``; client: ``%h``/``%a`` before the peer; always a
    field without a status condition before one with.
    """
    for group, kinds in _GROUPS.items():
        members = [
            (k, d, f)
            for k, (d, items) in enumerate(fields)
            for f in items
            if isinstance(f, Field) and f.kind in kinds
        ]
        if len(members) < 2:
            continue

        def rank(
            member: tuple[int, Directive, Field],
            group: str = group,
            kinds: tuple[str, ...] = kinds,
        ) -> tuple[bool, int, int]:
            k, d, f = member
            side = 0
            if group == "status":
                side = 0 if not d.wants_original else 1
            elif group in ("request", "path", "query"):
                side = 0 if d.wants_original else 1
            elif group == "bytes":
                side = 0 if d.letter in "bB" else 1
            elif group == "client":
                side = 0 if not d.arg else 1
            elif group == "duration":
                side = kinds.index(f.kind)
            return (d.conditional, side, k)

        best = min(members, key=rank)
        for k, d, f in members:
            if (k, f) == (best[0], best[2]):
                continue
            base = f.name if f.name not in _FRAME_COLUMNS else unique_name(f"also_{f.name}", names)
            if group == "status":
                base = unique_name("status_original" if d.wants_original else "status_other",
                                   names)  # fmt: skip
            opaque = replace(f, kind="extra" if f.spec.spaces else "extra_opt", name=base,
                             pattern=f.spec.pattern, spaces=f.spec.spaces)  # fmt: skip
            items = fields[k][1]
            fields[k] = (d, [opaque if x is f else x for x in items])
    return _complete_times(fields)


def _complete_times(fields: _Fields) -> _Fields:
    """Strftime parts and fractions that make no complete time (per begin/end) become opaque."""
    by_flavor: dict[str, set[str]] = {}
    clf: set[str] = set()
    for _, items in fields:
        for f in items:
            if isinstance(f, Field) and f.kind == "time_strf":
                flavor, fmt = f.arg.split("|", 1)
                by_flavor.setdefault(flavor, set()).update(strftime.groups(fmt))
            elif isinstance(f, Field) and f.kind in ("time_clf", "time_sec"):
                clf.add(f.arg)
    out: _Fields = []
    for d, items in fields:
        new: list[Item] = []
        for f in items:
            if isinstance(f, Field) and f.kind == "time_strf":
                flavor = f.arg.split("|", 1)[0]
                if not strftime.complete(by_flavor[flavor]):
                    f = replace(f, kind="extra", pattern=f.spec.pattern, spaces=f.spec.spaces)
            elif isinstance(f, Field) and f.kind == "time_frac":
                flavor = f.arg.split("|", 1)[0]
                if flavor not in clf and not strftime.complete(by_flavor.get(flavor, set())):
                    f = replace(f, kind="extra_opt")
            new.append(f)
        out.append((d, new))
    return out


assert all(kind in KINDS for kind, _ in DIRECTIVES.values())
