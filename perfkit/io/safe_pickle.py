"""Reading pickle files that may come from anyone, without running what they say.

``.lprof`` files (line_profiler) and ``tracemalloc.Snapshot.dump`` files are pickles, and
``pickle.load`` on a hostile pickle runs whatever callable it names. `restricted_load` admits
only the classes a format is known to hold (given by the caller) and plain data (tuples, lists,
dicts, sets, numbers, strings, bytes); any other global is refused with `InputError`, before
anything is called.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfkit.errors import InputError
from perfkit.io.paths import Buffer

# globals plain data may name: built-in containers (not bytearray: `bytearray(N)` would let a
# 29-byte file allocate N bytes); a class the caller admitted is rebuilt by NEWOBJ/BUILD only
_PLAIN: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
}


class _Restricted(pickle.Unpickler):
    def __init__(self, stream: io.BufferedIOBase, allowed: Mapping[tuple[str, str], Any],
                 source: str, what: str) -> None:  # fmt: skip
        super().__init__(stream)
        self._allowed = {**_PLAIN, **allowed}
        self._source = source
        self._what = what

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise InputError(
                f"{self._source}: refused to unpickle {module}.{name}: {self._what} holds only "
                f"{_names(self._allowed)} (a pickle naming anything else could run code)"
            ) from None


def _names(allowed: Mapping[tuple[str, str], Any]) -> str:
    return ", ".join(sorted({f"{m}.{n}" for m, n in allowed if m not in ("__builtin__",)}))


def restricted_load(
    data: bytes, allowed: Mapping[tuple[str, str], Any], source: str, what: str
) -> Any:
    """Unpickle `data` (read from `source`, a path for messages) admitting only the globals in
    `allowed` ((module, name) -> the object to use) and plain data; `what` names the format in
    messages (``"a line_profiler .lprof file"``). Raises `InputError` for any other global and for
    a truncated or malformed pickle."""
    try:
        return _Restricted(io.BytesIO(data), allowed, source, what).load()
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, OverflowError) as exc:  # fmt: skip
        raise InputError(f"{source}: not {what} ({type(exc).__name__}: {exc})") from None


def load_item(item: Path | Buffer, allowed: Mapping[tuple[str, str], Any], what: str) -> Any:
    """`load_file` of a path, or `restricted_load` of an open input's bytes."""
    if isinstance(item, Buffer):
        return restricted_load(item.data, allowed, str(item), what)
    return load_file(item, allowed, what)


def load_file(path: str | Path, allowed: Mapping[tuple[str, str], Any], what: str) -> Any:
    """`restricted_load` of the file at `path` (``.gz`` read through gzip)."""
    import gzip

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: damaged gzip ({exc})") from None
    return restricted_load(raw, allowed, str(path), what)
