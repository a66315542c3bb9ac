"""`read_pg_log`: PostgreSQL's server log -> one row per logged event.

Formats (``format="auto"`` tells them apart by the first lines):

- ``stderr``: lines ``<log_line_prefix><LEVEL>:  <message>``; give the server's
  ``log_line_prefix`` verbatim as `prefix` (its escapes ``%m %t %n %p %u %d %a %h
  %r %l %c %s %v %x %e %q %Q %b %P %i %%``), or let it be sniffed among the common
  ones (PostgreSQL's default ``'%m [%p] '``, pgBadger's recommended styles). A line
  starting with a tab continues the message above it (a multi-line statement or plan).
- ``csvlog`` and ``jsonlog`` (PostgreSQL 15+): their own columns.

A message's ``DETAIL``, ``HINT``, ``CONTEXT``, ``STATEMENT`` and ``QUERY`` lines join the
entry they follow. Each entry gets a ``kind``:

==================  =======================================================================
kind                message
==================  =======================================================================
``statement``       ``duration: <ms> ms  statement: <sql>`` or ``execute <name>: <sql>``
                    (``log_min_duration_statement``; ``parameters`` from the DETAIL line)
``fetch``           ``duration: <ms> ms  execute fetch from <portal>: <sql>``: a further batch
                    of rows from a portal already executed (a cursor): its time counts for the
                    statement, it is no new execution (pg_stat_statements counts one call)
``parse``/``bind``  the extended protocol's ``parse <name>:`` / ``bind <name>:`` steps
``duration``        ``duration: <ms> ms`` alone (``log_duration``)
``logged``          ``statement: <sql>`` without a duration (``log_statement``)
``plan``            ``duration: <ms> ms  plan:`` (auto_explain, text or JSON: ``plan``)
``lock_wait``       ``process <pid> still waiting for <mode> on ... after <ms> ms``
``lock_acquired``   ``process <pid> acquired <mode> on ... after <ms> ms``
``deadlock``        ``deadlock detected`` (its DETAIL names the processes)
``temp_file``       ``temporary file: path "...", size <bytes>`` (``log_temp_files``)
``checkpoint``      ``checkpoint complete: ... total=<s> s`` (``starting`` lines too)
``autovacuum``      ``automatic vacuum of table ...`` / ``automatic analyze of table ...``
``connection``      ``connection received`` / ``connection authorized``
``disconnection``   ``disconnection: session time: <h:mm:ss.sss> ...`` (its ``duration_ms``)
``error``           any other ERROR, FATAL or PANIC (``sqlstate`` when the log has it)
``other``           anything else
==================  =======================================================================

Columns: ``time`` (UTC), ``pid``, ``user``, ``database``, ``application``, ``client``,
``session``, ``level``, ``kind``, ``duration_ms``, ``statement`` (secrets in literals
masked), ``normalized`` (constants as ``$n``, as pg_stat_statements shows it),
``fingerprint`` (equal for texts PostgreSQL counts as one statement: joins
pg_stat_statements), ``name`` (a prepared statement's), ``parameters``, ``plan``,
``sqlstate``, ``lock_mode``, ``temp_bytes``, ``message``, ``detail``, ``source``, ``line``.
Parameter values and literals may hold personal data: ``parameters`` are redacted unless
``keep_values=True`` (``statement`` keeps its literals then too; secrets are masked always).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.account import ParseAccount
from perfkit.io.paths import Paths, expand_paths
from perfkit.io.pg_log_sql import STRING_RE2, UTILITY_RE2, fingerprint, normalize_many
from perfkit.io.redact import redact_sql, redact_sql_text, redact_text
from perfkit.io.textfiles import read_bytes

COLUMNS = ["time", "pid", "user", "database", "application", "client", "session", "level",
           "kind", "duration_ms", "statement", "normalized", "fingerprint", "name",
           "parameters", "plan", "sqlstate", "lock_mode", "temp_bytes", "message", "detail",
           "source", "line"]  # fmt: skip
LEVELS = ["DEBUG5", "DEBUG4", "DEBUG3", "DEBUG2", "DEBUG1", "LOG", "INFO", "NOTICE", "WARNING",
          "ERROR", "FATAL", "PANIC"]  # fmt: skip
_SECONDARY = {"DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"}
# the log_line_prefix escapes: regex for what each writes (empty for non-session processes)
_ESCAPES = {
    "a": r"(?P<application>.*?)", "u": r"(?P<user>.*?)", "d": r"(?P<database>.*?)",
    "r": r"(?P<client>\S*?)", "h": r"(?P<client>\S*?)", "b": r"(?P<backend>.*?)",
    "p": r"(?P<pid>\d+)", "P": r"(?P<leader>\d*)",
    "t": r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: ?[A-Za-z+\-0-9:]+)?)",
    "m": r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?: ?[A-Za-z+\-0-9:]+)?)",
    "n": r"(?P<epoch>\d+\.\d+)", "i": r"(?P<tag>.*?)", "e": r"(?P<sqlstate>[0-9A-Z]{5})",
    "c": r"(?P<session>[0-9a-f]+\.[0-9a-f]+)", "l": r"(?P<line_no>\d+)",
    "s": r"(?P<session_start>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: ?[A-Za-z+\-0-9:]+)?)",
    "v": r"(?P<vxid>\d*/?\d*)", "x": r"(?P<txid>\d+)", "Q": r"(?P<query_id>-?\d+)",
}  # fmt: skip
# prefixes tried by format="auto" when none is given (PostgreSQL's default first)
COMMON_PREFIXES = [
    "%m [%p] ", "%t [%p] ", "%m [%p] %q%u@%d ", "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: user=%u,db=%d,app=%a,client=%h ", "%t [%p-%l] %q%u@%d ", "%m [%p-%l] %q%u@%d ",
    "%t:%r:%u@%d:[%p]: ", "%m %u %d [%p] ", "[%a] ", "",
]  # fmt: skip
SNIFF_LINES = 2000
_LEVEL_ONLY = r"(?P<level>DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|" \
              r"CONTEXT|STATEMENT|QUERY|LOCATION):  "  # fmt: skip
_LEVEL = _LEVEL_ONLY + r"(?P<message>.*)$"
_CSV_COLUMNS = ["time", "user", "database", "pid", "client", "session", "line_no", "tag",
                "session_start", "vxid", "txid", "level", "sqlstate", "message", "detail",
                "hint", "internal_query", "internal_query_pos", "context", "query",
                "query_pos", "location", "application", "backend", "leader",
                "query_id"]  # fmt: skip


def prefix_regex(prefix: str) -> str:
    """The regex (anchored at a line's start) matching what `prefix` (a ``log_line_prefix``)
    writes; a name appears once (the first of two escapes filling the same column wins)."""
    out, seen, i = ["^"], set(), 0
    optional = False
    while i < len(prefix):
        ch = prefix[i]
        if ch == "%" and i + 1 < len(prefix):
            padding = re.match(r"-?\d+", prefix[i + 1 :])  # `%-10u`, `%5p`: padded with spaces
            if padding:
                i += len(padding.group())
            code = prefix[i + 1] if i + 1 < len(prefix) else "%"
            i += 2
            if padding and code in _ESCAPES:
                out.append(" *")
            if code == "%":
                out.append("%")
            elif code == "q":  # what follows is written by session processes only
                out.append("(?:")
                optional = True
            elif code in _ESCAPES:
                pattern = _ESCAPES[code]
                name = re.match(r"\(\?P<(\w+)>", pattern)
                if name and name.group(1) in seen:
                    pattern = re.sub(r"^\(\?P<\w+>", "(?:", pattern)
                elif name:
                    seen.add(name.group(1))
                out.append(pattern + (" *" if padding else ""))
            else:  # a padding digit or an unknown escape: PostgreSQL writes it as is
                out.append(re.escape("%" + code))
            continue
        out.append(re.escape(ch))
        i += 1
    if optional:
        out.append(")?")
    return "".join(out)


def read_pg_log(
    paths: Paths,
    format: str = "auto",
    prefix: str | None = None,
    keep_values: bool = False,
    tz: str | None = None,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """PostgreSQL server logs (rotated and compressed files in time order) -> one row per event.

    `format`: ``"auto"``, ``"stderr"``, ``"csvlog"`` or ``"jsonlog"``. `prefix`: the
    server's ``log_line_prefix`` for stderr logs (sniffed when None). `keep_values`: keep
    parameter values and literals (default: redacted; see the module docstring). `tz`:
    the zone of timestamps written with an abbreviation other than UTC/GMT or an
    offset (``log_timezone``). `dtype_backend` as in `pandas.read_csv`.
    """
    check_backend(dtype_backend, "read_pg_log")
    if format not in ("auto", "stderr", "csvlog", "jsonlog"):
        raise InputError(f"read_pg_log: format must be 'auto', 'stderr', 'csvlog' or 'jsonlog', "
                         f"not {format!r}")  # fmt: skip
    account = ParseAccount("read_pg_log")
    tables = []
    for item in expand_paths(paths):
        data = read_bytes(item)
        head = data[:8192].decode("utf-8", errors="replace")
        kind = format if format != "auto" else _sniff_format(head, str(item))
        if kind == "csvlog":
            raw = _from_pandas(_csvlog(data.decode("utf-8", errors="replace"), str(item), account))
        elif kind == "jsonlog":
            raw = _from_pandas(_jsonlog(data.decode("utf-8", errors="replace"), str(item),
                                        account))  # fmt: skip
        else:
            raw = _stderr(data, str(item), prefix, account)
        del data
        raw = raw.append_column("source", pa.repeat(getattr(item, "name", str(item)),
                                                    raw.num_rows))  # fmt: skip
        times = _times_distinct(raw.column("time_text"), tz, str(item), raw.column("line"))
        raw = raw.append_column("time", times)
        account.format = ", ".join(dict.fromkeys(filter(None, [account.format, kind])))
        tables.append(raw)
    table = pa.concat_tables(tables, promote_options="default")
    order = pc.array_sort_indices(table.column("time"))  # stable: the log's order on ties
    table = table.take(order)
    frame = _classify(table, keep_values)
    frame.attrs["perfkit"] = account.to_dict()
    if account.rejected:
        warnings.warn(account.summary(), PerfkitWarning, stacklevel=2)
    return to_backend(frame[COLUMNS], dtype_backend, "read_pg_log")


def _sniff_format(text: str, name: str) -> str:
    head = text.lstrip()[:4096]
    if head.startswith("{"):
        return "jsonlog"
    if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [A-Za-z0-9+\-:]+,", head):
        return "csvlog"
    return "stderr"


def _stderr(data: bytes, name: str, prefix: str | None, account: ParseAccount) -> pa.Table:
    """A stderr log's entries (each with its tab-led continuation lines, and its DETAIL...
    lines folded in) as Arrow columns; lines that are no entry are counted and sampled."""
    if not data.strip():
        raise InputError(f"{name}: empty; there are no log lines to read")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    raw = np.frombuffer(data, np.uint8)
    step = 1 << 26  # each line's newline, found 64 MiB at a time (a bounded scratch mask)
    ends = np.concatenate([np.flatnonzero(raw[i:i + step] == 10) + i
                           for i in range(0, len(raw), step)])  # fmt: skip
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    tabbed = raw[starts] == 9
    del raw
    best = _choose_prefix(data, ends, prefix, name)
    account.format_string = best
    entries = np.flatnonzero(~tabbed)  # each entry: its first line and the tab-led ones below
    # one Arrow array over the file's bytes, without a copy: [first line][the rest] per entry
    bounds = np.empty(2 * len(entries) + 1, dtype=np.int64)
    bounds[0:-1:2], bounds[1::2], bounds[-1] = starts[entries], ends[entries], len(data)
    large = len(data) >= 2**31 - 1
    pieces = pa.Array.from_buffers(
        pa.large_string() if large else pa.string(), len(bounds) - 1,
        [None, pa.py_buffer(bounds if large else bounds.astype(np.int32)), pa.py_buffer(data)],
    )  # fmt: skip
    try:
        pieces.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: undecodable bytes become U+FFFD, as read_text does
        return _stderr(data.decode("utf-8", errors="replace").encode(), name, best, account)
    heads = pieces.take(pa.array(np.arange(0, 2 * len(entries), 2)))  # the first lines
    # the prefix's fields by RE2 (over the prefix only: it extracts submatches slowly); the
    # message is every byte after the prefix up to the next entry, tab-led lines included
    whole = "^(?P<_prefix>" + prefix_regex(best).removeprefix("^") + _LEVEL_ONLY + ")"
    parts = _extract(heads, whole)
    del heads
    found = parts.is_valid().to_numpy(zero_copy_only=False)
    lost = np.flatnonzero(~found)
    rejected = int(entries[0]) + len(lost)  # tab-led lines above the first entry, stray lines
    if len(lost):  # a stray line takes the tab-led lines below it along
        following = np.diff(np.append(entries, len(ends)))[lost] - 1
        rejected += int(following.sum())
    orphans = np.sort(np.concatenate([np.arange(int(entries[0])), entries[lost]]))
    for line in orphans[: account.room].tolist():
        text = data[starts[line]:ends[line]].decode("utf-8", errors="replace")
        account.keep(name, line + 1, "not a log entry", _secrets(text))
    if rejected:
        account.reasons.update({"not a log entry": rejected})
    kept = np.flatnonzero(found)
    parts = parts.filter(pa.array(found))
    after = np.append(starts, len(data))[np.append(entries, len(ends))[kept + 1]] - 1
    spans = np.empty(2 * len(kept), dtype=np.int64)  # [message][the next prefix] per entry
    spans[0::2] = starts[entries[kept]] + pc.binary_length(parts.field("_prefix")).to_numpy(
        zero_copy_only=False)  # fmt: skip
    spans[1::2] = after
    texts = pa.Array.from_buffers(
        pa.large_string() if large else pa.string(), len(spans) - 1,
        [None, pa.py_buffer(spans if large else spans.astype(np.int32)), pa.py_buffer(data)],
    )  # fmt: skip
    message = texts.take(pa.array(np.arange(0, len(spans), 2)))
    message = pc.replace_substring(message, "\n\t", "\n")  # a tab-led line continues it
    columns = {field.name: parts.field(field.name) for field in parts.type
               if field.name != "_prefix"}  # fmt: skip
    columns["message"] = message
    columns["line"] = pa.array(entries[kept] + 1)
    lines = len(ends)
    account.lines += lines
    account.parsed += lines - rejected
    account.rejected += rejected
    account.files.append({"file": name, "lines": lines, "parsed": lines - rejected,
                          "rejected": rejected, "format": "stderr"})  # fmt: skip
    if "time" not in columns and "epoch" in columns:
        epoch = pd.to_datetime(pc.cast(columns["epoch"], pa.float64()).to_numpy(), unit="s",
                               utc=True)  # fmt: skip
        columns["time"] = pa.array(epoch.astype(str))
    return _attach_secondary(pa.table(columns))


def _choose_prefix(data: bytes, ends: np.ndarray, prefix: str | None, name: str) -> str:
    """The ``log_line_prefix`` (given, or the common one matching most of the first
    `SNIFF_LINES` lines, the one filling more columns on a tie)."""
    stop = int(ends[min(SNIFF_LINES, len(ends)) - 1])
    sample = pd.Series(data[:stop].decode("utf-8", errors="replace").split("\n"), dtype=object)
    candidates = [prefix] if prefix is not None else COMMON_PREFIXES
    best, parts = None, None
    for candidate in candidates:
        found = sample.str.extract(prefix_regex(candidate) + _LEVEL)
        hits = int(found["level"].notna().sum())
        if best is None or hits > best[1] or (hits == best[1] and _richer(found, parts)):
            best, parts = (candidate, hits), found
    assert best is not None
    if best[1] == 0:
        given = f"the log_line_prefix {prefix!r}" if prefix is not None else \
            "any common log_line_prefix (pass prefix= the server's log_line_prefix)"  # fmt: skip
        raise InputError(f"{name}: no line is a PostgreSQL log entry with {given}; got "
                         f"{_secrets(str(sample.iloc[0]))[:200]!r}")  # fmt: skip
    return best[0]


def _richer(found: pd.DataFrame, than: pd.DataFrame | None) -> bool:
    """On a tie in entries found, the prefix that fills more columns (pid, time) wins."""
    return than is None or found.notna().sum().sum() > than.notna().sum().sum()


def _attach_secondary(table: pa.Table) -> pa.Table:
    """DETAIL/HINT/CONTEXT/STATEMENT/QUERY lines folded into the entry above them."""
    level = pc.fill_null(table.column("level"), "")
    secondary = pc.is_in(level, pa.array(sorted(_SECONDARY))).to_numpy(zero_copy_only=False)
    n = len(secondary)
    owner = np.maximum.accumulate(np.where(~secondary, np.arange(n), -1))
    primary = np.flatnonzero(~secondary)
    place = np.full(n, -1, dtype=np.int64)
    place[primary] = np.arange(len(primary))
    message = table.column("message")
    out = table.take(pa.array(primary))
    for part in ("DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY"):
        mine = np.flatnonzero(secondary & pc.equal(level, part).to_numpy(zero_copy_only=False)
                              & (owner >= 0))  # fmt: skip
        target = place[owner[mine]]
        taken, first = np.unique(target, return_index=True)  # the first such line wins
        pick = np.full(len(primary), -1, dtype=np.int64)
        pick[taken] = mine[first]
        column = part.lower() if part not in ("QUERY", "STATEMENT") else \
            {"QUERY": "internal_query", "STATEMENT": "query"}[part]  # fmt: skip
        if column in out.column_names:
            out = out.drop_columns([column])
        out = out.append_column(column, message.take(pa.array(pick, mask=pick < 0)))
    return out.rename_columns(["time_text" if c == "time" else c for c in out.column_names])


def _from_pandas(frame: pd.DataFrame) -> pa.Table:
    """A csvlog/jsonlog frame (text as objects) as Arrow columns: text, and `line` as int."""
    columns = {}
    for column in frame.columns:
        values = frame[column]
        if column == "line":
            columns[column] = pa.array(values.to_numpy(dtype=np.int64))
            continue
        texts = values.astype(object).where(values.notna(), None)
        columns[column] = pa.array([None if v is None else str(v) for v in texts], pa.string())
    return pa.table(columns)


def _csvlog(text: str, name: str, account: ParseAccount) -> pd.DataFrame:
    """csvlog records (a quoted field may span lines) with the file line each starts on; a
    record of the wrong width (a live log's unfinished last one) is counted and sampled."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    records, starts, width = [], [], None
    before = rejected = 0
    try:
        for record in reader:
            start, before = before + 1, reader.line_num
            if width is None and len(record) in range(22, 27):
                width = len(record)
            if len(record) != width:
                account.keep(name, start, "not a csvlog record", _secrets(",".join(record)))
                account.reasons.update({"not a csvlog record": 1})
                rejected += 1
                continue
            records.append(record)
            starts.append(start)
    except csv.Error as exc:
        raise InputError(f"{name}:{before + 1}: not a PostgreSQL csvlog ({exc})") from None
    if width is None or not records:
        raise InputError(f"{name}: not a PostgreSQL csvlog (no record of 22 to 26 columns)")
    account.lines += len(records) + rejected  # records: a quoted field may span lines
    account.parsed += len(records)
    account.rejected += rejected
    account.files.append({"file": name, "lines": len(records) + rejected, "parsed": len(records),
                          "rejected": rejected, "format": "csvlog"})  # fmt: skip
    raw = pd.DataFrame(records, columns=_CSV_COLUMNS[:width], dtype=object)
    raw = raw.where(raw != "", None)
    raw["line"] = starts
    return raw.rename(columns={"time": "time_text"})


_JSON_KEYS = {"timestamp": "time_text", "user": "user", "dbname": "database", "pid": "pid",
              "remote_host": "client", "session_id": "session", "error_severity": "level",
              "state_code": "sqlstate", "message": "message", "detail": "detail", "hint": "hint",
              "context": "context", "statement": "query", "internal_query": "internal_query",
              "application_name": "application", "query_id": "query_id"}  # fmt: skip


def _jsonlog(text: str, name: str, account: ParseAccount) -> pd.DataFrame:
    records, lines = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "message" not in record:
            account.keep(name, number, "not a jsonlog object", _secrets(raw))
            account.reasons.update({"not a jsonlog object": 1})
            account.rejected += 1
            continue
        records.append(record)
        lines.append(number)
    account.lines += len(lines) + account.rejected
    account.parsed += len(lines)
    if not records:
        raise InputError(f"{name}: no line is a PostgreSQL jsonlog object (one JSON object per "
                         'line with "timestamp", "error_severity" and "message")')  # fmt: skip
    frame = pd.DataFrame.from_records(records)
    frame = frame.rename(columns=_JSON_KEYS)
    frame = frame[[c for c in set(_JSON_KEYS.values()) if c in frame]].astype(object)
    if "time_text" not in frame or "level" not in frame:
        raise InputError(f"{name}: JSON objects without \"timestamp\" and \"error_severity\": "
                         "not a PostgreSQL jsonlog")  # fmt: skip
    frame["line"] = lines
    return frame


def _times_distinct(text: pa.ChunkedArray | pa.Array, tz: str | None, name: str,
                    line: pa.ChunkedArray | pa.Array) -> pa.Array:  # fmt: skip
    """`_times` of each distinct time text (a log repeats them), as an Arrow timestamp array."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(text.cast(pa.string()), ""))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    first = np.zeros(len(encoded.dictionary), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # each text's first row
    lines = pa.chunked_array([line]) if isinstance(line, pa.Array) else line
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
    first_line = pd.Series(lines.take(pa.array(first)).to_numpy())
    parsed = _times(distinct, tz, name, first_line)
    naive = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return pa.array(naive, pa.timestamp("ns", "UTC")).take(encoded.indices)


def _times(text: pd.Series, tz: str | None, name: str, line: pd.Series) -> pd.Series:
    """UTC times from PostgreSQL's ``%Y-%m-%d %H:%M:%S[.fff] <zone>`` (jsonlog: the same)."""
    parts = text.astype(str).str.extract(r"^(?P<clock>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)"
                                         r" ?(?P<zone>.*)$")  # fmt: skip
    clock = pd.to_datetime(parts["clock"], errors="coerce", format="ISO8601")
    zone = parts["zone"].fillna("").str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    for value in zone.unique():
        mine = (zone == value).to_numpy()
        offset = _offset(value, tz, name)
        if isinstance(offset, str):
            local = clock[mine].dt.tz_localize(offset, ambiguous="NaT", nonexistent="NaT")
            twice = local.isna() & clock[mine].notna()  # the hour a clock change repeats
            if twice.any():  # its abbreviation says which (CEST: the first, CET: the second)
                local[twice] = [_by_abbreviation(t, offset, value) for t in clock[mine][twice]]
            out[mine] = local.dt.tz_convert("UTC")
        else:
            out[mine] = (clock[mine] - pd.Timedelta(minutes=offset)).dt.tz_localize("UTC")
    if out.isna().any():
        first = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise InputError(f"{name}:{line.iloc[first]}: the time {text.iloc[first]!r} is not a "
                         "timestamp PostgreSQL writes (or falls in a clock change's gap)")
    return out


def _by_abbreviation(clock: pd.Timestamp, tz: str, abbreviation: str) -> pd.Timestamp:
    """A wall-clock time the zone shows twice (or never), resolved by the abbreviation the
    server wrote beside it; NaT when neither reading carries it."""
    from zoneinfo import ZoneInfo

    for fold in (0, 1):
        moment = clock.to_pydatetime().replace(tzinfo=ZoneInfo(tz), fold=fold)
        if moment.tzname() == abbreviation:
            return pd.Timestamp(moment)
    return pd.NaT  # type: ignore[return-value]


def _offset(zone: str, tz: str | None, name: str) -> int | str:
    """Minutes east of UTC for '', 'UTC', 'GMT', '+01', '-0530'; else `tz` (a zone name)."""
    if zone in ("", "UTC", "GMT", "Z", "UCT"):
        return tz if zone == "" and tz else 0
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)?", zone)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return minutes if m.group(1) == "+" else -minutes
    if tz:
        return tz
    raise InputError(f"{name}: times are written in the zone {zone!r}; pass tz= the server's "
                     "log_timezone (e.g. 'Europe/Paris') to read them")  # fmt: skip


