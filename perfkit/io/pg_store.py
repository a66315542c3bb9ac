"""A folder of PostgreSQL statistics snapshots: one Parquet file per view per snapshot.

Layout: ``<store>/<view>/<UTC time>.parquet`` and ``<store>/perfkit-store.json``,
the manifest: ``format_version``, ``kind`` and ``snapshots``, the list of
committed snapshots (``{"name": "<UTC time>.parquet", "views": [...]}``).

Segments keep a long-running store quick to read (a file costs about a
millisecond to open, whatever its size): the writer gathers every
`SEGMENT_FANOUT` single snapshots, view by view, into one
``<view>/segment-<first snapshot>.<count>.parquet``, and every `SEGMENT_FANOUT`
segments of like size into a larger one (see `_gather`); it commits the manifest
naming each snapshot's ``"segment"`` (``format_version`` 3; a store without
segments stays at 2), and only then removes the files gathered. A reader holds a
shared lock, so no file it was told of goes away while it reads.

A snapshot is all its views or none. Under an exclusive lock on the store,
each view's file is written to a temporary name, flushed and renamed into
place; then the manifest, rewritten the same way, commits the snapshot. A
writer killed, stopped or out of disk space before that leaves files the
manifest does not list: readers ignore them, and the next write removes them.

Stores written by perfkit before the manifest listed snapshots
(``format_version`` 1) are read as every file in their view folders, and
list them when a snapshot is added. Every file read is checked against its
view: perfkit's own metadata, then the columns the view must have.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from perfkit.errors import InputError
from perfkit.io.paths import make_folder
from perfkit.io.pg_stat import VIEWS, ViewMissing, to_frame

FORMAT_VERSION = 3  # of the store: the manifest lists committed snapshots and their segments
READS = (1, 2, 3)  # store versions read (1: every file in the view folders; 2: no segments)
SEGMENT_FANOUT = 10  # files of like size gathered into one segment (see _gather)
SEGMENT_ROWS = 2_000_000  # rows of a view in one segment, at most (bounds a merge's memory)
FILE_FORMAT_VERSION = 1  # of each Parquet file (its perfkit.format_version metadata)
MANIFEST = "perfkit-store.json"
log = logging.getLogger(__name__)
LOCK = ".perfkit-store.lock"
STORE_VIEWS = (*VIEWS, "texts")
_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z(?:-\d{1,6})?\.parquet")
_SEGMENT = re.compile(r"segment-\d{8}T\d{6}\.\d{6}Z(?:-\d{1,6})?\.\d{1,9}\.parquet")

# Columns each view's files must have (present on PostgreSQL 13 to 17), and their kind:
# "i" integer, "f" number, "s" text, "t" timestamp.
REQUIRED: dict[str, dict[str, str]] = {
    "statements": {"snapshot_time": "t", "userid": "i", "dbid": "i", "queryid": "i",
                   "calls": "i", "total_exec_time": "f", "rows": "i"},
    "texts": {"snapshot_time": "t", "queryid": "i", "query": "s"},
    "tables": {"snapshot_time": "t", "relid": "i", "schemaname": "s", "relname": "s",
               "seq_scan": "i", "n_live_tup": "i"},
    "indexes": {"snapshot_time": "t", "relid": "i", "indexrelid": "i", "schemaname": "s",
                "relname": "s", "indexrelname": "s", "idx_scan": "i"},
    "database": {"snapshot_time": "t", "datid": "i", "datname": "s", "xact_commit": "i",
                 "blks_read": "i", "blks_hit": "i"},
    "activity": {"snapshot_time": "t", "pid": "i", "state": "s"},
}  # fmt: skip
_KINDS = {
    "i": (pa.types.is_integer, "integers"),
    "f": (lambda t: pa.types.is_floating(t) or pa.types.is_integer(t), "numbers"),
    "s": (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t),
          "text"),
    "t": (pa.types.is_timestamp, "timestamps"),
}  # fmt: skip


Entries = list[tuple[str, tuple[str, ...]]]  # committed snapshots: (file name, views)
Segments = dict[str, str]  # snapshot name -> the segment file holding its views


@dataclass
class Manifest:
    """A store's committed snapshots, oldest first, and the segments holding some of them."""

    entries: Entries
    segments: Segments = field(default_factory=dict)
    version: int = FORMAT_VERSION


