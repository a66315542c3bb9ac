"""Two ways from a block of log lines to raw string columns.

- `tokenize`: Arrow's multi-threaded CSV reader with ' ' as delimiter and '"'
  as quote, for formats whose fields are space-separated words. It is used
  only on blocks it provably reads like the full-line pattern would: no
  backslash in the block, every line with the expected number of columns
  and of quotes. Otherwise it returns None.
- `extract`: the format's full-line RE2 pattern, run on slices of the block
  in threads; a line that does not match is rejected.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from perfkit.io.logformat.spec import OFFSET_SUFFIX, LogFormat

_THREADS = 2
_SLICE_LINES = 50_000


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
    """Raw columns of a clean block by the CSV fast path, or None when it does not apply."""
    columns = fmt.columns
    if columns is None:
        return None
    owner, size = data.obj, data.nbytes  # bytes or bytearray: search without copying
    if owner.find(b"\\", 0, size) >= 0:  # a backslash: escapes need the exact path
        return None
    if owner.count(b'"', 0, size) != fmt.quotes_per_line * lines:
        return None
    invalid = 0

    def on_invalid(row: pcsv.InvalidRow) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    names = [f"c{i}" for i in range(len(columns))]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=pcsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pcsv.ParseOptions(
                delimiter=" ",
                quote_char='"',
                escape_char=False,
                double_quote=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=["-"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if invalid or table.num_rows != lines:
        return None
    return _columns_from_words(table, columns)


def _columns_from_words(table: pa.Table, columns) -> dict[str, pa.Array] | None:
    raw: dict[str, pa.Array] = {}
    for i, column in enumerate(columns):
        values = table.column(i).combine_chunks()
        if column.name is None:
            literal = column.literal.strip('"')
            if not pc.all(pc.equal(pc.fill_null(values, "-"), literal)).as_py():
                return None
            continue
        if column.strip:
            values = pc.utf8_trim(values, column.strip)
        raw[column.name] = values
    for name in [n for n in raw if n.endswith(OFFSET_SUFFIX)]:
        base = name.removesuffix(OFFSET_SUFFIX)
        raw[base] = pc.binary_join_element_wise(raw[base], raw.pop(name), " ")
    return raw


def extract(lines: pa.Array, fmt: LogFormat) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Raw columns by the full-line pattern, and a mask of the lines it matched."""
    pattern = fmt.regex
    starts = range(0, len(lines), _SLICE_LINES)
    if len(starts) > 1:
        with ThreadPoolExecutor(_THREADS) as pool:
            parts = list(
                pool.map(lambda s: pc.extract_regex(lines.slice(s, _SLICE_LINES), pattern), starts)
            )
        struct = pa.concat_arrays(parts)
    else:
        struct = pc.extract_regex(lines, pattern)
    matched = struct.is_valid().to_numpy(zero_copy_only=False)
    raw = {f.name: pc.cast(pc.struct_field(struct, f.name), pa.string()) for f in fmt.fields}
    return raw, matched
