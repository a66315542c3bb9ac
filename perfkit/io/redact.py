"""Keep secrets out of frames and reports: redact credential-like query values.

Access logs carry API tokens in query strings (``?api_key=...``) and in
referrer URLs, and DSNs carry passwords. Values of keys that look sensitive
are replaced by ``REDACTED`` on load, so nothing downstream can leak them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

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

_KEY = rf"[^=&#;\s\"]*(?:{'|'.join(SENSITIVE_PARTS)})[^=&#;\s\"]*|(?:{'|'.join(SENSITIVE_KEYS)})"
# '&' and ';' both separate parameters (`?a=1;token=x`); an empty value reveals nothing: kept
_QUERY = rf"(?i)((?:^|[&;])(?:{_KEY})=)[^&#;]+"
_URL = rf"(?i)([?&;#](?:{_KEY})=)[^&#;\s\"]+"  # '#': OAuth's #access_token=
# //user:password@host, the password running to the last '@' before the path; empty user too
_USERINFO = r"(//[^/:@\s\"]*:)[^/\s\"]*@"
# Python's re backtracks: keys are bounded and judged by a function (no nested stars: no ReDoS)
_PY_URL = re.compile(r"""([?&;#])([^=&#;\s"]{1,200})=([^&#;\s"]+)""")
_PY_USERINFO = re.compile(_USERINFO)
_SENSITIVE_NAME = re.compile(rf"(?i){'|'.join(SENSITIVE_PARTS)}")
# JSON members ("token": "x", "password": 123) and key: value / key=value pairs, keys bounded
# a bare value never starts an object or array: `"headers":{"x-api-key":"x"}` is two members
_PY_JSON_MEMBER = re.compile(
    r"""("([^"\\]{1,100})"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^\s,{}\[\]"][^\s,}\]]*)"""
)
# the same in a Python repr (a traceback's `{'password': 'x'}`, SQLAlchemy's [parameters: ...])
_PY_REPR_MEMBER = re.compile(
    r"""('([^'\\]{1,100})'\s*:\s*)('(?:[^'\\]|\\.)*'?|[^\s,{}\[\]'][^\s,}\]]*)"""
)
# `Authorization: <any scheme> <credentials>` (Negotiate, NTLM...): the scheme is kept
_PY_AUTH = re.compile(
    r"""(?i)((?<![\w.-])(?:proxy[-_])?authorization\s*:\s*)([A-Za-z][\w.+-]{0,40})(\s+)"""
    r"""(?!REDACTED\b)[^\s,;"']+"""
)
# `Cookie: a=1; sid=x`: a cookie header is a secret whole, to the end of the line or quote
_PY_COOKIE = re.compile(r"""(?i)((?<![\w.-])(?:set-)?cookie\s*:\s*)(?!REDACTED\b)[^\s"][^\r\n"]*""")
_PY_PAIR = re.compile(
    r"""(?i)(?<![\w.-])([\w.-]{1,100})(\s*[:=]\s*)"""
    r"""((?:bearer|basic|token|digest)\s+[^\s,;&"']+|"[^"]*"?|'[^']*'?|[^\s,;&"'}]+)"""
)
# an HTTP credential (RFC 7235 token68): a word like 'basic plan' is not one
_PY_SCHEME = re.compile(r"\b(Bearer|Basic|bearer|BEARER|BASIC)(\s+)[A-Za-z0-9._~+/=-]{8,}")
# column names: where a header or variable came from is a prefix; cookies are secrets whole
_COLUMN_PREFIXES = (
    "response_", "sent_http_", "upstream_http_", "upstream_", "env_", "note_", "http_"
)  # fmt: skip
_SECRET_COLUMNS = (*SENSITIVE_HEADERS, "request_body", "remote_passwd")


# an e-mail address as a query value (personal data), '@' plain or percent-encoded
_QUERY_EMAIL = r"(?i)((?:^|[&;])[^=&#;]*=)[^=&#;@]*?(?:@|%40)[^&#;]*"


def redact_query(values: pa.Array) -> pa.Array:
    """Query strings ('a=1&token=x', 'a=1;token=x') with sensitive values and e-mail
    addresses masked."""

    def mask(v: pa.Array) -> pa.Array:
        v = pc.replace_substring_regex(v, _QUERY, rf"\1{MASK}")
        return pc.replace_substring_regex(v, _QUERY_EMAIL, rf"\1{MASK}")

    return _on_distinct(values, mask)


def redact_urls(values: pa.Array) -> pa.Array:
    """Free text holding URLs (referrers, request lines) with sensitive values masked."""

    def mask(v: pa.Array) -> pa.Array:
        v = pc.replace_substring_regex(v, _URL, rf"\1{MASK}")
        return pc.replace_substring_regex(v, _USERINFO, rf"\1{MASK}@")

    return _on_distinct(values, mask)


# a path parameter (`/app;jsessionid=x/b`): its value ends at the next '/', ';', '?' or '#'
_PATH_PARAM = rf"(?i)(;(?:{_KEY})=)[^/;?#&\s\"]+"


def redact_path(values: pa.Array) -> pa.Array:
    """Request paths with sensitive ``;key=value`` path parameters and the password of an
    absolute target (``http://u:pw@host/x``) masked."""
    return _on_distinct(values, _mask_path, _PATH_NEEDS)


def redact_paths_encoded(encoded: pa.DictionaryArray) -> tuple[pa.DictionaryArray, bool]:
    """`redact_path` on dictionary-encoded paths: the dictionary's values masked (two may
    become one text), and whether any was."""
    distinct = encoded.dictionary
    found = pc.match_substring(distinct, _PATH_NEEDS[0])
    for more in _PATH_NEEDS[1:]:
        found = pc.or_(found, pc.match_substring(distinct, more))
    found = pc.fill_null(found, False)
    if not pc.any(found).as_py():
        return encoded, False
    masked = pc.replace_with_mask(distinct, found, _mask_path(pc.filter(distinct, found)))
    return pa.DictionaryArray.from_arrays(encoded.indices, masked), True


_PATH_NEEDS = (";", "@")  # every value _mask_path changes holds one of these


def _mask_path(v: pa.Array) -> pa.Array:
    v = pc.replace_substring_regex(v, _PATH_PARAM, rf"\1{MASK}")
    return pc.replace_substring_regex(v, _USERINFO, rf"\1{MASK}@")


def redact_text(text: str) -> str:
    """One string (a rejected line, a message) with credentials masked.

    Masked: sensitive URL query values and URL passwords; JSON members and
    ``key: value``/``key=value`` pairs whose key looks sensitive (``"token"``,
    ``Authorization``, ``x-api-key``, ``password``); ``Bearer``/``Basic``
    credentials wherever they appear.
    """
    text = _PY_URL.sub(_mask_url_value, text)
    text = _PY_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _PY_JSON_MEMBER.sub(_mask_member, text)
    text = _PY_REPR_MEMBER.sub(_mask_member, text)
    text = _PY_AUTH.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + MASK, text)
    text = _PY_COOKIE.sub(lambda m: m.group(1) + MASK, text)
    text = _PY_PAIR.sub(_mask_pair, text)
    return _PY_SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def _mask_url_value(m: re.Match[str]) -> str:
    key = m.group(2).lower()
    if key in SENSITIVE_KEYS or _SENSITIVE_NAME.search(key):
        return f"{m.group(1)}{m.group(2)}={MASK}"
    whole: str = m.group()
    return whole


def _sensitive_key(key: str) -> bool:
    name = re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_")
    return (
        bool(_SENSITIVE_NAME.search(name))
        or name in SENSITIVE_KEYS
        or name in _SECRET_COLUMNS
        or name.startswith(("cookie", "set_cookie"))
    )


def _mask_member(m: re.Match[str]) -> str:
    whole: str = m.group()
    if not _sensitive_key(m.group(2)) or m.group(3) in ("null", '""', "None", "''"):
        return whole
    quote = m.group(3)[0] if m.group(3)[:1] in ("'", '"') else ""
    masked: str = f"{m.group(1)}{quote}{MASK}{quote}"
    return masked


def _mask_pair(m: re.Match[str]) -> str:
    whole: str = m.group()
    if not _sensitive_key(m.group(1)):  # its value may hold a pair: `ValueError: password=x`
        inner = _PY_PAIR.sub(_mask_inner_pair, m.group(3))  # one level: linear on `a=a=a=...`
        return whole if inner == m.group(3) else m.group(1) + m.group(2) + inner
    return _mask_inner_pair(m)


def _mask_inner_pair(m: re.Match[str]) -> str:
    """`_mask_pair` for a pair inside another's value: masked when its key is sensitive."""
    whole: str = m.group()
    if not _sensitive_key(m.group(1)):
        return whole
    if m.group(3).endswith(MASK) or m.group(3) == f'"{MASK}"':
        return whole
    if re.match(rf"\s+{MASK}\b", m.string[m.end() :]):  # `Authorization: Negotiate REDACTED`
        return whole
    value = m.group(3)
    scheme = re.match(r"(?i)(bearer|basic|token|digest)\s+", value)
    masked: str = m.group(1) + m.group(2) + (scheme.group() if scheme else "") + MASK
    return masked


def is_sensitive_column(name: str) -> bool:
    """Whether a captured header/variable/cookie column holds credentials as a whole.

    By key parts, like query keys: ``x_auth_token``, ``api_key``,
    ``authorization``, ``cookie``, ``cookie_sid`` (Apache ``%{sid}C``, nginx
    ``$cookie_sid``), ``arg_token`` (nginx ``$arg_token``), ``response_set_cookie``,
    ``env_http_authorization``; ``x_forwarded_for`` or ``user_agent`` are not.
    """
    n = name.lower()
    for prefix in _COLUMN_PREFIXES:
        n = n.removeprefix(prefix)
    n = n.removeprefix("arg_")
    return _sensitive_key(n)


def _on_distinct(
    values: pa.Array, fn: Callable[[pa.Array], pa.Array], needs: tuple[str, ...] = ()
) -> pa.Array:
    """`fn` applied to each distinct value once; with `needs`, only to the values holding
    one of those substrings (every match of `fn` holds one), `values` itself when none do
    and it is a plain array."""
    if len(values) == 0:
        return values
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary
    if needs:
        found = pc.match_substring(distinct, needs[0])
        for more in needs[1:]:
            found = pc.or_(found, pc.match_substring(distinct, more))
        found = pc.fill_null(found, False)
        if not pc.any(found).as_py():
            plain = isinstance(values, pa.Array) and not pa.types.is_dictionary(values.type)
            return values if plain else pc.take(distinct, encoded.indices)
        distinct = pc.replace_with_mask(distinct, found, fn(pc.filter(distinct, found)))
        return pc.take(distinct, encoded.indices)
    return pc.take(fn(distinct), encoded.indices)


# --- SQL statement texts (pg_stat_statements.query, pg_stat_activity.query) ---------------------
# Utility statements are kept verbatim by pg_stat_statements (`ALTER ROLE app PASSWORD 'x'`), so a
# string literal after a sensitive word (PASSWORD, an OPTIONS key like sslpassword, `secret = ...`)
# is masked, and DSNs inside any literal (dblink_connect, CREATE SUBSCRIPTION ... CONNECTION) too.
_SQL_KEY_PARTS = ("passw", "pwd", "secret", "token", "credential", "passphrase", "apikey",
                  "api_key", "private_key", "access_key")  # fmt: skip
_SQL_CANDIDATE = rf"(?i)(?:{'|'.join(_SQL_KEY_PARTS)}|://[^/\s]*@)"
_SQL_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<line>--[^\n]*)
    |(?P<block>/\*)
    |(?P<estr>[eE]')
    |(?P<str>(?:[uU]&)?')
    |(?P<ident>"(?:[^"]|"")*"?)
    |(?P<dollar>\$(?:[^\W\d]\w*)?\$)
    |(?P<word>[^\W\d][\w$]*)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_SQL_SECRET_TEXT = re.compile(r"(?i)passw(?:or)?d|secret")
_COMMENT_MARK = re.compile(r"/\*|\*/")
_E_BODY = re.compile(r"(?:[^'\\]|\\.|'')*", re.DOTALL)
_S_BODY = re.compile(r"(?:[^']|'')*")
_KV_PASSWORD = re.compile(  # key=value; the key (bounded) is judged by `_KV_SECRET`
    r"""(?<![\w.-])([\w.-]{1,100}\s*=\s*)"""
    r"""('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&;,'"]+)"""
)
_KV_SECRET = re.compile(r"(?i)passw|pwd|secret|token|api_?key")
# scheme://userinfo@host: userinfo runs to the LAST '@' before the path (libpq stops at the first)
_URL_CREDENTIALS = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://)([^/\s'\"?#]*)@")


def redact_sql(values: pa.Array) -> pa.Array:
    """SQL texts with password literals and DSN passwords masked (see `redact_sql_text`).

    Works on distinct values; only texts that mention a sensitive word or URL
    credentials are lexed (in Python), the rest pass through untouched.
    """

    def mask(texts: pa.Array) -> pa.Array:
        candidate = pc.fill_null(pc.match_substring_regex(texts, _SQL_CANDIDATE), False)
        if not pc.any(candidate).as_py():
            return texts
        chosen = pc.filter(texts, candidate).to_pylist()
        fixed = pa.array([redact_sql_text(t) for t in chosen], texts.type)
        return pc.replace_with_mask(texts, candidate, fixed)

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_null(values.type):
        return values
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    return _on_distinct(values, mask)


def redact_sql_text(text: str, _depth: int = 0) -> str:
    """One SQL text with secrets masked as ``'REDACTED'``.

    Masked: the string literal(s) after a word holding ``passw``/``secret``/
    ``token``... (``PASSWORD 'x'``, ``ENCRYPTED PASSWORD E'a\\'b'``,
    ``OPTIONS (password $$x$$)``, ``SET app.secret = 'x'``), in any case and
    spacing, with comments in between; DSN passwords and URL credentials inside
    any literal; and the same inside literals that hold SQL (``DO $$ ... $$``,
    ``EXECUTE '...'``). Identifiers and comments are left alone, so
    ``select password_hash from users where id = $1`` is unchanged. A literal
    left open (a truncated text) is masked to the end.
    """
    out: list[str] = []
    pos, n = 0, len(text)
    armed = False  # a sensitive word was seen: the next literal(s) are secrets
    # 'password' was seen in this statement (a word, part of a name, inside a literal): every later
    # non-empty literal is masked (`format('... PASSWORD %L', 'app', 'x')`, `VALUES ('bob', 'x')`)
    seen = False
    last: tuple[str, str] = ("", "")  # the two tokens before this one: VALID UNTIL '...' is kept
    while pos < n:
        m = _SQL_TOKEN.match(text, pos)
        assert m is not None  # `other` matches any character
        kind, token = m.lastgroup, m.group()
        if kind in ("space", "line"):
            out.append(token)
            pos = m.end()
            continue
        if kind == "block":
            end = _block_end(text, pos)
            out.append(text[pos:end])
            pos = end
            continue
        if kind in ("estr", "str", "dollar"):
            end, body, closed = _literal(text, m)
            if armed or (seen and body and last != ("valid", "until")):
                out.append(f"'{MASK}'")
            else:
                literal = text[pos:end]
                shown = _redact_literal(literal, kind, m.group(), body, closed, _depth)
                # a literal naming a secret is one whole, unless a DSN password was cut out of it
                out.append(f"'{MASK}'" if shown == literal and _SQL_SECRET_TEXT.search(body)
                           else shown)  # fmt: skip
            seen = seen or "password" in body.lower()
            last = (last[1], "'")
            pos = end
            continue  # armed stays: 'a'\n'b' continues one literal; the next word disarms
        if kind == "word" and token.lower() == "to" and armed:
            out.append(token)
            pos = m.end()
            continue
        if kind == "other" and token == "=" and armed:
            out.append(token)
            pos = m.end()
            continue
        name = token.strip('"').lower() if kind in ("word", "ident") else ""
        armed = bool(name) and any(part in name for part in _SQL_KEY_PARTS)
        if token == ";":
            seen = False  # a new statement
        seen = seen or "password" in name
        last = (last[1], name or token)
        out.append(token)
        pos = m.end()
    return "".join(out)


def _block_end(text: str, pos: int) -> int:
    """End of the (nested) block comment starting at `pos`; the text's end when left open."""
    depth = 0
    for m in _COMMENT_MARK.finditer(text, pos):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    return len(text)


def _literal(text: str, m: re.Match[str]) -> tuple[int, str, bool]:
    """(end, body, closed) of the string literal whose opening `m` matched."""
    start = m.end()
    if m.lastgroup == "dollar":
        close = text.find(m.group(), start)
        if close < 0:
            return len(text), text[start:], False
        return close + len(m.group()), text[start:close], True
    body = (_E_BODY if m.lastgroup == "estr" else _S_BODY).match(text, start)
    assert body is not None  # both match the empty string
    end = body.end()
    if end < len(text) and text[end] == "'":
        return end + 1, body.group(), True
    return len(text), text[start:], False


def _redact_literal(
    literal: str, kind: str, opening: str, body: str, closed: bool, depth: int
) -> str:
    """A literal with DSN passwords and SQL secrets inside it masked (quoting kept)."""
    if kind == "dollar":
        inner = _redact_inner(body, depth)
        return literal if inner == body else opening + inner + (opening if closed else "")
    # '' (and \' in E'') stand for a quote: decode, redact, encode again
    decoded = re.sub(r"\\'|''", "'", body) if kind == "estr" else body.replace("''", "'")
    inner = _redact_inner(decoded, depth)
    if inner == decoded:
        return literal
    return opening + inner.replace("'", "''") + ("'" if closed else "")


def _redact_inner(body: str, depth: int) -> str:
    if not re.search(_SQL_CANDIDATE, body):
        return body
    body = mask_credentials(body)
    return redact_sql_text(body, depth + 1) if depth < 4 else body


def mask_credentials(text: str) -> str:
    """`text` with ``password=...``-like values and URL credentials masked (regex, any text)."""
    text = _KV_PASSWORD.sub(
        lambda m: m.group(1) + MASK if _KV_SECRET.search(m.group(1)) else m.group(), text
    )
    return _URL_CREDENTIALS.sub(_mask_userinfo, text)


def _mask_userinfo(m: re.Match[str]) -> str:
    """``user:pw@`` -> ``user:REDACTED@``; ``user@`` kept; ``a@b@`` (which part is what?) masked."""
    scheme, info = m.group(1), m.group(2)
    if ":" in info:
        return f"{scheme}{info.split(':', 1)[0]}:{MASK}@"
    return f"{scheme}{MASK}@" if "@" in info else m.group()


# --- connection strings -------------------------------------------------------------------------
_DSN_SECRETS = ("password", "sslpassword")
_SPILL_KEYS = ("host", "hostaddr", "port", "dbname")
_URL_ORDER = ("host", "hostaddr", "port", "dbname", "user", "password")
# libpq keys whose values are never secrets (a typo like `pasword=` is not one of them)
_SAFE_KEYS = frozenset((
    "host", "hostaddr", "port", "dbname", "user", "connect_timeout", "sslmode",
    "application_name", "options", "client_encoding", "target_session_attrs",
    "load_balance_hosts", "sslrootcert", "sslcert", "sslkey", "gssencmode", "passfile", "service",
))  # fmt: skip
_KV_ANY = re.compile(r"""((?:^|(?<=[\s?&]))([A-Za-z_][\w.-]*)\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)""")
_MAYBE_SECRET = re.compile(r"(?i)passw|pwd|secret|token|://[^/\s]*@")
# a URL DSN's userinfo runs from '://' to the LAST '@' before the query string: libpq stops at the
# first '/' ('app:Sup3rSecret/Pw@host' would be read as host 'app', port 'Sup3rSecret')
_DSN_URL = re.compile(r"(?i)^(\s*postgres(?:ql)?://)([^?]*)@")


def _mask_url_password(dsn: str) -> str:
    """A URL DSN whose userinfo holds a '/' (libpq would read its password as a port) with
    everything after the userinfo's first ':' masked, before libpq reads it; other DSNs kept:
    an '@' in a password spills into the host, which `_masked` shows as libpq reads it."""
    m = _DSN_URL.match(dsn)
    if not m or ":" not in m.group(2) or "/" not in m.group(2):
        return dsn
    user, password = m.group(2).split(":", 1)
    if not password:
        return dsn
    return f"{m.group(1)}{user}:{MASK}@{dsn[m.end():]}"


def redact_dsn(dsn: str) -> str:
    """A connection string (key=value or URL) safe to print: passwords replaced by ``REDACTED``.

    Parsed by libpq (``conninfo_to_dict``), so quoting, percent-encoding and
    ``?password=`` are read as libpq reads them; the result is key=value form.
    A password holding an unencoded ``@`` (``u:p@ss@host``, which libpq reads as
    host ``ss@host``) has the host's part before the last ``@`` masked too.
    Text libpq cannot parse is masked by pattern after any ``password``-like
    key and in URL credentials.
    """
    dsn = _mask_url_password(dsn)
    parsed = parse_dsn(dsn)
    if parsed is None:
        return _mask_unparsed(dsn)
    if not parsed:
        return dsn if not _MAYBE_SECRET.search(dsn) else mask_credentials(dsn)
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**_masked(dsn, parsed))