def write_snapshot(frames: dict[str, pa.Table], store: Path) -> list[Path]:
    """Write one snapshot (every view's table, or nothing) and commit it; return its files.

    Raises `InputError` naming the store when it cannot be written (not a folder,
    read-only, disk full); the store then holds exactly its earlier snapshots.
    """
    unknown = set(frames) - set(STORE_VIEWS)
    if unknown:
        raise InputError(f"{store}: unknown views {sorted(unknown)}; a store holds {STORE_VIEWS}")
    make_folder(store, str(store), "a snapshot store")
    if not frames:  # nothing read: no snapshot to commit
        return []
    with _locked(store):
        manifest = _for_writing(store)
        entries, segments = manifest.entries, manifest.segments
        _clean(store, manifest)
        name = _unique_name(_stamp(frames), {n for n, _ in entries})
        placed: list[Path] = []
        temps: list[Path] = []
        committed = False
        target = store
        try:
            for view, table in frames.items():
                folder = store / view
                folder.mkdir(exist_ok=True)
                target = folder / name
                temps.append(target.with_name(f".{name}.{os.getpid()}.tmp"))
                _write_parquet(_with_metadata(table, view), temps[-1])
            for tmp in temps:
                target = tmp.with_name(name)
                os.replace(tmp, target)
                placed.append(target)
            for folder in {p.parent for p in placed}:
                _fsync_folder(folder)
            target = store / MANIFEST
            entries = [*entries, (name, tuple(frames))]
            _write_manifest(store, entries, segments)
            committed = True
        except OSError as exc:
            committed = _roll_back(store, name, [*temps, *placed])
            if not committed:
                raise InputError(
                    f"{target}: cannot write the snapshot ({exc.strerror or exc}); the store "
                    f"{store} keeps its {len(entries)} earlier snapshot(s)"
                ) from exc
        finally:
            if not committed:  # a stop signal (KeyboardInterrupt) or any error: nothing stays
                _roll_back(store, name, [*temps, *placed])
        _gather(store, entries, segments, keep=name)
    return placed


def _gather(store: Path, entries: Entries, segments: Segments, keep: str = "") -> None:
    """Gather files into segments, like a log-structured merge: every `SEGMENT_FANOUT` single
    snapshots into one segment, every `SEGMENT_FANOUT` segments of like size (1-9 snapshots
    against 10-99 against 100-999...) into one, up to `SEGMENT_ROWS` rows. A store of n
    snapshots is then about ``SEGMENT_FANOUT * log10(n)`` files a view. `keep`, the snapshot
    just written, stays single: its files are returned to the caller. Called under the
    store's lock, after a commit.

    Best effort: a failure (disk full, killed) leaves the files committed as they were; files
    whose columns do not concatenate (a type changed) are never put together.
    """
    while group := _next_group(store, entries, segments, keep):
        merged = _merge(store, entries, segments, group)
        if merged is None:
            return
        segments = merged


def _units(entries: Entries, segments: Segments, keep: str) -> dict[str, list[str]]:
    """Each file holding snapshots (single or segment) -> its snapshots, oldest first."""
    units: dict[str, list[str]] = {}
    for name, _ in entries:
        if name != keep:
            units.setdefault(segments.get(name, name), []).append(name)
    return units


