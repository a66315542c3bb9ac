"""`perfkit collect redis`: snapshots of a Redis server's statistics into a store, on a schedule.

Each snapshot is one read-only connection (see `perfkit.io.redis_wire`): nothing is written
or reset. An unreachable server, or a connection lost mid-snapshot, is retried `retry` times
with exponential backoff (1 s, 2 s, 4 s... at most 30 s); after that the collector stops with
a message naming the store and how many snapshots this run wrote. A snapshot is all views or
none (see `perfkit.io.redis`), so a stop at any point leaves the store as its last complete
snapshot. The URL's password is never shown.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from perfkit.errors import InputError
from perfkit.io.redis import SLOWLOG_ENTRIES, snapshot_redis
from perfkit.io.redis_wire import Unreachable, parse_url, redact_url

MAX_BACKOFF_S = 30.0
log = logging.getLogger(__name__)


def collect_redis(
    url: str,
    store: Path,
    interval_s: float = 60.0,
    count: int = 1,
    retry: int = 0,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    keep_arguments: bool = False,
    slowlog_entries: int = SLOWLOG_ENTRIES,
) -> int:
    """Take `count` snapshots `interval_s` seconds apart (0: until stopped); return how many.

    Progress goes to the ``perfkit.collect.redis`` logger, or to `say` when given.
    `InputError` before anything starts for an interval that is not a finite number >= 0,
    a negative `count` or `retry`, a `store` that is not a folder or a URL that is not
    ``redis://`` (the password never shown).
    """
    store = Path(store)
    if isinstance(interval_s, bool) or not isinstance(interval_s, int | float) \
            or not math.isfinite(interval_s) or interval_s < 0:  # fmt: skip
        raise InputError(f"interval must be a finite number of seconds >= 0, not {interval_s!r}")
    for name, value in (("count", count), ("retry", retry), ("slowlog_entries", slowlog_entries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{name} must be a whole number >= 0, not {value!r}")
    if store.exists() and not store.is_dir():
        raise InputError(f"{store}: not a folder; --store is a snapshot store folder")
    parse_url(url)
    info = say or log.info
    warn = say or log.warning
    taken = 0
    while count == 0 or taken < count:
        if taken:
            sleep(interval_s)
        attempt = 0
        while True:
            try:
                snapshot_redis(url, store, slowlog_entries, keep_arguments)
                break
            except Unreachable as exc:
                if attempt >= retry:
                    raise InputError(f"{exc}; gave up after {attempt + 1} attempt(s); {taken} "
                                     f"snapshot(s) of this run are in {store}") from None
                wait = min(2.0**attempt, MAX_BACKOFF_S)
                attempt += 1
                warn(f"cannot reach {redact_url(url)} or lost the connection; retry "
                     f"{attempt}/{retry} in {wait:.0f} s")  # fmt: skip
                sleep(wait)
        taken += 1
        info(f"snapshot {taken}: Redis {redact_url(url)} -> {store}")
    return taken
