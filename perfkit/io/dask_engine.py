"""`read_access_log(..., engine="dask")`: the same parser, one partition per file or byte range.

Plain log files larger than `partition_bytes` are cut at line ends into
byte ranges; compressed files are one partition each (a gzip stream cannot
be entered in the middle). Each partition is parsed by the pandas engine
itself, so columns, dtypes, redaction and route labels are the same; a
rejected line's message names the file and the line its range starts at.
Categorical columns have per-partition categories (Dask's "unknown
categories"). Nothing is read until the frame is computed or summarised.

Dask is an optional extra: ``pip install 'perfkit[dask]'``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.errors import InputError
from perfkit.io.paths import COMPRESSED_SUFFIXES, Buffer, Paths, expand_paths

PARTITION_BYTES = 64 * 2**20
INSTALL = "engine='dask' needs Dask: pip install 'perfkit[dask]'"


def require_dask() -> Any:
    """dask.dataframe, or `InputError` naming the install command."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise InputError(INSTALL) from exc
    return dd


@dataclass(frozen=True)
class Piece:
    """A whole file (``end == -1``) or its bytes ``[start, end)``, starting at line `first_line`."""

    path: str
    start: int = 0
    end: int = -1
    first_line: int = 1


def plan(paths: Paths, partition_bytes: int = PARTITION_BYTES) -> list[Piece]:
    """The partitions of `paths`: byte ranges cut at line ends for large plain files."""
    pieces = []
    for item in expand_paths(paths):
        if isinstance(item, Buffer):
            raise InputError(f"{item}: engine='dask' reads files by path, not open files")
        if not item.is_file():
            raise InputError(
                f"{item}: engine='dask' reads regular files (each more than once), not a pipe "
                "or standard input; use engine='pandas' or save the stream to a file first"
            )
        size = item.stat().st_size
        if item.name.endswith(COMPRESSED_SUFFIXES) or size <= partition_bytes:
            pieces.append(Piece(str(item)))
            continue
        pieces.extend(_ranges(item, size, partition_bytes))
    return pieces


def _ranges(path: Path, size: int, partition_bytes: int) -> list[Piece]:
    """Byte ranges of about `partition_bytes`, each ending after a newline; lines counted in
    1 MiB reads, so planning a file larger than memory stays small."""
    pieces, start, line = [], 0, 1
    with open(path, "rb") as handle:
        while start < size:
            cut = min(start + partition_bytes, size)
            handle.seek(start)
            newlines, position = 0, start
            while position < cut:
                chunk = handle.read(min(1 << 20, cut - position))
                newlines += chunk.count(b"\n")
                position += len(chunk)
            if cut < size:  # finish the line the cut fell in
                rest = b""
                while not rest.endswith(b"\n"):
                    more = handle.read(4096)
                    if not more:
                        break
                    end = more.find(b"\n")
                    rest += more if end < 0 else more[: end + 1]
                cut += len(rest)
                newlines += rest.count(b"\n")
            pieces.append(Piece(str(path), start, cut, line))
            line += newlines
            start = cut
    return pieces


def read_piece(piece: Piece, **options: Any) -> pd.DataFrame:
    """One partition, parsed by the pandas engine."""
    from perfkit.io.access_log import read_access_log

    if piece.end < 0:
        return read_access_log(piece.path, **options)
    with open(piece.path, "rb") as handle:
        handle.seek(piece.start)
        data = handle.read(piece.end - piece.start)
    stream = io.BytesIO(data)
    stream.name = f"{piece.path} (from line {piece.first_line})"
    frame = read_access_log(stream, **options)
    name = Path(piece.path).name  # as the pandas engine names the source: the file
    frame["source"] = pd.Categorical([name] * len(frame)) if len(frame) else frame["source"]
    return frame


def read_access_log_dask(
    paths: Paths, partition_bytes: int = PARTITION_BYTES, **options: Any
) -> Any:
    """A Dask DataFrame of the requests frame (see the module docstring)."""
    dd = require_dask()
    pieces = plan(paths, partition_bytes)
    meta = _meta(pieces[0], options)
    frame = dd.from_map(read_piece, pieces, meta=meta, enforce_metadata=False, **options)
    return frame


def _meta(piece: Piece, options: dict[str, Any]) -> pd.DataFrame:
    """Columns and dtypes from the first lines of the first partition (categories unknown)."""
    from dask.dataframe.utils import clear_known_categories

    from perfkit.io.access_log import read_access_log

    with open(piece.path, "rb") as handle:
        if piece.path.endswith(COMPRESSED_SUFFIXES):
            head = None
        else:
            handle.seek(piece.start)
            head = handle.read(min(256 * 1024, os.path.getsize(piece.path) - piece.start))
    if head is None or b"\n" not in head:
        sample = read_piece(piece, **options)
    else:
        stream = io.BytesIO(head[: head.rfind(b"\n") + 1])
        stream.name = piece.path
        sample = read_access_log(stream, **options)
    empty: pd.DataFrame = clear_known_categories(sample.iloc[:0])
    return empty
