"""Allocation sites: ``tracemalloc.Snapshot.dump`` files and memray captures -> one frame shape.

`read_tracemalloc` reads snapshot dumps (pickles, read through the restricted unpickler of
`perfkit.io.safe_pickle`: only ``tracemalloc.Snapshot`` and ``tracemalloc._Traces`` are
admitted, a pickle naming anything else is refused with `InputError` before anything runs) to
one row per snapshot and site. `read_memray` reads ``memray run`` / ``memray.Tracker``
captures through memray's own reader (``memray.FileReader``; the optional extra
``perfkit[memray]``) to rows of the same shape, one per capture (process) and site, or summed
across captures.

Columns (`read_tracemalloc`): ``time`` (UTC; from the file name the Gunicorn hook
`perfkit.collect.tracemalloc_hook` writes, else the file's modification time), ``pid`` and
``requests`` (requests the worker had served; from the file name, missing otherwise),
``snapshot`` (the file), ``site`` (the innermost frame, ``file:line``), ``traceback`` (the
traceback cut to `depth` frames, innermost first, ``file:line <- file:line``), ``size_bytes``
and ``count`` (live memory blocks). A site that holds no memory in a snapshot has no row there.

File names the hook writes: ``tracemalloc-<pid>-<requests>-<unix time in µs>.pickle`` (``.gz``
allowed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from perfkit.errors import InputError
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import Buffer, Paths, expand_paths, expand_with_folders

COLUMNS = ["time", "pid", "requests", "snapshot", "site", "traceback", "size_bytes", "count"]
MEMRAY_COLUMNS = ["pid", "capture", "site", "traceback", "function", "size_bytes", "count"]
NAME = re.compile(r"tracemalloc-(?P<pid>\d+)-(?P<requests>\d+)-(?P<us>\d+)\.pickle(?:\.gz)?\Z")
FOLDER_GLOB = "tracemalloc-*.pickle*"
WHAT = "a tracemalloc snapshot (tracemalloc.Snapshot.dump)"


class _Snapshot:
    """Stands in for ``tracemalloc.Snapshot`` while unpickling: attributes only, no code."""

    traces: Any
    traceback_limit: Any


class _Traces:
    """Stands in for ``tracemalloc._Traces``: its ``_traces`` tuple of raw traces."""

    _traces: Any


# what Snapshot.dump pickles in CPython 3.9 to 3.13: the two classes, rebuilt by NEWOBJ + BUILD
ALLOWED = {("tracemalloc", "Snapshot"): _Snapshot, ("tracemalloc", "_Traces"): _Traces}


def read_tracemalloc(
    paths: Paths,
    *,
    depth: int = 1,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """Snapshot dumps (files, globs, or folders holding the hook's ``tracemalloc-*.pickle*``)
    -> one row per (snapshot, traceback cut to `depth` frames) with its bytes and blocks.

    See the module docstring for the columns. `depth` counts frames from the innermost (1: the
    allocating line, as ``Snapshot.statistics("lineno")``). `dtype_backend` as in
    `pandas.read_csv`. `InputError` naming the file for a file that is not a snapshot, and for
    a pickle that names any other class (it could run code).
    """
    check_backend(dtype_backend, "read_tracemalloc")
    if depth < 1:
        raise InputError(f"read_tracemalloc: depth must be at least 1 frame, not {depth!r}")
    items = _expand(paths)
    frames, limits = [], set()
    for number, item in enumerate(items):
        frame, limit = _read_snapshot(item, depth)
        frames.append(frame.assign(_n=number))
        limits.add(limit)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "_n"])
    out = out.sort_values(["time", "_n", "size_bytes"], ascending=[True, True, False],
                          kind="stable", ignore_index=True)  # fmt: skip
    names = [str(item) for item in items]
    out["snapshot"] = pd.Categorical.from_codes(out["_n"].to_numpy(dtype=np.int64),
                                                pd.Index(names, dtype=object))  # fmt: skip
    out.attrs["perfkit"] = {
        "loader": "read_tracemalloc", "files": len(items), "depth": depth,
        "traceback_limit": sorted(limits), "rejected": 0,
        "time_from_mtime": int(out.loc[out["pid"].isna(), "snapshot"].nunique()),
    }  # fmt: skip
    return to_backend(out[COLUMNS], dtype_backend, "read_tracemalloc")


def _expand(paths: Paths) -> list[Path | Buffer]:
    """Files named by `paths`; a folder stands for the files in it ((FOLDER_GLOB,))."""
    return expand_with_folders(paths, (FOLDER_GLOB,), "snapshot file")


def _read_snapshot(item: Path | Buffer, depth: int) -> tuple[pd.DataFrame, int]:
    from perfkit.io.safe_pickle import load_item

    name = str(item)
    snapshot = load_item(item, ALLOWED, WHAT)
    raw = _raw_traces(snapshot, name)
    limit = snapshot.__dict__.get("traceback_limit")
    time, pid, requests = _stamp(item)
    empty = pd.DataFrame({"site": pd.Series([], dtype=object), "traceback": [],
                          "size_bytes": np.array([], dtype=np.int64),
                          "count": np.array([], dtype=np.int64)})  # fmt: skip
    grouped = _group(raw, depth, name) if len(raw) else empty
    n = len(grouped)
    stamp = np.full(n, time.as_unit("us").asm8.view(np.int64)).view("datetime64[us]")
    grouped.insert(0, "time", pd.DatetimeIndex(stamp).tz_localize("UTC"))
    # a file not named by the hook has no pid and no request count: missing, not 0
    grouped.insert(1, "pid", _ints(n, pid))
    grouped.insert(2, "requests", _ints(n, requests))
    return grouped, int(limit) if isinstance(limit, int) else -1


def _ints(n: int, value: int | None) -> pd.Series:
    """`n` copies of `value` as nullable integers (all missing when None)."""
    values = pd.array(np.full(n, value or 0), dtype="Int64")
    if value is None:
        values[:] = pd.NA
    return pd.Series(values)


def _raw_traces(snapshot: Any, name: str) -> tuple[Any, ...]:
    """The snapshot's raw traces ((domain, size, frames, total_nframe) tuples), checked."""
    traces = getattr(snapshot, "__dict__", {}).get("traces") if isinstance(
        snapshot, _Snapshot) else None  # fmt: skip
    raw = getattr(traces, "__dict__", {}).get("_traces") if isinstance(traces, _Traces) else None
    if not isinstance(raw, tuple | list):
        raise InputError(f"{name}: not {WHAT}: expected a tracemalloc.Snapshot holding "
                         f"_Traces, got {type(snapshot).__name__}")  # fmt: skip
    return tuple(raw)


def _group(raw: tuple[Any, ...], depth: int, name: str) -> pd.DataFrame:
    """Sum sizes and count blocks per traceback cut to `depth` frames: the traces' fields are
    taken in C (itemgetter), grouped first by the identity of their frame tuples (a dump holds
    one tuple per distinct traceback, which the pickle keeps shared: hashing an int per trace,
    not a nested tuple), then by the text of each distinct traceback's first `depth` frames (so
    equal tracebacks held in separate tuples still meet). Python runs once per distinct
    tuple, not per trace."""
    try:
        size = np.fromiter(map(itemgetter(1), raw), dtype=np.int64, count=len(raw))
        stacks = list(map(itemgetter(2), raw))
        identity = np.fromiter(map(id, stacks), dtype=np.int64, count=len(stacks))
        codes, distinct = pd.factorize(identity, sort=False)
        first = np.zeros(len(distinct), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]  # each tuple's first trace
        text = [_traceback_text(stacks[i], depth) for i in first]
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{name}: not {WHAT}: a trace is not (domain, size, frames, nframe) "
                         f"with frames of (file, line) ({exc})") from None  # fmt: skip
    # distinct full tracebacks may share their first `depth` frames: group the texts again
    site_codes, site_texts = pd.factorize(pd.Series(text, dtype=object), sort=False)
    per_trace = site_codes[codes]
    n = len(site_texts)
    size_sum = np.bincount(per_trace, weights=size, minlength=n).astype(np.int64)
    blocks = np.bincount(per_trace, minlength=n).astype(np.int64)
    traceback = [str(t) for t in site_texts]
    sites = [t.split(" <- ", 1)[0] for t in traceback]  # once per site, not per row
    return pd.DataFrame({"site": sites, "traceback": traceback, "size_bytes": size_sum,
                         "count": blocks})  # fmt: skip


