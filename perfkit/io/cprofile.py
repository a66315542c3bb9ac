"""cProfile / profile dumps (pstats' marshal format), as Werkzeug's ProfilerMiddleware writes them.

A dump is ``marshal.dump`` of ``{(file, line, name): (cc, nc, tt, ct, callers)}``
where ``cc`` counts primitive (non-recursive) calls, ``nc`` all calls, ``tt``
the time inside the function itself and ``ct`` including its callees, in
seconds; ``callers`` maps each caller's key to the same four numbers for the
calls it made (the old `profile` module stores just a call count there).
Many dumps merge exactly as `pstats.Stats.add` does: every number is summed.
"""

from __future__ import annotations

import lzma
import marshal
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfkit.errors import InputError
from perfkit.io.paths import strip_compression
from perfkit.io.textfiles import open_binary

HOW_TO = (
    "write one with `python -m cProfile -o out.prof script.py`, "
    "cProfile.Profile().dump_stats(path) or Werkzeug's ProfilerMiddleware(profile_dir=...)"
)
# Werkzeug's default filename_format: "{method}.{path}.{elapsed:.0f}ms.{time:.0f}.prof"
MIDDLEWARE_NAME = re.compile(
    r"^(?P<method>[A-Z]+)\.(?P<path>.*)\.(?P<ms>\d+(?:\.\d+)?)ms\.(?P<time>\d+(?:\.\d+)?)\.prof$"
)


@dataclass
class Dumps:
    """Flat columns of many loaded dumps, functions numbered in `keys`."""

    keys: list[tuple[str, int, str]]
    rows: dict[str, np.ndarray]  # dump, function, primcalls, ncalls, tottime_s, cumtime_s
    edges: dict[str, np.ndarray]  # dump, caller, callee + the same four counters


def load(path: Path) -> dict[Any, Any]:
    """The stats dict of one dump; `InputError` naming the file when it is not one.

    The marshal data is walked first (`check_lengths`), so a header declaring
    a container larger than the file is refused before marshal allocates it.
    """
    try:
        with open_binary(path) as handle:  # .gz/.bz2/.xz dumps too
            data = handle.read()
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{path}: cannot be read ({reason}); {HOW_TO}") from exc
    if not data:
        raise InputError(f"{path}: empty file, not a profile; {HOW_TO}")
    problem = check_lengths(data)
    if problem == ENDS_EARLY:
        raise InputError(f"{path}: truncated profile dump (marshal data ends early); {HOW_TO}")
    if problem is not None:
        raise InputError(
            f"{path}: not a profile dump readable by this Python (the marshal data holds "
            f"{problem}); it may be another format or come from a different Python version; "
            f"{HOW_TO}"
        )
    try:
        stats = marshal.loads(data)
    except EOFError as exc:
        raise InputError(
            f"{path}: truncated profile dump (marshal data ends early); {HOW_TO}"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{path}: not a profile dump readable by this Python ({exc}); it may be another "
            f"format or come from a different Python version; {HOW_TO}"
        ) from exc
    if not isinstance(stats, dict):
        raise InputError(
            f"{path}: marshal data holds a {type(stats).__name__}, not a profile "
            f"(a dict of (file, line, function) -> (cc, nc, tt, ct, callers)); {HOW_TO}"
        )
    if not stats:
        raise InputError(f"{path}: a profile dump with no functions in it; {HOW_TO}")
    return stats


_INT32 = struct.Struct("<i").unpack_from
ENDS_EARLY = "more data than the file holds"
# what follows each marshal type byte (the 0x80 FLAG_REF bit folded in): 0 unknown here,
# 1 nothing, 2 four bytes, 3 eight bytes, 4 a one-byte length and the bytes, 5 a small tuple,
# 6 a dict (items until NULL), 7 NULL, 8 a four-byte length and the bytes, 9 a four-byte
# count and the items, 10 a long (a four-byte digit count, two bytes per digit)
_TABLE = bytearray(256)
_CODES = {"N": 1, "F": 1, "T": 1, "S": 1, ".": 1, "i": 2, "r": 2, "g": 3, "z": 4, "Z": 4,
          "f": 4, ")": 5, "{": 6, "0": 7, "s": 8, "t": 8, "u": 8, "a": 8, "A": 8, "(": 9,
          "[": 9, "<": 9, ">": 9, "l": 10}  # fmt: skip
