"""nginx ``log_format`` strings, compiled to a `LogFormat`.

nginx escapes '"', '\\' and bytes outside printable ASCII as ``\\xHH`` in
variable values (``escape=default``), so a quoted value never holds a raw
quote. ``$upstream_response_time`` lists one time per upstream tried
("0.010, 0.020"; " : " across internal redirects) or '-'.
"""

from __future__ import annotations

import re

from perfkit.io.logformat.fields import Field, Literal
from perfkit.io.logformat.naming import column_name, merge_literals, unique_name
from perfkit.io.logformat.spec import Item, LogFormat

COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" '
    '$status $body_bytes_sent "$http_referer" "$http_user_agent"'
)
MAIN = COMBINED + ' "$http_x_forwarded_for"'  # the 'main' format of Debian's nginx.conf

VARIABLES: dict[str, str] = {
    "remote_addr": "client",
    "binary_remote_addr": "client",
    "remote_user": "user",
    "time_local": "time_clf",
    "time_iso8601": "time_iso",
    "msec": "time_epoch",
    "request": "request",
    "request_method": "method",
    "uri": "path",
    "document_uri": "path",
    "args": "query",
    "query_string": "query",
    "request_uri": "request_uri",
    "server_protocol": "protocol",
    "status": "status",
    "body_bytes_sent": "bytes",
    "bytes_sent": "bytes",
    "http_referer": "referrer",
    "http_user_agent": "user_agent",
    "request_time": "duration_s",
    "upstream_response_time": "upstream_s",
    "pid": "pid",
}
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<plain>[A-Za-z0-9_]+))")


def looks_like(text: str) -> bool:
    """Whether `text` is written with nginx's ``$variables``."""
    return bool(_VARIABLE.search(text))


def compile_format(text: str, name: str = "nginx") -> LogFormat:
    """Compile an nginx ``log_format`` string (the quoted part of the directive)."""
    items: list[Item] = []
    names: set[str] = set()
    pos = 0
    for match in _VARIABLE.finditer(text):
        items.append(Literal(text[pos : match.start()]))
        pos = match.end()
        variable = match["braced"] or match["plain"]
        kind = VARIABLES.get(variable, "extra_word")
        if kind == "time_clf":
            base = "time"
        elif kind == "extra_word":
            base = column_name(variable.removeprefix("http_"))
        else:
            base = kind
        items.append(Field(kind, unique_name(base, names)))
    items.append(Literal(text[pos:]))
    return LogFormat(name, "nginx", text, merge_literals(items))
