"""`read_gunicorn_log`: Gunicorn's error log -> one row per event.

Gunicorn writes its error log (``--error-logfile``, ``--log-level``) as
``[%Y-%m-%d %H:%M:%S %z] [<pid>] [<LEVEL>] <message>``: the master's and the
workers' lines, each with its own pid. Lines that do not start that way belong
to the entry above them (a traceback, a multi-line message) and are kept as its
``detail``; with ``--capture-output`` the application's own output lands there
too. Before the first entry such lines are rejected, counted and sampled in the
parse account (``attrs["perfkit"]``).

Each entry gets a ``kind`` from its message (the texts of Gunicorn 20 to 27):

=================  ====================================================================
kind               message
=================  ====================================================================
``start``          ``Starting gunicorn <version>`` (``version``)
``listening``      ``Listening at: <address> (<pid>)``
``worker_class``   ``Using worker: <class>`` (``worker_class``)
``boot``           ``Booting worker with pid: <pid>`` (``worker_pid``)
``autorestart``    ``Autorestarting worker after current request.`` (``max_requests``)
``worker_exit``    ``Worker exiting (pid: <pid>)``
``timeout``        ``WORKER TIMEOUT (pid:<pid>)`` (``--timeout``; the master then sends
                   SIGABRT)
``signalled``      ``Worker (pid:<pid>) was sent <SIGNAL>!`` (``signal``); SIGKILL adds
                   ``Perhaps out of memory?`` (the kernel's OOM killer sends SIGKILL)
``exit_code``      ``Worker (pid:<pid>) exited with code <n>`` (``exit_code``)
``master_signal``  ``Handling signal: <name>`` (``signal``: hup, ttin, ttou, term, int...)
``reload``         ``Hang up: <name>``, ``Worker reloading: <file> modified``
``shutdown``       ``Shutting down: <name>``
``error``          ``Error handling request ...``, ``Exception in worker process``, ``Socket
                   error processing request.``, or any other ERROR/CRITICAL entry
``other``          anything else
=================  ====================================================================

Columns: ``time`` (UTC), ``pid`` (the process that wrote the line), ``level``,
``kind``, ``worker_pid`` (the worker an event is about: its own pid for the
lines a worker writes), ``signal``, ``exit_code``, ``version``,
``worker_class``, ``message``, ``detail``, ``source``, ``line`` (1-based, in its
file). Text from the log is data: it is never interpreted, and a request's query
string in an ``Error handling request`` message is redacted as in the access log.
"""

from __future__ import annotations

import signal as signals
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.account import ParseAccount
from perfkit.io.paths import Buffer, Paths, expand_paths
from perfkit.io.redact import map_distinct, redact_text
from perfkit.io.textfiles import read_text

_ENTRY = (r"^\[(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] "
          r"\[(?P<pid>\d{1,10})\] \[(?P<level>[A-Z]+)\] ?(?P<message>.*)$")  # fmt: skip
# (kind, pattern): the first that matches names the entry; named groups become columns
_KINDS: list[tuple[str, str]] = [
    ("start", r"^Starting gunicorn (?P<version>\S+)"),
    ("listening", r"^Listening at: "),
    ("worker_class", r"^Using worker: (?P<worker_class>\S+)"),
    ("boot", r"^Booting worker with pid: (?P<worker_pid>\d+)"),
    ("autorestart", r"^Autorestarting worker after current request"),
    ("worker_exit", r"^Worker exiting \(pid: ?(?P<worker_pid>\d+)\)"),
    ("timeout", r"^WORKER TIMEOUT \(pid: ?(?P<worker_pid>\d+)\)"),
    ("signalled", r"^Worker \(pid: ?(?P<worker_pid>\d+)\) was sent (?P<signal>SIG[A-Z0-9]+|"
                  r"signal \d+|code \d+)"),
    ("signalled", r"^Worker with pid (?P<worker_pid>\d+) was terminated due to signal "
                  r"(?P<signal>\d+)"),  # Gunicorn 20
    ("exit_code", r"^Worker \(pid: ?(?P<worker_pid>\d+)\) exited with code (?P<exit_code>\d+)"),
    ("master_signal", r"^Handling signal: (?P<signal>\w+)"),
    ("reload", r"^(?:Hang up: |Worker reloading: )"),
    ("shutdown", r"^Shutting down: "),
    ("error", r"^(?:Error handling request|Exception in worker process|Socket error processing"
              r" request)"),
]  # fmt: skip
KINDS = [*dict.fromkeys(k for k, _ in _KINDS), "other"]
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
COLUMNS = ["time", "pid", "level", "kind", "worker_pid", "signal", "exit_code", "version",
           "worker_class", "message", "detail", "source", "line"]  # fmt: skip
