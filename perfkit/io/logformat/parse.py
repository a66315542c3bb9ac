"""Two ways from a block of log lines to raw string columns.

- `tokenize`: Arrow's CSV reader with ' ' as delimiter and '"' as quote, for
  formats whose fields are space-separated words. It reads only the lines it
  provably reads like the full-line pattern would (no backslash, no CR, the
  expected number of quotes and of columns, told apart line by line with
  vectorised byte searches) and hands the others to the exact path.
- `extract`: the format's full-line RE2 pattern; a line that does not match
  is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from perfkit.io.logformat.fields import Kind
from perfkit.io.logformat.spec import OFFSET_SUFFIX, Column, LogFormat
from perfkit.io.textfiles import count_bytes


def lines_array(data: memoryview, count: int, ends: np.ndarray | None = None) -> pa.StringArray:
    """The `count` lines of `data` (each ending in a newline) as strings, without copying.

    Each string keeps its trailing newline; patterns allow for it. `ends`: the newlines'
    byte offsets when the caller has them already.
    """
    if ends is None:
        ends = line_ends(data)
    assert len(ends) == count, (len(ends), count)
    offsets = np.empty(count + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = ends + 1
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


@dataclass(frozen=True)
class Tokenized:
    """A block split between the paths: `raw` columns of the lines `rows` (by the tokenizer)
    and the lines `rest` left to the exact path; both sorted line indices of the block."""

    raw: dict[str, pa.Array]
    rows: np.ndarray
    rest: np.ndarray
    ends: np.ndarray | None = None  # the block's newline offsets, when they had to be found


def tokenize(data: memoryview, lines: int, fmt: LogFormat) -> Tokenized | None:
    """Raw columns of a block's clean lines by the CSV fast path; None when it does not apply.

    Clean lines are told apart line by line, vectorised: a line with a CR, a backslash
    that does not escape a quote (`ESCAPED_QUOTE` servers) or any backslash (others),
    or not exactly the format's number of unescaped quotes is left to the exact path,
    as is a line the tokenizer finds with the wrong number of columns, a literal word
    that differs, a status outside 100-599, a negative or non-finite number, or a quote
    in a value written without quotes. The rest of the block stays columnar: numbers
    come out typed, repetitive words dictionary-encoded and escaped quotes undone,
    straight from the tokenizer. One thread per block: blocks are parsed in parallel
    instead, and each column comes back as one chunk.
    """
    columns = fmt.columns
    if columns is None or lines == 0:
        return None
    escapes = fmt.server in ESCAPED_QUOTE
    good, ends, escaped = _clean_lines(data, lines, fmt.quotes_per_line, escapes)
    if good is None:
        good = np.arange(lines)
    elif len(good) == 0:
        return None
    else:  # the clean lines, copied together for the tokenizer
        assert ends is not None  # found whenever some line is left out
        data = _lines_together(data, good, lines, ends)
    kinds = {f.name: f.kind for f in fmt.fields}
    names = [f"c{i}" for i in range(len(columns))]
    types = {n: _fast_type(c, kinds) for n, c in zip(names, columns, strict=True)}
    # numbers are read as text and checked against their field's pattern before the cast:
    # the tokenizer alone would also take '0x1F4', '+5' or '2e2', which the patterns refuse
    strings = {n: t if t == _DICT else pa.string() for n, t in types.items()}
    table, invalid = _read_words(data, names, strings, escapes)
    if table is None:
        return None
    specs = {f.name: f.spec for f in fmt.fields}
    table, bad = _typed_words(table, types, columns, specs)
    if bad is not None:
        table, invalid = _drop(table, bad, invalid)
    if invalid is None or table.num_rows != len(good) - len(invalid):
        return None  # rows the tokenizer skipped cannot be placed: the exact path reads all
    if invalid:
        keep = np.ones(len(good), dtype=bool)
        keep[invalid] = False
        good = good[keep]
    # an escaped quote in a value written without quotes reads the same on both paths only
    # where the field's pattern takes any word
    deciding = {name for name, spec in specs.items() if spec.pattern not in (r"\S+", r"\S*")}
    found = _columns_from_words(table, columns, kinds, deciding if escaped else set(), specs)
    if found is None:
        return None
    words, bad = found
    if bad is not None and bad.any():
        mask = pa.array(~bad)
        words = {name: pc.filter(values, mask) for name, values in words.items()}
        good = good[~bad]
    if len(good) == 0:
        return None
    rest = np.ones(lines, dtype=bool)
    rest[good] = False
    return Tokenized(words, good, np.flatnonzero(rest), ends)


# Servers that write '"' in a value as '\"' (Gunicorn; Apache, which also writes '\' as
# '\\'): a line whose every backslash is followed by '"' is read by the tokenizer, which
# undoes that escape as the exact path's unescaping does. nginx writes '"' as '\x22'.
ESCAPED_QUOTE = ("gunicorn", "apache")


def line_ends(data: memoryview) -> np.ndarray:
    """Byte offsets of the newlines in `data`."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)


