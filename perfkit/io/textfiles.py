"""Read text files in large line-aligned blocks, decompressing on the fly.

A block is whole lines of one file (bytes, valid UTF-8) with the number of
its first line, so columnar parsers see big buffers while every rejected
line can still be named ``file:line``. Invalid UTF-8 is kept visible as
``\\xNN`` escapes (what nginx writes for such bytes) rather than dropped.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import mmap
import os
import select
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

import numpy as np

from perfkit.errors import InputError
from perfkit.io.paths import STDIN_PATH, Buffer

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

BinaryStream: TypeAlias = io.BufferedIOBase | io.RawIOBase  # a file's bytes, read front to back

BLOCK_BYTES = 8 << 20
_SNIFF_BYTES = 8192
BINARY_NUL_SHARE = 0.05  # a text log may hold a stray NUL; binary data holds many
_PIECE_BYTES = 64 << 10  # decompress in small pieces so damage loses little
_OPENERS: dict[str, Callable[..., BinaryStream]] = {  # called as (path, "rb")
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
}
_TRUNCATED = (EOFError, zlib.error, OSError, lzma.LZMAError)
WRITER_WAIT_S = 30.0  # how long a FIFO may have no writer before that is an error
_MAGIC_BYTES = 6
_STREAM_OPENERS: dict[bytes, Callable[[BinaryIO], BinaryStream]] = {
    b"\x1f\x8b": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
    b"BZh": bz2.BZ2File,
    b"\xfd7zXZ\x00": lzma.LZMAFile,
}


class TruncatedInput(InputError):
    """A compressed file ended early; the whole lines before the damage were read."""


@dataclass(frozen=True)
class Block:
    """Whole lines of one file: `data` holds `lines` lines, the first numbered `first_line`.

    `data` is a read-only view (no copy) ending with a newline.
    """

    path: Path | Buffer
    first_line: int
    data: memoryview
    lines: int
    mapping: mmap.mmap | None = None  # the file map `data` views, if any
    offset: int = 0  # where `data` starts in `mapping`

    def release(self) -> None:
        """Let the kernel drop this block's pages from our RSS (the file keeps them).

        Reading `data` afterwards still works: the pages fault back in from the page cache.
        """
        if self.mapping is not None and not self.mapping.closed:
            start = self.offset - self.offset % mmap.PAGESIZE
            self.mapping.madvise(mmap.MADV_DONTNEED, start, self.offset + len(self.data) - start)


def open_binary(path: Path) -> BinaryStream:
    """Open `path` for reading bytes, through gzip/bz2/xz when its suffix says so.

    A pipe, FIFO or character device (``/dev/stdin``) is opened by `open_stream`.
    """
    if path == STDIN_PATH or not is_regular(path):  # stdin: sniffed whatever its kind
        return open_stream(path)
    opener = _OPENERS.get(path.suffix.lower())
    try:
        return opener(path, "rb") if opener else open(path, "rb")
    except PermissionError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened ({exc})") from exc


def read_text(item: Path | Buffer) -> str:
    """The whole text of a small input (a path, compressed or not, or an open file's bytes);
    bytes that are not UTF-8 become U+FFFD."""
    if isinstance(item, Buffer):
        return item.data.decode("utf-8", errors="replace")
    with open_binary(item) as handle:
        return handle.read().decode("utf-8", errors="replace")


def read_bytes(item: Path | Buffer) -> bytes:
    """The whole content of an input (a path, decompressed when its suffix says so, or an open
    file's bytes), undecoded."""
    if isinstance(item, Buffer):
        return item.data
    with open_binary(item) as handle:
        return handle.read()


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file (not a pipe, FIFO, socket or device)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc


def open_stream(path: Path) -> BinaryStream:
    """Open a pipe, FIFO or character device to read once, front to back, in pieces.

    Compressed data (gzip, bz2, xz) is told by its magic bytes: a pipe has no
    suffix to trust. A FIFO no program writes to is an `InputError` after
    `WRITER_WAIT_S` seconds, not a hang; once a writer is there, reading waits
    for it as ``cat`` would.
    """
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                head = _wait_for_writer(path, fd)
                os.set_blocking(fd, True)
            except BaseException:
                os.close(fd)
                raise
        else:
            fd, head = os.open(path, os.O_RDONLY), b""
        raw = io.FileIO(fd, "rb")
        try:
            while len(head) < _MAGIC_BYTES:
                more = raw.read(_MAGIC_BYTES - len(head))
                if not more:
                    break
                head += more
        except BaseException:
            raw.close()
            raise
    except PermissionError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened ({exc})") from exc
    stream = io.BufferedReader(_Prefixed(head, raw), _PIECE_BYTES)
    for magic, opener in _STREAM_OPENERS.items():
        if head.startswith(magic):
            return _Owning(opener(stream), stream)
    return _Owning(stream)


def _wait_for_writer(path: Path, fd: int) -> bytes:
    """Wait until a program writes to the FIFO open (non-blocking) on `fd`; return any byte
    read while finding out. Raise `InputError` after `WRITER_WAIT_S` seconds without one."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + WRITER_WAIT_S
    while True:
        if poller.poll(100):  # data, or a writer came and went
            return b""
        try:
            got = os.read(fd, 1)
        except BlockingIOError:  # a writer is connected; it has not written yet
            return b""
        if got:
            return got
        if time.monotonic() >= deadline:  # b"": nobody has the FIFO open for writing
            raise InputError(
                f"{path}: a FIFO with no writer (waited {WRITER_WAIT_S:g} s); start the "
                "program that writes to it first, or pass a file"
            )


class _Prefixed(io.RawIOBase):
    """`raw` with `head` (bytes already read from it) put back in front."""

    def __init__(self, head: bytes, raw: io.RawIOBase) -> None:
        self._head, self._raw = head, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        if self._head:
            view = memoryview(buffer)
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _Owning(io.RawIOBase):
    """Reads `inner`; closing it closes `inner` and the streams under it (gzip does not)."""

    def __init__(self, inner: BinaryStream, *under: io.IOBase) -> None:
        self._inner, self._under = inner, under

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        return self._inner.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            for stream in self._under:
                stream.close()
        super().close()


def check_text(path: Path | Buffer, head: bytes | bytearray | memoryview) -> None:
    """Raise `InputError` when the first bytes of `path` look binary (over 5 % NUL bytes)."""
    sample = bytes(head[:_SNIFF_BYTES])
    if sample and sample.count(b"\x00") > BINARY_NUL_SHARE * len(sample):
        raise InputError(
            f"{path}: looks like a binary file (NUL bytes in the first {len(sample)} bytes), "
            "not a text log; compressed logs need a .gz, .bz2 or .xz suffix"
        )


def read_blocks(path: Path | Buffer, block_bytes: int | None = None) -> Iterator[Block]:
    """Yield the lines of `path` as `Block`s of about `block_bytes` (`BLOCK_BYTES`) each.

    Plain files are memory-mapped; compressed files, pipes, FIFOs and
    ``/dev/stdin`` are read as streams, one block in memory at a time. A
    compressed stream that ends early (a partial copy) yields every whole line
    that was decompressed, then raises `TruncatedInput` naming the file.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    if isinstance(path, Buffer):
        if path.data:
            check_text(path, path.data[:_SNIFF_BYTES])
            yield from _view_blocks(path, path.data, None, block_bytes)
        return
    if path != STDIN_PATH and is_regular(path) and path.suffix.lower() not in _OPENERS:
        yield from _mapped_blocks(path, block_bytes)
        return
    line_no = 1
    carry = b""
    with open_binary(path) as stream:
        piece = block_bytes if isinstance(stream, io.BufferedReader) else _PIECE_BYTES
        while True:
            buf = bytearray(len(carry) + block_bytes)
            buf[: len(carry)] = carry
            try:
                filled = _fill(stream, buf, len(carry), piece)
            except _Damaged as damage:
                for block in _split(path, line_no, buf, damage.filled, final=False):
                    line_no += block.lines
                    yield block
                raise TruncatedInput(
                    f"{path}: the compressed stream is damaged or truncated after line "
                    f"{line_no - 1} ({damage.__cause__}); the lines before it were read"
                ) from damage.__cause__
            if line_no == 1:
                check_text(path, memoryview(buf)[:filled])
            final = filled < len(buf)
            for block in _split(path, line_no, buf, filled, final):
                line_no += block.lines
                yield block
            if final:
                return
            carry = bytes(buf[buf.rfind(b"\n") + 1 :])


def _mapped_blocks(path: Path, block_bytes: int) -> Iterator[Block]:
    """Blocks of a plain file as views of its memory map: no copy, no fresh memory."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                return
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except PermissionError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened ({exc})") from exc
    check_text(path, mapped[:_SNIFF_BYTES])
    yield from _view_blocks(path, mapped, mapped, block_bytes)


def _view_blocks(
    path: Path | Buffer, source: bytes | mmap.mmap, mapping: mmap.mmap | None, block_bytes: int
) -> Iterator[Block]:
    """Line-aligned blocks viewing `source` (bytes or a file map) without copying."""
    size = len(source)
    start, line_no = 0, 1
    while start < size:
        cut = min(start + block_bytes, size)
        if cut < size:
            cut = source.rfind(b"\n", start, cut) + 1
            if cut <= start:  # one line longer than a block: take it whole
                newline = source.find(b"\n", start + block_bytes)
                cut = size if newline < 0 else newline + 1
        view = memoryview(source)[start:cut]
        if source[cut - 1 : cut] != b"\n":  # a last line without its newline
            view = memoryview(bytes(view) + b"\n")
        data = _valid_utf8(view)
        (lines,) = count_bytes(data, b"\n")
        mapped = mapping if mapping is not None and data.obj is mapping else None
        yield Block(path, line_no, data, lines, mapped, start)
        line_no += lines
        start = cut


_SCAN_BYTES = 1 << 20  # scan in cache-sized slices; temporaries stay small


def count_bytes(data: memoryview, targets: bytes) -> list[int]:
    """How many times each byte of `targets` occurs in `data`, in one vectorized pass."""
    octets = np.frombuffer(data, dtype=np.uint8)
    counts = [0] * len(targets)
    for start in range(0, len(octets), _SCAN_BYTES):
        piece = octets[start : start + _SCAN_BYTES]
        for k, byte in enumerate(targets):
            counts[k] += int(np.count_nonzero(piece == byte))
    return counts


def _valid_utf8(view: memoryview) -> memoryview:
    """`view` itself when it is valid UTF-8, else a copy with bad bytes as ``\\xNN``."""
    if len(view) == 0 or np.frombuffer(view, dtype=np.uint8).max() < 0x80:
        return view.toreadonly()
    raw = bytes(view)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raw = raw.decode("utf-8", errors="backslashreplace").encode("utf-8")
    return memoryview(raw)


class _Damaged(Exception):
    def __init__(self, filled: int) -> None:
        self.filled = filled


def _fill(stream: BinaryStream, buf: bytearray, start: int, piece: int) -> int:
    """Read into `buf` from `start` until full or end of stream; return bytes held."""
    view = memoryview(buf)
    pos = start
    while pos < len(buf):
        try:
            got = stream.readinto(view[pos : min(pos + piece, len(buf))])
        except _TRUNCATED as exc:
            raise _Damaged(pos) from exc
        if not got:
            break
        pos += got
    return pos


def _split(path: Path, line_no: int, buf: bytearray, filled: int, final: bool) -> list[Block]:
    """The whole lines in `buf[:filled]` (all of it when `final`) as at most one block."""
    if final and filled and buf[filled - 1] != 0x0A:  # a last line without its newline
        del buf[filled:]
        buf.append(0x0A)
        filled += 1
    cut = filled if final else buf.rfind(b"\n", 0, filled) + 1
    if cut == 0:
        return []
    data = _valid_utf8(memoryview(buf)[:cut])
    return [Block(path, line_no, data, buf.count(b"\n", 0, cut))]
