"""PostgreSQL's own statistics: live, from a snapshot store, or from psql CSV exports.

Live reads use psycopg 3 in a READ ONLY transaction with `statement_timeout`
and `lock_timeout` and ``application_name=perfkit``; they only SELECT from
statistics views, never reset or write anything, and work for a role that
has just ``pg_monitor``. One transaction reads every view of a snapshot, so
all its rows share one ``snapshot_time`` (the transaction's ``now()``).

No function that locks a relation is called: table and index sizes come
from ``pg_class.relpages`` (as of the last VACUUM or ANALYZE) rather than
``pg_relation_size``, and an index's ``indexdef`` (``btree (sku, location)``)
is built from the catalogs rather than by ``pg_get_indexdef``, so a snapshot
never waits behind, or queues ahead of, an application's ``ALTER TABLE``.

Column names follow PostgreSQL (units too: times in ms, sizes in blocks or
bytes as the view says); names PostgreSQL renamed between 13 and 17 map to
the newest (``total_time`` -> ``total_exec_time``, ``blk_read_time`` ->
``shared_blk_read_time``). Ages from pg_stat_activity are seconds
(``*_age_s``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from perfkit.errors import InputError, PerfkitError
from perfkit.io.paths import locate

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[Any]

VIEWS = ("statements", "tables", "indexes", "database", "activity")
RENAMES = {
    "total_time": "total_exec_time",
    "min_time": "min_exec_time",
    "max_time": "max_exec_time",
    "mean_time": "mean_exec_time",
    "stddev_time": "stddev_exec_time",
    "blk_read_time": "shared_blk_read_time",
    "blk_write_time": "shared_blk_write_time",
}
SQL = {
    "statements": "select * from pg_stat_statements",
    # for stores: counters without the text file (cheap), then only texts not yet stored
    "statements_notext": "select * from pg_stat_statements(false)",
    # a parameter bound server-side (never COPY, which inlines it): one entry however many runs
    "texts": "select queryid, query from pg_stat_statements where queryid = any(%s::int8[])",
    "statements_info": "select dealloc, stats_reset from pg_stat_statements_info",
    "tables": """
        select t.*, io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
               io.toast_blks_read, io.toast_blks_hit, io.tidx_blks_read, io.tidx_blks_hit,
               c.relpages::bigint * current_setting('block_size')::bigint as table_bytes,
               c.reltuples::float8 as reltuples
        from pg_stat_user_tables t join pg_statio_user_tables io using (relid)
        join pg_class c on c.oid = t.relid""",
    "indexes": """
        select s.*, io.idx_blks_read, io.idx_blks_hit,
               c.relpages::bigint * current_setting('block_size')::bigint as index_bytes,
               am.amname || ' (' || (
                   select string_agg(coalesce(a.attname, '(expression)'), ', ' order by k.n)
                   from unnest(i.indkey) with ordinality as k(attnum, n)
                   left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
               ) || ')' || case when i.indpred is not null then ' where (predicate)' else '' end
                   as indexdef,
               i.indisunique, i.indisprimary, i.indisvalid, i.indkey::text as indkey,
               am.amname as index_method, i.indclass::text as indclass,
               i.indoption::text as indoption, i.indexprs::text as index_expressions,
               i.indpred::text as index_predicate
        from pg_stat_user_indexes s
        join pg_statio_user_indexes io using (indexrelid)
        join pg_index i on i.indexrelid = s.indexrelid
        join pg_class c on c.oid = s.indexrelid
        join pg_am am on am.oid = c.relam""",
    "database": "select * from pg_stat_database where datname is not null",
    "activity": """
        select a.*,
               extract(epoch from now() - a.backend_start)::float8 as backend_age_s,
               extract(epoch from now() - a.xact_start)::float8 as xact_age_s,
               extract(epoch from now() - a.query_start)::float8 as query_age_s,
               extract(epoch from now() - a.state_change)::float8 as state_age_s
        from pg_stat_activity a where a.pid <> pg_backend_pid()""",
}
ENABLE_HINT = (
    "pg_stat_statements is not available: add shared_preload_libraries = 'pg_stat_statements' "
    "to postgresql.conf, restart the server, then run CREATE EXTENSION pg_stat_statements; "
    "in the database you connect to"
)
STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 1000
# transaction-local settings: time limits, and the formats the CSV reader parses
SETTINGS = (
    f"select now(), set_config('statement_timeout', '{STATEMENT_TIMEOUT_MS}', true), "
    f"set_config('lock_timeout', '{LOCK_TIMEOUT_MS}', true), "
    "set_config('datestyle', 'ISO', true), set_config('timezone', 'UTC', true)"
)


class StatisticsUnavailable(PerfkitError):
    """A statistics view cannot be read on this server (e.g. pg_stat_statements missing)."""


class ViewMissing(InputError):
    """A store or a set of exports holds no snapshot of the view asked for (others, maybe)."""


class ConnectionLost(InputError):
    """The server cannot be reached, or the connection broke mid-snapshot (worth a retry)."""


def redact_dsn(dsn: str) -> str:
    """`dsn` with any password replaced, for messages (libpq's parsing, see `perfkit.io.redact`)."""
    from perfkit.io import redact

    return redact.redact_dsn(dsn)


def check_dsn(dsn: str) -> dict[str, str | int | None]:
    """`dsn` parsed by libpq (key=value or URL); `InputError` naming a bad key, never a value.

    Catches typos (``pasword=``, ``hots=``) before any connection attempt.
    """
    from psycopg import conninfo

    if not isinstance(dsn, str):
        raise InputError(f"a DSN must be text, not {type(dsn).__name__}")
    try:
        return conninfo.conninfo_to_dict(dsn)
    except Exception as exc:  # the DSN itself is never shown: it may hold a password
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not _BAD_KEY.fullmatch(message):  # other messages may quote part of a value
            message = re.sub(r'"[^"]*"', '"..."', message)
        raise InputError(
            f"invalid PostgreSQL connection string: {message} (expected libpq's key=value "
            "pairs such as host=... dbname=... user=..., or postgresql://...)"
        ) from None


_BAD_KEY = re.compile(r'invalid (?:connection option|URI query parameter:) "[\w.-]{1,64}"')


def connect(dsn: str = "", **kwargs: Any) -> Connection:
    """A psycopg connection for statistics reads; `InputError` without the password on failure.

    An empty `dsn` uses libpq's environment (PGHOST, PGUSER, PGSERVICE, .pgpass...).
    A server that cannot be reached raises `ConnectionLost`.
    """
    import psycopg

    check_dsn(dsn)
    try:
        return psycopg.connect(dsn, application_name="perfkit", connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise ConnectionLost(
            f"cannot connect to PostgreSQL ({redact_dsn(dsn) or 'from PG* environment'}): "
            f"{_first_line(exc, dsn)}"
        ) from None  # libpq's own message may quote the DSN (e.g. a host read from 'p@ss@h')


def _first_line(exc: BaseException, dsn: str | None = None) -> str:
    """The first line of `exc`'s message with secrets masked (those of `dsn` wherever seen)."""
    from perfkit.io import redact

    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return redact.mask_credentials(redact.scrub_dsn_secrets(text, dsn) if dsn else text)


def read_live(
    conn: Connection, views: tuple[str, ...] = VIEWS, known_texts: set[int] | None = None
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read `views` in one READ ONLY transaction; return frames and notes (views not read, why).

    With `known_texts` (query ids whose text a store already holds), statements
    are read without their text and a ``texts`` frame brings only new texts.
    A connection lost (terminated, server gone, timed out) raises `ConnectionLost`;
    a KeyboardInterrupt mid-query closes the connection (it cannot be reused) and
    propagates.
    """
    import psycopg

    frames: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    previous = conn.read_only, conn.autocommit
    try:
        conn.autocommit = False
        conn.read_only = True
        with conn.transaction(), _on_failure_close(conn):
            settings = conn.execute(SETTINGS).fetchone()  # one round trip: limits, formats, time
            assert settings is not None  # a SELECT without FROM: one row
            now = settings[0]
            for view in views:
                if view != "statements":
                    frames.update(_query(conn, view, now, known_texts))
                    continue
                try:
                    with conn.transaction():  # a savepoint: a missing extension leaves the rest
                        frames.update(_query(conn, view, now, known_texts))
                except (
                    psycopg.errors.UndefinedTable,
                    psycopg.errors.ObjectNotInPrerequisiteState,
                    psycopg.errors.UndefinedFunction,
                ) as exc:
                    if view != "statements":
                        raise
                    notes.append(f"{ENABLE_HINT} ({str(exc).strip().splitlines()[0]})")
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) or conn.closed or conn.broken:
            raise ConnectionLost(
                "snapshot interrupted: the connection to PostgreSQL was lost, the server "
                f"restarted or the query was cancelled ({_first_line(exc)})"
            ) from exc
        raise
    finally:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            conn.read_only, conn.autocommit = previous
    return frames, notes


@contextlib.contextmanager
def _on_failure_close(conn: Connection) -> Iterator[None]:
    """Close `conn` when interrupted mid-query: psycopg cannot roll back a connection still
    busy with a query (it would fail with 'another command is already in progress')."""
    from psycopg import pq

    try:
        yield
    except BaseException:
        if not conn.closed and conn.info.transaction_status == pq.TransactionStatus.ACTIVE:
            conn.close()
        raise


def _query(
    conn: Connection, view: str, now: datetime, known_texts: set[int] | None
) -> dict[str, pa.Table]:
    tables = {}
    if view == "statements" and known_texts is not None:
        table = _select(conn, SQL["statements_notext"])
        new = set(table.column("queryid").to_pylist()) - known_texts - {None}
        if new:  # usually none after the first snapshot: the text file is not read at all
            tables["texts"] = _stamped(_redacted(_texts(conn, sorted(new))), now)
    else:
        table = _select(conn, SQL[view])
    if view == "statements":
        info = _statements_info(conn)
        n = table.num_rows
        table = table.append_column("dealloc", pa.array([info.get("dealloc")] * n, pa.int64()))
        table = table.append_column(
            "stats_reset", pa.array([info.get("stats_reset")] * n, pa.timestamp("us", "UTC"))
        )
    table = table.rename_columns([RENAMES.get(c, c) for c in table.column_names])
    tables[view] = _stamped(_redacted(table), now)
    return tables


def _redacted(table: pa.Table) -> pa.Table:
    """`table` with password literals in its ``query`` texts masked (`redact.redact_sql`)."""
    from perfkit.io import redact

    if "query" not in table.column_names or table.num_rows == 0:
        return table
    i = table.column_names.index("query")
    return table.set_column(i, "query", redact.redact_sql(table.column(i)))


def _stamped(table: pa.Table, now: datetime) -> pa.Table:
    stamp = pa.array([now] * table.num_rows, pa.timestamp("us", "UTC"))
    return table.add_column(0, "snapshot_time", stamp)


def _statements_info(conn: Connection) -> dict[str, Any]:
    import psycopg

    try:
        with conn.transaction():
            row = _select(conn, SQL["statements_info"]).to_pylist()
    except psycopg.errors.UndefinedTable:  # PostgreSQL 13: no pg_stat_statements_info
        return {}
    return row[0] if row else {}


def _texts(conn: Connection, ids: list[int]) -> pa.Table:
    """The texts of the statements `ids`, by a SELECT whose parameter the server binds.

    COPY cannot take parameters: a literal array would make a new pg_stat_statements
    entry at every snapshot. The text is one parameter, so the statement never varies.
    """
    with conn.cursor() as cur:
        cur.execute(SQL["texts"], ("{" + ",".join(map(str, ids)) + "}",))
        rows = cur.fetchall()
    queryids, queries = zip(*rows, strict=True) if rows else ((), ())
    return pa.table(
        {"queryid": pa.array(queryids, pa.int64()), "query": pa.array(queries, pa.string())}
    )


def _select(conn: Connection, sql: str) -> pa.Table:
    """Run `sql` and read its rows as an Arrow table via COPY ... CSV (parsed by Arrow, in C++).

    Column types come from PostgreSQL's own description of the query. `sql` is
    always one of `SQL`'s constant texts (one pg_stat_statements entry each).
    """
    sql = sql.strip()
    columns = _describe(conn, sql)
    data = bytearray()
    with (
        conn.cursor() as cur,
        cur.copy(f"copy ({sql}) to stdout (format csv, header)") as copy,
    ):
        for chunk in copy:
            data += chunk
    names = [name for name, _ in columns]
    types = {name: _OID_TYPES.get(oid, pa.string()) for name, oid in columns}
    if len(set(names)) != len(names):
        raise PerfkitError(f"duplicate column names in a statistics query: {names}")
    table = pcsv.read_csv(
        pa.BufferReader(bytes(data)),
        read_options=pcsv.ReadOptions(use_threads=False),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=types,
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,  # COPY's CSV: NULL is empty, "" an empty string
            quoted_strings_can_be_null=False,
        ),
    )
    return table.select(names)


def _describe(conn: Connection, sql: str) -> list[tuple[str, int]]:
    """Column names and type OIDs of `sql`, from the server's description (not run)."""
    import psycopg
    from psycopg import pq

    pgconn = conn.pgconn
    prepared = pgconn.prepare(b"", sql.encode())
    if prepared.status != pq.ExecStatus.COMMAND_OK:  # raise what running it would have raised
        state = (prepared.error_field(pq.DiagnosticField.SQLSTATE) or b"XX000").decode()
        raise psycopg.errors.lookup(state)(prepared.error_message.decode().strip())
    described = pgconn.describe_prepared(b"")
    return [
        (cast(bytes, described.fname(i)).decode(), described.ftype(i))
        for i in range(described.nfields)
    ]  # fname is None only for a column out of range


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of statistics as a pandas frame (nullable ints, pyarrow strings)."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return frame


# PostgreSQL type OIDs -> Arrow types; every other type is read as text
_OID_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int64(), 23: pa.int64(), 26: pa.int64(),
    28: pa.int64(), 700: pa.float64(), 701: pa.float64(), 1700: pa.float64(),
    1184: pa.timestamp("us", "UTC"), 1114: pa.timestamp("us"),
}  # fmt: skip


_PANDAS_TYPES = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
    pa.bool_(): pd.BooleanDtype(),
}


def is_dsn(text: str) -> bool:
    """Whether `text` reads as a libpq connection string or URL rather than a path."""
    return text == "" or "=" in text or text.startswith(("postgresql://", "postgres://"))


def resolve_source(source: object) -> tuple[str, Any]:
    """('conn', connection) | ('dsn', text) | ('store', folder) | ('exports', [sources]).

    A folder with ``perfkit-store.json`` is a snapshot store; any other folder,
    a file, a glob pattern or a list of them are psql CSV exports.
    """
    if hasattr(source, "execute") and hasattr(source, "cursor"):
        return ("conn", source)
    if isinstance(source, list | tuple):
        if not source:
            raise InputError("an empty list of psql CSV exports")
        return ("exports", list(source))
    if source == "":  # libpq's defaults: PGHOST, PGPORT, PGUSER, ... from the environment
        return ("dsn", source)
    if isinstance(source, str | Path):  # relative: the working directory, else the project root
        found = locate(source)
        if found != Path(source):  # found under the project root
            source = found
    if isinstance(source, Path) or (isinstance(source, str) and os.path.exists(source)):
        path = Path(source)
        if path.is_dir() and (path / "perfkit-store.json").exists():
            return ("store", path)
        return ("exports", [path])
    if isinstance(source, str) and glob.has_magic(source) and glob.glob(source):
        return ("exports", [source])
    if isinstance(source, str) and is_dsn(source):
        return ("dsn", source)
    if isinstance(source, str) and glob.has_magic(source):
        raise InputError(f"{source}: the pattern matches no file")
    raise InputError(
        f"{redact_dsn(str(source))!r}: no such file or folder, and not a connection string "
        "(host=... dbname=... or postgresql://...)"
    )
