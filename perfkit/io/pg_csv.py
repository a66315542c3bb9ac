"""psql CSV exports of PostgreSQL statistics views, one file per view per snapshot.

Made e.g. with
``\\copy (select now() as snapshot_time, * from pg_stat_statements) to 'x.csv' csv header``.
A folder, a glob or a list of such files is a time series: exports of several
views may sit side by side, each file's view told by its columns, never its
name (`SIGNATURES`: ``queryid, query, calls`` is pg_stat_statements;
``relid, seq_scan, n_live_tup`` without ``indexrelid`` pg_stat_user_tables;
``indexrelid, idx_scan`` pg_stat_user_indexes; ``datid, datname,
xact_commit`` pg_stat_database; ``pid, state, backend_start``
pg_stat_activity). Files may be gzip, bzip2 or xz compressed.

A plain ``select *`` export has no ``snapshot_time``: it is then taken from
the ``snapshot_time=`` argument or from a timestamp in the file name
(``statements-20240101T120000Z.csv``, ``2024-01-01_12-00-00.csv``). Columns
get the types a snapshot store gives them (PostgreSQL's: nullable integers,
floats, booleans, UTC times, text); columns an export lacks (the store's
pg_statio and size columns, pg_stat_statements_info's ``dealloc``) are absent.
Activity ages (``*_age_s``) are seconds before ``snapshot_time``. Password
literals and DSN passwords in ``query`` texts (``ALTER ROLE ... PASSWORD '...'``
is kept verbatim by pg_stat_statements) are masked on read (`redact_sql`).
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import lzma
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io.paths import locate
from perfkit.io.pg_stat import RENAMES, ViewMissing, to_frame
from perfkit.io.redact import redact_sql

_STAMP = re.compile(
    r"(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})[T_ -]?"
    r"(?P<H>\d{2})[:-]?(?P<M>\d{2})[:-]?(?P<S>\d{2})(?P<z>Z)?"
)
EXPORT_PATTERNS = ("*.csv", "*.csv.gz", "*.csv.bz2", "*.csv.xz")
# view -> (columns an export of it has, columns it must not have); the first match wins
SIGNATURES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "statements": (frozenset({"queryid", "query", "calls"}), frozenset()),
    "indexes": (frozenset({"indexrelid", "idx_scan"}), frozenset()),
    "tables": (frozenset({"relid", "seq_scan", "n_live_tup"}), frozenset({"indexrelid"})),
    "database": (frozenset({"datid", "datname", "xact_commit"}), frozenset({"pid"})),
    "activity": (frozenset({"pid", "state", "backend_start"}), frozenset()),
}
VIEW_SOURCES = {
    "statements": "pg_stat_statements", "tables": "pg_stat_user_tables",
    "indexes": "pg_stat_user_indexes", "database": "pg_stat_database",
    "activity": "pg_stat_activity",
}  # fmt: skip

# PostgreSQL's types for the columns of every view (13 to 18, newest names), as the store has them
_INT = """userid dbid queryid plans calls rows shared_blks_hit shared_blks_read
    shared_blks_dirtied shared_blks_written local_blks_hit local_blks_read local_blks_dirtied
    local_blks_written temp_blks_read temp_blks_written wal_records wal_fpi wal_buffers_full
    jit_functions jit_inlining_count jit_optimization_count jit_emission_count jit_deform_count
    parallel_workers_to_launch parallel_workers_launched generic_plan_calls custom_plan_calls
    dealloc relid indexrelid seq_scan seq_tup_read idx_scan idx_tup_read idx_tup_fetch n_tup_ins
    n_tup_upd n_tup_del n_tup_hot_upd n_tup_newpage_upd n_live_tup n_dead_tup
    n_mod_since_analyze n_ins_since_vacuum vacuum_count autovacuum_count analyze_count
    autoanalyze_count heap_blks_read heap_blks_hit idx_blks_read idx_blks_hit toast_blks_read
    toast_blks_hit tidx_blks_read tidx_blks_hit table_bytes index_bytes datid numbackends
    xact_commit xact_rollback blks_read blks_hit tup_returned tup_fetched tup_inserted
    tup_updated tup_deleted conflicts temp_files temp_bytes deadlocks checksum_failures sessions
    sessions_abandoned sessions_fatal sessions_killed pid leader_pid usesysid client_port
    backend_xid backend_xmin query_id"""
_FLOAT = """total_plan_time min_plan_time max_plan_time mean_plan_time stddev_plan_time
    total_exec_time min_exec_time max_exec_time mean_exec_time stddev_exec_time
    shared_blk_read_time shared_blk_write_time local_blk_read_time local_blk_write_time
    temp_blk_read_time temp_blk_write_time wal_bytes jit_generation_time jit_inlining_time
    jit_optimization_time jit_emission_time jit_deform_time reltuples total_vacuum_time
    total_autovacuum_time total_analyze_time total_autoanalyze_time session_time active_time
    idle_in_transaction_time backend_age_s xact_age_s query_age_s state_age_s"""
_BOOL = "toplevel indisunique indisprimary indisvalid"
_TIME = """snapshot_time stats_reset stats_since minmax_stats_since last_vacuum last_autovacuum
    last_analyze last_autoanalyze last_seq_scan last_idx_scan checksum_last_failure
    backend_start xact_start query_start state_change"""
_TEXT = """query schemaname relname indexrelname indexdef indkey index_method indclass indoption
    index_expressions index_predicate datname usename application_name client_addr
    client_hostname wait_event_type wait_event state backend_type"""
TYPES: dict[str, pa.DataType] = {
    **dict.fromkeys(_INT.split(), pa.int64()), **dict.fromkeys(_FLOAT.split(), pa.float64()),
    **dict.fromkeys(_BOOL.split(), pa.bool_()), **dict.fromkeys(_TEXT.split(), pa.string()),
    **dict.fromkeys(_TIME.split(), pa.string()),  # parsed after reading: any UTC offset
}  # fmt: skip
TIMES = frozenset(_TIME.split())
# values PostgreSQL never gives: a damaged export (a negative count, an infinite time)
_SIGNED = frozenset({"queryid", "query_id", "client_port", "reltuples", "backend_age_s",
                     "xact_age_s", "query_age_s", "state_age_s"})  # fmt: skip
_NONNEGATIVE = frozenset((_INT + " " + _FLOAT).split()) - _SIGNED
_FINITE = frozenset(_FLOAT.split())
# statistics times: after PostgreSQL's epoch, before any plausible clock
_EARLIEST, _LATEST = pd.Timestamp("2000-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
_AGES = {"backend_age_s": "backend_start", "xact_age_s": "xact_start",
         "query_age_s": "query_start", "state_age_s": "state_change"}  # fmt: skip
_OPENERS: dict[bytes, Callable[..., io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.open,
    b"BZh": bz2.open,
    b"\xfd7zXZ\x00": lzma.open,
}  # each called as (path, "rb")
SnapshotTime: TypeAlias = "str | datetime | None"  # a time pd.Timestamp reads; naive is UTC
_DAMAGED = (OSError, EOFError, zlib.error, lzma.LZMAError)


def read_exports(
    sources: Iterable[str | Path], view: str, snapshot_time: SnapshotTime = None
) -> pd.DataFrame:
    """Every snapshot of `view` among the psql CSV exports named by `sources`, oldest first.

    `sources` are files, folders (their ``*.csv[.gz|.bz2|.xz]`` files) or glob
    patterns. `snapshot_time` is used for exports with neither a
    ``snapshot_time`` column nor a time in their name. Raises `InputError` for a
    file that is not such an export (naming it and what was expected),
    `ViewMissing` when no file holds `view` (listing the views there).
    """
    sources = list(sources)
    files = export_files(sources)
    where = ", ".join(str(s) for s in sources[:3]) + (" ..." if len(sources) > 3 else "")
    if not files:
        raise InputError(
            f"{where}: no psql CSV export found (looked for {', '.join(EXPORT_PATTERNS)}) "
            "and not a perfkit snapshot store (no perfkit-store.json)"
        )
    by_view: dict[str, list[tuple[Path, list[str]]]] = {}
    for path in files:
        header = _header(path)
        by_view.setdefault(classify(path, header), []).append((path, header))
    if view not in by_view:
        held = ", ".join(f"{v} ({len(f)} file{'s' if len(f) > 1 else ''})"
                         for v, f in by_view.items())  # fmt: skip
        wanted = ", ".join(sorted(SIGNATURES[view][0]))
        raise ViewMissing(
            f"{where}: no export of {VIEW_SOURCES[view]} (view '{view}': columns {wanted}); "
            f"the exports there hold: {held}"
        )
    frames = [_read(path, header, view, snapshot_time) for path, header in by_view[view]]
    if view == "statements":
        _one_per_snapshot(frames, [path for path, _ in by_view[view]])
    series = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if view == "statements" and "query" in series:  # the store's dtype (texts joined back)
        series["query"] = series["query"].astype("str")
    return series.sort_values("snapshot_time", kind="stable", ignore_index=True)


def export_files(sources: Iterable[str | Path]) -> list[Path]:
    """The files `sources` name: files as given, folders' exports, glob matches; no repeats."""
    found: list[Path] = []
    for source in sources:
        text = os.fspath(source)
        path = locate(text)  # relative: the working directory, else the project root
        text = os.fspath(path)
        if path.is_dir():
            found += sorted(p for pattern in EXPORT_PATTERNS for p in path.glob(pattern)
                            if not p.name.startswith("."))  # fmt: skip
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text) if os.path.isfile(m))
            if not matches:
                raise InputError(f"{text}: the pattern matches no file")
            found += matches
        else:
            raise InputError(f"{text}: no such file or folder")
    return list(dict.fromkeys(found))


