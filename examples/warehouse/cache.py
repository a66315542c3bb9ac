"""The warehouse's optional Redis cache for product lookups (``GET /api/products/<id>``).

Off unless ``WAREHOUSE_REDIS_URL`` (``redis://[:password@]host:port/db``) is set; then
``WAREHOUSE_CACHE`` chooses:

- ``on`` (the default): lookups are cached, and the cache is warmed with every product
  when the first worker starts (``SET NX`` on a marker key, so workers warm it once);
- ``cold``: lookups are cached, nothing is warmed: the first lookup of each product misses;
- ``off``: no Redis command at all (the database answers every lookup).

Entries live ``WAREHOUSE_CACHE_TTL`` seconds (300). A Redis that fails is skipped (the
database answers) and counted in ``errors``; the next lookup reconnects. The app counts its
own ``hits`` and ``misses``, so tests can check Redis's counters against the client's.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from perfkit.io.redis_wire import encode, parse_url, read_reply

KEY = "warehouse:product:{}"
WARMED = "warehouse:warmed"


class ProductCache:
    """Product bodies by id in Redis, JSON-encoded; thread-safe, one connection per process."""

    def __init__(self, url: str, mode: str = "on", ttl_s: int = 300) -> None:
        if mode not in ("on", "cold", "off"):
            raise ValueError(f"WAREHOUSE_CACHE must be on, cold or off, not {mode!r}")
        self.address = parse_url(url)
        self.mode, self.ttl_s = mode, ttl_s
        self.hits = self.misses = self.errors = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._stream: Any = None

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def _command(self, *args: str | bytes | int) -> Any:
        if self._sock is None:
            self._sock = socket.create_connection((self.address.host, self.address.port), 2.0)
            self._stream = self._sock.makefile("rb")
            if self.address.password:
                self._sock.sendall(encode("AUTH", self.address.password))
                read_reply(self._stream)
            if self.address.db:
                self._sock.sendall(encode("SELECT", self.address.db))
                read_reply(self._stream)
        self._sock.sendall(encode(*args))
        return read_reply(self._stream)

    def _safely(self, *args: str | bytes | int) -> Any:
        """One command; None (and the connection dropped) when Redis fails."""
        with self._lock:
            try:
                return self._command(*args)
            except (OSError, ValueError):
                self.errors += 1
                self.close()
                return None

    def get(self, product_id: int, load: Callable[[], dict | None]) -> dict | None:
        """The cached body of `product_id`, else `load()`'s (stored when not None)."""
        if not self.enabled:
            return load()
        cached = self._safely("GET", KEY.format(product_id))
        if isinstance(cached, bytes):
            self.hits += 1
            body: dict = json.loads(cached)
            return body
        self.misses += 1
        body_or_none = load()
        if body_or_none is not None:
            self._safely("SET", KEY.format(product_id), json.dumps(body_or_none), "EX",
                         self.ttl_s)  # fmt: skip
        return body_or_none

    def warm(self, bodies: Callable[[], list[dict]]) -> int:
        """In ``on`` mode, store every body of `bodies()` once per Redis (the first worker);
        return how many were stored."""
        if self.mode != "on" or self._safely("SET", WARMED, "1", "NX") != b"OK":
            return 0
        stored = 0
        for body in bodies():
            if self._safely("SET", KEY.format(body["id"]), json.dumps(body), "EX",
                            self.ttl_s) == b"OK":  # fmt: skip
                stored += 1
        return stored

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._stream.close()
                self._sock.close()
            finally:
                self._sock = self._stream = None


def from_env() -> ProductCache | None:
    """The cache the environment asks for, or None without ``WAREHOUSE_REDIS_URL``."""
    url = os.environ.get("WAREHOUSE_REDIS_URL", "")
    if not url:
        return None
    return ProductCache(url, os.environ.get("WAREHOUSE_CACHE", "on"),
                        int(os.environ.get("WAREHOUSE_CACHE_TTL", "300")))  # fmt: skip
