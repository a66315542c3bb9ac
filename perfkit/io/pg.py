"""`read_pg_stat` and `snapshot_pg`: PostgreSQL statistics as frames, live or stored."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io import pg_csv, pg_stat, pg_store
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import locate

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

# a DSN, a psycopg connection, a snapshot store folder, or psql CSV exports (a file, folder, glob
# or a list of them)
PgSource: TypeAlias = (
    "str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | psycopg.Connection[Any]"
)

VIEW_NAMES = pg_stat.VIEWS


def read_pg_stat(
    source: PgSource,
    view: str,
    snapshot_time: pg_csv.SnapshotTime = None,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """One statistics view as a frame with ``snapshot_time``.

    `view` is one of ``statements``, ``tables``, ``indexes``, ``database``,
    ``activity``. `source` is a DSN or psycopg connection (read live, now), a
    snapshot store folder (every stored snapshot), or psql CSV exports: one
    file, a folder of them, a glob or a list (every snapshot of `view` among
    them, oldest first; each file's view is told by its columns, see
    `perfkit.io.pg_csv`). `snapshot_time` is for exports without that column
    and no time in their name. A source without `view` raises `ViewMissing`
    (an `InputError`) naming the views it holds.

    `dtype_backend` as in `pandas.read_csv` (see `perfkit.io._dtypes`): None for pandas'
    defaults (``str`` text), ``"numpy_nullable"`` or ``"pyarrow"``. PostgreSQL's integers
    (ids, counters) and flags stay nullable and exact in every backend (``Int64`` and
    ``boolean`` by default, where pandas would use float64 and object): a ``queryid`` is a
    64-bit hash that a float would round.
    """
    if view not in VIEW_NAMES:
        raise InputError(f"view must be one of {', '.join(VIEW_NAMES)}, not {view!r}")
    check_backend(dtype_backend, "read_pg_stat")
    kind, value = pg_stat.resolve_source(source)
    if kind == "store":
        frame = pg_store.read_store(value, view)
    elif kind == "exports":
        frame = pg_csv.read_exports(value, view, snapshot_time)
    else:
        frames, notes = _live(kind, value, (view,))
        if view not in frames:
            raise pg_stat.StatisticsUnavailable("; ".join(notes))
        frame = pg_stat.to_frame(frames[view])
    return to_backend(frame, dtype_backend, "read_pg_stat")


def snapshot_pg(
    source: PgSource, store: str | Path, views: tuple[str, ...] = VIEW_NAMES
) -> dict[str, Path]:
    """Append one snapshot of every view to the `store` folder; return the files per view.

    Nothing is reset. Views the server cannot give (pg_stat_statements not
    installed) are skipped with a `PerfkitWarning` saying how to enable them.
    The snapshot is all views or none (see `perfkit.io.pg_store`). A server that
    cannot be reached or a connection lost mid-snapshot raises
    `perfkit.io.pg_stat.ConnectionLost`; a store that cannot be written (a file,
    read-only, full, a damaged manifest) an `InputError` naming it; both leave the
    store as it was. A relative `store` follows `perfkit.io.paths.locate`: an existing store
    under the project root is appended to, as `read_pg_stat` would read it; a new one is made
    relative to the working directory.
    """
    kind, value = pg_stat.resolve_source(source)
    if kind not in ("dsn", "conn"):
        raise InputError("snapshot_pg reads a live server: pass a DSN or a psycopg connection")
    store = locate(store)  # an existing store under the project root, as read_pg_stat finds it
    known = pg_store.known_texts(Path(store))
    frames, notes = _live(kind, value, views, known)
    for note in notes:
        warnings.warn(note, PerfkitWarning, stacklevel=2)
    written = pg_store.write_snapshot(frames, Path(store))
    return dict(zip(frames, written, strict=True))


def _live(
    kind: str, value: Any, views: tuple[str, ...], known_texts: set[int] | None = None
) -> tuple[dict[str, pa.Table], list[str]]:
    if kind == "conn":
        return pg_stat.read_live(value, views, known_texts)
    with pg_stat.connect(value) as conn:
        return pg_stat.read_live(conn, views, known_texts)
