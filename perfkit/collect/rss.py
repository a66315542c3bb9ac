"""`perfkit collect rss`: resident memory of a Gunicorn master and its workers over time.

Every `interval_s` seconds it samples RSS (and USS, the memory only that
process holds, where psutil can read it) of the master and, with
`children`, every descendant, and appends one CSV row per process:
``time`` (ISO 8601, UTC), ``pid``, ``ppid``, ``role`` (``master`` or
``worker``), ``rss_bytes``, ``uss_bytes``, ``name``. Each row is flushed as it
is written, so a kill loses at most the row being written. Workers that
Gunicorn replaces (``max_requests``) simply show up under new pids. It stops
when `duration_s` has passed or the master exits.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError

FIELDS = ["time", "pid", "ppid", "role", "rss_bytes", "uss_bytes", "name"]
log = logging.getLogger(__name__)


def collect_rss(
    pid: int,
    out: Path,
    children: bool = True,
    interval_s: float = 1.0,
    duration_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Sample until `duration_s` passes or process `pid` exits; return the rows written."""
    import psutil

    try:
        master = psutil.Process(pid)
        master.memory_info()
    except psutil.NoSuchProcess as exc:
        raise InputError(f"no process with pid {pid}") from exc
    except psutil.AccessDenied as exc:
        raise InputError(
            f"not allowed to read the memory of pid {pid}; run as its user or root"
        ) from exc
    fresh, fresh_line = _appendable(out)
    rows = 0
    started = clock()
    log.debug("sampling pid %d%s every %g s into %s", pid, " and its children" if children else "",
              interval_s, out)  # fmt: skip
    with open(out, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if fresh:
            writer.writeheader()
            handle.flush()
        elif fresh_line:  # a partial last row (disk full, killed): never glue onto it
            handle.write("\r\n")
            handle.flush()
        while master.is_running() and master.status() != psutil.STATUS_ZOMBIE:
            for row in _sample(master, children):
                writer.writerow(row)
                handle.flush()
                rows += 1
            if duration_s is not None and clock() - started >= duration_s:
                break
            sleep(interval_s)
    log.info("%d samples -> %s", rows, out)
    return rows


def _appendable(out: Path) -> tuple[bool, bool]:
    """(write a header, start a fresh line first) for appending to `out`.

    `InputError` naming the file when it holds anything but this collector's
    own CSV (its header is not ``time,pid,ppid,role,rss_bytes,uss_bytes,name``).
    """
    try:
        with open(out, "rb") as handle:
            first = handle.readline(4096)
            if not first:
                return True, False
            handle.seek(-1, 2)
            ends_whole = handle.read(1) == b"\n"
    except FileNotFoundError:
        return True, False
    except OSError as exc:
        raise InputError(f"{out}: cannot be read to append to ({exc.strerror or exc})") from exc
    header = first.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if header != ",".join(FIELDS):
        from perfkit.io.redact import redact_text  # the file may be a log with secrets in it

        redacted = redact_text(header)
        shown = redacted[:40] + ("..." if len(redacted) > 40 else "")
        raise InputError(
            f"{out}: its first line starts {shown!r}, not this collector's header "
            f"{','.join(FIELDS)!r}; rows would not match its columns: write to a new file"
        )
    return False, not ends_whole


def _sample(master, children: bool) -> list[dict]:
    import psutil

    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    processes = [master]
    if children:
        try:
            processes += master.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
    rows = []
    for process in processes:
        try:
            with process.oneshot():
                rss = process.memory_info().rss
                if rss == 0:  # a worker that has already let go of its memory: exiting
                    continue
                uss = _uss(process)
                rows.append({
                    "time": now, "pid": process.pid, "ppid": process.ppid(),
                    "role": "master" if process.pid == master.pid else "worker",
                    "rss_bytes": rss, "uss_bytes": "" if uss is None else uss,
                    "name": process.name(),
                })  # fmt: skip
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # a worker that ended between listing and reading
    return rows


def _uss(process) -> int | None:
    import psutil

    try:
        return process.memory_full_info().uss
    except (psutil.AccessDenied, AttributeError, OSError):
        return None
