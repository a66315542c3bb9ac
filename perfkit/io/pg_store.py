"""A folder of PostgreSQL statistics snapshots: one Parquet file per view per snapshot.

Layout: ``<store>/<view>/<UTC time>.parquet`` and ``<store>/perfkit-store.json``
(``format_version``, kind). Each file is written to a temporary name in the
same folder, flushed, then renamed into place: a collector killed mid-write
leaves at most a ``.tmp`` file, which readers ignore, never a broken snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfkit.errors import InputError
from perfkit.io.pg_stat import VIEWS, ViewMissing, to_frame

FORMAT_VERSION = 1
MANIFEST = "perfkit-store.json"


def write_snapshot(frames: dict[str, pa.Table], store: Path) -> list[Path]:
    """Write each view's table of one snapshot atomically; return the files written."""
    store.mkdir(parents=True, exist_ok=True)
    _manifest(store)
    written = []
    for view, table in frames.items():
        folder = store / view
        folder.mkdir(exist_ok=True)
        stamps = table.column("snapshot_time")
        stamp = pd.Timestamp(stamps[0].as_py()) if len(stamps) else pd.Timestamp.now(tz="UTC")
        name = stamp.tz_convert("UTC").strftime("%Y%m%dT%H%M%S.%fZ") + ".parquet"
        written.append(_atomic_parquet(table, folder / name, view))
    return written


def _manifest(store: Path) -> None:
    path = store / MANIFEST
    if path.exists():
        meta = json.loads(path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"{store}: snapshot store format_version {meta.get('format_version')!r}; "
                f"this perfkit writes and reads {FORMAT_VERSION}"
            )
        return
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"format_version": FORMAT_VERSION, "kind": "pg_stat"}) + "\n")
    os.replace(tmp, path)


def _atomic_parquet(table: pa.Table, target: Path, view: str) -> Path:
    meta = dict(table.schema.metadata or {})
    meta.update(
        {b"perfkit.format_version": str(FORMAT_VERSION).encode(), b"perfkit.view": view.encode()}
    )
    table = table.replace_schema_metadata(meta)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle, write_statistics=False)  # tiny files: stats cost 20 %
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


_KNOWN: dict[Path, tuple[frozenset[str], set[int]]] = {}  # store -> (files read, ids)


def known_texts(store: Path) -> set[int]:
    """Query ids whose text the store already holds (statements are stored without text).

    Remembered per store within a process, so a collector reads each texts file once.
    """
    folder = store.resolve() / "texts"
    files = frozenset(p.name for p in folder.glob("*.parquet")) if folder.exists() else frozenset()
    seen, ids = _KNOWN.get(folder, (frozenset(), set()))
    if not seen <= files:  # files went away: start over
        seen, ids = frozenset(), set()
    for name in sorted(files - seen):
        column = pq.read_table(folder / name, columns=["queryid"]).column("queryid")
        ids = ids | {v for v in column.to_pylist() if v is not None}
    _KNOWN[folder] = (files, ids)
    return set(ids)


def _with_texts(store: Path, statements: pd.DataFrame) -> pd.DataFrame:
    """Statements with their query text joined back from the store's texts."""
    if "query" in statements and statements["query"].notna().all():
        return statements
    folder = store / "texts"
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        return statements
    texts = pd.concat([pq.read_table(p, columns=["queryid", "query"]).to_pandas() for p in files])
    latest = texts.drop_duplicates("queryid", keep="last").set_index("queryid")["query"]
    stored = statements["queryid"].map(latest)
    statements["query"] = stored.where(stored.notna(), statements.get("query"))
    return statements


def read_store(store: Path, view: str) -> pd.DataFrame:
    """Every snapshot of `view` in `store`, oldest first (one frame, ``snapshot_time`` per row)."""
    manifest = store / MANIFEST
    if not manifest.exists():
        raise InputError(
            f"{store}: not a perfkit snapshot store (no {MANIFEST}); write one with snapshot_pg"
        )
    meta = json.loads(manifest.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        found = meta.get("format_version")
        raise InputError(f"{store}: store format_version {found!r}, expected {FORMAT_VERSION}")
    files = sorted((store / view).glob("*.parquet"))
    if not files:
        held = [v for v in VIEWS if any((store / v).glob("*.parquet"))]
        raise ViewMissing(
            f"{store}: no snapshots of '{view}' in the store "
            f"(it holds: {', '.join(held) or 'no snapshot'})"
        )
    frames = []
    for path in files:
        try:
            frames.append(to_frame(pq.read_table(path)))
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"{path}: unreadable snapshot ({exc})") from exc
    series = pd.concat(frames, ignore_index=True)
    return _with_texts(store, series) if view == "statements" else series
