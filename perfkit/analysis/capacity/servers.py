"""The server's concurrency cap (Gunicorn workers x threads) from the evidence.

Three sources, best first: the Gunicorn command (``--workers``/``-w``,
``--threads``, ``-k``/``--worker-class``); Gunicorn's error log (``Using
worker: sync`` and the ``Booting worker with pid`` lines: the most workers
alive at once; sync workers serve one request each, gthread workers
``threads`` each, which the log does not name); and the access log's exact
requests in flight per interval (`concurrency_from_log`), whose maximum is a
lower bound on the cap, and the cap itself when the clients had more
requests outstanding than the server ever held (they queued in its backlog).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.errors import InputError

_BOOT = re.compile(r"\[(\d+)\] \[INFO\] Booting worker with pid: (\d+)")
_EXIT = re.compile(r"Worker exiting \(pid: (\d+)\)|Worker \(pid:(\d+)\) (?:exited|was sent)")
_CLASS = re.compile(r"Using worker: (\S+)")
_ASYNC = {"gevent", "eventlet", "tornado", "uvicorn", "asgi"}  # not capped by workers x threads
# Gunicorn's worker classes, by short name (`-k gevent`) and by class (`-k
# gunicorn.workers.ggevent.GeventWorker`, `uvicorn.workers.UvicornWorker`) -> their kind
_KINDS = {
    "sync": "sync", "syncworker": "sync", "gthread": "gthread", "threadworker": "gthread",
    "gevent": "gevent", "gevent_wsgi": "gevent", "gevent_pywsgi": "gevent",
    "geventworker": "gevent", "geventpywsgiworker": "gevent", "eventlet": "eventlet",
    "eventletworker": "eventlet", "tornado": "tornado", "tornadoworker": "tornado",
    "asgi": "asgi", "asgiworker": "asgi", "uvicornworker": "uvicorn",
    "uvicornh11worker": "uvicorn",
}  # fmt: skip


def worker_kind(name: str) -> str:
    """The kind of a Gunicorn worker class given by short name or dotted class path
    (``gunicorn.workers.ggevent.GeventWorker`` -> ``gevent``); an unknown class's own name."""
    text = name.strip().lower()
    last = text.rsplit(".", 1)[-1]
    return _KINDS.get(text) or _KINDS.get(last) or last


@dataclass(frozen=True)
class ServerCap:
    """How many requests the server can hold at once, and where that came from."""

    servers: int | None
    source: str
    worker_class: str | None = None
    workers: int | None = None
    threads: int | None = None
    max_in_flight: float | None = None  # the access log's largest mean in flight per interval

    def __repr__(self) -> str:
        return f"ServerCap({self.servers} servers: {self.source})"


def parse_gunicorn_command(command: str) -> dict[str, Any]:
    """``workers``, ``threads`` and ``worker_class`` named on a Gunicorn command line."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found: dict[str, Any] = {}
    names = {"-w": "workers", "--workers": "workers", "--threads": "threads",
             "-k": "worker_class", "--worker-class": "worker_class"}  # fmt: skip
    for i, word in enumerate(words):
        key, _, value = word.partition("=")
        if key in names and (value or i + 1 < len(words)):
            found[names[key]] = value or words[i + 1]
    for key in ("workers", "threads"):
        if key in found:
            try:
                found[key] = int(found[key])
            except ValueError:
                raise InputError(f"Gunicorn command: --{key} {found[key]!r} is not a whole "
                                 "number") from None  # fmt: skip
    if "worker_class" in found:
        found["worker_class"] = worker_kind(found["worker_class"])
    return found


def parse_gunicorn_log(text: str) -> dict[str, Any]:
    """``workers`` (most alive at once) and ``worker_class`` from Gunicorn's error log text."""
    alive: set[str] = set()
    most = 0
    for line in text.splitlines():
        boot = _BOOT.search(line)
        if boot:
            alive.add(boot.group(2))
            most = max(most, len(alive))
            continue
        gone = _EXIT.search(line)
        if gone:
            alive.discard(gone.group(1) or gone.group(2))
    found: dict[str, Any] = {"workers": most} if most else {}
    kind = _CLASS.search(text)
    if kind:
        found["worker_class"] = worker_kind(kind.group(1))
    return found


def server_concurrency(
    requests: pd.DataFrame | None = None,
    error_log: str | Path | None = None,
    command: str | None = None,
    client_max: float | None = None,
    interval: str = "5s",
) -> ServerCap:
    """The server's concurrency cap with its source (see the module docstring).

    `requests`: an access log frame (``time``, ``duration_ms``); `error_log`:
    Gunicorn's error log (a path); `command`: the Gunicorn command line;
    `client_max`: the most requests the clients had outstanding (Locust
    users without wait), which turns the log's largest in-flight count into
    a cap when it is clearly above it.
    """
    info: dict[str, Any] = {}
    used = []
    if error_log is not None:
        path = Path(error_log)
        try:
            info.update(parse_gunicorn_log(path.read_text(errors="replace")))
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        if info:
            used.append(f"Gunicorn's log {path.name}")
    if command:
        named = parse_gunicorn_command(command)
        if named:
            info.update(named)
            used.append("the Gunicorn command")
    seen = None
    if requests is not None and len(requests):
        from perfkit.analysis.concurrency import concurrency_from_log

        seen = float(concurrency_from_log(requests, interval)["concurrency"].max())
    kind = info.get("worker_class")
    if kind in (None, "sync") and info.get("threads", 1) > 1:
        kind = "gthread"  # Gunicorn runs gthread when sync (even named) has threads > 1
    workers = info.get("workers")
    threads = info.get("threads", 1 if kind in (None, "sync") else None)
    seen_text = "" if seen is None else f"; the access log held at most {seen:.2f} in flight"
    if workers and threads and kind not in _ASYNC:
        slots = workers * threads
        what = f"{workers} {kind or 'sync'} worker{'s' if workers > 1 else ''}"
        what += f" x {threads} threads" if threads > 1 else ""
        return ServerCap(slots, f"{what} ({', '.join(used)}){seen_text}", kind, workers,
                         threads, seen)  # fmt: skip
    if seen is not None and seen > 0:
        cap = max(1, round(seen))
        hard = client_max is not None and client_max > 1.5 * seen
        how = (f"the clients had up to {client_max:g} outstanding, so this is the cap"
               if hard else "a lower bound: the load may not have reached the cap")  # fmt: skip
        return ServerCap(cap, f"access log: at most {seen:.2f} requests in "
                         f"flight per {interval} ({how})", kind, workers, threads,
                         seen)  # fmt: skip
    return ServerCap(None, "unknown: no Gunicorn command or log and no access log", kind,
                     workers, threads, seen)  # fmt: skip
