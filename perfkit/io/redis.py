"""Redis statistics snapshots: `snapshot_redis` writes them to a store, `read_redis` reads them.

One snapshot is one connection of `perfkit.io.redis_wire.ReadOnlyRedis` sending, in order:
``INFO all``, ``SLOWLOG LEN``, ``SLOWLOG GET <n>``, ``LATENCY LATEST``, ``MEMORY STATS``,
``CONFIG GET maxmemory*``. Nothing is written or reset on the server. Views (every row has
``snapshot_time`` (UTC), the server's ``run_id`` and ``uptime_s``):

- ``info``: every INFO field (all sections; ``keyspace`` and ``errorstats`` split into
  ``db0.keys``, ``errorstat_ERR.count``...), ``CONFIG GET maxmemory*`` (section ``config``)
  and ``SLOWLOG LEN`` (section ``slowlog``, field ``slowlog_len``): ``section``, ``field``,
  ``value`` (text as Redis gave it), ``number`` (float, NaN when not a number);
- ``commandstats``: ``command``, ``calls``, ``usec``, ``usec_per_call``, ``rejected_calls``,
  ``failed_calls`` (cumulative since start or ``CONFIG RESETSTAT``);
- ``latencystats`` (Redis 7): ``command``, ``percentile`` (50.0, 99.0, 99.9), ``usec``;
- ``slowlog``: ``id``, ``started`` (UTC), ``duration_us``, ``command`` (upper case, with the
  subcommand of container commands: ``CONFIG GET``), ``arg_count``, ``arg_bytes`` (each
  argument's length, Redis's truncation undone), ``client_addr``, ``client_name``; the
  arguments' values are not stored unless ``keep_arguments=True`` (``arguments``);
- ``latency_latest``: ``event``, ``latest_time`` (UTC), ``latest_ms``, ``max_ms``;
- ``memory_stats``: ``field`` (``db.0.overhead.hashtable.main`` for nested ones), ``number``.

The store, ``<store>/<view>/<UTC time>.parquet`` and the manifest ``perfkit-store.json``
(``"kind": "redis"``), follows `perfkit.io.pg_store`'s crash-safety rules and reuses its
writing machinery: a snapshot is all its views or none, written under an exclusive lock to
temporary files, flushed, renamed, then committed by rewriting the manifest the same way;
nothing committed is ever overwritten. A writer stopped before the commit leaves files the
manifest does not list: readers ignore them, the next write removes them.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io import pg_store
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import make_folder
from perfkit.io.redis_wire import ReadOnlyRedis, RedisError, Reply, Unreachable, redact_url

VIEWS = ("info", "commandstats", "latencystats", "slowlog", "latency_latest", "memory_stats")
MANIFEST = pg_store.MANIFEST
KIND = "redis"
FORMAT_VERSION = 1
SLOWLOG_ENTRIES = 128  # SLOWLOG GET n: Redis keeps slowlog-max-len (128) entries by default
_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z(?:-\d{1,6})?\.parquet")
# commands whose second word names a subcommand, not a value (kept in the slow log's command)
CONTAINERS = frozenset({"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION",
                        "LATENCY", "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG",
                        "XGROUP", "XINFO"})  # fmt: skip
_MORE_ARGS = re.compile(rb"^\.\.\. \((\d+) more arguments\)$")
_MORE_BYTES = re.compile(rb"\.\.\. \((\d+) more bytes\)$")
SLOWLOG_MAX_STRING = 128  # Redis keeps this many bytes of an argument in the slow log

REQUIRED: dict[str, tuple[str, ...]] = {
    "info": ("section", "field", "value", "number"),
    "commandstats": ("command", "calls", "usec"),
    "latencystats": ("command", "percentile", "usec"),
    "slowlog": ("id", "started", "duration_us", "command", "arg_count"),
    "latency_latest": ("event", "latest_ms", "max_ms"),
    "memory_stats": ("field", "number"),
}


def _text(value: Reply) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_info(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                   list[dict[str, Any]]]:  # fmt: skip
    """``INFO`` text -> (info rows, commandstats rows, latencystats rows)."""
    info: list[dict[str, Any]] = []
    commands: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line[1:].strip().lower()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if section == "commandstats" and name.startswith("cmdstat_"):
            fields = dict(p.partition("=")[::2] for p in value.split(","))
            commands.append({"command": name.removeprefix("cmdstat_"),
                             **{k: _number(fields.get(k, "")) for k in
                                ("calls", "usec", "usec_per_call", "rejected_calls",
                                 "failed_calls")}})  # fmt: skip
        elif section == "latencystats" and name.startswith("latency_percentiles_usec_"):
            command = name.removeprefix("latency_percentiles_usec_")
            for part in value.split(","):
                key, _, usec = part.partition("=")
                latency.append({"command": command, "percentile": _number(key.lstrip("p")),
                                "usec": _number(usec)})  # fmt: skip
        elif section in ("keyspace", "errorstats") and "=" in value:
            for part in value.split(","):
                key, _, sub = part.partition("=")
                info.append({"section": section, "field": f"{name}.{key}", "value": sub,
                             "number": _number(sub)})  # fmt: skip
        else:
            info.append({"section": section, "field": name, "value": value,
                         "number": _number(value)})  # fmt: skip
    return info, commands, latency


def parse_slowlog(entries: Reply, keep_arguments: bool = False) -> list[dict[str, Any]]:
    """``SLOWLOG GET`` entries -> rows; argument values dropped unless `keep_arguments`."""
    rows: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, list) or len(entry) < 4 or not isinstance(entry[3], list):
            continue
        args = [a for a in entry[3] if isinstance(a, bytes)]
        count, lengths = len(args), []
        if args and (more := _MORE_ARGS.match(args[-1])):
            args = args[:-1]
            count = len(args) + int(more.group(1))
        for arg in args:
            cut = _MORE_BYTES.search(arg) if len(arg) > SLOWLOG_MAX_STRING else None
            lengths.append(SLOWLOG_MAX_STRING + int(cut.group(1)) if cut else len(arg))
        name = _text(args[0]).upper() if args else ""
        if name in CONTAINERS and len(args) > 1:
            name = f"{name} {_text(args[1]).upper()}"
        row = {"id": entry[0], "started": pd.Timestamp(int(entry[1]), unit="s", tz="UTC"),
               "duration_us": entry[2], "command": name, "arg_count": count,
               "arg_bytes": lengths,
               "client_addr": _text(entry[4]) if len(entry) > 4 else None,
               "client_name": _text(entry[5]) if len(entry) > 5 else None}  # fmt: skip
        if keep_arguments:
            row["arguments"] = [_text(a) for a in args]
        rows.append(row)
    return rows


def parse_latency_latest(reply: Reply) -> list[dict[str, Any]]:
    """``LATENCY LATEST`` -> rows (event, latest_time, latest_ms, max_ms)."""
    rows = []
    for event in reply if isinstance(reply, list) else []:
        if isinstance(event, list) and len(event) >= 4:
            rows.append({"event": _text(event[0]),
                         "latest_time": pd.Timestamp(int(event[1]), unit="s", tz="UTC"),
                         "latest_ms": event[2], "max_ms": event[3]})  # fmt: skip
    return rows


def parse_memory_stats(reply: Reply, prefix: str = "") -> list[dict[str, Any]]:
    """``MEMORY STATS`` (a flat key/value array, nested for ``db.N``) -> (field, number) rows."""
    rows: list[dict[str, Any]] = []
    items = reply if isinstance(reply, list) else []
    for key, value in zip(items[::2], items[1::2], strict=False):
        name = prefix + _text(key)
        if isinstance(value, list):
            rows += parse_memory_stats(value, f"{name}.")
        else:
            rows.append({"field": name, "number": _number(_text(value)) if value is not None
                         else None})  # fmt: skip
    return rows


def take_snapshot(url: str, slowlog_entries: int = SLOWLOG_ENTRIES,
                  keep_arguments: bool = False) -> dict[str, pa.Table]:  # fmt: skip
    """One snapshot of the server at `url`, as a table per view (nothing written anywhere).

    ``INFO`` must answer; a command after it that the server refuses (an ACL without
    ``@admin``, a managed Redis that renamed CONFIG) leaves its view empty, with a
    `PerfkitWarning`. The commands that answered are listed in the info view (section
    ``perfkit``, fields ``sent.<command>``), so the reset detection relies only on those.
    """
    try:
        return _take_snapshot(url, slowlog_entries, keep_arguments)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime,
            pa.ArrowException) as exc:  # fmt: skip
        if isinstance(exc, InputError):
            raise
        raise RedisError(f"{redact_url(url)}: not a Redis reply ({type(exc).__name__}: "
                         f"{str(exc)[:80]})") from None


def _take_snapshot(url: str, slowlog_entries: int, keep_arguments: bool) -> dict[str, pa.Table]:
    replies: dict[str, Reply] = {}
    refused: list[str] = []
    with ReadOnlyRedis(url) as client:
        now = pd.Timestamp.now(tz="UTC")
        answer = client.command("INFO", "all")
        if not isinstance(answer, bytes):
            raise RedisError(f"{redact_url(url)}: INFO answered {type(answer).__name__}, not "
                             "text: not a Redis server")  # fmt: skip
        info, commands, latency = parse_info(_text(answer))
        for name, args in (("slowlog|len", ("SLOWLOG", "LEN")),
                           ("slowlog|get", ("SLOWLOG", "GET", str(slowlog_entries))),
                           ("latency|latest", ("LATENCY", "LATEST")),
                           ("memory|stats", ("MEMORY", "STATS")),
                           ("config|get", ("CONFIG", "GET", "maxmemory*"))):  # fmt: skip
            try:
                replies[name] = client.command(*args)
            except Unreachable:
                raise
            except RedisError as exc:
                refused.append(f"{' '.join(args[:2])} ({str(exc).split(': ', 1)[-1][:80]})")
    if refused:
        warnings.warn(f"{redact_url(url)}: the server refused {'; '.join(refused)}; those "
                      "views are empty in this snapshot", PerfkitWarning, stacklevel=3)
    info += [{"section": "perfkit", "field": f"sent.{name}", "value": "1", "number": 1.0}
             for name in ("info", *replies)]  # fmt: skip
    held = replies.get("slowlog|len")
    slow = parse_slowlog(replies.get("slowlog|get"), keep_arguments)
    latest = parse_latency_latest(replies.get("latency|latest"))
    memory = parse_memory_stats(replies.get("memory|stats"))
    config = replies.get("config|get")
    pairs = config if isinstance(config, list) else []
    info += [{"section": "config", "field": _text(k), "value": _text(v),
              "number": _number(_text(v))} for k, v in zip(pairs[::2], pairs[1::2],
                                                             strict=False)]  # fmt: skip
    if isinstance(held, int):  # entries the slow log holds (SLOWLOG GET returns the newest n)
        info.append({"section": "slowlog", "field": "slowlog_len", "value": str(held),
                     "number": float(held)})  # fmt: skip
    fields = {r["field"]: r["value"] for r in info}
    run_id = fields.get("run_id", "")
    uptime = int(fields.get("uptime_in_seconds", "0") or 0)
    rows = {"info": info, "commandstats": commands, "latencystats": latency, "slowlog": slow,
            "latency_latest": latest, "memory_stats": memory}  # fmt: skip
    return {view: _table(view, rows[view], now, run_id, uptime) for view in VIEWS}


_SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "info": [("section", pa.string()), ("field", pa.string()), ("value", pa.string()),
             ("number", pa.float64())],
    "commandstats": [("command", pa.string()), ("calls", pa.int64()), ("usec", pa.int64()),
                     ("usec_per_call", pa.float64()), ("rejected_calls", pa.int64()),
                     ("failed_calls", pa.int64())],
    "latencystats": [("command", pa.string()), ("percentile", pa.float64()),
                     ("usec", pa.float64())],
    "slowlog": [("id", pa.int64()), ("started", pa.timestamp("us", "UTC")),
                ("duration_us", pa.int64()), ("command", pa.string()), ("arg_count", pa.int64()),
                ("arg_bytes", pa.list_(pa.int64())), ("client_addr", pa.string()),
                ("client_name", pa.string())],
    "latency_latest": [("event", pa.string()), ("latest_time", pa.timestamp("us", "UTC")),
                       ("latest_ms", pa.int64()), ("max_ms", pa.int64())],
    "memory_stats": [("field", pa.string()), ("number", pa.float64())],
}  # fmt: skip


def _table(view: str, rows: list[dict[str, Any]], now: pd.Timestamp, run_id: str,
           uptime: int) -> pa.Table:  # fmt: skip
    fields = list(_SCHEMAS[view])
    if view == "slowlog" and any("arguments" in r for r in rows):
        fields.append(("arguments", pa.list_(pa.string())))
    head = [("snapshot_time", pa.timestamp("us", "UTC")), ("run_id", pa.string()),
            ("uptime_s", pa.int64())]  # fmt: skip
    schema = pa.schema(head + fields)
    n = len(rows)
    columns: dict[str, list[Any]] = {"snapshot_time": [now] * n, "run_id": [run_id] * n,
                                     "uptime_s": [uptime] * n}  # fmt: skip
    for name, kind in fields:
        values = [r.get(name) for r in rows]
        if pa.types.is_integer(kind):
            values = [None if v is None else int(v) for v in values]
        columns[name] = values
    return pa.table(columns, schema=schema)


def snapshot_redis(url: str, store: str | Path, slowlog_entries: int = SLOWLOG_ENTRIES,
                   keep_arguments: bool = False) -> dict[str, Path]:  # fmt: skip
    """Append one snapshot of the Redis server at `url` to the `store` folder; return the
    files per view.

    Read-only (see `perfkit.io.redis_wire`): nothing on the server is written or reset.
    The slow log's argument values are stored only with `keep_arguments` (they may hold
    keys and values); its command names, argument counts and lengths always. The URL's
    password is never stored or shown. An unreachable server raises
    `perfkit.io.redis_wire.Unreachable` (an `InputError`); a store that cannot be written
    an `InputError` naming it; both leave the store as it was.
    """
    store = Path(store)
    _check_store(store)
    tables = take_snapshot(url, slowlog_entries, keep_arguments)
    _check_store(store, writing=True)  # made only once there is a snapshot to write
    return write_snapshot(tables, store)


def _check_store(store: Path, writing: bool = False) -> None:
    if store.exists() and not store.is_dir():
        raise InputError(f"{store}: not a folder; expected a Redis snapshot store folder")
    if writing:
        make_folder(store, str(store), "a Redis snapshot store")


def write_snapshot(tables: dict[str, pa.Table], store: Path) -> dict[str, Path]:
    """Write one snapshot (all views or none) and commit it to the manifest."""
    unknown = set(tables) - set(VIEWS)
    if unknown:
        raise InputError(f"{store}: unknown views {sorted(unknown)}; a store holds {VIEWS}")
    with pg_store._locked(store):
        entries = _manifest(store)
        _clean(store, entries)
        name = pg_store._unique_name(pd.Timestamp(tables["info"].column("snapshot_time")[0]
                                                  .as_py()) if tables["info"].num_rows
                                     else pd.Timestamp.now(tz="UTC"),
                                     {n for n, _ in entries})  # fmt: skip
        temps: list[Path] = []
        placed: list[Path] = []
        committed = False
        try:
            for view, table in tables.items():
                (store / view).mkdir(exist_ok=True)
                temps.append(store / view / f".{name}.{os.getpid()}.tmp")
                meta = {b"perfkit.view": view.encode(), b"perfkit.kind": KIND.encode()}
                pg_store._write_parquet(table.replace_schema_metadata(meta), temps[-1])
            for tmp in temps:
                os.replace(tmp, tmp.with_name(name))
                placed.append(tmp.with_name(name))
            for folder in {p.parent for p in placed}:
                pg_store._fsync_folder(folder)
            _write_manifest(store, [*entries, (name, tuple(tables))])
            committed = True
        except OSError as exc:
            raise InputError(f"{store}: cannot write the Redis snapshot ({exc.strerror or exc}); "
                             f"the store keeps its {len(entries)} earlier snapshot(s)") from exc
        finally:
            if not committed:  # an error or a stop signal: nothing of this snapshot stays
                pg_store._remove([*temps, *placed, store / f".{MANIFEST}.{os.getpid()}.tmp"])
    return {p.parent.name: p for p in placed}


def _write_manifest(store: Path, entries: list[tuple[str, tuple[str, ...]]]) -> None:
    tmp = store / f".{MANIFEST}.{os.getpid()}.tmp"
    meta = {"format_version": FORMAT_VERSION, "kind": KIND,
            "snapshots": [{"name": n, "views": list(v)} for n, v in entries]}  # fmt: skip
    with open(tmp, "w") as handle:
        handle.write(json.dumps(meta, separators=(",", ":")) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, store / MANIFEST)
    pg_store._fsync_folder(store)


def _manifest(store: Path) -> list[tuple[str, tuple[str, ...]]]:
    """The committed snapshots ([] for a new store); `InputError` for a damaged manifest."""
    path = store / MANIFEST
    if not path.exists():
        return []
    expected = ('expected {"format_version": 1, "kind": "redis", "snapshots": [{"name": '
                '"<UTC time>.parquet", "views": [...]}, ...]}')  # fmt: skip
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the store manifest ({exc.strerror})") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: damaged store manifest ({exc}); {expected}") from exc
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        kind = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{path}: not a Redis snapshot store (kind {kind!r}); {expected}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: Redis store format_version {meta.get('format_version')!r}; "
                         f"this perfkit reads {FORMAT_VERSION}")  # fmt: skip
    entries = []
    for i, entry in enumerate(meta.get("snapshots") or []):
        name = entry.get("name") if isinstance(entry, dict) else None
        views = entry.get("views") if isinstance(entry, dict) else None
        if (not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(views, list)
                or not all(v in VIEWS for v in views)):  # fmt: skip
            raise InputError(f"{path}: damaged store manifest: snapshot {i} is "
                             f"{json.dumps(entry)[:200]}; {expected}")  # fmt: skip
        entries.append((name, tuple(views)))
    return entries


def _clean(store: Path, entries: list[tuple[str, tuple[str, ...]]]) -> None:
    """Remove what killed writers left: temporaries and files the manifest does not commit."""
    committed = {(view, name) for name, views in entries for view in views}
    stale = list(store.glob(f".{MANIFEST}.*.tmp"))
    for view in VIEWS:
        folder = store / view
        if folder.is_dir():
            stale += list(folder.glob(".*.tmp"))
            stale += [p for p in folder.glob("*.parquet")
                      if _NAME.fullmatch(p.name) and (view, p.name) not in committed]  # fmt: skip
    pg_store._remove(stale)


def read_redis(store: str | Path, view: str = "info",
               dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:  # fmt: skip
    """Every committed snapshot of `view` in a `snapshot_redis` store, oldest first.

    `view` is one of ``info``, ``commandstats``, ``latencystats``, ``slowlog``,
    ``latency_latest``, ``memory_stats`` (see the module docstring for their columns).
    `InputError` naming the file for a folder that is not a Redis store, a damaged
    manifest or snapshot, or a file that is not a snapshot of `view`. `dtype_backend` as
    in `pandas.read_csv` (see `perfkit.io._dtypes`).
    """
    if view not in VIEWS:
        raise InputError(f"view must be one of {', '.join(VIEWS)}, not {view!r}")
    check_backend(dtype_backend, "read_redis")
    store = Path(store)
    _check_store(store)
    if not (store / MANIFEST).is_file():
        raise InputError(f"{store}: not a Redis snapshot store (no {MANIFEST}); "
                         "write one with perfkit collect redis")  # fmt: skip
    with pg_store._shared(store):
        entries = _manifest(store)
        tables = [_read_file(store / view / name, view)
                  for name, views in sorted(entries) if view in views]  # fmt: skip
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive")
    else:
        head = [("snapshot_time", pa.timestamp("us", "UTC")), ("run_id", pa.string()),
                ("uptime_s", pa.int64())]  # fmt: skip
        table = pa.schema(head + _SCHEMAS[view]).empty_table()
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.attrs["perfkit"] = {"store": str(store), "snapshots": len(tables), "view": view}
    return to_backend(frame, dtype_backend, "read_redis")


def _read_file(path: Path, view: str) -> pa.Table:
    import pyarrow.parquet as pq

    expected = f"expected a Parquet snapshot of Redis '{view}' written by perfkit"
    try:
        with open(path, "rb") as handle:
            file = pq.ParquetFile(handle, page_checksum_verification=True)
            meta = file.schema_arrow.metadata or {}
            if meta.get(b"perfkit.view") != view.encode():
                raise InputError(f"{path}: not a snapshot of '{view}'; {expected}")
            lacking = [c for c in ("snapshot_time", "run_id", *REQUIRED[view])
                       if c not in file.schema_arrow.names]  # fmt: skip
            if lacking:
                raise InputError(f"{path}: lacks column(s) {', '.join(lacking)}; {expected}")
            return file.read(use_threads=False)
    except InputError:
        raise
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable snapshot ({type(exc).__name__}: {exc}); "
                         f"{expected}") from exc  # fmt: skip
