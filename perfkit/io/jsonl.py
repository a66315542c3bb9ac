"""`read_jsonl`: structured JSON-lines logs (e.g. outbound API calls) into a frame.

Columnar like the access-log reader: blocks of lines go through Arrow's JSON
reader; a line it refuses is isolated by halving the block, rejected with
its file, line number and reason, and counted in ``df.attrs["perfkit"]``.
`fields` maps output columns to JSON fields (dotted paths reach into nested
objects); without it every top-level field becomes a column. A ``time``
column (ISO 8601 strings or epoch seconds) becomes tz-aware UTC.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.account import ParseAccount
from perfkit.io.logformat.convert import MAX_S, MIN_S
from perfkit.io.logformat.jsonl import get_field, parse_json_lines
from perfkit.io.logformat.parse import lines_array
from perfkit.io.paths import Paths, expand_paths
from perfkit.io.textfiles import Block, read_blocks

_LOW, _HIGH = pd.Timestamp(MIN_S, unit="s", tz="UTC"), pd.Timestamp(MAX_S, unit="s", tz="UTC")


def read_jsonl(
    paths: Paths,
    fields: Mapping[str, str] | None = None,
    on_bad_lines: str = "warn",
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """Read JSON lines into a frame with one column per entry of `fields` (output -> JSON name).

    `dtype_backend` as in `pandas.read_json`: None (pandas' defaults: ``str`` text, a whole
    number with gaps as float64), ``"numpy_nullable"`` (``Int64`` keeps it whole) or
    ``"pyarrow"``; see `perfkit.io._dtypes`."""
    if on_bad_lines not in ("error", "warn", "skip"):
        raise InputError(f"on_bad_lines must be 'error', 'warn' or 'skip', not {on_bad_lines!r}")
    check_backend(dtype_backend, "read_jsonl")
    account = ParseAccount("read_jsonl", format="jsonl")
    tables: list[pa.Table] = []
    for path in expand_paths(paths):
        for block in read_blocks(path):
            lines = lines_array(block.data, block.lines)
            blank = pc.equal(pc.utf8_length(pc.utf8_rtrim_whitespace(lines)), 0).to_numpy(
                zero_copy_only=False
            )
            rows = np.flatnonzero(~blank)
            pieces, problems = parse_json_lines(lines, rows, 0, len(rows))
            bad = [(int(r), "blank line") for r in np.flatnonzero(blank)]
            bad += [(int(r), reason) for numbers, reason in problems for r in numbers]
            _account(account, block, lines, bad, on_bad_lines)
            tables.extend(_select(table, fields) for table, _ in pieces)
    if account.lines == 0:
        raise InputError("read_jsonl: no lines in the input")
    frame = to_backend(_frame(tables, fields, account, dtype_backend), dtype_backend, "read_jsonl")
    if account.rejected and on_bad_lines == "warn":
        warnings.warn(account.summary(), PerfkitWarning, stacklevel=2)
    frame.attrs["perfkit"] = account.to_dict()
    return frame


def _account(
    account: ParseAccount,
    block: Block,
    lines: pa.Array,
    bad: list[tuple[int, str]],
    on_bad_lines: str,
) -> None:
    account.lines += block.lines
    account.rejected += len(bad)
    account.parsed += block.lines - len(bad)
    for row, reason in sorted(bad):
        text = lines[row].as_py().rstrip("\r\n")
        if on_bad_lines == "error":
            raise InputError(f"{block.path}:{block.first_line + row}: {reason}; got {text[:200]!r}")
        account.reasons[reason.split(":")[0]] += 1
        account.keep(str(block.path), block.first_line + row, reason, text)


def _select(table: pa.Table, fields: Mapping[str, str] | None) -> pa.Table:
    if fields is None:
        return table
    columns = {}
    for output, source in fields.items():
        column = get_field(table, source)
        columns[output] = column if column is not None else pa.nulls(table.num_rows)
    return pa.table(columns)


def _frame(tables: list[pa.Table], fields: Mapping[str, str] | None, account: ParseAccount,
           dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:  # fmt: skip
    if not tables:
        frame = pd.DataFrame(columns=list(fields or []))
    else:
        table = pa.concat_tables(tables, promote_options="permissive")
        mapper = {pa.string(): pd.StringDtype("pyarrow")}
        if dtype_backend is not None:  # whole numbers with gaps stay whole (Int64), as in pandas
            mapper |= {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
                       pa.bool_(): pd.BooleanDtype()}  # fmt: skip
        frame = table.to_pandas(types_mapper=mapper.get)
    if "time" in frame:
        frame["time"], bad = _times(frame["time"])
        if bad:
            account.notes.append(
                f"time: {bad:,} values are not times between 1677-09-21 and 2262-04-11 "
                "(ISO 8601 or epoch seconds); they are NaT"
            )
    return frame


def _times(values: pd.Series) -> tuple[pd.Series, int]:
    """ISO 8601 strings or epoch seconds as UTC times (ns); how many were not such times."""
    numeric = pd.to_numeric(values, errors="coerce")
    if len(values) and numeric.notna().sum() == values.notna().sum():
        seconds = numeric.where((numeric >= MIN_S) & (numeric <= MAX_S))
        times = pd.to_datetime(seconds, unit="s", utc=True)
    else:
        times = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
        times = times.where((times >= _LOW) & (times <= _HIGH))
    times = times.astype("datetime64[ns, UTC]")
    return times, int((values.notna() & times.isna()).sum())