for _code, _action in _CODES.items():
    _TABLE[ord(_code)] = _TABLE[ord(_code) | 0x80] = _action
_ACTION = bytes(_TABLE)


def check_lengths(data: bytes) -> str | None:
    """None when every length the marshal `data` declares fits in its bytes, else what does not.

    marshal allocates a tuple, list or integer of the declared size before
    reading its items: 15 bytes can ask for 16 GiB. Walking the type codes
    (no objects built) bounds that by the file's size; code objects and other
    types a profile never holds are refused. Work is linear in the bytes.
    """
    size = len(data)
    pos = 0
    stack = [1]  # items left in each open container; -1: a dict, read until NULL
    left = 1
    action = _ACTION
    while True:
        if left == 0:
            if len(stack) == 1:
                break
            stack.pop()
            left = stack[-1]
            continue
        if pos >= size:
            return ENDS_EARLY
        todo = action[data[pos]]
        pos += 1
        if todo == 7:  # NULL ends a dict
            if left != -1:
                return f"a NULL outside a dict at byte {pos - 1}"
            stack.pop()
            left = stack[-1]
            continue
        if left > 0:
            left -= 1
            stack[-1] = left
        if todo == 1:
            continue
        if todo == 2:
            pos += 4
        elif todo == 3:
            pos += 8
        elif todo in (4, 5):
            if pos >= size:
                return ENDS_EARLY
            if todo == 4:
                pos += 1 + data[pos]
            else:
                left = data[pos]
                stack.append(left)
                pos += 1
        elif todo == 6:
            left = -1
            stack.append(-1)
        elif todo == 0:
            return f"type code {data[pos - 1]:#04x} at byte {pos - 1}, which a profile never holds"
        else:
            if pos + 4 > size:
                return ENDS_EARLY
            (n,) = _INT32(data, pos)
            pos += 4
            room = size - pos
            if todo == 8:
                if not 0 <= n <= room:
                    return f"a string of {n} bytes at byte {pos - 5}, with {room} bytes left"
                pos += n
            elif todo == 9:
                if not 0 <= n <= room:
                    return f"a container of {n} items at byte {pos - 5}, with {room} bytes left"
                left = n
                stack.append(n)
            elif abs(n) * 2 > room:
                return f"an integer of {abs(n)} digits at byte {pos - 5}, with {room} bytes left"
            else:
                pos += abs(n) * 2
    return None if pos <= size else ENDS_EARLY


def _bad_entry(path: object, key: object, what: str) -> InputError:
    return InputError(
        f"{path}: marshal data is a dict but entry {repr(key)[:200]} is not "
        f"(file, line, function) -> (cc, nc, tt, ct, callers): {what}; {HOW_TO}"
    )


def _is_key(key: object) -> bool:
    return (
        type(key) is tuple
        and len(key) == 3
        and type(key[0]) is str
        and type(key[1]) is int
        and type(key[2]) is str
        and 0 <= key[1] < 2**31
    )


MAX_CALLS = 2**53  # counts beyond this are not counts (and lose precision as floats)


