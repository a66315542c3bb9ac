"""`read_access_log`: Gunicorn, nginx, Apache and JSON-lines access logs -> requests frame.

The main path is columnar: files are read (memory-mapped when plain) in
line-aligned blocks, two blocks parse at once (one per core; Arrow releases
the GIL), and each block is split into fields by Arrow's CSV tokenizer (clean
blocks of space-separated formats) or by the format's RE2 pattern, then typed,
routed and redacted with Arrow compute. Python only loops over blocks,
distinct values and the rejected lines it keeps as samples.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io._pool import read_pool
from perfkit.io.account import ParseAccount
from perfkit.io.logformat import (
    JsonFormat,
    LogFormat,
    format_beside,
    format_file,
    read_format_file,
    resolve,
    sniff,
)
from perfkit.io.logformat.convert import (
    Converted,
    Rejects,
    convert,
    fixed_zone,
    merge,
    used_entries,
)
from perfkit.io.logformat.jsonl import extract_json
from perfkit.io.logformat.parse import extract, lines_array, tokenize
from perfkit.io.logformat.spec import diagnose_many
from perfkit.io.paths import Buffer, Paths, expand_paths
from perfkit.io.redact import (
    is_sensitive_column,
    redact_path,
    redact_paths_encoded,
    redact_query,
    redact_text,
    redact_urls,
)
from perfkit.io.routes import (
    OTHER,
    Rule,
    cap_routes,
    infer_routes,
    merge_route_info,
    route_labels,
    rules_from,
)
from perfkit.io.textfiles import Block, TruncatedInput, read_blocks

OnBadLines = Literal["error", "warn", "skip"]
SNIFF_LINES = 100
PARSE_THREADS = 2  # blocks parsed at once, one per core (Arrow releases the GIL)
DIAGNOSED = 100  # rejected lines explained field by field; the rest get the block's reason

# The requests frame, in order: column -> pandas dtype.
STRING = pd.StringDtype("pyarrow")
COLUMNS: dict[str, Any] = {
    "time": None,  # datetime64[ns, tz]
    "client": STRING,
    "method": "category",
    "path": STRING,
    "query": STRING,
    "route": "category",
    "status": "int16",
    "bytes": "Int64",
    "referrer": STRING,
    "user_agent": STRING,
    "duration_ms": "float64",
}
OPTIONAL = {
    "upstream_ms": "float64",
    "source": "category",
    "protocol": "category",
    "user": STRING,
    "pid": "Int32",
}
_ARROW_TYPES = {
    "status": pa.int16(),
    "bytes": pa.int64(),
    "duration_ms": pa.float64(),
    "upstream_ms": pa.float64(),
    "pid": pa.int32(),
}


_Format = LogFormat | JsonFormat
# one block read: its table, the UTC offsets (s) its times carried, its route info
_Part = tuple[pa.Table, set[int], dict[str, Any]]
# one block parsed: table, offsets, rejects, its lines (None: not needed) and route info
_Parsed = tuple[pa.Table, set[int], Rejects, pa.Array | None, dict[str, Any]]


def read_access_log(
    paths: Paths,
    format: str | os.PathLike[str] | Mapping[str, str] | LogFormat | JsonFormat = "auto",
    routes: Any = None,
    tz: str | None = None,
    on_bad_lines: OnBadLines = "warn",
    engine: str = "pandas",
    partition_bytes: int | None = None,
    unmatched: str = "infer",
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """Read web-server access logs into the requests frame (one row per request).

    Parameters
    ----------
    paths
        A path, a glob, or a list of them; ``.gz``/``.bz2``/``.xz`` are read
        transparently and rotated sets are read oldest first. Relative paths
        are found from the working directory, else from the project root
        (`perfkit.io.paths.locate`).
    format
        ``"auto"`` (default): the format string in an ``access_log_format.txt``
        beside each log when there is one, else sniffed from the file's lines.
        Or a name from `perfkit.list_formats()`, a Gunicorn ``access_log_format``,
        an nginx ``log_format`` or an Apache ``LogFormat`` string, a path to a
        file holding such a string, or a dict mapping perfkit columns to the
        fields of JSON lines. ``df.attrs["perfkit"]["format_file"]`` names the
        format file read, if any.
    routes
        A Flask app, a werkzeug ``Map`` or Flask rule strings to label each
        request's ``route``; None infers routes from the paths (identifiers,
        e-mails, and many rare values at one place become parameters; see
        `perfkit.io.routes`). ``df.attrs["perfkit"]["routes"]["inferred"]``
        lists what was inferred.
    unmatched
        With `routes`: ``"infer"`` (default) infers the routes of paths no
        rule matches, ``"label"`` labels them ``(unmatched)``.
    tz
        Time zone for logged times that carry no UTC offset, and the zone of
        the result; by default the offset the log carries (UTC when it
        carries several).
    on_bad_lines
        ``"error"`` raises `InputError` at the first line that does not
        parse; ``"warn"`` (default) and ``"skip"`` keep going. Either way the
        account in ``df.attrs["perfkit"]`` counts every line and keeps the
        rejected ones with file, line number and reason.
    engine
        ``"pandas"`` (default) reads now into memory; ``"dask"`` returns a lazy Dask
        DataFrame with the same columns and dtypes, one partition per file or per
        `partition_bytes` (64 MiB) of a plain file, for logs larger than memory or
        spread over a cluster (`perfkit.io.dask_engine`; needs ``perfkit[dask]``).
    dtype_backend
        As in `pandas.read_csv` (`perfkit.io._dtypes`): None (default) for pandas'
        own dtypes (text is ``str``), ``"numpy_nullable"`` or ``"pyarrow"``.
        ``method``, ``route``, ``protocol`` and ``source`` are categorical and
        ``bytes``/``pid`` nullable integers in every backend.

    Returns
    -------
    pandas.DataFrame
        ``time`` (tz-aware, end of request as logged), ``client``, ``method``,
        ``path``, ``query`` (sensitive values redacted), ``route``,
        ``status``, ``bytes``, ``referrer``, ``user_agent``, ``duration_ms``
        (NaN when the format has no duration), optionally ``upstream_ms``,
        and ``source`` (the file).
    """
    if on_bad_lines not in ("error", "warn", "skip"):
        raise InputError(f"on_bad_lines must be 'error', 'warn' or 'skip', not {on_bad_lines!r}")
    check_backend(dtype_backend, "read_access_log")
    named_file = format_file(format)
    if named_file is not None:
        format = read_format_file(named_file)
    if engine == "dask":
        from perfkit.io import dask_engine

        if isinstance(format, str) and format == "auto":  # whole-file partitions find it too
            beside = {b for f in expand_paths(paths) if (b := format_beside(f)) is not None}
            if len(beside) == 1:
                format = read_format_file(beside.pop())

        lazy: pd.DataFrame = dask_engine.read_access_log_dask(  # a Dask DataFrame (Dask is Any)
            paths, partition_bytes or dask_engine.PARTITION_BYTES, format=format, routes=routes,
            tz=tz, on_bad_lines=on_bad_lines, unmatched=unmatched, dtype_backend=dtype_backend,
        )  # fmt: skip
        return lazy
    if engine != "pandas":
        raise InputError(f"engine must be 'pandas' or 'dask', not {engine!r}")
    with read_pool():  # jemalloc while the columns are built (perfkit.io._pool)
        files = expand_paths(paths)
        fixed = None if isinstance(format, str) and format == "auto" else resolve(format)
        file_formats, format_files = _formats_beside(files, fixed)
        rules = None if routes is None else rules_from(routes)
        if unmatched not in ("infer", "label"):
            raise InputError(f"unmatched must be 'infer' or 'label', not {unmatched!r}")
        account = ParseAccount("read_access_log")
        formats: dict[str, LogFormat | JsonFormat] = {}
        with _progress(files) as progress:
            per_file = [
                list(_read_file(path, fmt, tz, rules, on_bad_lines, account, formats, progress))
                for path, fmt in zip(files, file_formats, strict=True)
            ]
        # files in the order of their first request (rotations named oddly still line up)
        per_file.sort(key=lambda blocks: min((_first_time(t) for t, _, _ in blocks), default=0))
        parts = [part for blocks in per_file for part in blocks]
        if account.lines == 0:
            raise InputError(f"{_names(files)}: empty; there are no log lines to read")
        if account.parsed == 0 and account.rejected:
            raise InputError(f"{_names(files)}: none of the {account.lines:,} lines could be read; "
                             + account.summary())  # fmt: skip
        account.format = ", ".join(dict.fromkeys(f.name for f in formats.values()))
        account.format_string = " | ".join(dict.fromkeys(f.source for f in formats.values()))
        # the blocks' paths, dictionary-encoded as they were parsed (in parallel)
        encoded = [info.pop(PATHS) for _, _, info in parts if PATHS in info]
        if len(encoded) != len(parts):
            encoded = []
        account.routes = merge_route_info([info for _, _, info in parts])
        frame = _assemble(parts, tz)
        del parts, per_file
        # the blocks' scratch memory goes back to the system before routes are inferred over the
        # whole log (the pool keeps freed pages otherwise: about 120 MiB on 1M lines)
        pa.default_memory_pool().release_unused()
        frame["route"], inferred = infer_routes(
            frame["path"], frame["route"], rules, unmatched, encoded or None
        )
        del encoded
        account.routes.update(inferred=inferred, unmatched_mode=unmatched)
        if rules is None:
            frame["route"], capped = cap_routes(frame["route"])
            if capped:
                account.routes.update(capped)
                note = (
                    f"{_names(files)}: {capped['routes'] + capped['other_routes']:,} distinct "
                    f"routes; the {capped['other_routes']:,} least requested "
                    f"({capped['other_requests']:,} requests) are grouped as '{OTHER}' (the "
                    f"{capped['cap']:,} most requested are kept); pass routes= the app's rules "
                    "to label every request"
                )
                account.notes.append(note)
                warnings.warn(note, PerfkitWarning, stacklevel=2)
        account.timed = int(frame["duration_ms"].count())
        if account.timed == 0 and len(frame):
            account.notes.append(
                f"no request times: the format ({account.format}) has no duration field, so "
                "latency cannot be judged (perfkit.io.logformat.timing_fix says how to add one)"
            )
        if account.rejected and on_bad_lines == "warn":
            warnings.warn(account.summary(), PerfkitWarning, stacklevel=2)
        frame.attrs["perfkit"] = account.to_dict()
        if named_file is not None or format_files:
            frame.attrs["perfkit"]["format_file"] = ", ".join(
                dict.fromkeys(map(str, [named_file] if named_file else format_files))
            )
        return to_backend(frame, dtype_backend, "read_access_log")


def _formats_beside(
    files: list[Path | Buffer], fixed: _Format | None
) -> tuple[list[_Format | None], list[Path]]:
    """Each file's fixed format (None: sniff) and the format files read: with no format given,
    the `FORMAT_FILE` beside a log gives its format."""
    if fixed is not None:
        return [fixed] * len(files), []
    formats: list[_Format | None] = []
    read: list[Path] = []
    compiled: dict[Path, _Format] = {}
    for path in files:
        sidecar = format_beside(path)
        if sidecar is not None and sidecar not in compiled:
            compiled[sidecar] = resolve(read_format_file(sidecar))
            read.append(sidecar)
        formats.append(compiled.get(sidecar) if sidecar is not None else None)
    return formats, read


def _read_file(
    path: Path | Buffer,
    fixed: _Format | None,
    tz: str | None,
    rules: list[Rule] | None,
    on_bad_lines: OnBadLines,
    account: ParseAccount,
    formats: dict[str, _Format],
    progress: _Bar,
) -> Iterator[_Part]:
    counts: dict[str, Any] = {
        "file": str(path),
        "lines": 0,
        "parsed": 0,
        "rejected": 0,
        "format": "",
    }
    try:
        for block, fmt, parsed in _parsed_blocks(path, fixed, tz, rules):
            counts["format"] = fmt.name
            formats[str(path)] = fmt
            table, offsets, rejects, lines, route_info = parsed
            _account_block(
                block, fmt, rejects, lines, table.num_rows, counts, account, on_bad_lines
            )
            block.release()
            pa.default_memory_pool().release_unused()  # keep the peak near what is live
            if table.num_rows:
                yield table, offsets, route_info
            progress.update(block.lines)
    except TruncatedInput as exc:
        if on_bad_lines == "error":
            raise
        account.notes.append(str(exc))
        if on_bad_lines == "warn":
            warnings.warn(str(exc), PerfkitWarning, stacklevel=4)
    for note in getattr(formats.get(str(path)), "notes", ()):  # e.g. the format changed
        account.notes.append(note)
        if on_bad_lines == "warn":
            warnings.warn(note, PerfkitWarning, stacklevel=4)
    if counts["lines"] == 0:
        account.notes.append(f"{path}: empty")
    account.files.append(counts)


def _parsed_blocks(
    path: Path | Buffer, fixed: _Format | None, tz: str | None, rules: list[Rule] | None
) -> Iterator[tuple[Block, _Format, _Parsed]]:
    """(block, format, parse result) in file order, `PARSE_THREADS` blocks parsing at once.

    When the file turns out damaged, the blocks read before the damage are
    still yielded, then the error is raised.
    """
    pending: deque[tuple[Block, _Format, Future[_Parsed]]] = deque()
    damage: TruncatedInput | None = None
    with ThreadPoolExecutor(PARSE_THREADS) as pool:
        fmt = fixed
        try:
            for block in read_blocks(path):
                if fmt is None:
                    sampled, numbers = _sample(block)
                    fmt = sniff(sampled, str(path), numbers)
                pending.append((block, fmt, pool.submit(_parse_block, block, fmt, tz, rules)))
                while len(pending) > PARSE_THREADS:
                    done_block, done_fmt, future = pending.popleft()
                    yield done_block, done_fmt, future.result()
        except TruncatedInput as exc:
            damage = exc
        while pending:
            done_block, done_fmt, future = pending.popleft()
            yield done_block, done_fmt, future.result()
    if damage is not None:
        raise damage


SNIFF_WINDOW = 1 << 16  # bytes sampled at each of the start, middle and end of a block


def _sample(block: Block) -> tuple[list[str], list[int]]:
    """Lines from the start, middle and end of `block` (all of it when it is small), with
    their line numbers."""
    size = block.data.nbytes
    raw = np.frombuffer(block.data, dtype=np.uint8)
    starts = [0] if size <= 4 * SNIFF_WINDOW else [0, size // 2, size - SNIFF_WINDOW]
    lines: list[str] = []
    numbers: list[int] = []
    for start in starts:
        stop = size if len(starts) == 1 else start + SNIFF_WINDOW
        text = bytes(block.data[start:stop]).decode("utf-8", errors="replace").split("\n")
        first = block.first_line + int(np.count_nonzero(raw[:start] == 0x0A))
        if start:  # the window began inside a line: skip its rest
            text, first = text[1:], first + 1
        if stop < size or not text[-1]:  # the window ended inside a line, or after the last
            text = text[:-1]
        lines.extend(text)
        numbers.extend(range(first, first + len(text)))
    return lines, numbers


def _parse_block(block: Block, fmt: _Format, tz: str | None, rules: list[Rule] | None) -> _Parsed:
    """One block's good lines as a typed, routed, redacted table.

    Clean lines go through the tokenizer; lines with escapes or damage (or every
    line, when the format cannot be tokenized) through the exact path, each part
    converted apart and put back in line order. Returns the table, the UTC offsets
    its times carried, its rejects, its lines (None when the fast path never needed
    them) and its route info.
    """
    lines: pa.Array | None = None
    split = None if isinstance(fmt, JsonFormat) else tokenize(block.data, block.lines, fmt)
    if isinstance(fmt, JsonFormat):
        lines = lines_array(block.data, block.lines)
        rejects = Rejects(block.lines)
        rejects.add(_blank(lines), "blank line")
        try:
            raw, kinds, problems = extract_json(block.data, lines, fmt, _blank(lines))
        except InputError as exc:  # name the file (and the block's first line)
            raise InputError(f"{block.path}:{block.first_line}: {exc}") from None
        for mask, reason in problems:
            rejects.add(mask, reason)
        converted = convert(raw, kinds, "jsonl", tz, rejects)
    else:
        kinds = {f.name: f.kind for f in fmt.fields}
        fields = {f.name: f for f in fmt.fields}
        parts: list[tuple[np.ndarray, Converted]] = []
        if split is not None:
            fast = convert(split.raw, kinds, fmt.server, tz, Rejects(len(split.rows)),
                           plain=True, fields=fields)  # fmt: skip
            parts.append((split.rows, fast))
        rest = np.arange(block.lines) if split is None else split.rest
        if len(rest):  # the exact path, line by line in Arrow
            lines = lines_array(block.data, block.lines, None if split is None else split.ends)
            some = lines if len(rest) == block.lines else pc.take(lines, pa.array(rest))
            rejects = Rejects(len(rest))
            rejects.add(_blank(some), "blank line")
            raw, matched = extract(some, fmt)
            rejects.add(~matched, f"does not match the {fmt.name} format")
            parts.append((rest, convert(raw, kinds, fmt.server, tz, rejects, fields=fields)))
        converted = merge(parts, block.lines)
    table, route_info = _finish(_typed_table(converted, block), rules)
    return table, converted.offsets_s, converted.rejects, lines, route_info


def _finish(table: pa.Table, rules: list[Rule] | None) -> tuple[pa.Table, dict[str, Any]]:
    """Standard columns present, route labels added, secrets redacted."""
    n = table.num_rows
    for name in COLUMNS:
        if name not in table.column_names and name not in ("time", "route"):
            table = table.append_column(name, pa.nulls(n, _ARROW_TYPES.get(name, pa.string())))
    i = table.schema.get_field_index("path")  # before routes are derived from it
    path = table.column(i).combine_chunks()
    if rules is None:  # every route is inferred over the whole log once it is read
        labels = pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
        paths, masked = redact_paths_encoded(pc.dictionary_encode(path))
        if masked:
            table = table.set_column(i, "path", paths.dictionary.take(paths.indices))
        info: dict[str, Any] = {"source": "heuristic", "requests": n, PATHS: paths}
    else:
        table = table.set_column(i, "path", redact_path(path))
        labels, info = route_labels(table.column("path").combine_chunks(), rules, infer=False)
    table = table.append_column("route", labels)
    for name, redact in (("query", redact_query), ("referrer", redact_urls)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, redact(table.column(i).combine_chunks()))
    return _large_strings(table), info


PATHS = "_paths"  # route info key: the block's paths, dictionary-encoded (taken off the info)


def _large_strings(table: pa.Table) -> pa.Table:
    """Strings with 64-bit offsets, as pandas keeps them (cast here, in parallel, not later)."""
    schema = pa.schema(
        [f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema]
    )
    return table.cast(schema)


def _blank(lines: pa.Array) -> pa.Array:
    return pc.equal(pc.utf8_length(pc.utf8_rtrim_whitespace(lines)), 0)


def _typed_table(converted: Converted, block: Block) -> pa.Table:
    ok = converted.rejects.ok
    keep_all = bool(ok.all())
    columns: dict[str, pa.Array] = {}
    for name, values in converted.columns.items():
        if is_sensitive_column(name):
            values = pc.if_else(pc.is_valid(values), "REDACTED", pa.scalar(None, pa.string()))
        values = values if keep_all else pc.filter(values, pa.array(ok))
        if pa.types.is_dictionary(values.type):  # categories of the rows kept, in order of use
            values = used_entries(values)
        columns[name] = values
    table = pa.table(columns)
    source = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([block.path.name])
    )
    return table.append_column("source", source)


def _account_block(
    block: Block,
    fmt: _Format,
    rejects: Rejects,
    lines: pa.Array | None,
    kept: int,
    counts: dict[str, Any],
    account: ParseAccount,
    on_bad_lines: OnBadLines,
) -> None:
    n_bad = block.lines - kept
    counts["lines"] += block.lines
    counts["parsed"] += kept
    counts["rejected"] += n_bad
    account.lines += block.lines
    account.parsed += kept
    account.rejected += n_bad
    if not n_bad:
        return
    for code, count in enumerate(np.bincount(rejects.codes)):
        if code and count:
            account.reasons[rejects.reasons[code]] += int(count)
    bad_rows = np.flatnonzero(rejects.codes)
    if lines is None:
        lines = lines_array(block.data, block.lines)
    rows = bad_rows[: max(account.room, 1 if on_bad_lines == "error" else 0)]
    # redacted before anything quotes them (the diagnosis's 'got ...' snippet too)
    texts = [redact_text(lines[int(row)].as_py().rstrip("\r\n")) for row in rows]
    reasons = [rejects.reasons[rejects.codes[row]] for row in rows]
    unmatched = [k for k, reason in enumerate(reasons) if reason.startswith("does not match")][
        : max(DIAGNOSED - len(account.rejected_lines), 0)
    ]
    if unmatched and isinstance(fmt, LogFormat):
        for k, said in zip(unmatched, diagnose_many(fmt, [texts[k] for k in unmatched]),
                           strict=True):  # fmt: skip
            reasons[k] = f"{reasons[k]}: {said}"
    for row, text, reason in zip(rows, texts, reasons, strict=True):
        line_no = block.first_line + int(row)
        if on_bad_lines == "error":
            raise InputError(
                f"{block.path}:{line_no}: {reason}; expected the {fmt.name} format "
                f"{fmt.source!r}, got {text[:300]!r}"
            )
        account.keep(str(block.path), line_no, reason, text)


def _assemble(parts: list[_Part], tz: str | None) -> pd.DataFrame:
    """The blocks' tables, in the order given, as the requests frame."""
    offsets: set[int] = set().union(*(o for _, o, _ in parts)) if parts else set()
    tables = [t for t, _, _ in parts]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else _empty()
    zone = tz or fixed_zone(offsets) or "UTC"
    return _to_pandas(table, zone)