def _next_group(store: Path, entries: Entries, segments: Segments, keep: str) -> list[str]:
    """The oldest `SEGMENT_FANOUT` files of the smallest size class that has that many, whose
    columns concatenate and rows stay within `SEGMENT_ROWS`; [] when none."""
    units = _units(entries, segments, keep)
    by_class: dict[int, list[str]] = {}
    for file, names in sorted(units.items(), key=lambda item: item[1][0]):
        by_class.setdefault(_size_class(len(names)), []).append(file)
    views = {name: views for name, views in entries}
    for size_class in sorted(by_class):
        files = by_class[size_class]
        if len(files) < SEGMENT_FANOUT:
            continue
        run: list[str] = []
        schemas: dict[str, list[pa.Schema]] = {}
        rows: dict[str, int] = {}
        for file in files:
            found = _metadata(store, file, {v for n in units[file] for v in views[n]})
            if found is None:
                return []
            if any(rows.get(v, 0) + meta.num_rows > SEGMENT_ROWS for v, meta in found.items()):
                break  # files only grow with their class: the next ones are no smaller
            try:
                for v, meta in found.items():
                    pa.unify_schemas([*schemas.get(v, []), meta.schema.to_arrow_schema()],
                                     promote_options="permissive")  # fmt: skip
            except (pa.ArrowException, ValueError, TypeError):  # a type changed: start anew
                run, schemas, rows = [], {}, {}
            run.append(file)
            for v, meta in found.items():
                schemas.setdefault(v, []).append(meta.schema.to_arrow_schema())
                rows[v] = rows.get(v, 0) + meta.num_rows
            if len(run) == SEGMENT_FANOUT:
                return run
    return []


def _size_class(snapshots: int) -> int:
    """0 for 1 to `SEGMENT_FANOUT` - 1 snapshots, 1 up to its square, and so on."""
    size_class = 0
    while snapshots >= SEGMENT_FANOUT:
        snapshots //= SEGMENT_FANOUT
        size_class += 1
    return size_class


def _metadata(store: Path, file: str, views: set[str]) -> dict[str, pq.FileMetaData] | None:
    """Each view's Parquet footer of a stored file; None if one cannot be read."""
    try:
        return {v: pq.read_metadata(store / v / file) for v in sorted(views)}
    except (OSError, pa.ArrowException, ValueError):
        return None


def _merge(store: Path, entries: Entries, segments: Segments, group: list[str]) -> Segments | None:
    """Write the files of `group` as one segment per view and commit it; the new segments
    (None when it could not be done: the store is as it was)."""
    held = {name: views for name, views in entries}
    names = sorted(n for n, _ in entries if segments.get(n, n) in group)
    segment = f"segment-{names[0].removesuffix('.parquet')}.{len(names)}.parquet"
    views_of: dict[str, set[str]] = {f: set() for f in group}
    for n in names:
        views_of[segments.get(n, n)].update(held[n])
    temps: list[Path] = []
    placed: list[Path] = []
    merged = None
    try:
        for view in STORE_VIEWS:
            files = [store / view / f for f in group if view in views_of[f]]
            if not files:
                continue
            table = pa.concat_tables(_read_files(files, view), promote_options="permissive")
            temps.append(store / view / f".{segment}.{os.getpid()}.tmp")
            _write_parquet(_with_metadata(table, view), temps[-1], statistics=True)
        for tmp in temps:
            os.replace(tmp, tmp.with_name(segment))
            placed.append(tmp.with_name(segment))
        for folder in {p.parent for p in placed}:
            _fsync_folder(folder)
        _write_manifest(store, entries, {**segments, **dict.fromkeys(names, segment)})
        merged = {**segments, **dict.fromkeys(names, segment)}
    except (OSError, InputError, pa.ArrowException, ValueError, TypeError) as exc:
        log.warning("%s: could not gather %d snapshots into %s (%s); they stay as they were, "
                    "and are tried again later", store, len(names), segment, exc)  # fmt: skip
    finally:  # also on a stop signal (KeyboardInterrupt), which may land after the commit
        if merged is None and _segment_committed(store, segment):
            merged = {**segments, **dict.fromkeys(names, segment)}
        if merged is not None:  # the segment holds them now
            _remove([store / view / f for f in group for view in STORE_VIEWS])
        else:
            _remove([*temps, *placed])
    return merged


