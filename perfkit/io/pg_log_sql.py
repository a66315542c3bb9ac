"""Statement texts of a PostgreSQL log: normalised as pg_stat_statements shows them.

`normalize_sql` replaces each constant (a string, bit or hex literal, a dollar-quoted
string, a number, with a leading minus when it is a negative constant) by ``$n``,
numbered after the highest ``$n`` the text already holds (an extended-protocol
statement's parameters), as pg_stat_statements' normalised ``query`` text does; the
rest of the text (case, spacing, comments, identifiers) is kept. ``true``, ``false`` and
``NULL`` are constants too; a bare number in ``ORDER BY``/``GROUP BY`` is a column position
and stays (checked against PostgreSQL 15's own pg_stat_statements).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# one token at a time: what may hold a constant-looking run that is not one comes first
_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<ident>"(?:[^"]|"")*"?)"""
    r"""|(?P<dollar>\$\$.*?(?:\$\$|\Z)|\$(?P<tag>[A-Za-z_\x80-\uffff][\w\x80-\uffff]*)\$.*?(?:\$(?P=tag)\$|\Z))"""
    r"""|(?P<param>\$\d+)"""
    r"""|(?P<estring>[eE]'(?:[^'\\]|\\.|'')*'?)"""
    r"""|(?P<prefixed>(?:[bBxXnN]|[uU]&)'(?:[^']|'')*'?)"""
    r"""|(?P<string>'(?:[^']|'')*'?)"""
    r"""|(?P<word>[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)"""
    r"""|(?P<number>(?:0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?))"""
    r"""|(?P<other>\s+|::|.)""",
    re.DOTALL,
)
_CONSTANT = {"dollar", "estring", "prefixed", "string", "number"}


def normalize_sql(text: str) -> str:
    """`text` with its constants as ``$n`` (see the module docstring)."""
    return _normalize(text)[0]