KINDS = ["other", "statement", "fetch", "duration", "parse", "bind", "plan", "logged", "lock_wait",
         "lock_acquired", "temp_file", "checkpoint", "autovacuum", "connection", "disconnection",
         "error", "deadlock"]  # fmt: skip
_K = {kind: code for code, kind in enumerate(KINDS)}
# RE2 (Arrow's regex engine) patterns, each run on the entries that can match it; a message's
# head is matched, its (long) rest cut off by one anchored replacement
_DURATION = (r"^duration: (?P<ms>\d+(?:\.\d+)?) ms(?:  (?P<what>statement|execute|parse|bind|"
             r"plan)(?P<fetch> fetch from)?(?P<named> (?P<name>[^:]*))?:|$)")  # fmt: skip
# (`execute fetch from <portal>`: a further batch of rows from a portal already executed, a
# cursor's or JDBC's fetch size: the statement's time, not another execution of it)
# log_statement's lines (no duration): `statement: <sql>`, `execute <name>: <sql>`
_LOGGED = r"^(?P<what>statement|execute|parse|bind)(?P<named> (?P<name>[^:]*))?: "
_LOCK = (r"^process (?P<proc>\d+) (?P<state>still waiting for|acquired) (?P<mode>\w+) "
         r"on (?s:.*?) after (?P<ms>[\d.]+) ms")  # fmt: skip
