"""JSON-lines access logs: one object per line, fields found by name.

A `JsonFormat` maps perfkit columns to JSON fields (dotted paths reach into
nested objects). Without a mapping, fields are recognised by the names
common loggers use. Durations carry their unit in the mapping's key:
``duration_ms``, ``duration_s`` or ``duration_us``.

Blocks are parsed by Arrow's JSON reader; a block it refuses (a malformed
line, or a field whose JSON type changes between lines) is split in halves
until the offending lines stand alone, so every good line is still read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from perfkit.errors import InputError

# perfkit column -> (raw kind, JSON names tried in order when no mapping is given)
COMMON_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "time": ("time", ("time", "timestamp", "@timestamp", "ts", "datetime", "time_iso8601", "date")),
    "client": (
        "client",
        ("client", "remote_addr", "client_ip", "remote_ip", "ip", "clientip", "h"),
    ),
    "method": ("method", ("method", "request_method", "verb", "m")),
    "path": ("path", ("path", "uri", "request_path", "url_path", "U")),
    "request_uri": ("request_uri", ("request_uri", "url", "target")),
    "query": ("query", ("query", "query_string", "args", "q")),
    "request": ("request", ("request", "r")),
    "status": ("status", ("status", "status_code", "response_code", "code", "s")),
    "bytes": ("bytes", ("bytes", "body_bytes_sent", "bytes_sent", "response_size", "size", "b")),
    "referrer": ("referrer", ("referrer", "referer", "http_referer", "f")),
    "user_agent": ("user_agent", ("user_agent", "http_user_agent", "agent", "ua", "a")),
    "duration_ms": (
        "duration_ms",
        ("duration_ms", "response_time_ms", "elapsed_ms", "latency_ms", "M"),
    ),
    "duration_us": ("duration_us", ("duration_us", "response_time_us", "D")),
    "duration_s": ("duration_s", ("duration_s", "request_time", "elapsed_s", "L")),
    "upstream_s": ("upstream_s", ("upstream_response_time",)),
}
# columns that make a line a request (one of them must be found)
REQUEST_COLUMNS = {"method", "path", "request_uri", "request", "status"}
_EXACT_FLOAT = float(2**53)  # floats hold every integer below this exactly
_MIN_SPLIT = 16  # below this many lines, parse each line on its own

# parsed pieces of a block: (table, the block's row numbers of its rows)
_Pieces = list[tuple[pa.Table, np.ndarray]]


@dataclass(frozen=True)
class JsonFormat:
    """JSON lines, with `fields` mapping perfkit columns to JSON names (empty: recognise)."""

    fields: dict[str, str] = field(default_factory=dict)
    name: str = "jsonl"

    @property
    def source(self) -> str:
        return "json lines" + (f" {self.fields}" if self.fields else "")

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.fields.items())))


def extract_json(
    data: memoryview, lines: pa.Array, fmt: JsonFormat, blank: pa.Array
) -> tuple[dict[str, pa.Array], dict[str, str], list[tuple[np.ndarray, str]]]:
    """Raw string columns, their kinds, and (mask, reason) problems for one block."""
    n = len(lines)
    blank_np = pc.fill_null(blank, True).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(~blank_np)  # Arrow's reader skips blank lines
    pieces, problems = parse_json_lines(lines, rows, 0, len(rows))
    mapping = _mapping(fmt, pieces)
    if pieces and not set(mapping) & REQUEST_COLUMNS:
        found = sorted({name for table, _ in pieces for name in table.column_names})
        raise InputError(
            "JSON lines hold no request fields, so they are not an access log: found "
            f"{', '.join(found[:20])}{' ...' if len(found) > 20 else ''}; expected at least "
            "one of "
            + "; ".join(
                f"{column} ({', '.join(COMMON_NAMES[column][1][:4])})"
                for column in ("method", "path", "request_uri", "request", "status")
            )
            + "; or map yours with format={'path': 'your_field', ...}"
        )
    raw: dict[str, pa.Array] = {}
    kinds: dict[str, str] = {}
    for column, source in mapping.items():
        kind = COMMON_NAMES.get(column, ("extra", ()))[0]
        if kind == "time":
            kind = _time_kind(pieces, source)
        parts = [_string_column(table, source, len(idx)) for table, idx in pieces]
        strings = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
        full = _scatter(
            strings, np.concatenate([idx for _, idx in pieces]) if pieces else np.array([], int), n
        )
        if kind == "path" and pc.any(pc.match_substring(full, "?")).as_py():
            kind = "request_uri"  # a 'uri' holding the query string: split and redacted
        raw[column] = full
        kinds[column] = kind
    if not any(k.startswith("time") for k in kinds.values()):
        raise InputError(
            "JSON lines: no time field found (tried "
            f"{', '.join(COMMON_NAMES['time'][1])}); pass format={{'time': 'your_field', ...}}"
        )
    masks: list[tuple[np.ndarray, str]] = []
    for row_numbers, reason in problems:
        mask = np.zeros(n, dtype=bool)
        mask[row_numbers] = True
        masks.append((mask, reason))
    return raw, kinds, masks


def parse_json_lines(
    lines: pa.Array, rows: np.ndarray, lo: int, hi: int
) -> tuple[_Pieces, list[tuple[np.ndarray, str]]]:
    """Parse lines rows[lo:hi] with Arrow's JSON reader, isolating lines it refuses by halving.

    Returns ([(table, row numbers)], [(row numbers, reason)]).
    """
    if lo >= hi:
        return [], []
    text = _join(lines, rows[lo:hi])
    try:
        read_options = pj.ReadOptions(block_size=max(len(text), 1 << 16) + 1)
        table = pj.read_json(pa.BufferReader(text), read_options=read_options)
        stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        if stamps:  # Arrow read ISO times itself, dropping their UTC offsets: keep the text
            table = pj.read_json(
                pa.BufferReader(text), read_options=read_options,
                parse_options=pj.ParseOptions(
                    explicit_schema=pa.schema([(name, pa.string()) for name in stamps]),
                    unexpected_field_behavior="infer",
                ),
            )  # fmt: skip
        if table.num_rows == hi - lo:
            return [(table, rows[lo:hi])], []
        error = f"read {table.num_rows} objects from {hi - lo} lines"
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        error = str(exc).removeprefix("JSON parse error: ")
    if hi - lo == 1:
        return [], [(rows[lo:hi], f"expected one JSON object per line: {error}")]
    mid = (lo + hi) // 2 if hi - lo > _MIN_SPLIT else lo + 1
    left = parse_json_lines(lines, rows, lo, mid)
    right = parse_json_lines(lines, rows, mid, hi)
    return left[0] + right[0], left[1] + right[1]


def _join(lines: pa.Array, rows: np.ndarray) -> bytes:
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # contiguous: one slice, no copy of lines
        chunk = lines.slice(int(rows[0]), len(rows))
        buffers = chunk.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int32)[
            chunk.offset : chunk.offset + len(rows) + 1
        ]
        return bytes(memoryview(buffers[2])[offsets[0] : offsets[-1]])
    return "".join(pc.take(lines, pa.array(rows)).to_pylist()).encode()


def _mapping(fmt: JsonFormat, pieces: _Pieces) -> dict[str, str]:
    """perfkit column -> JSON field: the names recognised, then the user's mapping on top
    (its keys win; a JSON field or a duration it claims is not also recognised)."""
    recognised = _recognise(pieces)
    if not fmt.fields:
        return recognised
    claimed = set(fmt.fields.values())
    user_duration = any(column.startswith("duration") for column in fmt.fields)
    merged = {
        column: source
        for column, source in recognised.items()
        if source not in claimed and not (user_duration and column.startswith("duration"))
    }
    merged.update(fmt.fields)
    return merged


def _recognise(pieces: _Pieces) -> dict[str, str]:
    present: set[str] = set()
    for table, _ in pieces:
        present.update(table.column_names)
    mapping: dict[str, str] = {}
    taken_duration = False
    for column, (_, names) in COMMON_NAMES.items():
        found = next((name for name in names if name in present), None)
        if found is None or (column.startswith("duration") and taken_duration):
            continue
        taken_duration |= column.startswith("duration")
        mapping[column] = found
    return mapping


def get_field(table: pa.Table, dotted: str) -> pa.Array | None:
    """The column at a dotted path (``req.host`` reaches into nested objects), or None."""
    head, *rest = dotted.split(".")
    if head not in table.column_names:
        return None
    column = table.column(head).combine_chunks()
    for part in rest:
        if not pa.types.is_struct(column.type) or column.type.get_field_index(part) < 0:
            return None
        column = pc.struct_field(column, part)
    return column


def _string_column(table: pa.Table, dotted: str, n: int) -> pa.Array:
    column = get_field(table, dotted)
    if column is None or pa.types.is_nested(column.type):
        return pa.nulls(n, pa.string())
    if pa.types.is_floating(column.type):
        # whole numbers as integers ('200', not '200.0'); those beyond 2^53 (not exact as
        # floats) and inf/nan keep their float text, which the field's pattern then rejects
        exact = pc.fill_null(pc.less(pc.abs(column), _EXACT_FLOAT), False)
        whole = pc.and_(exact, pc.equal(pc.floor(column), column))
        as_int = pc.cast(pc.if_else(whole, column, 0.0), pa.int64())
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(column, pa.string()))
    return pc.cast(column, pa.string())


def _time_kind(pieces: _Pieces, source: str) -> str:
    for table, _ in pieces:
        column = get_field(table, source)
        if column is not None and (
            pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        ):
            return "time_epoch"
    return "time_iso"


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """An array of length `n` holding `values` at `rows` and nulls elsewhere."""
    positions = np.full(n, -1, dtype=np.int64)
    positions[rows] = np.arange(len(rows))
    index = pa.array(positions, mask=positions < 0)
    return pc.take(values, index)
