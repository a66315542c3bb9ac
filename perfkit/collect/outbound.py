"""Record outbound HTTP calls (shipping, inventory APIs) as JSON lines, through client hooks.

No monkey-patching: attach a hook to the client you already use.

requests::

    log = OutboundLog("outbound.jsonl")
    session = requests.Session()
    log.attach_requests(session)          # a response hook

httpx::

    client = httpx.Client(event_hooks=log.httpx_hooks())

Each response becomes one line: ``time`` (ISO 8601 UTC, when the response
headers arrived), ``host``, ``method``, ``endpoint`` (path, no query: query
values may hold credentials), ``status``, ``duration_ms`` (request sent to
headers received, as requests' ``elapsed``) and ``attempt`` (1, or more when
urllib3's Retry resent it). Calls that fail before any response (connection
refused, timeouts) raise in your code and reach no hook; log them there with
`record_failure`. Lines are written whole and flushed, from any thread.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIELDS = ("time", "host", "method", "endpoint", "status", "duration_ms", "attempt", "error")


class OutboundLog:
    """A JSON-lines file of outbound calls; thread-safe, one flushed line per call."""

    def __init__(
        self, path: str | os.PathLike, context: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        """`context`, called in the calling thread at each call, adds fields to its line, e.g.
        the inbound request's path, so `attribute` can split calls per endpoint::

            OutboundLog(path, context=lambda: {"inbound_path": flask.request.path}
                        if flask.has_request_context() else {})
        """
        self.path = Path(path)
        self._context = context
        self._lock = threading.Lock()
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, url: str, method: str, status: int | None, duration_ms: float,
              attempt: int = 1, error: str | None = None) -> None:  # fmt: skip
        """Append one call."""
        parts = urlsplit(url)
        record = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "host": parts.hostname or "",
            "method": method.upper(),
            "endpoint": parts.path or "/",
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "attempt": attempt,
            "error": error,
        }
        if self._context is not None:
            try:
                extra = self._context() or {}
            except Exception as exc:  # a broken context must not break the app's call
                extra = {"context_error": type(exc).__name__}
            record.update({k: v for k, v in extra.items() if k not in record})
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()

    def record_failure(
        self, url: str, method: str, error: BaseException, duration_ms: float
    ) -> None:
        """Log a call that raised before any response (no status)."""
        self.write(url, method, None, duration_ms, error=type(error).__name__)

    # requests ---------------------------------------------------------------
    def attach_requests(self, session: Any) -> Any:
        """Add the response hook to a `requests.Session`; returns the session."""
        session.hooks.setdefault("response", []).append(self._requests_response)
        return session

    def _requests_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        retries = getattr(getattr(response, "raw", None), "retries", None)
        history = getattr(retries, "history", ()) or ()
        self.write(response.request.url, response.request.method, response.status_code,
                   response.elapsed.total_seconds() * 1e3, attempt=len(history) + 1)  # fmt: skip
        return response

    # httpx ------------------------------------------------------------------
    def httpx_hooks(self) -> dict[str, list]:
        """``event_hooks`` for `httpx.Client` (sync)."""
        return {"request": [self._httpx_request], "response": [self._httpx_response]}

    def _httpx_request(self, request: Any) -> None:
        request.extensions["perfkit_started"] = time.perf_counter()

    def _httpx_response(self, response: Any) -> None:
        started = response.request.extensions.get("perfkit_started", time.perf_counter())
        self.write(str(response.request.url), response.request.method, response.status_code,
                   (time.perf_counter() - started) * 1e3)  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> OutboundLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