def _clean_lines(
    data: memoryview, lines: int, quotes: int, escapes: bool = False
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """The lines the tokenizer may read (sorted indices), or None when every line may; the
    newlines' offsets, when found; and how many escaped quotes the block holds.

    A line may be read when it holds no CR, exactly `quotes` unescaped double quotes, and
    no backslash, or with `escapes` none but the ones escaping a quote ('\\"'). Counted over
    the whole block first: a block whose counts add up has no line to leave out (a line
    short of a quote would run into the next one, which the tokenizer's row count catches).
    Otherwise the lines holding a CR or another backslash are found by their bytes, and
    quotes are counted line by line only when the other lines do not add up.
    """
    backslashes, total, returns = count_bytes(data, b'\\"\r')
    raw = np.frombuffer(data, dtype=np.uint8)
    escaping = offending = np.zeros(0, dtype=np.int64)  # offsets of backslashes
    if backslashes:
        where = np.flatnonzero(raw == 0x5C)
        if escapes:  # a backslash before a quote escapes it; the others offend
            after = np.minimum(where + 1, len(raw) - 1)
            quote_next = (raw[after] == 0x22) & (where + 1 < len(raw))
            escaping, offending = where[quote_next], where[~quote_next]
        else:
            offending = where
    if not len(offending) and not returns and total - len(escaping) == quotes * lines:
        return None, None, len(escaping)
    ends = line_ends(data)
    assert len(ends) == lines, (len(ends), lines)
    bad = np.zeros(lines, dtype=bool)
    bad[np.searchsorted(ends, offending)] = True
    if returns:
        bad[np.searchsorted(ends, np.flatnonzero(raw == 0x0D))] = True
    escaped = np.bincount(np.searchsorted(ends, escaping), minlength=lines)  # per line
    marked = np.flatnonzero(bad)
    if len(marked) <= _FEW:
        starts = np.where(marked > 0, ends[marked - 1] + 1, 0).tolist()
        stops = (ends[marked] + 1).tolist()
        held = sum(data[b:e].tobytes().count(b'"') for b, e in zip(starts, stops, strict=True))
        if total - held - int(escaped[~bad].sum()) == quotes * (lines - len(marked)):
            return np.flatnonzero(~bad), ends, len(escaping)
    per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(raw == 0x22)), minlength=lines)
    good = np.flatnonzero((per_line[:lines] - escaped == quotes) & ~bad)
    return good, ends, len(escaping)


_FEW = 4096  # lines whose quotes are counted one by one


def _lines_together(data: memoryview, good: np.ndarray, lines: int, ends: np.ndarray) -> memoryview:
    """The lines `good` (sorted indices) of `data` (newlines at `ends`), copied into one
    buffer in order."""
    keep = np.zeros(lines + 2, dtype=np.int8)
    keep[good + 1] = 1
    steps = np.diff(keep)
    first, last = np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)  # runs [first, last)
    begins = np.where(first > 0, ends[first - 1] + 1, 0)
    stops = ends[last - 1] + 1
    pieces = zip(begins.tolist(), stops.tolist(), strict=True)
    return memoryview(b"".join(data[b:e] for b, e in pieces))


