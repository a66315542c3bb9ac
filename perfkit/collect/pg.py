"""`perfkit collect pg`: snapshots of PostgreSQL's statistics into a store, for cron or a timer.

Each snapshot is one short READ ONLY transaction (see `perfkit.io.pg_stat`);
nothing is reset. A server that cannot be reached, or a connection lost
mid-snapshot (terminated, restarted, timed out), is retried `retry` times with
exponential backoff (1 s, 2 s, 4 s... at most 30 s); after that, or without
retries, the collector stops with a message naming the store and how many
snapshots it holds. A snapshot is all views or none (see `perfkit.io.pg_store`),
so a stop at any point (KeyboardInterrupt, which the CLI raises on SIGTERM)
leaves the store as its last complete snapshot.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io.pg import snapshot_pg
from perfkit.io.pg_stat import ConnectionLost, check_dsn, redact_dsn

MAX_BACKOFF_S = 30.0
log = logging.getLogger(__name__)


def collect_pg(
    dsn: str,
    store: Path,
    interval_s: float = 60.0,
    count: int = 1,
    retry: int = 0,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Take `count` snapshots `interval_s` seconds apart (0: until stopped); return how many.

    Progress goes to the ``perfkit.collect.pg`` logger (a snapshot taken: INFO; a retry or a
    view the server cannot give: WARNING; timings: DEBUG), or to `say` when given.

    Arguments are checked before anything starts: `InputError` for an interval
    that is not a finite number >= 0, a negative `count` or `retry`, a `store`
    that is not a folder, or a `dsn` libpq cannot parse (the bad key is named,
    the password never shown).
    """
    _check_arguments(dsn, Path(store), interval_s, count, retry)
    store = Path(store)
    info, warn = (say, say) if say is not None else (log.info, log.warning)
    taken = 0
    log.debug("collecting %s snapshot(s) every %g s from %s into %s", count or "unlimited",
              interval_s, redact_dsn(dsn) or "the PG* environment", store)  # fmt: skip
    while count == 0 or taken < count:
        if taken:
            sleep(interval_s)
        started = time.perf_counter()
        files = _snapshot_with_retry(dsn, store, retry, taken, warn, sleep)
        taken += 1
        views = ", ".join(sorted(files))
        info(f"snapshot {taken}: {views} -> {store}")
        log.debug("snapshot %d took %.0f ms", taken, 1e3 * (time.perf_counter() - started))
    return taken


def _check_arguments(dsn: str, store: Path, interval_s: float, count: int, retry: int) -> None:
    if isinstance(interval_s, bool) or not isinstance(interval_s, int | float):
        raise InputError(f"interval must be a number of seconds, not {interval_s!r}")
    if not math.isfinite(interval_s) or interval_s < 0:
        raise InputError(f"interval must be a finite number of seconds >= 0, not {interval_s}")
    for name, value in (("count", count), ("retry", retry)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{name} must be a whole number >= 0, not {value!r}")
    if store.exists() and not store.is_dir():
        raise InputError(f"{store}: not a folder; --store is a snapshot store folder")
    check_dsn(dsn)


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
        except ConnectionLost as exc:
            if attempt >= retry:
                raise InputError(
                    f"{exc}; gave up after {attempt + 1} attempt(s); "
                    f"{taken} snapshot(s) of this run are in {store}"
                ) from exc
            wait = min(2.0**attempt, MAX_BACKOFF_S)
            attempt += 1
            where = redact_dsn(dsn) or "the PG* environment"
            say(f"cannot reach {where} or lost the connection; retry {attempt}/{retry} "
                f"in {wait:.0f} s")
            sleep(wait)