def classify(path: Path, header: list[str]) -> str:
    """The view an export holds, from its header's columns; `InputError` when none matches."""
    names = {RENAMES.get(c, c) for c in header}
    for view, (needed, excluded) in SIGNATURES.items():
        if needed <= names and not excluded & names:
            return view
    expected = "; ".join(f"{VIEW_SOURCES[v]}: {', '.join(sorted(n))}"
                         for v, (n, _) in SIGNATURES.items())  # fmt: skip
    shown = ", ".join(header[:8]) + (" ..." if len(header) > 8 else "")
    raise InputError(
        f"{path}: columns ({shown}) match no statistics view perfkit reads; expected a psql "
        f"CSV export with a header line holding the columns of one of {expected}"
    )


def _open(path: Path) -> io.BufferedIOBase:
    """`path` as a binary stream, decompressed when its first bytes say gzip, bzip2 or xz."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    for start, opener in _OPENERS.items():
        if magic.startswith(start):
            return opener(path, "rb")
    return open(path, "rb")


def _header(path: Path) -> list[str]:
    try:
        with _open(path) as handle:
            line = handle.readline(1 << 16)
        text = line.decode("utf-8-sig")
        header = next(csv.reader([text]), [])
    except (*_DAMAGED, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"{path}: not a psql CSV export (cannot read a header line: {exc}); expected e.g. "
            "`\\copy (select now() as snapshot_time, * from pg_stat_statements) to 'x.csv' "
            "csv header`"
        ) from exc
    header = [name.strip() for name in header]
    if not header or not all(header):
        raise InputError(
            f"{path}: {'empty file' if not line else 'no header line'}; expected a psql CSV "
            "export with a header line (`\\copy (...) to 'x.csv' csv header`)"
        )
    return header


def _read(
    path: Path, header: list[str], view: str, snapshot_time: SnapshotTime = None
) -> pd.DataFrame:
    """One export as a typed frame with ``snapshot_time`` first."""
    names = _unique(header)
    try:
        with _open(path) as handle:
            data = _utf8(path, handle.read())
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False,
                                          encoding="utf8"),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={n: TYPES[RENAMES.get(n, n)] for n in names
                              if RENAMES.get(n, n) in TYPES},
                true_values=["t", "true"], false_values=["f", "false"],
                null_values=[""],  # COPY's CSV: NULL is empty (a table named NA is a name)
                strings_can_be_null=True,  # ... and "" an empty string
                quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except (*_DAMAGED, pa.ArrowInvalid) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        raise InputError(
            f"{path}: not a whole CSV export of {VIEW_SOURCES[view]} ({reason}); the file may "
            "be truncated or damaged"
        ) from exc
    kept = [i for i, n in enumerate(names) if "\0" not in n]  # repeated columns: first kept
    table = table.select(kept)
    table = table.rename_columns([RENAMES.get(n, n) for n in table.column_names])
    _check_values(path, view, table)
    table = pa.table({n: c.cast(pa.string()) if pa.types.is_null(c.type) else c
                      for n, c in zip(table.column_names, table.columns, strict=True)})  # fmt: skip
    if "query" in table.column_names:  # utility statements keep their literals: passwords
        i = table.column_names.index("query")
        table = table.set_column(i, "query", redact_sql(table.column(i)))
    frame = to_frame(table)
    if "snapshot_time" not in frame and "now" in frame:  # `select now(), * from ...`
        frame = frame.rename(columns={"now": "snapshot_time"})
    for column in TIMES & set(frame.columns):
        frame[column] = _times(path, column, frame[column])
    if "snapshot_time" in frame:
        if frame["snapshot_time"].isna().any():
            raise InputError(f"{path}: snapshot_time is empty on some rows")
    else:
        stamp = snapshot_time if snapshot_time is not None else _from_name(path)
        if stamp is None:
            raise InputError(
                f"{path}: no snapshot_time column and no timestamp in the file name; export with "
                "`select now() as snapshot_time, * from ...` or pass snapshot_time="
            )
        stamp = pd.Timestamp(stamp)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        frame.insert(0, "snapshot_time", pd.Series(stamp, index=frame.index,
                                                   dtype="datetime64[us, UTC]"))  # fmt: skip
    frame = frame[["snapshot_time", *[c for c in frame.columns if c != "snapshot_time"]]]
    _check_unique(path, view, frame)
    if view == "activity":
        for age, start in _AGES.items():
            if age not in frame and start in frame:
                frame[age] = (frame["snapshot_time"] - frame[start]).dt.total_seconds()
    return frame


def _utf8(path: Path, data: bytes) -> bytes:
    """`data` as UTF-8: bytes that are not (a Latin-1 name, a damaged byte) read as U+FFFD,
    counted in a `PerfkitWarning`."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - data.count("\ufffd".encode())
        warnings.warn(
            f"{path}:{line}: {bad} byte sequence(s) that are not UTF-8 read as U+FFFD (export "
            "with `\\encoding UTF8` in psql to keep them)",
            PerfkitWarning,
            stacklevel=4,
        )
        return text.encode("utf-8")
    return data


