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

import json
import re
from pathlib import Path

import pandas as pd

from perfkit.errors import InputError

HOW_TO = "record one with `py-spy record --format speedscope -o out.json -- python app.py`"
NO_FRAME = "(no Python frame)"  # a sample py-spy took while no Python code ran
IDLE = (("", 0, NO_FRAME),)
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def read_speedscope(path: Path, text: str) -> pd.DataFrame:
    """Stacks of a speedscope file: stack (tuple of frames), weight_s, samples, thread."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); {HOW_TO}") from exc
    frames = (doc.get("shared") or {}).get("frames") if isinstance(doc, dict) else None
    profiles = doc.get("profiles") if isinstance(doc, dict) else None
    if not isinstance(frames, list) or not isinstance(profiles, list) or not profiles:
        raise InputError(
            f"{path}: not a speedscope profile (expected 'shared.frames' and a non-empty "
            f"'profiles' list); {HOW_TO}"
        )
    rows = []
    for profile in profiles:
        if profile.get("type") != "sampled":
            raise InputError(
                f"{path}: speedscope profile type {profile.get('type')!r}; only 'sampled' is read"
            )
        samples, weights = profile.get("samples"), profile.get("weights")
        if (
            not isinstance(samples, list)
            or not isinstance(weights, list)
            or len(samples) != len(weights)
        ):
            raise InputError(
                f"{path}: speedscope profile {profile.get('name')!r} has no matching "
                "samples and weights"
            )
        scale = {
            "seconds": 1.0,
            "milliseconds": 1e-3,
            "microseconds": 1e-6,
            "nanoseconds": 1e-9,
        }.get(profile.get("unit", "none"))
        if scale is None:
            raise InputError(f"{path}: speedscope unit {profile.get('unit')!r} is not a time unit")
        thread = profile.get("name", "")
        rows.extend((tuple(s), w * scale, 1, thread) for s, w in zip(samples, weights, strict=True))
    table = pd.DataFrame(rows, columns=["stack", "weight_s", "samples", "thread"])
    names = [
        (str(f.get("file", "")), int(f.get("line") or 0), str(f.get("name", "?"))) for f in frames
    ]
    n = len(names)
    if len(table) and max((max(s) for s in table["stack"] if s), default=-1) >= n:
        raise InputError(f"{path}: a sample refers to a frame the file does not define")
    table["stack"] = [tuple(names[i] for i in s) or IDLE for s in table["stack"]]
    return table


def read_collapsed(path: Path, text: str, rate: float) -> pd.DataFrame:
    """Stacks of a collapsed-stack file (``a;b;c 12`` per line), weighted count/rate seconds."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
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


def looks_collapsed(head: str) -> bool:
    """Whether the first lines read like collapsed stacks."""
    lines = [line for line in head.splitlines()[:20] if line.strip()]
    return bool(lines) and all(_LINE.match(line) for line in lines[:-1] or lines)
