"""`read_line_profile`: line_profiler ``.lprof`` files -> one row per (file, function, line).

``kernprof -l`` and ``LineProfiler.dump_stats`` pickle a ``LineStats`` object: ``timings``
maps ``(filename, first_lineno, function_name)`` to a list of ``(lineno, nhits, total_time)``
with ``total_time`` in ticks of the timer, and ``unit`` is the seconds per tick (1e-6 up to
line_profiler 3.x on most systems, 1e-9 in 4.x and 5.x). The class lives in
``line_profiler.line_profiler`` (5.x), ``line_profiler._line_profiler`` (3.x, 4.x) or
``_line_profiler`` (2.x). The file is read through the restricted unpickler of
`perfkit.io.safe_pickle`: only those ``LineStats`` names are admitted (rebuilt as a plain
attribute holder here, line_profiler is never imported), and a pickle naming anything else is
refused with `InputError` before anything runs.

Columns: ``file``, ``function``, ``first_line`` (the line line_profiler keys the function by:
its ``def``, or its first decorator), ``line``, ``hits``, ``time_s`` (seconds, each file's own
unit applied), ``per_hit_s``, ``share`` (of the function's recorded time), ``source`` (the
line's text when the file is readable, else missing). With ``by_file=True`` a first column
``dump`` names the ``.lprof`` file each row came from and nothing is merged; otherwise many
files (per-request or per-worker dumps) merge by summing hits and times, as
``LineStats.__add__`` does.

The source text is read at load time, as ``python -m line_profiler`` does: if the file was
edited since the profile was taken, the text is wrong. A function whose ``first_line`` region
does not hold ``def <name>`` (or ``class <name>``) in the file found is taken as edited: its
lines get no source, and it is listed in ``attrs["perfkit"]["source_stale"]``.
"""

from __future__ import annotations

import io
import math
import os
import re
import reprlib
import tokenize
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfkit.errors import InputError
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import Buffer, Paths, expand_with_folders

COLUMNS = ["file", "function", "first_line", "line", "hits", "time_s", "per_hit_s", "share",
           "source"]  # fmt: skip
WHAT = "a line_profiler .lprof file (kernprof -l, LineProfiler.dump_stats)"
FOLDER_GLOBS = ("*.lprof*", "lprof/*.lprof*")
MAX_COUNT = 2**62  # hits and ticks beyond this are not counts


class _LineStats:
    """Stands in for line_profiler's ``LineStats`` while unpickling: attributes only, no code."""

    timings: Any
    unit: Any


# what dump_stats pickles (protocol HIGHEST: STACK_GLOBAL + NEWOBJ + BUILD of the instance dict)
ALLOWED: dict[tuple[str, str], Any] = {
    ("line_profiler.line_profiler", "LineStats"): _LineStats,  # 5.x
    ("line_profiler._line_profiler", "LineStats"): _LineStats,  # 3.x, 4.x
    ("_line_profiler", "LineStats"): _LineStats,  # 2.x
}