def _check_values(path: Path, view: str, table: pa.Table) -> None:
    """`InputError` for a value PostgreSQL never gives (a negative counter, an infinite or
    NaN time): the export is damaged; its row and column are named."""
    for name in table.column_names:
        column = table.column(name)
        checks = []
        if name in _NONNEGATIVE and (pa.types.is_integer(column.type)
                                     or pa.types.is_floating(column.type)):  # fmt: skip
            checks.append((pc.less(column, 0), "a negative value"))
        if name in _FINITE and pa.types.is_floating(column.type):
            checks.append((pc.invert(pc.is_finite(column)), "an infinite or NaN value"))
        for bad, what in checks:
            bad = pc.fill_null(bad, False)
            if pc.any(bad).as_py():
                row = pc.index(bad, True).as_py()
                raise InputError(
                    f"{path}: data row {row + 1}: {what} in {name} "
                    f"({column[row].as_py()!r}); {VIEW_SOURCES[view]} never gives one, so the "
                    f"export is damaged; expected a count or time >= 0"
                )


# what identifies a row of each view in one snapshot (a repeated line would double its counts)
_KEYS = {"statements": ("queryid", "dbid", "userid", "toplevel"), "tables": ("relid",),
         "indexes": ("indexrelid",), "database": ("datid",), "activity": ("pid",)}  # fmt: skip