def _first_time(table: pa.Table) -> int:
    """Earliest time in `table` in ns since 1970 (0 for none)."""
    first: int | None = pc.min(table.column("time").cast(pa.int64())).as_py()
    return 0 if first is None else first


def _empty() -> pa.Table:
    """A table of no requests with the standard columns."""
    empty = pa.table({"time": pa.array([], pa.timestamp("ns", "UTC"))})
    table, _ = _finish(
        empty.append_column("source", pa.array([], pa.dictionary(pa.int32(), pa.string()))), None
    )
    return table


def _to_pandas(table: pa.Table, zone: str | tzinfo) -> pd.DataFrame:
    # column by column: several times faster than Table.to_pandas, which consolidates blocks
    mapper = {
        pa.string(): STRING,
        pa.large_string(): STRING,
        pa.int64(): pd.Int64Dtype(),  # nulls stay NA, no float round trip
        pa.int32(): pd.Int32Dtype(),
    }.get
    df = pd.DataFrame(
        {name: table.column(name).to_pandas(types_mapper=mapper) for name in table.column_names},
        copy=False,
    )
    df["time"] = df["time"].dt.tz_convert(zone)
    for name, dtype in {**COLUMNS, **OPTIONAL}.items():
        if dtype is not None and name in df and df[name].dtype != dtype:
            if name == "status" and df[name].isna().any():
                dtype = "Int16"
            df[name] = df[name].astype(dtype)
    order = [c for c in COLUMNS if c in df] + [c for c in OPTIONAL if c in df]
    order += [c for c in df.columns if c not in order]
    return df[order]


