"""`perfkit collect pg`: snapshots of PostgreSQL's statistics into a store, for cron or a timer.

Each snapshot is one short READ ONLY transaction (see `perfkit.io.pg_stat`);
nothing is reset. A failed connection is retried `retry` times with
exponential backoff (1 s, 2 s, 4 s... at most 30 s); after that, or without
retries, the collector stops with a message naming the store and how many
snapshots it holds. Snapshots already written are complete files.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io.pg import snapshot_pg
from perfkit.io.pg_stat import redact_dsn

MAX_BACKOFF_S = 30.0


def collect_pg(
    dsn: str,
    store: Path,
    interval_s: float = 60.0,
    count: int = 1,
    retry: int = 0,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Take `count` snapshots `interval_s` apart (0: until stopped); return how many were taken."""
    taken = 0
    while count == 0 or taken < count:
        if taken:
            sleep(interval_s)
        files = _snapshot_with_retry(dsn, store, retry, taken, say, sleep)
        taken += 1
        views = ", ".join(sorted(files))
        say(f"snapshot {taken}: {views} -> {store}")
    return taken


def _snapshot_with_retry(dsn, store, retry, taken, say, sleep):
    attempt = 0
    while True:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PerfkitWarning)
                files = snapshot_pg(dsn, store)
            for warning in caught:
                say(f"warning: {warning.message}")
            return files
        except InputError as exc:
            if attempt >= retry:
                raise InputError(
                    f"{exc}; gave up after {attempt + 1} attempt(s); "
                    f"{taken} snapshot(s) of this run are in {store}"
                ) from exc
            wait = min(2.0**attempt, MAX_BACKOFF_S)
            attempt += 1
            where = redact_dsn(dsn) or "the PG* environment"
            say(f"cannot reach {where}; retry {attempt}/{retry} in {wait:.0f} s")
            sleep(wait)
