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

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.account import ParseAccount
from perfkit.io.paths import Paths, expand_paths
from perfkit.io.pg_log_sql import fingerprint, normalize_sql
from perfkit.io.redact import map_distinct, redact_sql_text, redact_text
from perfkit.io.textfiles import read_text

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
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ", "%t [%p-%l] %q%u@%d ", "%m [%p-%l] %q%u@%d ",
    "%t:%r:%u@%d:[%p]: ", "%m %u %d [%p] ", "[%a] ", "",
]  # fmt: skip
SNIFF_LINES = 2000
_LEVEL = r"(?P<level>DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT|" \
         r"STATEMENT|QUERY|LOCATION):  (?P<message>.*)$"  # fmt: skip
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
    frames = []
    for item in expand_paths(paths):
        text = read_text(item)
        kind = format if format != "auto" else _sniff_format(text, str(item))
        if kind == "csvlog":
            raw = _csvlog(text, str(item), account)
        elif kind == "jsonlog":
            raw = _jsonlog(text, str(item), account)
        else:
            raw = _stderr(text, str(item), prefix, account)
        raw["source"] = getattr(item, "name", str(item))
        raw["time"] = _times(raw.pop("time_text"), tz, str(item), raw["line"])
        account.format = ", ".join(dict.fromkeys(filter(None, [account.format, kind])))
        frames.append(raw)
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values("time", kind="stable", ignore_index=True)
    _classify(frame, keep_values)
    frame["level"] = pd.Categorical(frame["level"], categories=LEVELS)
    for name in ("kind", "source", "user", "database", "application"):
        frame[name] = frame[name].astype("category")
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


def _stderr(text: str, name: str, prefix: str | None, account: ParseAccount) -> pd.DataFrame:
    lines = pd.Series(text.splitlines(), dtype=object)
    if not len(lines):
        raise InputError(f"{name}: empty; there are no log lines to read")
    candidates = [prefix] if prefix is not None else COMMON_PREFIXES
    best, parts = None, None
    sample = lines.head(SNIFF_LINES)  # the prefix is chosen on the first lines, then applied
    for candidate in candidates:
        found = sample.str.extract(prefix_regex(candidate) + _LEVEL)
        hits = int(found["level"].notna().sum())
        if best is None or hits > best[1] or (hits == best[1] and _richer(found, parts)):
            best, parts = (candidate, hits), found
    assert best is not None and parts is not None
    if best[1] and len(lines) > len(sample):
        parts = lines.str.extract(prefix_regex(best[0]) + _LEVEL)
    if best[1] == 0:
        given = f"the log_line_prefix {prefix!r}" if prefix is not None else \
            "any common log_line_prefix (pass prefix= the server's log_line_prefix)"  # fmt: skip
        raise InputError(f"{name}: no line is a PostgreSQL log entry with {given}; got "
                         f"{_secrets(str(lines.iloc[0]))[:200]!r}")  # fmt: skip
    account.format_string = best[0]
    entry = parts["level"].notna().to_numpy()
    tabbed = lines.str.startswith("\t").to_numpy()
    group = np.cumsum(entry)
    stray = ~entry & ~tabbed
    orphans = np.flatnonzero((group == 0) | stray)
    for i in orphans[: account.room]:
        account.keep(name, int(i) + 1, "not a log entry", redact_text(str(lines.iloc[i])))
    if len(orphans):
        account.reasons.update({"not a log entry": len(orphans)})
    rows = np.flatnonzero(entry)
    out = parts.loc[entry].reset_index(drop=True)
    message = out["message"].astype(object)
    tail = tabbed & (group > 0)
    if tail.any():  # a tab-led line continues the entry above (multi-line text)
        extra = lines[tail].str[1:].groupby(group[tail]).agg("\n".join)
        joined = pd.Series(extra.to_numpy(), index=extra.index.to_numpy() - 1)
        has = joined.reindex(range(len(out)))
        message = message.where(has.isna(), message + "\n" + has.fillna(""))
    out["message"] = message
    out["line"] = rows + 1
    account.lines += len(lines)
    account.parsed += len(lines) - len(orphans)
    account.rejected += len(orphans)
    account.files.append({"file": name, "lines": len(lines), "parsed": len(lines) - len(orphans),
                          "rejected": len(orphans), "format": "stderr"})  # fmt: skip
    if "time" not in out and "epoch" in out:
        out["time"] = pd.to_datetime(out["epoch"].astype(float), unit="s", utc=True).astype(str)
    return _attach_secondary(out)


def _richer(found: pd.DataFrame, than: pd.DataFrame | None) -> bool:
    """On a tie in entries found, the prefix that fills more columns (pid, time) wins."""
    return than is None or found.notna().sum().sum() > than.notna().sum().sum()