def _names(files: Sequence[Path | Buffer]) -> str:
    return str(files[0]) if len(files) == 1 else f"{len(files)} files ({files[0]}, ...)"


class _Bar(Protocol):
    """A progress bar in lines (tqdm's, or none)."""

    def __enter__(self) -> _Bar: ...

    def __exit__(self, *exc: object) -> object: ...

    def update(self, n: int) -> object: ...


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


PROGRESS_MIN_BYTES = 64 << 20  # smaller inputs read in about a second: no bar


def _interactive() -> bool:
    """A terminal or a Jupyter kernel is watching."""
    return sys.stderr.isatty() or _in_kernel()


def _in_kernel() -> bool:
    """This process is a running Jupyter kernel (not merely one that imported ipykernel, as
    papermill's caller or a test session does)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # a half-imported IPython: not a kernel we can draw in
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _progress(files: list[Path | Buffer]) -> _Bar:
    """A tqdm bar in lines for big inputs in a terminal or notebook; silent otherwise.

    In a Jupyter kernel the bar is a widget when ipywidgets is installed, else a text bar
    (never tqdm's "IProgress not found" warning)."""
    size = sum(len(f.data) if isinstance(f, Buffer) else f.stat().st_size for f in files)
    if size < PROGRESS_MIN_BYTES or not _interactive():
        return _NoProgress()
    bar: _Bar = _bar_class()(unit=" lines", unit_scale=True, desc="read_access_log", leave=False)
    return bar


def _bar_class() -> Any:  # a tqdm class (tqdm is not typed)
    """tqdm's notebook bar in a Jupyter kernel with ipywidgets, its text bar otherwise."""
    from tqdm.std import tqdm

    if not _in_kernel():
        return tqdm
    try:
        import ipywidgets  # noqa: F401
        from tqdm.notebook import IProgress
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return tqdm
    return tqdm if IProgress is None else notebook_tqdm
