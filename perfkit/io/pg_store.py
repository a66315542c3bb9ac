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

FORMAT_VERSION = 1
MANIFEST = "perfkit-store.json"


def write_snapshot(frames: dict[str, pd.DataFrame], store: Path) -> list[Path]:
    """Write each view's frame of one snapshot atomically; return the files written."""
    store.mkdir(parents=True, exist_ok=True)
    _manifest(store)
    written = []
    for view, frame in frames.items():
        folder = store / view
        folder.mkdir(exist_ok=True)
        stamp = (
            pd.Timestamp(frame["snapshot_time"].iloc[0])
            if len(frame)
            else pd.Timestamp.now(tz="UTC")
        )
        name = stamp.tz_convert("UTC").strftime("%Y%m%dT%H%M%S.%fZ") + ".parquet"
        written.append(_atomic_parquet(_arrow_safe(frame), folder / name, view))
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


def _arrow_safe(frame: pd.DataFrame) -> pa.Table:
    """A table Parquet can hold: object columns of mixed Python values become strings."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column]
            kinds = {type(v) for v in values.dropna()}
            if kinds and not kinds <= {str}:
                if all(
                    issubclass(k, pd.Timedelta | type(pd.Timedelta(0).to_pytimedelta()))
                    for k in kinds
                ):
                    frame[column] = pd.to_timedelta(values).dt.total_seconds()
                else:
                    frame[column] = values.map(lambda v: None if v is None else str(v))
    return pa.Table.from_pandas(frame, preserve_index=False)


def _atomic_parquet(table: pa.Table, target: Path, view: str) -> Path:
    meta = dict(table.schema.metadata or {})
    meta.update(
        {b"perfkit.format_version": str(FORMAT_VERSION).encode(), b"perfkit.view": view.encode()}
    )
    table = table.replace_schema_metadata(meta)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def read_store(store: Path, view: str) -> pd.DataFrame:
    """Every snapshot of `view` in `store`, oldest first (one frame, ``snapshot_time`` per row)."""
    manifest = store / MANIFEST
    if not manifest.exists():
        raise InputError(
            f"{store}: not a perfkit snapshot store (no {MANIFEST}); write one with snapshot_pg"
        )
    meta = json.loads(manifest.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{store}: store format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    files = sorted((store / view).glob("*.parquet"))
    if not files:
        raise InputError(f"{store}: no snapshots of '{view}' in the store")
    frames = []
    for path in files:
        try:
            frames.append(pq.read_table(path).to_pandas())
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"{path}: unreadable snapshot ({exc})") from exc
    return pd.concat(frames, ignore_index=True)