# lines a worker writes about itself: the worker is the line's own pid
_SELF = {"autorestart", "error"}


def read_gunicorn_log(
    paths: Paths, tz: str | None = None, dtype_backend: DtypeBackend | None = None
) -> pd.DataFrame:
    """Gunicorn error logs (rotated and compressed files in time order) -> one row per event.

    See the module docstring for the kinds and columns. `tz` names the zone of
    timestamps that carry no offset (a custom ``datefmt``; default UTC).
    `dtype_backend` as in `pandas.read_csv`. `InputError` naming the file when
    no line of it is a Gunicorn log entry.
    """
    check_backend(dtype_backend, "read_gunicorn_log")
    account = ParseAccount("read_gunicorn_log", format="gunicorn error log",
                           format_string=_ENTRY)  # fmt: skip
    frames = [_read_one(item, tz, account) for item in expand_paths(paths)]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values("time", kind="stable", ignore_index=True)
    for name, categories in (("level", LEVELS), ("kind", KINDS)):
        extra = sorted(set(frame[name].dropna()) - set(categories))
        frame[name] = pd.Categorical(frame[name], categories=[*categories, *extra])
    frame["source"] = frame["source"].astype("category")
    frame.attrs["perfkit"] = account.to_dict()
    if account.rejected:
        warnings.warn(account.summary(), PerfkitWarning, stacklevel=2)
    return to_backend(frame[COLUMNS], dtype_backend, "read_gunicorn_log")


def _read_one(item: Path | Buffer, tz: str | None, account: ParseAccount) -> pd.DataFrame:
    lines = pd.Series(read_text(item).splitlines(), dtype=pd.StringDtype("pyarrow"))
    name = str(item)
    parts = lines.str.extract(_ENTRY)
    entry = parts["time"].notna().to_numpy()
    counts = {"file": name, "lines": len(lines), "parsed": 0, "rejected": 0,
              "format": "gunicorn error log"}  # fmt: skip
    if len(lines) and not entry.any():
        raise InputError(f"{name}: no line is a Gunicorn error-log entry; expected lines like "
                         f"'[2026-01-31 12:00:00 +0000] [123] [INFO] Booting worker with pid: "
                         f"124', got {redact_text(str(lines.iloc[0]))[:200]!r}")  # fmt: skip
    group = np.cumsum(entry)  # each line's entry (0: before the first)
    orphans = np.flatnonzero(group == 0)
    for i in orphans[: account.room]:  # sampled as data, secrets masked
        text = redact_text(str(lines.iloc[i]))
        account.keep(name, int(i) + 1, "before the first log entry", text)
    account.reasons.update({"before the first log entry": len(orphans)} if len(orphans) else {})
    rows = np.flatnonzero(entry)
    tail = ~entry & (group > 0)
    if tail.any():
        detail = lines[tail].groupby(group[tail]).agg("\n".join)
        detail.index = detail.index - 1  # entry k (1-based) is row k - 1
    else:
        detail = pd.Series(dtype=object)
    out = parts.loc[entry, ["time", "pid", "level", "message"]].reset_index(drop=True)
    out["detail"] = pd.Series(detail, index=range(len(out))).astype(pd.StringDtype("pyarrow"))
    out["line"] = rows + 1
    out["time"] = _times(out["time"], tz, name)
    out["pid"] = out["pid"].astype("int64")
    _classify(out)
    out["source"] = getattr(item, "name", name)
    account.lines += len(lines)
    account.parsed += len(rows) + int(tail.sum())
    account.rejected += len(orphans)
    counts.update(parsed=len(rows) + int(tail.sum()), rejected=len(orphans))
    account.files.append(counts)
    return out