def scrub_dsn_secrets(text: str, dsn: str) -> str:
    """`text` (e.g. libpq's error message about `dsn`) with `dsn`'s secrets masked wherever
    they appear: its passwords (3 characters or more) and the values a password's unencoded
    ``@`` spilled into (``could not translate host name "ss@host"``), and the pieces of a URL
    password holding a ``/`` that libpq read as a port or database (``invalid port "Sup3r"``)."""
    m = _DSN_URL.match(dsn)
    if m and _mask_url_password(dsn) != dsn:
        password = m.group(2).split(":", 1)[1]
        for piece in sorted({password, *re.split(r"[/@:]", password)}, key=len, reverse=True):
            if len(piece) >= 3:
                text = text.replace(piece, MASK)
    parsed = parse_dsn(dsn)
    if parsed is None:  # not libpq's: mask what looks like a credential
        return mask_credentials(text.replace(dsn, _mask_unparsed(dsn)) if dsn else text)
    for key, value in parsed.items():
        shown = _masked(dsn, {key: value})[key]
        if shown != value and len(value) >= 3:
            text = text.replace(value, shown)
    return text


def _masked(dsn: str, parsed: dict[str, str]) -> dict[str, str]:
    """libpq's reading of `dsn` with secrets masked, keys in the order `dsn` gives them."""
    url = "://" in dsn
    shown = {}
    for key, value in parsed.items():
        if key in _DSN_SECRETS:
            value = MASK
        elif "@" in value and (url or key in _SPILL_KEYS):  # a password's '@' spilled over
            value = ",".join(f"{MASK}@{v.rsplit('@', 1)[1]}" if "@" in v else v
                             for v in value.split(","))  # fmt: skip
        shown[key] = value

    def position(key: str) -> tuple[int, int]:
        found = re.search(rf"(?i)(?<![\w.-]){re.escape(key)}\s*=", dsn)
        order = _URL_ORDER.index(key) if key in _URL_ORDER else len(_URL_ORDER)
        return (found.start() if found and not url else len(dsn) + order, order)

    return {key: shown[key] for key in sorted(shown, key=position)}