def _attach_secondary(out: pd.DataFrame) -> pd.DataFrame:
    """DETAIL/HINT/CONTEXT/STATEMENT/QUERY lines folded into the entry above them."""
    level = out["level"].astype(str)
    secondary = level.isin(_SECONDARY).to_numpy()
    owner = np.maximum.accumulate(np.where(~secondary, np.arange(len(out)), -1))
    primary = out.loc[~secondary].copy()
    for part in ("DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY"):
        mine = secondary & (level == part).to_numpy() & (owner >= 0)
        column = part.lower() if part != "QUERY" else "internal_query"
        values = pd.Series(out["message"].to_numpy()[mine], index=owner[mine])
        values = values[~values.index.duplicated(keep="first")]
        primary[column] = values.reindex(primary.index)
    primary = primary.rename(columns={"statement": "query"})
    return primary.reset_index(drop=True).rename(columns={"time": "time_text"})


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


_DURATION = re.compile(
    r"^duration: (?P<ms>\d+(?:\.\d+)?) ms(?:  (?P<what>statement|execute|parse|bind|plan)"
    r"(?: (?P<name>[^:]*))?:(?P<rest>.*))?$", re.DOTALL)  # fmt: skip
# log_statement's lines (no duration): `statement: <sql>`, `execute <name>: <sql>`
_LOGGED = re.compile(
    r"^(?P<what>statement|execute|parse|bind)(?: (?P<name>[^:]*))?: (?P<rest>.*)$", re.DOTALL)
_LOCK = re.compile(r"^process (?P<proc>\d+) (?P<state>still waiting for|acquired) (?P<mode>\w+) "
                   r"on .*? after (?P<ms>[\d.]+) ms", re.DOTALL)  # fmt: skip
_TEMP = re.compile(r'^temporary file: path "[^"]*", size (?P<bytes>\d+)')
_CHECKPOINT = re.compile(r"^(?:checkpoint|restartpoint) (?:starting|complete)")
_TOTAL = re.compile(r"total=(?P<s>[\d.]+) s")
_SESSION = re.compile(r"^disconnection: session time: (?P<h>\d+):(?P<m>\d\d):(?P<s>[\d.]+)")
_PARAMS = re.compile(r"^parameters: (?P<params>.*)$", re.DOTALL)
_PLAN_STRING = re.compile(r"'(?:[^']|'')*'")
_PARAM_VALUE = re.compile(r"(\$\d+ = )'(?:[^']|'')*'")  # NULL stays NULL