def _normalize(text: str) -> tuple[str, int]:
    """(`normalize_sql`'s text, how many literal constants (not TRUE/FALSE/NULL words) it
    replaced)."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    words = [v.upper() for k, v in tokens if k == "word"]
    if words and words[0] in _UTILITY:  # kept as written, as pg_stat_statements keeps them
        return text, 0
    replaced = 0
    taken = [int(value[1:]) for kind, value in tokens if kind == "param"]
    n = max(taken, default=0)
    out: list[str] = []
    ordinal = False  # inside ORDER BY / GROUP BY: a bare number there is a column position
    typmod = 0  # depth inside a type's modifiers, `numeric(10,2)`: no constants there
    last_word = ""
    for i, (kind, value) in enumerate(tokens):
        if kind == "tag":  # a named group inside 'dollar' never is lastgroup, but be safe
            kind = "dollar"
        if value == "(" and (typmod or _type_name_before(tokens, i)):
            typmod += 1
        elif value == ")" and typmod:
            typmod -= 1
        if typmod and kind == "number":
            out.append(value)
            continue
        if kind == "word":
            upper = value.upper()
            if upper == "BY" and last_word in ("ORDER", "GROUP"):
                ordinal = True
            elif upper not in ("ASC", "DESC", "NULLS", "FIRST", "LAST"):
                ordinal = False
            last_word = upper
        elif kind == "other" and value not in (",",) and not value.isspace():
            ordinal = False
        if kind == "number" and ordinal and _alone(tokens, i):
            out.append(value)  # ORDER BY 1: a position, not a constant to pg_stat_statements
            continue
        if kind == "word" and value.upper() in ("TRUE", "FALSE", "NULL") and \
                not (value.upper() == "NULL" and last_before_null(out) in ("IS", "NOT")):
            kind = "word_constant"
        if kind == "word" and value.upper() == "ALL" and last_before_null(out) == "LIMIT":
            kind = "word_constant"  # LIMIT ALL is a NULL constant to the parser
        if kind in _CONSTANT or kind == "word_constant":
            n += 1
            replaced += kind != "word_constant"
            for _ in range(_negative(tokens, i, out)):
                out.pop()  # the minus sign (and the space after it) belongs to the constant
            out.append(f"${n}")
        else:
            out.append(value)
    return "".join(out), replaced


def last_before_null(out: list[str]) -> str:
    """The last word written before a ``NULL`` (``IS`` / ``NOT`` make it a test, not a
    constant)."""
    for value in reversed(out):
        if not value.isspace():
            return value.upper()
    return ""


# statements pg_stat_statements keeps as written (utility commands: no constants replaced)
_UTILITY = {
    "CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "TRUNCATE", "VACUUM", "ANALYZE", "ANALYSE",
    "SET", "RESET", "SHOW", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT",
    "RELEASE", "CHECKPOINT", "LOCK", "COPY", "LISTEN", "UNLISTEN", "NOTIFY", "DISCARD",
    "PREPARE", "DEALLOCATE", "DO", "CALL", "COMMENT", "REINDEX", "CLUSTER", "REFRESH",
    "SECURITY", "LOAD", "DECLARE", "FETCH", "MOVE", "CLOSE", "IMPORT", "REASSIGN", "EXPLAIN",
}  # fmt: skip


def _alone(tokens: list[tuple[str | None, str]], i: int) -> bool:
    """Whether number token `i` is a whole sort/group item: followed by ',', ')', ASC/DESC,
    NULLS, LIMIT..., ';' or the end (not ``ORDER BY 1 + x``)."""
    j = i + 1
    while j < len(tokens) and tokens[j][0] == "other" and tokens[j][1].isspace():
        j += 1
    if j == len(tokens):
        return True
    kind, value = tokens[j]
    if kind == "comment":
        return True
    if kind == "word":
        return value.upper() in ("ASC", "DESC", "NULLS", "LIMIT", "OFFSET", "FETCH", "FOR", "ORDER",
                                 "HAVING", "WINDOW", "UNION", "EXCEPT", "INTERSECT")  # fmt: skip
    return value in (",", ")", ";")


def _negative(tokens: list[tuple[str | None, str]], i: int, out: list[str]) -> int:
    """How many written tokens the constant at `i` takes back: a '-' before a number (spaces
    between them too, ``- 3``) is its sign when the token before the minus is an operator, an
    opening bracket, a comma or a keyword, not a value; 0 when it is not a negative number."""
    if tokens[i][0] != "number":
        return 0
    m = i - 1
    while m >= 0 and tokens[m][0] == "other" and tokens[m][1].isspace():
        m -= 1
    if m < 0 or tokens[m][1] != "-":
        return 0
    j = m - 1
    while j >= 0 and tokens[j][0] == "other" and tokens[j][1].isspace():
        j -= 1
    if j >= 0:
        kind, value = tokens[j]
        if kind in ("number", "ident", "param") or kind in _CONSTANT:
            return 0
        if kind == "word" and value.upper() not in _KEYWORDS_BEFORE_VALUES:
            return 0
        if kind == "other" and value in (")", "]"):
            return 0
    return i - m  # the minus and the spaces after it, as written


def _type_name_before(tokens: list[tuple[str | None, str]], i: int) -> bool:
    """Whether the '(' at `i` opens a type's modifiers: it follows a type name written after
    ``::`` or after ``AS`` (``CAST(x AS varchar(20))``), with no space before the '('."""
    if i < 2 or tokens[i - 1][0] != "word":
        return False
    j = i - 2
    while j >= 0 and tokens[j][0] == "other" and tokens[j][1].isspace():
        j -= 1
    return j >= 0 and (tokens[j][1] == "::" or tokens[j][1].upper() == "AS")


# keywords after which a '-' starts a value rather than subtracting from one
_KEYWORDS_BEFORE_VALUES = {
    "SELECT", "WHERE", "AND", "OR", "NOT", "IN", "VALUES", "SET", "LIMIT", "OFFSET", "THEN",
    "ELSE", "WHEN", "BETWEEN", "RETURN", "BY", "ON", "HAVING", "IS", "LIKE", "AS", "CASE",
}  # fmt: skip


def fingerprint(text: str, normalized: bool = False) -> str:
    """A key equal for texts PostgreSQL's query jumbling treats alike: the normalised text's
    ``$n`` as ``?``, comments dropped, whitespace collapsed, unquoted words in lower case (the
    parser folds them), top-level ``AS name`` aliases dropped (they are not jumbled), a
    trailing ';' dropped. pg_stat_statements keeps one text per
    statement, the first it saw; this key joins it with every logged variant of the same
    statement. `normalized`: `text` is already `normalize_sql`'s (it is not tokenized twice).
    A utility statement (kept as written by pg_stat_statements) has its string literals as
    ``?`` here: they may hold personal data, and the key is shown."""
    out: list[str] = []
    depth, alias = 0, False
    utility = False
    for m in _TOKEN.finditer(text if normalized else normalize_sql(text)):
        kind, value = m.lastgroup, m.group()
        if kind == "comment" or (kind == "other" and value.isspace()):
            continue
        if not out and kind == "word":
            utility = value.upper() in _UTILITY
        if utility and kind in ("string", "estring", "prefixed", "dollar"):
            out.append("?")
            continue
        if alias:  # the name after a top-level AS: an alias, which query jumbling ignores
            alias = False
            if kind in ("word", "ident"):
                continue
            out.append("as")
        depth += {"(": 1, ")": -1}.get(value, 0) if kind == "other" else 0
        if kind == "word" and value.lower() == "as" and depth == 0:
            alias = True
            continue
        if kind == "param":
            out.append("?")
        elif kind == "word":
            out.append(value.lower())
        else:
            out.append(value)
    if alias:
        out.append("as")
    while out and out[-1] == ";":
        out.pop()
    return " ".join(out)


# --- many texts at once (a log's statements: texts that differ only in their constants) -------
# The same tokens as `_TOKEN` in RE2 (Arrow's regex engine): a run of tokens that are never
# constants, or one constant. Replacing each match by itself (a run) or nothing (a constant),
# then NUL, gives a key equal for texts that differ only inside their constants; `normalize_sql`
# then runs once per key, and is trusted for the key when it replaced as many constants as RE2
# saw. Texts RE2 cannot tokenize like `_TOKEN` (dollar quotes need a back-reference, E''
# strings' backslashes, characters beyond U+FFFF that Python's \w may call letters) go one by
# one, as do a key's texts when `normalize_sql` kept a number (ORDER BY 1, numeric(10,2)).
_RE2_KEPT = (
    r"""--[^\n]*|/\*(?s:.*?)(?:\*/|\z)"""
    r"""|"(?:[^"]|"")*"?"""
    r"""|\$\d+"""
    r"""|[A-Za-z_\x{80}-\x{ffff}][\w$\x{80}-\x{ffff}]*"""
    r"""|\s+|::|[^'0-9]"""
)
# a letter before a quote (E'', X'', N'', U&'') is a word here and the literal's prefix to
# `_TOKEN`; a '.' before digits is kept here and the number's start there: either way the
# constant RE2 sees lies inside the one `_TOKEN` sees. A number leaves its first digit in the
# key (a string nothing), so the key tells numbers from strings, as a minus sign's meaning needs
_RE2_CONSTANT = (
    r"""'(?:[^']|'')*'?"""
    r"""|(0)(?:[xX][0-9A-Fa-f_]+|[oO][0-7_]+|[bB][01_]+)"""
    r"""|(\d)[\d_]*\.?[\d_]*(?:[eE][+-]?\d+)?"""
)
_RE2_KEY = f"((?:{_RE2_KEPT})+)|(?:{_RE2_CONSTANT})"
# set apart: dollar quotes (a back-reference), backslashes (E'' escapes), beyond U+FFFF, and
# `.52.5` and `.0x1` (two tokens to `_TOKEN`, a '.' and one number here)
_RE2_APART = r"\$(?:[^0-9]|\z)|\\|[\x{10000}-\x{10ffff}]|\.\d[\d_]*\.|\.0[xXoObB]"


