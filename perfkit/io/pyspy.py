"""Sampling profiles from py-spy: ``--format speedscope`` JSON and ``--format raw`` stacks.

Both are stacks of frames with a weight. speedscope files carry each sample's
weight in seconds (py-spy writes ``unit: "seconds"``, one weight of
1/rate per sample) and frames as ``{name, file, line}``, stacks root first.
Raw (collapsed) files are lines ``frame;frame;frame count`` with frames as
``name (file:line)``; they carry no rate, so counts become seconds with the
``rate`` (samples per second; py-spy's default is 100) given to the loader.
py-spy's line is the line executing, not the function's first line, so
frames are keyed by file and function name.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from perfkit.errors import InputError

HOW_TO = "record one with `py-spy record --format speedscope -o out.json -- python app.py`"
NO_FRAME = "(no Python frame)"  # a sample py-spy took while no Python code ran
IDLE = (("", 0, NO_FRAME),)
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
UNITS = {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6, "nanoseconds": 1e-9}


def read_speedscope(path: Path, text: str) -> pd.DataFrame:
    """Stacks of a speedscope file: stack (tuple of frames), weight_s, samples, thread.

    Every sample must be a list of frame indices (whole numbers, 0 <= i <
    frames) and every weight a finite number >= 0; anything else, or a file
    with no samples at all, is an `InputError` naming the file.
    """
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); {HOW_TO}") from exc
    frames = (doc.get("shared") or {}).get("frames") if isinstance(doc, dict) else None
    profiles = doc.get("profiles") if isinstance(doc, dict) else None
    if not isinstance(frames, list) or not isinstance(profiles, list) or not profiles:
        raise InputError(
            f"{path}: not a speedscope profile (expected 'shared.frames' and a non-empty "
            f"'profiles' list); {HOW_TO}"
        )
    names = np.empty(len(frames), dtype=object)
    names[:] = [_speedscope_frame(path, i, f) for i, f in enumerate(frames)]
    parts = [_speedscope_profile(path, number, p, names) for number, p in enumerate(profiles)]
    table = pd.concat(parts, ignore_index=True)
    if table.empty:
        raise InputError(f"{path}: no samples in this speedscope file; {HOW_TO}")
    return table


def _speedscope_frame(path: Path, index: int, frame: object) -> tuple[str, int, str]:
    line = frame.get("line") if isinstance(frame, dict) else None
    if not isinstance(frame, dict) or not (line is None or (type(line) is int and line >= 0)):
        raise InputError(
            f"{path}: speedscope frame {index} is {str(frame)[:120]}; expected "
            "{name, file, line} with a whole line number >= 0"
        )
    return (str(frame.get("file", "")), line or 0, str(frame.get("name", "?")))


def _speedscope_profile(
    path: Path, number: int, profile: object, names: np.ndarray
) -> pd.DataFrame:
    """One sampled profile's samples as rows; checked columnar (see `read_speedscope`)."""
    if not isinstance(profile, dict) or profile.get("type") != "sampled":
        kind = profile.get("type") if isinstance(profile, dict) else type(profile).__name__
        raise InputError(f"{path}: speedscope profile type {kind!r}; only 'sampled' is read")
    label = f"{path}: speedscope profile {str(profile.get('name', number))[:80]!r}"
    samples, weights = profile.get("samples"), profile.get("weights")
    if (
        not isinstance(samples, list)
        or not isinstance(weights, list)
        or len(samples) != len(weights)
    ):
        raise InputError(f"{label} has no matching samples and weights")
    unit = profile.get("unit", "none")
    scale = UNITS.get(unit) if isinstance(unit, str) else None
    if scale is None:
        raise InputError(
            f"{label}: unit {str(unit)[:40]!r} is not a time unit ({', '.join(UNITS)})"
        )
    lengths = np.fromiter(
        (len(s) if type(s) is list else -1 for s in samples), np.int64, len(samples)
    )
    if (lengths < 0).any():
        at = int(np.flatnonzero(lengths < 0)[0])
        raise InputError(f"{label}: sample {at} is {str(samples[at])[:80]}, not a list of frames")
    items = list(itertools.chain.from_iterable(samples))
    try:
        flat = np.array(items)
    except ValueError:  # a frame that is a list, next to whole numbers (a nested sample)
        flat = np.array([*items, None], dtype=object)[:-1]
    if flat.size and (
        flat.dtype.kind != "i" or flat.ndim != 1 or flat.min() < 0 or flat.max() >= len(names)
    ):
        bad = next(
            (i for i in itertools.chain.from_iterable(samples) if type(i) is not int or i < 0),
            flat.max() if flat.dtype.kind == "i" and flat.ndim == 1 else "?",
        )
        raise InputError(
            f"{path}: a sample refers to a frame the file does not define ({str(bad)[:40]!r} "
            f"in profile {number}; its frames are 0 to {len(names) - 1})"
        )
    weight = np.array(weights)
    if weight.size and (weight.dtype.kind not in "iuf" or not _finite_nonnegative(weight)):
        bad = next((w for w in weights if type(w) not in (int, float) or not 0 <= w < 1e308), "?")
        raise InputError(f"{label}: a weight is {str(bad)[:40]!r}; expected a finite number >= 0")
    if flat.size:
        labels = names[flat]
        stacks = [tuple(part) or IDLE for part in np.split(labels, np.cumsum(lengths)[:-1])]
    else:
        stacks = [IDLE] * len(samples)
    return pd.DataFrame({
        "stack": pd.Series(stacks, dtype=object), "weight_s": weight.astype(np.float64) * scale,
        "samples": np.ones(len(samples), dtype=np.int64), "thread": str(profile.get("name", "")),
    })  # fmt: skip


def _finite_nonnegative(values: np.ndarray) -> bool:
    as_float = values.astype(np.float64)
    return bool(np.isfinite(as_float).all() and (as_float >= 0).all())


def read_collapsed(path: Path, text: str, rate: float) -> pd.DataFrame:
    """Stacks of a collapsed-stack file (``a;b;c 12`` per line), weighted count/rate seconds."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None or len(match["count"]) > 18:  # beyond 10**18 samples: not a count
            raise InputError(
                f"{path}:{number}: expected 'frame;frame;... count' (py-spy --format raw), "
                f"got {line[:120]!r}"
            )
        stack = tuple(_frame(f) for f in match["stack"].split(";") if f) or IDLE
        count = int(match["count"])
        rows.append((stack, count / rate, count, ""))
    if not rows:
        raise InputError(f"{path}: no stacks in the file; {HOW_TO}")
    return pd.DataFrame(rows, columns=["stack", "weight_s", "samples", "thread"])


def _frame(text: str) -> tuple[str, int, str]:
    match = _FRAME.match(text.strip())
    if match is None:
        return ("", 0, text.strip())
    return (match["file"], int(match["line"] or 0), match["name"])