def flatten(stats_list: list[dict[Any, Any]], paths: Sequence[object] | None = None) -> Dumps:
    """Every function and caller edge of every dump as flat columns (one pass, no merging).

    Each entry is checked: `InputError` naming the dump (``paths[i]``) when a
    key is not (file, line, function), a value not (cc, nc, tt, ct, callers),
    or a number not finite and >= 0 (call counts below 2**53).
    """
    paths = paths if paths is not None else [f"dump {i}" for i in range(len(stats_list))]
    ids: dict[tuple[str, int, str], int] = {}
    keys: list[tuple[str, int, str]] = []
    f_dump, f_func, f_vals = [], [], []
    e_dump, e_caller, e_callee, e_vals = [], [], [], []
    for dump, stats in enumerate(stats_list):
        path = paths[dump]
        for key, value in stats.items():
            if not _is_key(key):
                raise _bad_entry(path, key, "the key is not (str, int, str)")
            if type(value) is not tuple or len(value) != 5 or type(value[4]) is not dict:
                raise _bad_entry(path, key, f"the value is {str(value)[:120]}")
            fid = ids.get(key)
            if fid is None:
                fid = ids[key] = len(keys)
                keys.append(key)
            f_dump.append(dump)
            f_func.append(fid)
            f_vals.append(value[:4])
            for caller, numbers in value[4].items():
                cid = ids.get(caller)
                if cid is None:
                    if not _is_key(caller):
                        raise _bad_entry(path, key, f"caller {str(caller)[:120]} is not a key")
                    cid = ids[caller] = len(keys)
                    keys.append(caller)
                e_dump.append(dump)
                e_caller.append(cid)
                e_callee.append(fid)
                if type(numbers) is tuple and len(numbers) == 4:
                    # a caller edge is (nc, cc, tt, ct): the reverse of a function's (cc, nc)
                    e_vals.append((numbers[1], numbers[0], numbers[2], numbers[3]))
                elif type(numbers) is int:  # the old `profile` module: a call count
                    e_vals.append((numbers, numbers, 0.0, 0.0))
                else:
                    raise _bad_entry(path, key, f"caller {caller} has {str(numbers)[:120]}")
    rows = _columns(f_dump, f_func, None, f_vals, paths)
    edges = _columns(e_dump, e_caller, e_callee, e_vals, paths)
    return Dumps(keys, rows, edges)


def _columns(
    dump: list[int],
    first: list[int],
    second: list[int] | None,
    values: list[tuple[Any, ...]],
    paths: Sequence[object],
) -> dict[str, np.ndarray]:
    numbers = _numbers(values)
    row: int | None
    if numbers is None:  # not all numbers: find the first entry that is not, for the message
        row = next(i for i, v in enumerate(values) if _numbers([v]) is None)
    else:
        counts = numbers[:, :2]
        bad = ~(
            np.isfinite(numbers).all(axis=1)
            & (numbers >= 0).all(axis=1)
            & (counts < MAX_CALLS).all(axis=1)
            & (counts == np.floor(counts)).all(axis=1)
        )
        row = int(np.flatnonzero(bad)[0]) if bad.any() else None
    if row is not None:
        raise InputError(
            f"{paths[dump[row]]}: a profile's call counts and times must be numbers >= 0 "
            f"(finite; counts whole and below 2**53), found {str(values[row])[:120]}; {HOW_TO}"
        )
    assert numbers is not None  # else a row was found above
    out = {"dump": np.array(dump, dtype=np.int32)}
    if second is None:
        out["function"] = np.array(first, dtype=np.int64)
    else:
        out["caller"] = np.array(first, dtype=np.int64)
        out["callee"] = np.array(second, dtype=np.int64)
    out["primcalls"] = numbers[:, 0].astype(np.int64)
    out["ncalls"] = numbers[:, 1].astype(np.int64)
    out["tottime_s"] = numbers[:, 2]
    out["cumtime_s"] = numbers[:, 3]
    return out


def _numbers(values: list[tuple[Any, ...]]) -> np.ndarray | None:
    """(n, 4) float64 of int/float/bool tuples; None if any item is something else."""
    try:
        array = np.array(values) if values else np.empty((0, 4))
    except (TypeError, ValueError, OverflowError):
        return None
    if array.dtype.kind not in "biuf" or array.ndim != 2 or array.shape[1] != 4:
        return None
    return array.astype(np.float64)


def middleware_metadata(path: Path) -> dict[str, object]:
    """method, path, request_ms, timestamp from a ProfilerMiddleware file name (else empty).

    Werkzeug writes the path with '/' as '.', so a dot in the real path reads
    back as '/': the path is a best effort, good for route templating.
    """
    match = MIDDLEWARE_NAME.match(strip_compression(path.name))
    if match is None:
        return {}
    raw = match["path"]
    return {
        "method": match["method"],
        "path": "/" if raw == "root" else "/" + raw.replace(".", "/"),
        "request_ms": float(match["ms"]),
        "timestamp": pd.Timestamp(float(match["time"]), unit="s", tz="UTC"),
    }