def _segment_committed(store: Path, segment: str) -> bool:
    """Whether the store's manifest names `segment` (a merge interrupted after its commit)."""
    try:
        manifest = _read_manifest(store)
    except InputError:
        return False
    return manifest is not None and segment in manifest.segments.values()


def _roll_back(store: Path, name: str, paths: list[Path]) -> bool:
    """Remove an uncommitted snapshot's files; True if the manifest committed it after all."""
    try:
        entries = _for_writing(store).entries
    except InputError:
        entries = []
    if any(n == name for n, _ in entries):
        return True
    _remove([*paths, store / f".{MANIFEST}.{os.getpid()}.tmp"])
    return False


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """An exclusive lock on the store (two collectors on one store take turns)."""
    import fcntl

    try:
        fd = os.open(store / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"{store}: cannot write to the snapshot store ({exc.strerror})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _for_writing(store: Path) -> Manifest:
    """The manifest to extend (empty for a new store; a version-1 store's files listed)."""
    return _read_manifest(store) or Manifest([])


def _clean(store: Path, manifest: Manifest) -> None:
    """Remove what killed writers left: temporaries and files no manifest entry commits
    (a segment never committed, single files already gathered into a committed segment)."""
    segments = manifest.segments
    committed = {(view, segments.get(name, name))
                 for name, views in manifest.entries for view in views}  # fmt: skip
    stale = [p for p in store.glob(f".{MANIFEST}.*.tmp")]
    for view in STORE_VIEWS:
        folder = store / view
        if folder.is_dir():
            stale += [p for p in folder.glob(".*.tmp")]
            stale += [p for p in folder.glob("*.parquet")
                      if (_NAME.fullmatch(p.name) or _SEGMENT.fullmatch(p.name))
                      and (view, p.name) not in committed]  # fmt: skip
    _remove(stale)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _stamp(frames: dict[str, pa.Table]) -> pd.Timestamp:
    for table in frames.values():
        if table.num_rows:
            return pd.Timestamp(table.column("snapshot_time")[0].as_py())
    return pd.Timestamp.now(tz="UTC")


def _unique_name(stamp: pd.Timestamp, taken: set[str]) -> str:
    base = stamp.tz_convert("UTC").strftime("%Y%m%dT%H%M%S.%fZ")
    name, n = f"{base}.parquet", 0
    while name in taken:  # two snapshots in one transaction share now()
        n += 1
        name = f"{base}-{n}.parquet"
    return name


def _with_metadata(table: pa.Table, view: str) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta.update(
        {b"perfkit.format_version": str(FILE_FORMAT_VERSION).encode(),
         b"perfkit.view": view.encode()}
    )  # fmt: skip
    return table.replace_schema_metadata(meta)


def _write_parquet(table: pa.Table, path: Path, statistics: bool = False) -> None:
    with open(path, "wb") as handle:
        # tiny files: statistics cost 20 %; page checksums make damage an error, not data
        pq.write_table(table, handle, write_statistics=statistics, write_page_checksum=True)
        handle.flush()
        os.fsync(handle.fileno())


def _write_manifest(store: Path, entries: Entries, segments: Segments | None = None) -> None:
    """Commit `entries` (and the `segments` holding some of them): version 2 without segments,
    so a perfkit from before segments still reads such a store."""
    path = store / MANIFEST
    tmp = store / f".{MANIFEST}.{os.getpid()}.tmp"
    segments = segments or {}
    listed = []
    for name, views in entries:
        listed.append({"name": name, "views": list(views)})
        if name in segments:
            listed[-1]["segment"] = segments[name]
    meta = {
        "format_version": FORMAT_VERSION if segments else 2,
        "kind": "pg_stat",
        "snapshots": listed,
    }
    with open(tmp, "w") as handle:
        handle.write(json.dumps(meta, separators=(",", ":")) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # committed already; durability is best effort
        _fsync_folder(store)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync a folder
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _read_manifest(store: Path) -> Manifest | None:
    """The committed snapshots (None: no manifest; a version-1 store's files listed)."""
    path = store / MANIFEST
    if not path.exists():
        return None
    expected = (
        'expected a JSON object {"format_version": 3, "kind": "pg_stat", "snapshots": '
        '[{"name": "<UTC time>.parquet", "views": [...], "segment": "segment-<name>"}, ...]} '
        '("segment" optional)'
    )
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the store manifest ({exc.strerror})") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: damaged store manifest, not JSON ({exc}); {expected}") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: damaged store manifest ({type(meta).__name__}); {expected}")
    version = meta.get("format_version")
    if type(version) is not int or version not in READS:
        raise InputError(
            f"{path}: snapshot store format_version {version!r}; this perfkit reads "
            f"{', '.join(map(str, READS))} and writes {FORMAT_VERSION}"
        )
    if meta.get("kind", "pg_stat") != "pg_stat":
        raise InputError(f"{path}: a store of kind {meta.get('kind')!r}, expected 'pg_stat'")
    if version == 1:
        return Manifest(_listed(store), version=1)
    snapshots = meta.get("snapshots")
    if not isinstance(snapshots, list):
        raise InputError(f"{path}: damaged store manifest: 'snapshots' is not a list; {expected}")
    entries: Entries = []
    segments: Segments = {}
    for i, entry in enumerate(snapshots):
        name = entry.get("name") if isinstance(entry, dict) else None
        views = entry.get("views") if isinstance(entry, dict) else None
        segment = entry.get("segment") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not _NAME.fullmatch(name)
            or not isinstance(views, list)
            or not views
            or not all(isinstance(v, str) and v in STORE_VIEWS for v in views)
            or len(set(views)) != len(views)
            or (segment is not None and (version < 3 or not isinstance(segment, str)
                                         or not _SEGMENT.fullmatch(segment)))
        ):  # fmt: skip
            shown = json.dumps(entry)[:200]
            raise InputError(f"{path}: damaged store manifest: snapshot {i} is {shown}; {expected}")
        entries.append((name, tuple(views)))
        if segment is not None:
            segments[name] = segment
    if len({n for n, _ in entries}) != len(entries):
        raise InputError(f"{path}: damaged store manifest: a snapshot is listed twice")
    return Manifest(entries, segments, version)