def _traceback_text(stack: Any, depth: int) -> str:
    """``file:line <- file:line``: the innermost `depth` frames (raw traces hold the innermost
    first, as ``_tracemalloc`` returns them)."""
    if not isinstance(stack, tuple):
        raise TypeError(f"frames are {type(stack).__name__}, not a tuple")
    frames = [f"{file}:{int(line)}" for file, line in stack[:depth]]
    return " <- ".join(frames) if frames else "<unknown>:0"


def _stamp(item: Path | Buffer) -> tuple[pd.Timestamp, int | None, int | None]:
    """(time, pid, requests) from the hook's file name, else (mtime, None, None)."""
    name = Path(str(item)).name
    match = NAME.match(name)
    if match:
        time = pd.Timestamp(int(match["us"]), unit="us", tz="UTC")
        return time, int(match["pid"]), int(match["requests"])
    if isinstance(item, Buffer):
        return pd.Timestamp.now(tz="UTC"), None, None
    return pd.Timestamp(item.stat().st_mtime_ns // 1000, unit="us", tz="UTC"), None, None


# --- memray -------------------------------------------------------------------------------

MemrayKind = Literal["leaked", "high_watermark"]


def read_memray(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    kind: MemrayKind = "leaked",
    depth: int = 1,
    combine: bool = True,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """memray capture files (``memray run -o``, ``memray.Tracker``; one per Gunicorn worker)
    -> bytes and allocations per site, through ``memray.FileReader``.

    `kind`: ``"leaked"`` (memory still allocated when tracking stopped,
    ``get_leaked_allocation_records``) or ``"high_watermark"`` (what was live at the peak,
    ``get_high_watermark_allocation_records``). Sites are Python frames (``file:line``,
    innermost first, `depth` of them); an allocation with no Python frame is ``<native>:0``.
    With `combine` (default) one row per site summed over the captures (``pid`` missing,
    ``capture`` the number of captures holding the site); else one row per capture and site.
    Columns: ``pid``, ``capture``, ``site``, ``traceback``, ``function``, ``size_bytes``,
    ``count``, largest first. `InputError` naming ``pip install 'perfkit[memray]'`` without
    memray, and naming the file for a file memray cannot read.
    """
    check_backend(dtype_backend, "read_memray")
    try:
        import memray
    except ImportError:
        raise InputError("read_memray needs memray: pip install 'perfkit[memray]'") from None
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files = expand_paths(items)
    frames = []
    for path in files:
        if isinstance(path, Buffer):
            raise InputError(f"{path}: read_memray reads capture files by path, not open files")
        frames.append(_read_capture(memray, path, kind, depth))
    out = pd.concat(frames, ignore_index=True)
    if combine:
        out = (out.groupby(["site", "traceback", "function"], sort=False, dropna=False)
               .agg(size_bytes=("size_bytes", "sum"), count=("count", "sum"),
                    capture=("capture", "nunique"))
               .reset_index())  # fmt: skip
        out["pid"] = pd.array([None] * len(out), dtype="Int64")
        out["capture"] = out["capture"].astype("string")
    out = out.sort_values(["size_bytes", "site"], ascending=[False, True], ignore_index=True)
    out.attrs["perfkit"] = {"loader": "read_memray", "files": len(files), "kind": kind,
                            "depth": depth, "rejected": 0}  # fmt: skip
    return to_backend(out[MEMRAY_COLUMNS], dtype_backend, "read_memray")


def _read_capture(memray: Any, path: Path, kind: MemrayKind, depth: int) -> pd.DataFrame:
    try:
        reader = memray.FileReader(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"{path}: not a memray capture file ({exc})") from None
    with reader:
        pid = int(reader.metadata.pid)
        if kind == "leaked":
            records = reader.get_leaked_allocation_records(merge_threads=True)
        elif kind == "high_watermark":
            records = reader.get_high_watermark_allocation_records(merge_threads=True)
        else:
            raise InputError(
                f"read_memray: kind must be 'leaked' or 'high_watermark', not {kind!r}"
            )
        rows = [
            (_memray_site(r.stack_trace(max_stacks=depth)), r.size, r.n_allocations)
            for r in records
        ]  # fmt: skip  (records are aggregated per stack by memray)
    frame = pd.DataFrame(
        [(t, s, f, size, n) for (t, s, f), size, n in rows],
        columns=["traceback", "site", "function", "size_bytes", "count"],
    )
    frame = (frame.groupby(["site", "traceback", "function"], sort=False)
             .agg(size_bytes=("size_bytes", "sum"), count=("count", "sum"))
             .reset_index())  # fmt: skip
    frame.insert(0, "pid", pd.Series([pid] * len(frame), dtype="Int64"))
    frame.insert(1, "capture", path.name)
    return frame.astype({"size_bytes": "int64", "count": "int64"})


def _memray_site(stack: list[tuple[str, str, int]]) -> tuple[str, str, str]:
    """(traceback text, innermost ``file:line``, innermost function) of memray's Python stack
    (``(function, file, line)`` tuples, innermost first)."""
    if not stack:
        return "<native>:0", "<native>:0", ""
    text = " <- ".join(f"{file}:{line}" for _, file, line in stack)
    function, file, line = stack[0]
    return text, f"{file}:{line}", function