_TEMP = r'^temporary file: path "[^"]*", size (?P<bytes>\d+)'
_CHECKPOINT = r"^(?:checkpoint|restartpoint) (?:starting|complete)"
_TOTAL = r"total=(?P<s>[\d.]+) s"
_SESSION = r"^disconnection: session time: (?P<h>\d+):(?P<m>\d\d):(?P<s>[\d.]+)"
_PARAMS = r"^parameters: "
_PLAN_STRING = r"'(?:[^']|'')*'"
_PARAM_VALUE_RE2 = r"(\$\d+ = )'(?:[^']|'')*'"  # NULL stays NULL
_PARAM_VALUE = re.compile(_PARAM_VALUE_RE2)
# a text plan: the statement (any number of lines, indented or not) up to the plan's top node,
# the first line with its costs; without one, up to the first line that is not indented
_TOP_NODE = r"\n[^\n]*\(cost=\d"
_QUERY_TEXT_BARE = r"^Query Text: (?P<q>(?:[^\n]|\n\s)*)"
_JSON_QUERY_TEXT = r'"Query Text": "(?P<q>(?:[^"\\]|\\.)*)"'


PARALLEL_ROWS = 100_000  # an extraction over more rows than this runs on two threads


def _extract(values: pa.Array, pattern: str) -> pa.Array:
    """`pyarrow.compute.extract_regex`, on two threads for a long array (RE2's submatch
    extraction costs microseconds a row; Arrow releases the GIL while it runs)."""
    if len(values) < PARALLEL_ROWS:
        return pc.extract_regex(values, pattern)
    from concurrent.futures import ThreadPoolExecutor

    half = len(values) // 2
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda part: pc.extract_regex(part, pattern),
                              [values.slice(0, half), values.slice(half)]))  # fmt: skip
    return pa.concat_arrays(parts)


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy (null as False)."""
    out: np.ndarray = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
    return out


HEAD_CHARS = 256  # a timed entry's head ('duration: ... ms  execute <name>:') is matched on this


def _extract_head(messages: pa.Array, rows: np.ndarray, pattern: str) -> pa.StructArray:
    """`_DURATION`'s match of each message of `rows`, run on the messages' first
    `HEAD_CHARS` characters instead of their whole statements and plans; a long message
    whose head did not match, or matched only as a whole text ('duration: 1.0 ms' and
    nothing after), is matched whole."""
    long = _np(pc.greater(pc.binary_length(messages), HEAD_CHARS))[rows]
    if not long.any():
        return _extract(_on(messages, rows), pattern)
    found = _extract(_on(pc.utf8_slice_codeunits(messages, 0, HEAD_CHARS), rows), pattern)
    unsure = long & ~(_np(found.is_valid()) & _np(pc.not_equal(found.field("what"), "")))
    if not unsure.any():
        return found
    again = np.flatnonzero(unsure)
    whole = pc.extract_regex(_on(messages, rows[again]), pattern)
    return pc.if_else(pa.array(unsure), _put(whole, again, len(rows)), found)


def _after(values: pa.Array, skip: np.ndarray | int, stop: np.ndarray | None = None,
           rows: np.ndarray | None = None) -> pa.Array:  # fmt: skip
    """Each text of `values` (no nulls), or of its `rows` (ascending), from byte `skip` (a
    head already matched) to byte `stop` (default: its end), sliced from the array's own
    buffer: no regex, and only the parts copied."""
    if not len(values) or (rows is not None and not len(rows)):
        return values if rows is None else values.slice(0, 0)
    large = pa.types.is_large_string(values.type)
    offsets = np.frombuffer(values.buffers()[1], np.int64 if large else np.int32)
    offsets = offsets[values.offset:values.offset + len(values) + 1].astype(np.int64)
    starts, ends = offsets[:-1], offsets[1:]
    if rows is not None:
        starts, ends = starts[rows], ends[rows]
    bounds = np.empty(2 * len(starts), dtype=np.int64)  # [the part][the rest, the next head]
    bounds[0::2] = starts + skip
    bounds[1::2] = ends if stop is None else starts + stop
    pieces = pa.Array.from_buffers(values.type, len(bounds) - 1, [
        None, pa.py_buffer(bounds if large else bounds.astype(np.int32)), values.buffers()[2]])
    return pieces.take(pa.array(np.arange(0, len(bounds), 2)))


def _put(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """`values` (one per row of `rows`) spread over `n` rows, null elsewhere."""
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return values.take(pa.array(index, mask=index < 0))


def _on(values: pa.Array, rows: np.ndarray) -> pa.Array:
    return values.take(pa.array(rows))


def _null_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _classify(table: pa.Table, keep_values: bool) -> pd.DataFrame:
    """The frame: kind, duration_ms, statement, plan... from each entry's message."""
    n = table.num_rows

    def column(name: str) -> pa.Array:
        if name not in table.column_names:
            return pa.nulls(n, pa.string())
        values = table.column(name).combine_chunks()
        return values if values.type != pa.null() else pa.nulls(n, pa.string())

    message = pc.fill_null(column("message"), "")
    level = pc.fill_null(column("level"), "")
    kind = np.zeros(n, dtype=np.int8)
    duration = np.full(n, np.nan)
    statement: pa.Array = pa.nulls(n, pa.string())
    names: pa.Array = pa.nulls(n, pa.string())
    plan: pa.Array = pa.nulls(n, pa.string())

    def starting(*heads: str) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for head in heads:
            out |= _np(pc.starts_with(message, head))
        return out

    timed = np.flatnonzero(starting("duration: "))
    found = _extract_head(message, timed, _DURATION)
    ok = _np(found.is_valid())
    timed, found = timed[ok], found.filter(pa.array(ok))
    has = np.zeros(n, dtype=bool)
    has[timed] = True
    duration[timed] = pc.cast(found.field("ms"), pa.float64()).to_numpy(zero_copy_only=False)
    what = found.field("what").to_numpy(zero_copy_only=False).astype(str)
    codes = {"": _K["duration"], "statement": _K["statement"], "execute": _K["statement"],
             "parse": _K["parse"], "bind": _K["bind"], "plan": _K["plan"]}  # fmt: skip
    kind[timed] = np.vectorize(codes.__getitem__, otypes=[np.int8])(what) if len(what) else []
    kind[timed[_np(pc.not_equal(found.field("fetch"), ""))]] = _K["fetch"]
    stepped = timed[what != ""]
    steps = pa.array(what != "")
    head_bytes = sum(pc.binary_length(found.field(f).filter(steps)).to_numpy(zero_copy_only=False)
                     for f in ("ms", "what", "fetch", "named")) + len("duration:  ms  :")
    rest = pc.utf8_ltrim(_after(message, head_bytes, rows=stepped), " ")
    planned_in = what[what != ""] == "plan"
    named = pc.if_else(pc.not_equal(found.field("named").filter(steps), ""),
                       found.field("name").filter(steps), pa.scalar(None, pa.string()))
    names = _put(pc.if_else(pa.array(planned_in), pa.scalar(None, pa.string()), named),
                 stepped, n)  # fmt: skip
    statement = _put(pc.if_else(pa.array(planned_in), pa.scalar(None, pa.string()), rest),
                     stepped, n)  # fmt: skip
    planned = stepped[planned_in]
    plans = _dedent_all(rest.filter(pa.array(planned_in)))
    plan = _put(plans, planned, n)
    statement = pc.if_else(pa.array(np.isin(np.arange(n), planned)),
                           _put(_plan_queries(plans), planned, n), statement)  # fmt: skip
    # log_statement: the text as it arrived, before it ran
    said = np.flatnonzero(~has & _np(pc.equal(level, "LOG")) & starting(
        "statement: ", "execute ", "parse ", "bind "))  # fmt: skip
    head = pc.extract_regex(_on(message, said), _LOGGED)
    ok = _np(head.is_valid())
    logged_rows, head = said[ok], head.filter(pa.array(ok))
    logged = np.zeros(n, dtype=bool)
    logged[logged_rows] = True
    kind[logged_rows] = _K["logged"]
    text = _after(_on(message, logged_rows), sum(pc.binary_length(head.field(f)).to_numpy(
        zero_copy_only=False) for f in ("what", "named")) + len(": "))  # fmt: skip
    statement = pc.if_else(pa.array(logged), _put(text, logged_rows, n), statement)
    named = pc.if_else(pc.not_equal(head.field("named"), ""), head.field("name"),
                       pa.scalar(None, pa.string()))  # fmt: skip
    names = pc.if_else(pa.array(logged), _put(named, logged_rows, n), names)
    # a statement entry's shown message is its head (the text is in `statement`), as written:
    # ``duration: 1.2 ms  execute P_1:``, ``statement:``; the part after the time is masked
    step = pc.binary_join_element_wise(found.field("what"), found.field("fetch"),
                                       found.field("named"), "")  # fmt: skip
    timed_ms, gap = found.field("ms"), pc.if_else(pc.equal(step, ""), "", "  ")
    step_head = pc.binary_join_element_wise(step, ":", "")  # masked below, with said_head
    said_head = pc.binary_join_element_wise(head.field("what"), head.field("named"), ":", "")
    rows = np.flatnonzero(starting("process "))
    lock = pc.extract_regex(_on(message, rows), _LOCK)
    ok = _np(lock.is_valid())
    rows, lock = rows[ok], lock.filter(pa.array(ok))
    acquired = _np(pc.equal(lock.field("state"), "acquired"))
    kind[rows] = np.where(acquired, _K["lock_acquired"], _K["lock_wait"])
    duration[rows] = pc.cast(lock.field("ms"), pa.float64()).to_numpy(zero_copy_only=False)
    mode = _put(lock.field("mode"), rows, n)
    rows = np.flatnonzero(starting("temporary file: "))
    spill = pc.extract_regex(_on(message, rows), _TEMP)
    ok = _np(spill.is_valid())
    rows, spill = rows[ok], spill.filter(pa.array(ok))
    kind[rows] = _K["temp_file"]
    temp = _put(pc.cast(spill.field("bytes"), pa.int64()), rows, n)
    rows = np.flatnonzero(starting("checkpoint ", "restartpoint "))
    rows = rows[_np(pc.match_substring_regex(_on(message, rows), _CHECKPOINT))]
    kind[rows] = _K["checkpoint"]
    total = pc.extract_regex(_on(message, rows), _TOTAL)
    ok = _np(total.is_valid())
    duration[rows[ok]] = pc.cast(total.filter(pa.array(ok)).field("s"), pa.float64()).to_numpy(
        zero_copy_only=False) * 1000  # fmt: skip
    kind[starting("automatic vacuum of table", "automatic analyze of table",
                  "automatic aggressive vacuum")] = _K["autovacuum"]  # fmt: skip
    kind[starting("connection received:", "connection authorized:")] = _K["connection"]
    rows = np.flatnonzero(starting("disconnection: "))
    session = pc.extract_regex(_on(message, rows), _SESSION)
    ok = _np(session.is_valid())
    rows, session = rows[ok], session.filter(pa.array(ok))
    kind[rows] = _K["disconnection"]
    hms = [pc.cast(session.field(f), pa.float64()).to_numpy(zero_copy_only=False)
           for f in ("h", "m", "s")]  # fmt: skip
    duration[rows] = hms[0] * 3_600_000 + hms[1] * 60_000 + hms[2] * 1000
    serious = _np(pc.is_in(level, pa.array(["ERROR", "FATAL", "PANIC"])))
    kind[serious & (kind == _K["other"])] = _K["error"]
    kind[serious & starting("deadlock detected")] = _K["deadlock"]
    # the STATEMENT line (or csv/json's query) gives an error's statement
    statement = pc.coalesce(statement, column("query"))
    detail = column("detail")
    bound = _np(pc.starts_with(detail, "parameters: "))
    rows = np.flatnonzero(bound & np.isin(kind, [_K["statement"], _K["fetch"], _K["logged"],
                                                 _K["bind"]]))  # fmt: skip
    params = pc.replace_substring_regex(_on(detail, rows), _PARAMS, "", max_replacements=1)
    if not keep_values:
        params = pc.replace_substring_regex(params, _PARAM_VALUE_RE2, r"\1'REDACTED'")
    parameters = _put(params, rows, n)
    # secrets masked (only texts naming one are lexed); constants as $n per shape of text
    masked = redact_sql(statement)
    normalized = normalize_many(masked)
    shown_normalized = normalized
    if not keep_values:  # utility statements are kept as written: their strings masked here
        utility = _np(pc.match_substring_regex(normalized, UTILITY_RE2))
        if utility.any():
            rows = np.flatnonzero(utility)
            hidden = pc.replace_substring_regex(_on(normalized, rows), STRING_RE2, "'REDACTED'")
            shown_normalized = pc.if_else(pa.array(utility), _put(hidden, rows, n), normalized)
    prints = pc.dictionary_encode(normalized)
    keys = [None if t is None else fingerprint(t, normalized=True)
            for t in prints.dictionary.to_pylist()]  # fmt: skip
    fingerprints = pa.array(keys, pa.string()).take(prints.indices)
    if not keep_values:  # a plan shows the statement's literals in its conditions
        plan = pc.replace_substring_regex(plan, _PLAN_STRING, "'REDACTED'")
    plan = redact_sql(plan)
    # a statement's message is its head (the text is in `statement`); every message and detail
    # is masked: secrets always, values (a key, an input, a bound parameter) unless kept
    mask = _secrets if keep_values else _secrets_and_values
    # a head's part after its time, masked once per distinct text (a time is a number, and
    # a time per entry made every head distinct: 9,300 texts masked one by one in Python)
    timed_head = pc.binary_join_element_wise(
        "duration: ", timed_ms, " ms", gap, _mask_distinct(step_head, mask), "")  # fmt: skip
    shown = pc.if_else(pa.array(has), _put(timed_head, timed, n),
                       _put(_mask_distinct(said_head, mask), logged_rows, n))  # fmt: skip
    others = np.flatnonzero(~(has | logged))
    shown = pc.if_else(pa.array(has | logged), shown,
                       _put(_mask_distinct(_on(message, others), mask), others, n))  # fmt: skip
    detail = pc.if_else(pa.array(bound), pa.scalar(None, pa.string()), detail)
    detail = _mask_distinct(detail, mask)
    out = {
        "time": pd.Series(table.column("time").combine_chunks().to_pandas(), name="time"),
        "pid": _integers(column("pid")),
    }
    text = pd.StringDtype("pyarrow")
    for name in ("user", "database", "application", "client", "session", "sqlstate"):
        out[name] = pd.Series(pd.array(_null_empty(column(name)), dtype=text))
    out["level"] = pd.Series(pd.Categorical(level.to_numpy(zero_copy_only=False),
                                            categories=LEVELS))  # fmt: skip
    kinds = pd.Categorical.from_codes(kind.astype(np.int64), pd.Index(KINDS))
    kinds = kinds.remove_unused_categories()
    out["kind"] = pd.Series(kinds.reorder_categories(sorted(kinds.categories)))
    out["duration_ms"] = pd.Series(duration)
    out["statement"] = pd.Series(pd.array(masked if keep_values else shown_normalized, dtype=text))
    out["normalized"] = pd.Series(pd.array(shown_normalized, dtype=text))
    out["fingerprint"] = pd.Series(pd.array(fingerprints, dtype=text))
    out["name"] = pd.Series(names.to_numpy(zero_copy_only=False), dtype=object)
    out["parameters"] = pd.Series(parameters.to_pandas())  # text as pandas reads it
    out["plan"] = pd.Series(pd.array(plan, dtype=text))
    out["lock_mode"] = pd.Series(mode.to_numpy(zero_copy_only=False), dtype=object)
    out["temp_bytes"] = pd.Series(pd.array(temp.to_numpy(zero_copy_only=False), dtype="Int64"))
    out["message"] = pd.Series(pd.array(shown, dtype=text))
    out["detail"] = pd.Series(pd.array(detail, dtype=text))
    for name in ("source", "user", "database", "application"):
        values = table.column(name).combine_chunks() if name == "source" else column(name)
        out[name] = pd.Series(pd.array(_null_empty(values), dtype=text)).astype("category")
    out["line"] = pd.Series(table.column("line").combine_chunks().to_numpy(), dtype=np.int64)
    return pd.DataFrame(out)