def _listed(store: Path) -> Entries:
    """A version-1 store's snapshots: every Parquet file in its view folders, by name."""
    by_name: dict[str, list[str]] = {}
    for view in STORE_VIEWS:
        folder = store / view
        if folder.is_dir():
            for path in folder.glob("*.parquet"):
                by_name.setdefault(path.name, []).append(view)
    return [(name, tuple(views)) for name, views in sorted(by_name.items())]


def _committed(store: Path, view: str) -> tuple[list[Path], bool]:
    """The files of `view` in the store's committed snapshots (single files and segments) by
    their first snapshot, oldest first; and whether two of them overlap in time (a snapshot
    written late, with an earlier name), so that their rows must be put in order."""
    manifest = _read_manifest(store)
    if manifest is None:
        raise InputError(
            f"{store}: not a perfkit snapshot store (no {MANIFEST}); write one with snapshot_pg"
        )
    spans: dict[str, list[str]] = {}  # file -> [first, last] snapshot name
    for name, views in manifest.entries:
        if view in views:
            span = spans.setdefault(manifest.segments.get(name, name), [name, name])
            span[0], span[1] = min(span[0], name), max(span[1], name)
    ordered = sorted(spans.items(), key=lambda item: item[1])
    overlap = any(a[1][1] > b[1][0] for a, b in itertools.pairwise(ordered))
    files = [store / view / file for file, _ in ordered]
    for path in files:
        if not path.is_file():
            raise InputError(
                f"{store / MANIFEST} lists {view}/{path.name}, which is missing or not a file: "
                "the store was damaged or partly copied"
            )
    return files, overlap


