"""A minimal, read-only Redis client: RESP2 over a TCP socket, no dependency.

`ReadOnlyRedis` sends only the commands of an allow-list (`READ_COMMANDS`): ``INFO
[section]``, ``SLOWLOG GET n``, ``SLOWLOG LEN``, ``LATENCY LATEST``, ``MEMORY STATS``,
``CONFIG GET maxmemory*`` (and ``AUTH`` when the URL holds a password). Anything else raises
`InputError` before a byte is sent: perfkit never writes, never ``CONFIG SET``, never
``SLOWLOG RESET``, never ``CONFIG RESETSTAT``.

URLs: ``redis://[[user]:password@]host[:port][/db]``. ``rediss://`` (TLS) and ``unix://``
are refused with `InputError` (not supported: tunnel TLS with stunnel or read a local
server). The database number is accepted and ignored: every view read is server-wide. The
password is never shown: `redact_url` replaces it with ``***`` in every message.

`encode` and `read_reply` are the wire format itself, for tests and the example app.
"""

from __future__ import annotations

import io
import re
import socket
import time
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from perfkit.errors import InputError

DEFAULT_PORT = 6379
TIMEOUT_S = 5.0  # connect timeout, and the most a whole reply may take
MAX_BULK = 64 * 1024 * 1024  # a bulk string longer than this is a damaged stream
MAX_REPLY = 128 * 1024 * 1024  # nor is a reply (all its parts) longer than this
MAX_DEPTH = 8  # nested arrays (MEMORY STATS nests two levels)

Reply = bytes | int | list[Any] | None


class RedisError(InputError):
    """The server answered with an error, or could not be reached or understood."""


class Unreachable(RedisError):
    """No connection to the server, or the connection was lost (retry later)."""


_WORD = re.compile(r"[a-z_]{1,32}")  # an INFO section name
_COUNT = re.compile(r"\d{1,6}")
_MAXMEMORY = re.compile(r"maxmemory[a-z*-]{0,40}")

READ_COMMANDS = ("INFO [section]", "SLOWLOG GET n", "SLOWLOG LEN", "LATENCY LATEST",
                 "MEMORY STATS", "CONFIG GET maxmemory*")  # fmt: skip


def check_read_only(args: tuple[str, ...]) -> None:
    """`InputError` unless `args` is one of `READ_COMMANDS` (case-insensitive)."""
    words = tuple(a.lower() for a in args)
    ok = (
        (len(words) == 1 and words[0] == "info")
        or (len(words) == 2 and words[0] == "info" and bool(_WORD.fullmatch(words[1])))
        or (words[:2] == ("slowlog", "get") and len(words) == 3
            and bool(_COUNT.fullmatch(words[2])))
        or words in (("slowlog", "len"), ("latency", "latest"), ("memory", "stats"))
        or (words[:2] == ("config", "get") and len(words) == 3
            and bool(_MAXMEMORY.fullmatch(words[2])))
    )  # fmt: skip
    if not ok:
        shown = " ".join(args[:2])[:40]
        raise InputError(f"perfkit's Redis client is read-only: refused {shown!r} (it sends only "
                         f"{', '.join(READ_COMMANDS)})")  # fmt: skip