def _classify(frame: pd.DataFrame, keep_values: bool) -> None:
    """Add kind, duration_ms, statement, plan... from each entry's message (in place)."""
    n = len(frame)
    for column in ("detail", "query", "context", "hint", "internal_query", "sqlstate", "user",
                   "database", "application", "client", "session", "pid"):  # fmt: skip
        if column not in frame:
            frame[column] = None
    message = frame["message"].fillna("").astype(str)
    level = frame["level"].fillna("").astype(str)
    kind = np.full(n, "other", dtype=object)
    duration = np.full(n, np.nan)
    statement = np.full(n, None, dtype=object)
    name = np.full(n, None, dtype=object)
    plan = np.full(n, None, dtype=object)
    mode = np.full(n, None, dtype=object)
    temp = np.full(n, np.nan)
    found = message.str.extract(_DURATION)
    has = found["ms"].notna().to_numpy()
    duration[has] = found.loc[has, "ms"].astype(float).to_numpy()
    what = found["what"].fillna("").to_numpy()
    rest = found["rest"].fillna("").str.lstrip(" ").to_numpy()
    kind[has & (what == "")] = "duration"
    for step in ("statement", "execute", "parse", "bind"):
        mine = has & (what == step)
        kind[mine] = "statement" if step in ("statement", "execute") else step
        statement[mine] = rest[mine]
    name[has & (what != "") & (what != "plan")] = found.loc[has & (what != "") & (what != "plan"),
                                                            "name"].to_numpy()  # fmt: skip
    planned = has & (what == "plan")
    kind[planned] = "plan"
    plan[planned] = [_dedent(p) for p in rest[planned]]
    statement[planned] = [_plan_query(p) for p in plan[planned]]
    said = message.str.extract(_LOGGED)
    logged = (~has) & said["rest"].notna().to_numpy() & (level == "LOG").to_numpy()
    kind[logged] = "logged"  # log_statement: the text as it arrived, before it ran
    statement[logged] = said.loc[logged, "rest"].to_numpy()
    name[logged] = said.loc[logged, "name"].to_numpy()
    lock = message.str.extract(_LOCK)
    locked = lock["ms"].notna().to_numpy()
    kind[locked] = np.where(lock.loc[locked, "state"] == "acquired", "lock_acquired", "lock_wait")
    duration[locked] = lock.loc[locked, "ms"].astype(float).to_numpy()
    mode[locked] = lock.loc[locked, "mode"].to_numpy()
    tempfile = message.str.extract(_TEMP)["bytes"]
    spilled = tempfile.notna().to_numpy()
    kind[spilled] = "temp_file"
    temp[spilled] = tempfile[spilled].astype(float).to_numpy()
    checkpoint = message.str.contains(_CHECKPOINT).to_numpy()
    kind[checkpoint] = "checkpoint"
    total = message.str.extract(_TOTAL)["s"]
    done = checkpoint & total.notna().to_numpy()
    duration[done] = total[done].astype(float).to_numpy() * 1000
    vacuum = message.str.startswith(("automatic vacuum of table", "automatic analyze of table",
                                     "automatic aggressive vacuum")).to_numpy()  # fmt: skip
    kind[vacuum] = "autovacuum"
    kind[message.str.startswith(("connection received:", "connection authorized:")).to_numpy()] = \
        "connection"  # fmt: skip
    session = message.str.extract(_SESSION)
    ended = session["h"].notna().to_numpy()
    kind[ended] = "disconnection"
    duration[ended] = (session.loc[ended, "h"].astype(float) * 3_600_000
                       + session.loc[ended, "m"].astype(float) * 60_000
                       + session.loc[ended, "s"].astype(float) * 1000).to_numpy()  # fmt: skip
    serious = level.isin(["ERROR", "FATAL", "PANIC"]).to_numpy()
    deadlock = serious & message.str.startswith("deadlock detected").to_numpy()
    kind[serious & (kind == "other")] = "error"
    kind[deadlock] = "deadlock"
    # the STATEMENT line (or csv/json's query) gives an error's statement
    query = frame["query"].astype(object)
    take = pd.isna(statement) & query.notna().to_numpy()
    statement[take] = query[take].to_numpy()
    detail = frame["detail"].astype(object)
    bound = detail.where(detail.notna(), "").astype(str).str.extract(_PARAMS)["params"]
    params = bound.where(pd.Series(np.isin(kind, ["statement", "logged", "bind"]),
                                   index=frame.index))  # fmt: skip
    if not keep_values:
        params = params.where(params.isna(), params.astype(str).str.replace(
            _PARAM_VALUE, r"\1'REDACTED'", regex=True))  # fmt: skip
    frame["kind"] = kind
    frame["duration_ms"] = duration
    # per distinct text, once: secrets masked, then constants as $n (the normalized text, and
    # the statement itself unless values are kept), then its fingerprint from that
    masked = map_distinct(pd.Series(statement, index=frame.index), redact_sql_text)
    frame["normalized"] = map_distinct(masked, normalize_sql)
    frame["statement"] = masked if keep_values else frame["normalized"]
    frame["fingerprint"] = map_distinct(frame["normalized"],
                                        lambda text: fingerprint(text, normalized=True))
    frame["name"] = name
    frame["parameters"] = params
    plans = pd.Series(plan, index=frame.index)
    if not keep_values:  # a plan shows the statement's literals in its conditions
        plans = map_distinct(plans, lambda text: _PLAN_STRING.sub("'REDACTED'", text))
    frame["plan"] = map_distinct(plans, redact_sql_text)
    frame["lock_mode"] = mode
    frame["temp_bytes"] = pd.array(temp, dtype="Float64").astype("Int64")
    # a statement's message is its head (the text is in `statement`); every message and detail
    # is masked: secrets always, values (a key, an input, a bound parameter) unless kept
    head = message.str.extract(r"^(duration: [\d.]+ ms(?:  \w+(?: [^:]*)?)?|"
                               r"(?:statement|execute|parse|bind)(?: [^:]*)?)")[0]  # fmt: skip
    shown = message.where(~(has | logged), head + ":")
    detail = detail.where(bound.isna(), None)  # parameters: in their own column
    mask = _secrets if keep_values else _secrets_and_values
    frame["message"] = map_distinct(shown, mask)
    frame["detail"] = map_distinct(detail, mask)
    frame["pid"] = pd.to_numeric(frame["pid"], errors="coerce").astype("Int64")
    for column in ("sqlstate", "user", "database", "application", "client", "session"):
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna() & (values != ""), None).astype(
            pd.StringDtype("pyarrow"))  # text: each dtype_backend gives its own string dtype


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


def _dedent(text: str) -> str:
    return "\n".join(line.removeprefix("\t") for line in str(text).lstrip("\n").splitlines())


def _plan_query(plan: str) -> str | None:
    """The statement auto_explain logged with a plan: its ``Query Text``."""
    if plan.lstrip().startswith("{"):
        try:
            return str(json.loads(plan).get("Query Text") or "") or None
        except ValueError:
            return None
    m = re.match(r"^Query Text: (.*?)(?:\n(?=\S)|\Z)", plan, re.DOTALL)
    return m.group(1) if m else None