def normalize_many(texts: pa.Array) -> pa.Array:
    """`normalize_sql` of every text of `texts` (an Arrow string array; nulls stay null),
    computed once per distinct shape (see above): equal to mapping `normalize_sql` over it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = texts.cast(pa.large_string()) if pa.types.is_large_string(texts.type) else \
        texts.cast(pa.string())  # fmt: skip
    distinct = pc.dictionary_encode(texts)
    values = distinct.dictionary
    if not len(values):
        return texts
    apart = pc.fill_null(pc.match_substring_regex(values, _RE2_APART), True).to_numpy(
        zero_copy_only=False)  # fmt: skip
    out: list[str | None] = [None] * len(values)
    keys = pc.replace_substring_regex(values, _RE2_KEY, "\\1\\2\\3\x00")
    shapes = pc.dictionary_encode(keys)
    codes = shapes.indices.to_numpy(zero_copy_only=False)
    first = np.full(len(shapes.dictionary), -1, dtype=np.int64)
    order = np.flatnonzero(~apart)
    first[codes[order[::-1]]] = order[::-1]  # each shape's first text (not one set apart)
    shape_texts = values.take(pa.array(np.maximum(first, 0))).to_pylist()
    per_shape: list[str | None] = [None] * len(first)
    for k, (key, text) in enumerate(zip(shapes.dictionary.to_pylist(), shape_texts,
                                        strict=True)):  # fmt: skip
        if first[k] < 0:
            continue
        normalized, replaced = _normalize(text)
        constants = sum(p == "" or p.isdigit() for p in key.split("\x00")[:-1])
        if replaced == constants:  # every constant RE2 saw was replaced: the shape decides
            per_shape[k] = normalized
    shaped = np.array([per_shape[c] is not None for c in range(len(first))], dtype=bool)
    for i in np.flatnonzero(apart | ~shaped[codes]).tolist():
        out[i] = normalize_sql(values[i].as_py())
    filled = [per_shape[c] if o is None else o for c, o in zip(codes.tolist(), out, strict=True)]
    return pa.array(filled, values.type).take(distinct.indices)


# a utility statement's first word (RE2), for masking its literals in shown texts
UTILITY_RE2 = r"(?i)^\s*(?:" + "|".join(sorted(_UTILITY)) + r")\b"
STRING_RE2 = r"'(?:[^']|'')*'?"