def read_line_profile(
    paths: Paths,
    *,
    source_root: str | os.PathLike[str] | None = None,
    by_file: bool = False,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """``.lprof`` files (files, globs, or folders holding ``*.lprof`` or ``lprof/*.lprof``;
    ``.gz`` allowed) -> one row per (file, function, line); see the module docstring.

    `source_root`: where to look for the profiled source files when their recorded paths are
    not readable here (the recorded path's trailing parts are tried under it, longest first).
    `by_file` keeps each dump's rows apart (a ``dump`` column, nothing summed): what
    `perfkit.analysis.regression.lines.compare_line_profiles` uses as replicates.
    `dtype_backend` as in `pandas.read_csv`. Times in seconds. `InputError` naming the file
    for a file that is not a line profile, and for a pickle naming any other class.
    """
    check_backend(dtype_backend, "read_line_profile")
    items = _expand(paths)
    loaded = [_read_one(item) for item in items]
    frame = pd.concat([f for f, _ in loaded], ignore_index=True)
    files = [info for _, info in loaded]
    for column in ("dump", "file", "function"):  # text even when no line was recorded
        frame[column] = frame[column].astype(pd.StringDtype("pyarrow", na_value=float("nan")))
    if not by_file:
        frame = _merge(frame)
    frame = _shares(frame, ["dump"] if by_file else [])
    frame, stale, missing = _attach_source(frame, source_root)
    order = (["dump"] if by_file else []) + ["file", "first_line", "function", "line"]
    frame = frame.sort_values(order, kind="stable", ignore_index=True)
    frame = frame[(["dump"] if by_file else []) + COLUMNS]
    frame.attrs["perfkit"] = {
        "loader": "read_line_profile", "files": files, "dumps": len(files),
        "units_s": sorted({info["unit_s"] for info in files}),
        "functions": int(frame[["file", "function", "first_line"]].drop_duplicates().shape[0]),
        "lines": len(frame), "hits": int(frame["hits"].sum()), "rejected": 0,
        "not_run": sorted({name for info in files for name in info["not_run"]}),
        "source_missing": missing, "source_stale": stale, "by_file": by_file,
    }  # fmt: skip
    return to_backend(frame, dtype_backend, "read_line_profile")


def _expand(paths: Paths) -> list[Path | Buffer]:
    """Files named by `paths`; a folder stands for the files in it (FOLDER_GLOBS)."""
    return expand_with_folders(paths, FOLDER_GLOBS, "line profile")


def _read_one(item: Path | Buffer) -> tuple[pd.DataFrame, dict[str, Any]]:
    from perfkit.io.safe_pickle import load_item

    name = str(item)
    stats = load_item(item, ALLOWED, WHAT)
    state = stats.__dict__ if isinstance(stats, _LineStats) else None
    if state is None:
        raise InputError(f"{name}: not {WHAT}: the pickle holds a {type(stats).__name__}, not "
                         "line_profiler's LineStats")  # fmt: skip
    timings: Any = state.get("timings")
    unit: Any = state.get("unit")
    if not isinstance(timings, dict):
        raise InputError(f"{name}: not {WHAT}: LineStats.timings is "
                         f"{type(timings).__name__}, not a dict")  # fmt: skip
    if type(unit) not in (float, int) or not math.isfinite(unit) or not 0 < unit <= 1:
        raise InputError(f"{name}: not {WHAT}: the timer unit must be seconds per tick "
                         f"(0 < unit <= 1), found {unit!r}")  # fmt: skip
    keys: list[tuple[str, int, str]] = []
    key_of: list[int] = []
    rows: list[Any] = []
    not_run: list[str] = []
    for key, entries in timings.items():
        if not (type(key) is tuple and len(key) == 3 and type(key[0]) is str
                and type(key[1]) is int and type(key[2]) is str
                and 0 <= key[1] < 2**31):  # fmt: skip
            raise InputError(f"{name}: not {WHAT}: a timings key is {reprlib.repr(key)}, not "
                             "(filename, first_lineno, function_name)")  # fmt: skip
        if not isinstance(entries, list | tuple):
            raise InputError(f"{name}: not {WHAT}: {key[2]} ({key[0]}:{key[1]}) holds "
                             f"{reprlib.repr(entries)}, not a list of (lineno, nhits, "
                             "time)")  # fmt: skip
        if not entries:
            not_run.append(f"{key[0]}:{key[1]} {key[2]}")
            continue
        key_of.extend([len(keys)] * len(entries))
        keys.append(key)
        rows.extend(entries)
    numbers = _numbers(rows, name)
    frame = pd.DataFrame({
        "dump": name,
        "file": [keys[k][0] for k in key_of],
        "function": [keys[k][2] for k in key_of],
        "first_line": np.array([keys[k][1] for k in key_of], dtype=np.int64),
        "line": numbers[:, 0], "hits": numbers[:, 1], "ticks": numbers[:, 2],
        "unit": float(unit),
    })  # fmt: skip
    frame["time_s"] = frame["ticks"] * float(unit)  # as line_profiler shows it: ticks * unit
    info = {"file": name, "unit_s": float(unit), "functions": len(keys), "lines": len(frame),
            "hits": int(frame["hits"].sum()), "not_run": not_run}  # fmt: skip
    return frame, info


def _numbers(rows: list[Any], name: str) -> np.ndarray:
    """(n, 3) int64 of (lineno, nhits, ticks) rows, each a whole number >= 0; else `InputError`.
    (A .lprof holds one row per profiled line: hundreds, so a check per row is cheap.)"""
    for row in rows:
        if not (type(row) in (tuple, list) and len(row) == 3
                and all(type(v) is int and 0 <= v < MAX_COUNT for v in row)):  # fmt: skip
            raise InputError(f"{name}: not {WHAT}: a line's entry is {str(row)[:120]}, not "
                             "(lineno, nhits, time in ticks) of whole numbers >= 0")  # fmt: skip
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _merge(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum hits and times over dumps per (file, function, first_line, line); ticks are summed
    per timer unit before converting (so one unit's sum equals line_profiler's own)."""
    keys = ["file", "function", "first_line", "line"]
    per_unit = frame.groupby([*keys, "unit"], sort=False, as_index=False)[["hits", "ticks"]].sum()
    per_unit["time_s"] = per_unit["ticks"] * per_unit["unit"]
    merged = per_unit.groupby(keys, sort=False, as_index=False)[["hits", "time_s"]].sum()
    return merged


def _shares(frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    """``per_hit_s`` and ``share`` (of the function's time, within the dump when `extra`)."""
    keys = [*extra, "file", "function", "first_line"]
    total = frame.groupby(keys, sort=False)["time_s"].transform("sum").to_numpy()
    time = frame["time_s"].to_numpy(dtype=float)
    hits = frame["hits"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = frame.assign(per_hit_s=np.where(hits > 0, time / hits, np.nan),
                             share=np.where(total > 0, time / total, np.nan))  # fmt: skip
    return frame.drop(columns=[c for c in ("ticks", "unit") if c in frame])


def _attach_source(
    frame: pd.DataFrame, source_root: str | os.PathLike[str] | None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The ``source`` column; the functions taken as edited since profiling, and the source
    files not found."""
    texts: dict[str, list[str] | None] = {}
    for file in frame["file"].unique():
        texts[str(file)] = _source_lines(str(file), source_root)
    missing = sorted(f for f, lines in texts.items() if lines is None)
    functions = frame[["file", "function", "first_line"]].drop_duplicates()
    first_body = frame.groupby(["file", "function", "first_line"], sort=False)["line"].min()
    stale: list[str] = []
    for file, function, first in functions.itertuples(index=False):  # per function, not per row
        lines = texts[str(file)]
        if lines is None:
            continue
        end = int(first_body.loc[(file, function, first)])
        if not _defines(lines, int(first), end, str(function)):
            stale.append(f"{file}:{first} {function}")
    source = pd.Series(pd.NA, index=frame.index, dtype=object)
    stale_keys = set(stale)
    for file, idx in frame.groupby("file", sort=False).groups.items():
        lines = texts[str(file)]
        if lines is None:
            continue
        part = frame.loc[idx]
        numbers = part["line"].to_numpy()
        known = (numbers >= 1) & (numbers <= len(lines))
        label = part["file"].astype(str) + ":" + part["first_line"].astype(str) + " " + part[
            "function"].astype(str)  # fmt: skip
        known &= ~label.isin(stale_keys).to_numpy()
        text = np.array(lines, dtype=object)
        values = np.full(len(part), pd.NA, dtype=object)
        values[known] = text[numbers[known] - 1]
        source.loc[idx] = values
    frame = frame.assign(source=source.astype(pd.StringDtype("pyarrow", na_value=float("nan"))))
    return frame, stale, missing


_NAME_PART = re.compile(r"[^.<>]+$")


def _defines(lines: list[str], first: int, end: int, function: str) -> bool:
    """Whether the lines from `first` to before `end` (the first body line) hold the ``def`` or
    ``class`` of `function` (its last dotted part); ``<lambda>``-like names are not checked."""
    if function.startswith("<") or not _NAME_PART.search(function):
        return True
    name = function.rsplit(".", 1)[-1]
    if not name.isidentifier():
        return True
    if not 1 <= first <= len(lines):
        return False
    head = "\n".join(lines[first - 1 : max(first, min(end - 1, len(lines)))])
    return re.search(rf"\b(?:def|class)\s+{re.escape(name)}\b", head) is not None


SOURCE_SUFFIXES = (".py", ".pyw", ".pyx")  # the only files read for line texts
_SYSTEM = ("/proc", "/sys", "/dev")


def _source_lines(file: str, root: str | os.PathLike[str] | None) -> list[str] | None:
    """The text lines of the profiled `file` (found as recorded, else under `root`), secrets
    masked, or None. The path comes from the profile, which may be hostile: only a regular
    Python source file is read, never one under /proc, /sys or /dev, and under `root` only what
    resolves inside it."""
    from perfkit.io.redact import redact_text

    for candidate in _candidates(file, root):
        try:
            if candidate.suffix.lower() not in SOURCE_SUFFIXES:
                continue
            real = candidate.resolve()
            if str(real).startswith(_SYSTEM) or not real.is_file():
                continue
            if root is not None and candidate != Path(file) and \
                    not real.is_relative_to(Path(root).resolve()):  # fmt: skip
                continue
            with real.open("rb") as handle:
                data = handle.read(50_000_000)
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            text = data.decode(encoding, errors="replace").splitlines()
            return [redact_text(line) for line in text]
        except (OSError, SyntaxError, LookupError, ValueError):
            continue
    return None


def _candidates(file: str, root: str | os.PathLike[str] | None) -> Iterable[Path]:
    if root is None:
        yield Path(file)
        return
    parts = [p for p in Path(file).parts
             if p not in ("/", "\\", "..", ".") and not p.endswith(":\\")]  # fmt: skip
    for start in range(len(parts)):
        yield Path(root, *parts[start:])
    yield Path(file)