def _check_unique(path: Path, view: str, frame: pd.DataFrame) -> None:
    """`InputError` when a row of the view appears twice in one snapshot (a repeated line)."""
    key = [c for c in _KEYS[view] if c in frame]
    if not key or (view == "statements" and "queryid" not in key):
        return
    rows = frame[["snapshot_time", *key]]
    if view == "statements":  # entries hidden from the reading role all have a NULL queryid
        rows = rows[rows["queryid"].notna()]
    repeated = rows.duplicated(keep="first").to_numpy()
    if repeated.any():
        row = int(rows.index[int(repeated.argmax())])
        shown = ", ".join(f"{k}={rows.at[row, k]!s}" for k in key)
        raise InputError(
            f"{path}: data row {row + 1}: a second row for {shown} in the snapshot at "
            f"{rows.at[row, 'snapshot_time']!s}; expected one row per {', '.join(key)} (the export "
            "is damaged: a line repeated)"
        )


def _unique(header: list[str]) -> list[str]:
    """Header names with repeats marked (``relid\\0 1``) so they can be dropped after reading."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}\0{seen[name]}")
    return names


def _times(path: Path, column: str, values: pd.Series) -> pd.Series:
    """Text times (psql's ISO style with any offset, or another DateStyle) as UTC."""
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(values, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{path}: column {column} holds values that are not times ({exc})"
            ) from exc
    outside = ((parsed < _EARLIEST) | (parsed >= _LATEST)).fillna(False).to_numpy()
    if outside.any():
        row = int(outside.argmax())
        raise InputError(
            f"{path}: data row {row + 1}: {column} {values.iloc[row]!r} is read as "
            f"{parsed.iloc[row]}; expected a time between 2000 and 2200 (the export is damaged)"
        )
    return parsed.astype("datetime64[us, UTC]")


def _one_per_snapshot(frames: list[pd.DataFrame], paths: list[Path]) -> None:
    """pg_stat_statements is server-wide: two exports at one time are one export read twice."""
    seen: dict[object, Path] = {}
    for frame, path in zip(frames, paths, strict=True):
        for stamp in frame["snapshot_time"].unique():
            if stamp in seen:
                raise InputError(
                    f"{path}: a second pg_stat_statements export at {pd.Timestamp(stamp)} (the "
                    f"first is {seen[stamp]}); keep one file per snapshot"
                )
            seen[stamp] = path


def _from_name(path: Path) -> pd.Timestamp | None:
    match = _STAMP.search(path.name)
    if match is None:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if k != "z"}
    try:
        return pd.Timestamp(year=parts["y"], month=parts["m"], day=parts["d"], hour=parts["H"],
                            minute=parts["M"], second=parts["S"], tz="UTC")  # fmt: skip
    except ValueError:  # digits that are not a time (month 13...)
        return None
