"""Keep secrets out of frames and reports: redact credential-like query values.

Access logs carry API tokens in query strings (``?api_key=...``) and in
referrer URLs, and DSNs carry passwords. Values of keys that look sensitive
are replaced by ``REDACTED`` on load, so nothing downstream can leak them.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

MASK = "REDACTED"
# A query key is sensitive when it contains one of these (case-insensitive).
SENSITIVE_PARTS = (
    "token",
    "key",
    "secret",
    "passw",
    "pwd",
    "signature",
    "auth",
    "credential",
    "session",
    "jwt",
    "bearer",
    "private",
    "otp",
)
SENSITIVE_KEYS = ("sig", "code", "pass", "pw")  # only as the whole key
SENSITIVE_HEADERS = ("authorization", "cookie", "set_cookie", "proxy_authorization", "x_api_key")

_KEY = rf"[^=&#\s\"]*(?:{'|'.join(SENSITIVE_PARTS)})[^=&#\s\"]*|(?:{'|'.join(SENSITIVE_KEYS)})"
_QUERY = rf"(?i)((?:^|&)(?:{_KEY})=)[^&#]+"  # an empty value reveals nothing: kept
_URL = rf"(?i)([?&;](?:{_KEY})=)[^&#\s\"]+"
_USERINFO = r"(//[^/:@\s\"]+:)[^/@\s\"]+@"
_PY_URL = re.compile(_URL.replace("(?i)", ""), re.IGNORECASE)
_PY_USERINFO = re.compile(_USERINFO)


def redact_query(values: pa.Array) -> pa.Array:
    """Query strings ('a=1&token=x') with sensitive values masked."""
    return _on_distinct(values, lambda v: pc.replace_substring_regex(v, _QUERY, rf"\1{MASK}"))


def redact_urls(values: pa.Array) -> pa.Array:
    """Free text holding URLs (referrers, request lines) with sensitive values masked."""

    def mask(v: pa.Array) -> pa.Array:
        v = pc.replace_substring_regex(v, _URL, rf"\1{MASK}")
        return pc.replace_substring_regex(v, _USERINFO, rf"\1{MASK}@")

    return _on_distinct(values, mask)


def redact_text(text: str) -> str:
    """One string (a rejected line, a DSN) with sensitive URL values masked."""
    text = _PY_URL.sub(lambda m: m.group(1) + MASK, text)
    return _PY_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


def is_sensitive_column(name: str) -> bool:
    """Whether a captured header/variable column holds credentials as a whole."""
    return name.removeprefix("response_") in SENSITIVE_HEADERS


def _on_distinct(values: pa.Array, fn) -> pa.Array:
    if len(values) == 0:
        return values
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return pc.take(fn(encoded.dictionary), encoded.indices)