def _integers(values: pa.Array) -> pd.Series:
    """Process ids as nullable integers (text that is no integer: missing)."""
    try:
        return pd.Series(pd.array(pc.cast(_null_empty(values), pa.int64()), dtype="Int64"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(pd.Series(values.to_pylist(), dtype=object),
                             errors="coerce").astype("Int64")  # fmt: skip


def _mask_distinct(values: pa.Array, mask: Callable[[str], str]) -> pa.Array:
    """`mask` once per distinct text of `values` (nulls stay null)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    masked = [None if t is None else mask(t) for t in encoded.dictionary.to_pylist()]
    return pa.array(masked, pa.string()).take(encoded.indices)


def _dedent_all(plans: pa.Array) -> pa.Array:
    """auto_explain's plan text: leading newlines gone, one leading tab off each line, the
    last newline gone."""
    plans = pc.utf8_ltrim(plans, "\n")
    plans = pc.replace_substring_regex(plans, r"(?m)^\t", "")
    return pc.replace_substring_regex(plans, r"\n\z", "", max_replacements=1)


def _plan_queries(plans: pa.Array) -> pa.Array:
    """The statement auto_explain logged with each plan: its ``Query Text`` (text or JSON)."""
    n = len(plans)
    top = pc.find_substring_regex(plans, _TOP_NODE).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(_np(pc.starts_with(plans, "Query Text: ")) & (top >= 0))
    text = _put(_after(_on(plans, rows), len("Query Text: "), top[rows]), rows, n)
    bare = np.flatnonzero(~_np(text.is_valid()))
    if len(bare):
        text = pc.coalesce(text, _put(pc.extract_regex(_on(plans, bare), _QUERY_TEXT_BARE)
                                      .field("q"), bare, n))  # fmt: skip
    json_rows = np.flatnonzero(_np(pc.starts_with(pc.utf8_ltrim_whitespace(plans), "{")))
    if len(json_rows):
        found = pc.extract_regex(_on(plans, json_rows), _JSON_QUERY_TEXT).field("q")
        decoded = [(json.loads(f'"{q}"') if "\\" in q else q) or None if q is not None
                   else None for q in found.to_pylist()]  # fmt: skip
        text = pc.if_else(pa.array(np.isin(np.arange(n), json_rows)),
                          _put(pa.array(decoded, pa.string()), json_rows, n), text)  # fmt: skip
    return text


_KEY_VALUE = re.compile(r"(\)=\()(?:[^()]|\([^()]*\))*(\))")  # `Key (email)=(a@b.c)`
_QUOTED = re.compile(r"""(?<![\w.])("(?:[^"]|"")*"|'(?:[^']|'')*')""")


def _secrets(text: str) -> str:
    """Credentials masked in a message: `redact_text`'s pairs and URLs, and SQL password
    literals (``PASSWORD 'x'`` in an echoed statement)."""
    return redact_sql_text(redact_text(text))


def _secrets_and_values(text: str) -> str:
    """`_secrets`, and the values PostgreSQL quotes in messages: ``Key (email)=(...)``,
    ``invalid input syntax for type integer: "4111..."``, bound parameters."""
    text = _KEY_VALUE.sub(r"\1REDACTED\2", _secrets(text))
    text = _PARAM_VALUE.sub(r"\1'REDACTED'", text)
    return _QUOTED.sub(lambda m: m.group()[0] + "REDACTED" + m.group()[0]
                       if m.group()[0] == "'" or ": " + m.group() in text else m.group(), text)
