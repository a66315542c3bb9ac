"""Two ways from a block of log lines to raw string columns.

- `tokenize`: Arrow's multi-threaded CSV reader with ' ' as delimiter and '"'
  as quote, for formats whose fields are space-separated words. It is used
  only on blocks it provably reads like the full-line pattern would: no
  backslash in the block, every line with the expected number of columns
  and of quotes. Otherwise it returns None.
- `extract`: the format's full-line RE2 pattern; a line that does not match
  is rejected.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from perfkit.io.logformat.spec import OFFSET_SUFFIX, Column, LogFormat
from perfkit.io.textfiles import count_bytes


def lines_array(data: memoryview, count: int) -> pa.StringArray:
    """The `count` lines of `data` (each ending in a newline) as strings, without copying.

    Each string keeps its trailing newline; patterns allow for it.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 0x0A)
    assert len(ends) == count, (len(ends), count)
    offsets = np.empty(count + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = ends + 1
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def tokenize(data: memoryview, lines: int, fmt: LogFormat) -> dict[str, pa.Array] | None:
    """Raw columns of a clean block by the CSV fast path, or None when it does not apply.

    Numbers come out typed and repetitive words dictionary-encoded, straight
    from the tokenizer; a value it cannot convert sends the block to the
    exact path, which names the line. One thread per block: blocks are parsed
    in parallel instead, and each column comes back as one chunk.
    """
    columns = fmt.columns
    if columns is None:
        return None
    backslashes, quotes, returns = count_bytes(data, b'\\"\r')
    if backslashes:  # escapes need the exact path
        return None
    if quotes != fmt.quotes_per_line * lines:
        return None
    if returns:  # a CR ends a row for the tokenizer, not for the line count
        return None
    kinds = {f.name: f.kind for f in fmt.fields}
    names = [f"c{i}" for i in range(len(columns))]
    types = {n: _fast_type(c, kinds) for n, c in zip(names, columns, strict=True)}
    invalid = 0

    def on_invalid(row: pcsv.InvalidRow) -> str:
        nonlocal invalid
        invalid += 1
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
                escape_char=False,
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
        return None
    if invalid or table.num_rows != lines:
        return None
    return _columns_from_words(table, columns, kinds)


# Types the tokenizer converts to directly, by field kind; other fields stay strings.
_DICT = pa.dictionary(pa.int32(), pa.string())
FAST_TYPES: dict[str, pa.DataType] = {
    "status": pa.int16(),
    "bytes": pa.int64(),
    "duration_us": pa.int64(),
    "duration_ms": pa.float64(),
    "duration_s": pa.float64(),
    "time_clf": _DICT,
    "method": _DICT,
    "protocol": _DICT,
    "ident": _DICT,
}


def _fast_type(column: Column, kinds: dict[str, str]) -> pa.DataType:
    if column.name is None:
        return _DICT  # a literal word: checked on its distinct values
    base = column.name.removesuffix(OFFSET_SUFFIX)
    return FAST_TYPES.get(kinds[base], pa.string())


def _columns_from_words(table: pa.Table, columns, kinds) -> dict[str, pa.Array] | None:
    raw: dict[str, pa.Array] = {}
    for i, column in enumerate(columns):
        values = table.column(i).combine_chunks()
        if column.name is None:
            literal = column.literal.strip('"')
            if any(v != literal for v in values.dictionary.to_pylist()):
                return None
            if literal != "-" and values.null_count:
                return None
            continue
        if column.strip:
            if pa.types.is_dictionary(values.type):
                values = pa.DictionaryArray.from_arrays(
                    values.indices, pc.utf8_trim(values.dictionary, column.strip)
                )
            else:
                values = pc.utf8_trim(values, column.strip)
        raw[column.name] = values
    status = next((raw[n] for n, k in kinds.items() if k == "status" and n in raw), None)
    if status is not None and len(status) and not _in_range(status, 100, 599):
        return None  # the exact path names the line
    for name, kind in kinds.items():  # '-1', '-inf', 'nan' convert, but their patterns refuse them
        if kind in _NON_NEGATIVE and name in raw and not _non_negative(raw[name]):
            return None
    return raw


_NON_NEGATIVE = {"bytes", "duration_us", "duration_ms", "duration_s"}


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