def _times(text: pd.Series, tz: str | None, name: str) -> pd.Series:
    """UTC times from Gunicorn's ``%Y-%m-%d %H:%M:%S %z`` (or without the offset, in `tz`)."""
    has_offset = text.str.len() > 19
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(text[has_offset], format="%Y-%m-%d %H:%M:%S %z",
                                         utc=True, errors="coerce")  # fmt: skip
    if (~has_offset).any():
        local = pd.to_datetime(text[~has_offset], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        out[~has_offset] = local.dt.tz_localize(tz or "UTC").dt.tz_convert("UTC")
    if out.isna().any():
        bad = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise InputError(f"{name}: an entry's time {text.iloc[bad]!r} is not a date "
                         "(expected %Y-%m-%d %H:%M:%S %z)")  # fmt: skip
    return out


def _classify(out: pd.DataFrame) -> None:
    """Add ``kind`` and the fields its message carries, in place (columnar, one regex each)."""
    message = out["message"]
    kind = pd.Series(pd.NA, index=out.index, dtype=object)
    fields: dict[str, pd.Series] = {}
    for name, pattern in _KINDS:
        free = kind.isna()
        if not free.any():
            break
        found = message[free].str.extract(f"(?P<_hit>{pattern})")
        hit = found["_hit"].notna()
        index = found.index[hit.to_numpy()]
        kind[index] = name
        for column in found.columns.drop("_hit"):
            fields.setdefault(column, pd.Series(pd.NA, index=out.index, dtype=object))
            fields[column][index] = found.loc[index, column]
    serious = kind.isna() & out["level"].isin(["ERROR", "CRITICAL"]).to_numpy()
    kind[serious] = "error"
    out["kind"] = kind.fillna("other")
    for column in ("worker_pid", "exit_code"):
        values = fields.get(column, pd.Series(pd.NA, index=out.index, dtype=object))
        out[column] = pd.to_numeric(values, errors="coerce").astype("Int64")
    own = out["kind"].isin(_SELF) & out["worker_pid"].isna()
    out.loc[own, "worker_pid"] = out.loc[own, "pid"]
    for column in ("signal", "version", "worker_class"):
        values = fields.get(column, pd.Series(pd.NA, index=out.index, dtype=object))
        out[column] = values.astype(pd.StringDtype("pyarrow"))
    out["signal"] = map_distinct(out["signal"], _signal_name)
    for column in ("message", "detail"):  # a traceback or a request line may carry a secret
        out[column] = map_distinct(out[column], redact_text)


def _signal_name(text: str) -> str:
    """``SIGKILL`` for ``SIGKILL``, ``kill`` (the master's ``Handling signal: kill``), ``9``
    (Gunicorn 20's number) or ``code 137`` (Gunicorn 21-23's raw wait status: the signal
    is its low 7 bits, 0x80 the core-dump flag)."""
    word = text.strip()
    if word.lower().startswith("code ") or word.isdigit():
        number = int(word.split()[-1])
        number = number & 0x7F if word.lower().startswith("code ") else number
        try:
            return signals.Signals(number).name
        except ValueError:
            return f"signal {number}"
    if word.lower().startswith("signal "):
        return _signal_name(word.split()[-1])
    word = word.upper()
    return word if word.startswith("SIG") else f"SIG{word}"