def _read_words(
    data: memoryview, names: list[str], types: dict[str, pa.DataType], escapes: bool = False
) -> tuple[pa.Table | None, list[int] | None]:
    """The block's words as a table, and the 0-based rows the tokenizer skipped (None when
    it could not say which); (None, None) when a value would not convert. `escapes`:
    '\\"' is a quote inside a value."""
    invalid: list[int] | None = []

    def on_invalid(row: pcsv.InvalidRow) -> str:
        nonlocal invalid
        if invalid is not None:
            if row.number is None or row.number < 1:
                invalid = None
            else:
                invalid.append(row.number - 1)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=pcsv.ReadOptions(
                column_names=names, block_size=data.nbytes + 1, use_threads=False
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=" ",
                quote_char='"',
                escape_char="\\" if escapes else False,
                double_quote=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=types,
                null_values=["-"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return None, None
    return table, invalid


def _typed_words(
    table: pa.Table,
    types: dict[str, pa.DataType],
    columns: tuple[Column, ...],
    specs: dict[str, Kind],
) -> tuple[pa.Table, np.ndarray | None]:
    """`table` read as text, cast to the fast types; rows whose typed words do not match
    their field's pattern (what the exact path would reject) are marked bad."""
    bad = np.zeros(table.num_rows, dtype=bool)
    out: list[pa.Array] = []
    for i, wanted in enumerate(types.values()):
        values = table.column(i).combine_chunks()
        if wanted not in (_DICT, pa.string()):
            name = columns[i].name
            assert name is not None  # a literal word is read as _DICT
            spec = specs[name.removesuffix(OFFSET_SUFFIX)]
            ok = pc.fill_null(_matches(values, spec.pattern), _takes_dash(spec.pattern))
            if not pc.all(ok).as_py():
                ok_np = ok.to_numpy(zero_copy_only=False)
                bad |= ~ok_np
                values = pc.if_else(ok, values, pa.scalar(None, pa.string()))
            values = pc.cast(values, wanted)
        out.append(values)
    return pa.table(out, names=list(types)), (bad if bad.any() else None)


# digits-only patterns checked without a regex: pattern -> (fewest, most) digits
_DIGITS = {r"[1-5]\d{2}": (3, 3), r"\d{1,18}|-": (1, 18), r"\d{1,15}": (1, 15)}


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    """Whether each value matches `pattern` whole (null for null)."""
    if pattern in _DIGITS:
        low, high = _DIGITS[pattern]
        length = pc.utf8_length(values)
        return pc.and_(
            pc.ascii_is_decimal(values),
            pc.and_(pc.greater_equal(length, low), pc.less_equal(length, high)),
        )  # a status's first digit is checked by the range test later
    return pc.match_substring_regex(values, f"^(?:{pattern})$")


def _drop(
    table: pa.Table, bad: np.ndarray, invalid: list[int] | None
) -> tuple[pa.Table, list[int] | None]:
    """`table` without its `bad` rows, which join the `invalid` ones (0-based, of the rows
    given to the tokenizer)."""
    if invalid is None:
        return table, None
    read = np.ones(table.num_rows + len(invalid), dtype=bool)
    read[invalid] = False
    given = np.flatnonzero(read)  # table row -> row given to the tokenizer
    merged = sorted([*invalid, *given[bad].tolist()])
    return table.filter(pa.array(~bad)), merged


# Types the tokenizer converts to directly, by field kind; other fields stay strings.
_DICT = pa.dictionary(pa.int32(), pa.string())
FAST_TYPES: dict[str, pa.DataType] = {
    "status": pa.int16(),
    "bytes": pa.int64(),
    "duration_us": pa.int64(),
    "duration_ms": pa.float64(),
    "duration_s": pa.float64(),
    "time_clf": _DICT,
    "request": _DICT,  # split once per distinct line (convert)
    "method": _DICT,
    "protocol": _DICT,
    "ident": _DICT,
}


def _fast_type(column: Column, kinds: dict[str, str]) -> pa.DataType:
    if column.name is None:
        return _DICT  # a literal word: checked on its distinct values
    base = column.name.removesuffix(OFFSET_SUFFIX)
    return FAST_TYPES.get(kinds[base], pa.string())


def _columns_from_words(
    table: pa.Table,
    columns: tuple[Column, ...],
    kinds: dict[str, str],
    no_quote: Collection[str] = (),
    specs: Mapping[str, Kind] | None = None,
) -> tuple[dict[str, pa.Array], np.ndarray | None] | None:
    """The raw columns of the tokenized words, and the rows (bool mask, or None for none) the
    exact path must read instead: a literal word that differs, a status outside 100-599, a
    negative or non-finite number, a quote in a value of a field in `no_quote` written
    without quotes (its pattern, not the tokenizer, decides what '\\"' means there), or a
    dictionary-encoded word of a strict field (a time, a method; `specs`) that its
    pattern refuses. None when no row can stay."""
    specs = specs or {}
    split = {c.name.removesuffix(OFFSET_SUFFIX) for c in columns
             if c.name is not None and c.name.endswith(OFFSET_SUFFIX)}  # fmt: skip
    raw: dict[str, pa.Array] = {}
    bad = np.zeros(table.num_rows, dtype=bool)
    for i, column in enumerate(columns):
        values = table.column(i).combine_chunks()
        if column.name is None:
            assert column.literal is not None  # a column without a name is a literal word
            literal = column.literal.strip('"')
            words = values.dictionary.to_pylist()
            if any(v != literal for v in words) or (literal != "-" and values.null_count):
                same = pa.array([v == literal for v in words], pa.bool_())
                ok = pc.take(same, values.indices)
                if literal == "-":
                    ok = pc.fill_null(ok, True)  # '-' is read as null
                bad |= ~pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
            continue
        base = column.name.removesuffix(OFFSET_SUFFIX)
        if base in no_quote and not column.quoted and _textual(values.type):
            bad |= _holds_quote(values)
        if column.strip:  # exactly the one '[' and ']' the format writes around the value
            values, unwrapped = _unwrapped(values, column.strip)
            bad |= ~unwrapped
        spec = specs.get(base)
        if spec is not None and spec.strict and pa.types.is_dictionary(values.type):
            pattern = _word_pattern(spec.pattern, column.name, base in split)
            bad |= _refused(values, pattern)
        raw[column.name] = values
    status = next((raw[n] for n, k in kinds.items() if k == "status" and n in raw), None)
    if status is not None and len(status) and not _in_range(status, 100, 599):
        outside = pc.or_(pc.less(status, 100), pc.greater(status, 599))
        bad |= pc.fill_null(outside, False).to_numpy(zero_copy_only=False)
    for name, kind in kinds.items():  # '-1', '-inf', 'nan' convert, but their patterns refuse them
        if kind in _NON_NEGATIVE and name in raw and not _non_negative(raw[name]):
            values = raw[name]
            wrong = pc.less(values, 0)
            if pa.types.is_floating(values.type):
                wrong = pc.or_(wrong, pc.invert(pc.is_finite(values)))
            bad |= pc.fill_null(wrong, False).to_numpy(zero_copy_only=False)
    if bad.all():
        return None
    return raw, (bad if bad.any() else None)


_NON_NEGATIVE = {"bytes", "duration_us", "duration_ms", "duration_s"}


def _unwrapped(values: pa.Array, strip: str) -> tuple[pa.Array, np.ndarray]:
    """`values` without the '[' before and the ']' after them that `strip` names, and whether
    each had them (a dictionary's values are unwrapped once each)."""
    words = values.dictionary if pa.types.is_dictionary(values.type) else values
    has = pa.array(np.ones(len(words), dtype=bool))
    if "[" in strip:
        has = pc.and_(has, pc.starts_with(words, "["))
        words = pc.utf8_slice_codeunits(words, 1)
    if "]" in strip:
        has = pc.and_(has, pc.ends_with(words, "]"))
        words = pc.utf8_slice_codeunits(words, 0, -1)
    if pa.types.is_dictionary(values.type):
        return (pa.DictionaryArray.from_arrays(values.indices, words),
                _np_true(pc.take(has, values.indices)))  # fmt: skip
    return words, _np_true(has)


def _np_true(mask: pa.Array) -> np.ndarray:
    """A boolean array as numpy, null as false."""
    out: np.ndarray = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return out


def _word_pattern(pattern: str, name: str, split: bool) -> str:
    """The pattern of one word of a field: a CLF time split at its space is a date-time and
    an offset."""
    if not split or " " not in pattern:
        return pattern
    local, offset = pattern.split(" ", 1)
    return offset if name.endswith(OFFSET_SUFFIX) else local


def _refused(values: pa.DictionaryArray, pattern: str) -> np.ndarray:
    """Whether `pattern` refuses each word (its dictionary searched once); '-' (read as
    null) as the pattern takes it."""
    ok = pc.take(pc.match_substring_regex(values.dictionary, f"^(?:{pattern})$"), values.indices)
    return ~_np_true(pc.fill_null(ok, _takes_dash(pattern)))


def _takes_dash(pattern: str) -> bool:
    """Whether a field's pattern takes '-' (the tokenizer reads '-' as null)."""
    try:
        return re.fullmatch(pattern, "-") is not None
    except re.error:  # RE2 syntax Python does not read: leave '-' to the exact path
        return False


def _textual(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_dictionary(typ))


def _holds_quote(values: pa.Array) -> np.ndarray:
    """Whether each value holds a '"' (a dictionary's values are searched once each)."""
    if pa.types.is_dictionary(values.type):
        quoted = pc.match_substring(values.dictionary, '"')
        found = pc.take(quoted, values.indices)
    else:
        found = pc.match_substring(values, '"')
    return _np_true(found)


def _non_negative(values: pa.Array) -> bool:
    """Whether every value is finite and not negative (nulls aside)."""
    if pa.types.is_floating(values.type) and not pc.all(pc.is_finite(values)).as_py():
        return False
    low = pc.min(values).as_py()
    return low is None or low >= 0


def _in_range(values: pa.Array, low: int, high: int) -> bool:
    extremes = pc.min_max(values)
    lo, hi = extremes["min"].as_py(), extremes["max"].as_py()
    return lo is None or (lo >= low and hi <= high)


def extract(lines: pa.Array, fmt: LogFormat) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Raw columns by the full-line pattern, and a mask of the lines it matched."""
    struct = pc.extract_regex(lines, fmt.regex)
    matched = struct.is_valid().to_numpy(zero_copy_only=False)
    raw = {f.name: pc.cast(pc.struct_field(struct, f.name), pa.string()) for f in fmt.fields}
    return raw, matched