def _read_file(path: Path, view: str, columns: list[str] | None = None) -> pa.Table:
    """One stored file, checked to be a snapshot of `view`; `InputError` naming it if not.

    The file is opened once and read on this thread (a store holds thousands of small
    files: Arrow's thread pool and a second open cost more than the reading).
    """
    expected = f"expected a Parquet snapshot of '{view}' written by perfkit"
    try:
        with open(path, "rb") as handle:
            file = pq.ParquetFile(handle, page_checksum_verification=True)
            schema = file.schema_arrow
            meta = schema.metadata or {}
            told = meta.get(b"perfkit.view")
            if told is not None and told != view.encode():
                shown = told.decode("utf-8", "replace")[:40]
                raise InputError(
                    f"{path}: a snapshot of '{shown}' in the '{view}' folder; {expected}"
                )
            _check_columns(path, schema, view, expected)
            table = file.read(columns=columns, use_threads=False)
    except InputError:
        raise
    except (OSError, pa.ArrowException, ValueError, IndexError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable snapshot ({type(exc).__name__}: {exc}); "
                         f"{expected}") from exc  # fmt: skip
    except MemoryError as exc:  # a damaged footer asking for a huge allocation
        raise InputError(f"{path}: damaged snapshot (too much memory); {expected}") from exc
    return table


def _check_columns(path: Path, schema: pa.Schema, view: str, expected: str) -> None:
    names = schema.names
    lacking = [c for c in REQUIRED[view] if c not in names]
    if lacking:
        raise InputError(f"{path}: lacks column(s) {', '.join(lacking)}; {expected}")
    if len(set(names)) != len(names):
        raise InputError(f"{path}: duplicate column names; {expected}")
    for column, kind in REQUIRED[view].items():
        check, what = _KINDS[kind]
        found = schema.field(column).type
        if not check(found):
            raise InputError(f"{path}: column {column} holds {found}, not {what}; {expected}")


_KNOWN: dict[Path, tuple[frozenset[str], set[int]]] = {}  # store -> (files read, ids)


def known_texts(store: Path) -> set[int]:
    """Query ids whose text the store already holds (statements are stored without text).

    Only committed snapshots count. Remembered per store within a process, so a
    collector reads each texts file once.
    """
    if not (store / MANIFEST).exists():
        return set()
    with _shared(store):  # another collector may be gathering the texts files
        return _known_texts(store)


def _known_texts(store: Path) -> set[int]:
    files, _ = _committed(store, "texts")
    folder = store.resolve() / "texts"
    names = frozenset(p.name for p in files)
    seen, ids = _KNOWN.get(folder, (frozenset(), set()))
    if not seen <= names:  # files went away: start over
        seen, ids = frozenset(), set()
    for path in files:
        if path.name not in seen:
            column = _read_file(path, "texts", ["queryid"]).column("queryid").drop_null()
            ids = ids | set(column.to_pylist())
    _KNOWN[folder] = (names, ids)
    return set(ids)


def _texts_joined(store: Path, statements: pa.Table) -> pa.Table:
    """Statements with their query text joined back from the store's texts, in Arrow: the
    latest stored text of each query id, else the text the statements carry themselves."""
    names = statements.column_names
    if "query" in names and statements.column("query").null_count == 0:
        return statements
    files, overlap = _committed(store, "texts")
    if not files:
        return statements
    texts = pa.concat_tables(_read_files(files, "texts", ["queryid", "query", "snapshot_time"]),
                             promote_options="permissive")  # fmt: skip
    if overlap:
        texts = texts.take(pc.sort_indices(texts, [("snapshot_time", "ascending")]))
    newest_first = texts.take(pa.array(range(texts.num_rows - 1, -1, -1)))
    ids = newest_first.column("queryid").cast(statements.schema.field("queryid").type)
    found = pc.index_in(statements.column("queryid"), value_set=ids.combine_chunks())
    stored = newest_first.column("query").cast(pa.large_string()).take(found)
    if "query" not in names:
        return statements.append_column("query", stored)
    own = statements.column("query")
    if pa.types.is_null(own.type):
        return statements.set_column(names.index("query"), "query", stored)
    merged = pc.coalesce(stored, own.cast(pa.large_string()))
    return statements.set_column(names.index("query"), "query", merged)