@dataclass(frozen=True)
class Address:
    """Where a Redis server listens; the password is kept out of repr."""

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_url(url: str) -> Address:
    """A ``redis://`` URL's parts; `InputError` (the password never shown) when it is not one."""
    shown = redact_url(url)
    if not isinstance(url, str) or not url:
        raise InputError("a Redis URL is needed: redis://[:password@]host:port/db")
    parts = urlsplit(url)
    userinfo = _USERINFO.match(url)
    if userinfo and "/" in userinfo.group(2):
        raise InputError(f"{shown}: the password holds '/': percent-encode it (%2F)")
    if parts.scheme in ("rediss", "unix"):
        raise InputError(f"{shown}: {parts.scheme}:// is not supported by perfkit's Redis "
                         "client; use redis://host:port (tunnel TLS through stunnel or spiped)")
    if parts.scheme != "redis":
        raise InputError(f"{shown}: expected a redis://[:password@]host:port/db URL")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise InputError(f"{shown}: the port is not a number from 1 to 65535") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise InputError(f"{shown}: the database must be a number (redis://host:port/0)")
    if parts.query or parts.fragment:
        raise InputError(f"{shown}: query options are not supported")
    return Address(
        host=parts.hostname or "127.0.0.1",
        port=port,
        db=int(path or 0),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


# the user information runs to the LAST '@' (a password may hold '@' or '/' unencoded)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)(.*)@", re.IGNORECASE | re.DOTALL)


def redact_url(url: object) -> str:
    """`url` with its password (and a user-only secret) replaced by ``***``."""
    text = str(url)

    def hide(match: re.Match[str]) -> str:
        user, _, _ = match.group(2).partition(":")
        return f"{match.group(1)}{user + ':' if user else ':'}***@"

    return _USERINFO.sub(hide, text)


def encode(*args: str | bytes | int) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream: IO[bytes], depth: int = 0) -> Reply:
    """One RESP2 reply: bytes, int, list or None; an error reply raises `RedisError`."""
    line = stream.readline(MAX_BULK)
    if not line.endswith(b"\r\n"):
        raise Unreachable("the Redis connection closed mid-reply")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body
    if kind == b"-":
        raise RedisError(f"Redis answered: {body.decode('utf-8', 'replace')[:200]}")
    if kind == b":":
        return int(body)
    if kind == b"$":
        size = int(body)
        if size < 0:
            return None
        if size > MAX_BULK:
            raise RedisError(f"a Redis reply of {size} bytes: larger than {MAX_BULK}")
        data = stream.read(size + 2)
        if len(data) != size + 2:
            raise Unreachable("the Redis connection closed mid-reply")
        return data[:-2]
    if kind == b"*":
        size = int(body)
        if size < 0:
            return None
        if depth >= MAX_DEPTH:
            raise RedisError("a Redis reply nested too deep")
        return [read_reply(stream, depth + 1) for _ in range(size)]
    raise RedisError(f"not a Redis reply (starts {line[:20]!r})")


class _Deadline(io.RawIOBase):
    """The socket's bytes, each reply within `limit_s` and `MAX_REPLY` bytes in all: a server
    that drips a byte at a time or never ends a reply is cut off (`start` arms it)."""

    def __init__(self, sock: socket.socket, limit_s: float) -> None:
        self._sock, self._limit = sock, limit_s
        self._until, self._left = 0.0, MAX_REPLY

    def start(self) -> None:
        self._until, self._left = time.monotonic() + self._limit, MAX_REPLY

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._until - time.monotonic()
        if left <= 0:
            raise Unreachable(f"Redis took more than {self._limit:g} s to answer one command")
        if self._left <= 0:
            raise RedisError(f"a Redis reply of more than {MAX_REPLY} bytes")
        self._sock.settimeout(left)
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        try:
            got = self._sock.recv_into(view)
        except TimeoutError:
            raise Unreachable(f"Redis took more than {self._limit:g} s to answer one "
                              "command") from None
        self._left -= got
        return got


class ReadOnlyRedis:
    """A connection that can only read statistics (see the module docstring).

    Counts what it sent in ``sent`` (command name -> calls), so a test can tell perfkit's
    own commands from the traffic it measures.
    """

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.address = parse_url(url)
        self.shown = redact_url(url)
        self.sent: dict[str, int] = {}
        try:
            self._sock = socket.create_connection((self.address.host, self.address.port),
                                                  timeout=timeout_s)  # fmt: skip
        except OSError as exc:
            raise Unreachable(f"cannot connect to Redis at {self.shown} "
                              f"({exc.strerror or exc})") from None
        self._raw = _Deadline(self._sock, timeout_s)
        self._stream = io.BufferedReader(self._raw)
        if self.address.password is not None:
            auth = (self.address.username, self.address.password) if self.address.username \
                else (self.address.password,)  # fmt: skip
            try:
                self._send(("AUTH", *auth))
            except RedisError as exc:
                self.close()
                raise RedisError(f"{self.shown}: authentication failed "
                                 f"({str(exc).split(': ', 1)[-1][:80]})") from None  # fmt: skip

    def command(self, *args: str) -> Reply:
        """Send one allowed read command (`check_read_only`) and return its reply."""
        check_read_only(args)
        return self._send(args)

    def _send(self, args: tuple[str, ...]) -> Reply:
        try:
            self._sock.sendall(encode(*args))
            self._raw.start()
            reply = read_reply(self._stream)
        except OSError as exc:
            raise Unreachable(f"lost the connection to Redis at {self.shown} "
                              f"({exc.strerror or exc})") from None  # fmt: skip
        except RedisError:  # the server's own error reply (an InputError, so a ValueError)
            raise
        except (ValueError, OverflowError, MemoryError) as exc:  # a damaged length
            raise RedisError(f"{self.shown}: not a Redis reply ({type(exc).__name__})") from None
        name = args[0].upper() if args[0].upper() == "AUTH" else " ".join(args[:2]).upper()
        self.sent[name] = self.sent.get(name, 0) + 1
        return reply

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._sock.close()

    def __enter__(self) -> ReadOnlyRedis:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