def dsn_has_password(dsn: str) -> bool:
    """Whether a connection string carries a password (what ``ps`` would show): for a warning."""
    if _mask_url_password(dsn) != dsn:
        return True
    parsed = parse_dsn(dsn)
    if parsed is None:
        return _mask_unparsed(dsn) != dsn
    return any(parsed.get(k) for k in _DSN_SECRETS) or "@" in parsed.get("host", "")


def _mask_unparsed(text: str) -> str:
    """Text libpq cannot parse: URL credentials masked, and everything from the first key not
    known safe to the end (``password=my secret`` is cut whole, ``pasword=`` too)."""
    text = mask_credentials(text)
    for m in _KV_ANY.finditer(text):
        if m.group(2).lower() not in _SAFE_KEYS:
            return text[: m.start(3)] + MASK
    return text


def parse_dsn(dsn: str) -> dict[str, str] | None:
    """libpq's reading of `dsn` (``conninfo_to_dict``: key=value or URL, nothing taken from
    the environment), or None when it is not a connection string. Never raises."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is a dependency of the pg extras
        return None
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception:  # ProgrammingError, and anything else: not a connection string
        return None


def map_distinct(values: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """`fn` once per distinct non-missing text of `values` (log texts repeat), as text."""
    import pandas

    present = values.notna()
    distinct = values[present].astype(str).unique()
    mapping = dict(zip(distinct, map(fn, distinct), strict=True))
    out = values.astype(object).where(~present, values[present].astype(str).map(mapping))
    return out.astype(pandas.StringDtype("pyarrow"))
