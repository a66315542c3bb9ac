"""The fields an access-log line can carry, declared as data.

Each server's format language (Gunicorn atoms, nginx variables, Apache
directives) compiles to a sequence of literals and `Field`s of the kinds
below. A kind says what the raw text looks like (an RE2 pattern without
capture groups, also used to validate), in words for error messages, and
whether its text may contain spaces (then the format must quote it for the
fast tokenizer to apply).
"""

from __future__ import annotations

from dataclasses import dataclass

# Quoted-value bodies: what may stand between the quotes, per server's escaping.
QUOTED_BODY = {
    # Gunicorn writes '"' as '\"' and leaves '\' alone; a value may end in '\'.
    "gunicorn": r'(?:[^"\\]|\\"|\\)*',
    # Apache writes '"' as '\"' and '\' as '\\'.
    "apache": r'(?:[^"\\]|\\.)*',
    # nginx writes '"' and '\' (and non-printables) as \xHH, never a raw quote.
    "nginx": r'[^"]*',
}

# Escape sequences each server writes, undone after extraction (bytes regex -> replacement).
# Gunicorn: only '"' as '\"'. nginx (escape=default): '"', '\\' and bytes outside
# printable ASCII as \xHH. Apache: '"' and '\\' with a backslash, whitespace in C
# notation (\n, \t), other non-printable bytes as \xhh.
UNESCAPE = {
    "gunicorn": rb'\\(")',
    "nginx": rb"\\x([0-9A-Fa-f]{2})",
    "apache": rb'\\(?:x([0-9A-Fa-f]{2})|(["\\\\])|([ntrvfb]))',
}

_ANY = r"\S+"


@dataclass(frozen=True)
class Kind:
    """What one kind of field looks like: `pattern` (RE2) and `expected` in words."""

    pattern: str
    expected: str
    spaces: bool = False  # may the value contain spaces?
    strict: bool = False  # must the fast path validate it against `pattern`?


KINDS: dict[str, Kind] = {
    "client": Kind(_ANY, "a client address"),
    "ident": Kind(_ANY, "an identity or '-'"),
    "user": Kind(_ANY, "a user name or '-'"),
    "time_clf": Kind(
        r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}",
        "a time like 10/Oct/2024:13:55:36 +0000",
        spaces=True,
        strict=True,
    ),
    "time_iso": Kind(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?",
        "an ISO 8601 time like 2024-10-10T13:55:36+00:00",
        strict=True,
    ),
    "time_epoch": Kind(
        r"\d{9,13}(?:\.\d{1,9})?", "seconds (or ms) since 1970 like 1728568536.123", strict=True
    ),
    "request": Kind(r".*", "a request line like 'GET /path HTTP/1.1'", spaces=True),
    "method": Kind(r"[A-Za-z_-]{1,20}|-", "an HTTP method", strict=True),
    "path": Kind(_ANY, "a URL path"),
    "query": Kind(r"\S*", "a query string"),
    "query_apache": Kind(r"(?:\?\S*)?", "a query string with its '?', or nothing"),
    "request_uri": Kind(_ANY, "a URL path with its query string"),
    "protocol": Kind(r"\S+", "a protocol like HTTP/1.1"),
    "status": Kind(r"[1-5]\d{2}", "an HTTP status (100-599)", strict=True),
    "bytes": Kind(r"\d{1,18}|-", "a byte count or '-'", strict=True),
    "referrer": Kind(r".*", "a referrer", spaces=True),
    "user_agent": Kind(r".*", "a user agent", spaces=True),
    "duration_us": Kind(r"\d{1,15}", "a duration in microseconds", strict=True),
    "duration_ms": Kind(r"\d{1,15}(?:\.\d{1,9})?", "a duration in milliseconds", strict=True),
    "duration_s": Kind(r"\d{1,12}(?:\.\d{1,9})?", "a duration in seconds", strict=True),
    "upstream_s": Kind(
        r"-|\d{1,12}(?:\.\d{1,9})?(?:(?:, | : )(?:\d{1,12}(?:\.\d{1,9})?|-))*",
        "upstream seconds like 0.010 or '0.010, 0.020' or '-'",
        spaces=True,
        strict=True,
    ),
    "pid": Kind(r"<?\d{1,10}>?", "a process id", strict=True),
    "extra": Kind(r".*", "a value", spaces=True),
    "extra_word": Kind(_ANY, "a value"),
    "extra_opt": Kind(r"\S*", "a value or nothing"),
    # Apache %{FORMAT}t: the time in parts (the field's `arg` says which, see apache.py)
    "time_strf": Kind(r".+?", "a time as the format's strftime pattern writes it", spaces=True),
    "time_sec": Kind(r"\d{1,12}", "seconds since 1970", strict=True),
    "time_msec": Kind(r"\d{1,15}", "milliseconds since 1970", strict=True),
    "time_usec": Kind(r"\d{1,18}", "microseconds since 1970", strict=True),
    "time_frac": Kind(r"\d{3}|\d{6}", "a fraction of a second (3 or 6 digits)", strict=True),
}
# kinds that carry (part of) a request's time
TIME_KINDS = {"time_clf", "time_iso", "time_epoch", "time_strf", "time_sec", "time_msec",
              "time_usec"}  # fmt: skip

DURATION_KINDS = ("duration_us", "duration_ms", "duration_s")  # most precise first
# milliseconds = value * MS_PER_UNIT; microseconds divide by 1000 instead (exactly rounded)
MS_PER_UNIT = {"duration_us": 1e-3, "duration_ms": 1.0, "duration_s": 1e3}


@dataclass(frozen=True)
class Field:
    """One field of a format: its `kind` and the raw column `name` it fills.

    `pattern`/`spaces` override the kind's (an Apache strftime time, a field
    under a status condition that may hold '-'); `arg` carries what the kind
    needs to convert (an Apache time's ``begin|%Y-%m-%d`` or fraction unit);
    an `optional` field may be '-' on a good line.
    """

    kind: str
    name: str
    pattern: str | None = None
    spaces: bool | None = None
    arg: str = ""
    optional: bool = False

    @property
    def spec(self) -> Kind:
        base = KINDS[self.kind]
        if self.pattern is None and self.spaces is None:
            return base
        return Kind(
            self.pattern if self.pattern is not None else base.pattern,
            base.expected + (" or '-'" if self.optional else ""),
            base.spaces if self.spaces is None else self.spaces,
            base.strict,
        )


@dataclass(frozen=True)
class Literal:
    """Text a format writes as is."""

    text: str