def _with_texts(store: Path, statements: pd.DataFrame) -> pd.DataFrame:
    """Statements with their query text joined back from the store's texts."""
    if "query" in statements and statements["query"].notna().all():
        return statements
    files, overlap = _committed(store, "texts")
    if not files:
        return statements
    texts = pa.concat_tables(_read_files(files, "texts", ["queryid", "query", "snapshot_time"]),
                             promote_options="permissive").to_pandas()  # fmt: skip
    if overlap:
        texts = texts.sort_values("snapshot_time", kind="stable")
    latest = texts.drop_duplicates("queryid", keep="last").set_index("queryid")["query"]
    stored = statements["queryid"].map(latest)
    statements["query"] = stored.where(stored.notna(), statements.get("query"))
    return statements


def read_store(store: Path, view: str) -> pd.DataFrame:
    """Every committed snapshot of `view` in `store`, oldest first (``snapshot_time`` per row).

    Raises `InputError` naming the file for a damaged manifest or snapshot, or a
    file that is not a snapshot of `view`; `ViewMissing` when no snapshot has `view`.
    """
    with _shared(store):
        return _read_store(store, view)


@contextlib.contextmanager
def _shared(store: Path) -> Iterator[None]:
    """A shared lock on the store while reading it, when the store has a lock file and it can
    be opened (a read-only copy has none to take): a writer gathering snapshots into a
    segment waits, so no file listed in the manifest read goes away mid-read."""
    import fcntl

    try:
        fd = os.open(store / LOCK, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _read_store(store: Path, view: str) -> pd.DataFrame:
    files, overlap = _committed(store, view)
    if not files:
        held = [v for v in VIEWS if _committed(store, v)[0]]
        raise ViewMissing(
            f"{store}: no snapshots of '{view}' in the store "
            f"(it holds: {', '.join(held) or 'no snapshot'})"
        )
    tables = _read_files(files, view)
    try:  # one conversion for the whole series: per file, pandas costs more than Parquet
        table = pa.concat_tables(tables, promote_options="permissive")
        if overlap:  # rows by snapshot time; within a snapshot as stored (a stable sort)
            table = table.take(pc.sort_indices(table, [("snapshot_time", "ascending")]))
        if view != "statements":
            return to_frame(table)
        table = _texts_joined(store, table)
        if "query" not in table.column_names:
            return to_frame(table)
        at = table.column_names.index("query")  # pandas' own text type, as the exports read
        frame = to_frame(table.remove_column(at))
        frame.insert(at, "query", table.column("query").to_pandas().set_axis(frame.index))
        return frame
    except (pa.ArrowException, ValueError, TypeError):  # name the file that does not fit
        frames = []
        for path, table in zip(files, tables, strict=True):
            try:
                frames.append(to_frame(table))
            except (pa.ArrowException, ValueError, TypeError) as exc:
                raise InputError(f"{path}: unreadable snapshot of '{view}' ({exc})") from exc
        series = pd.concat(frames, ignore_index=True)
    if overlap:  # rows by snapshot time; within a snapshot as stored
        series = series.sort_values("snapshot_time", kind="stable", ignore_index=True)
    return _with_texts(store, series) if view == "statements" else series


READ_THREADS = 4  # files read at once (Parquet decoding releases the GIL)


def _read_files(files: list[Path], view: str, columns: list[str] | None = None) -> list[pa.Table]:
    """`_read_file` of each of `files`, in order, a few at once."""
    if len(files) < 2 * READ_THREADS:
        return [_read_file(path, view, columns) for path in files]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(READ_THREADS) as pool:
        return list(pool.map(lambda path: _read_file(path, view, columns), files))
