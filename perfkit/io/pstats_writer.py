"""Write a `Profile` back as a pstats dump (marshal), so snakeviz and pstats can open it.

Sampled profiles have no call counts; their sample counts stand in for
``ncalls`` so viewers still rank by something real.
"""

from __future__ import annotations

import marshal
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from perfkit.io.profile import Profile

_LABEL = re.compile(r"^(?P<file>.*):(?P<line>-?\d+)\((?P<name>.*)\)$", re.DOTALL)


def write_pstats(profile: Profile, path: Path) -> Path:
    """Marshal `profile` as ``{(file, line, name): (cc, nc, tt, ct, callers)}`` into `path`."""
    functions = profile.functions
    calls = _counts(functions, profile)
    keys = {
        label: (file, int(line), name)
        for label, file, line, name in zip(
            functions["function"],
            functions["file"],
            functions["line"],
            functions["name"],
            strict=True,
        )
    }
    callers: dict[str, dict[tuple[str, int, str], tuple[int, int, float, float]]] = {
        label: {} for label in keys
    }
    edge_calls = _counts(profile.edges, profile)
    for (caller, callee, tt, ct), (cc, nc) in zip(
        profile.edges[["caller", "callee", "tottime_s", "cumtime_s"]].itertuples(
            index=False, name=None
        ),
        edge_calls,
        strict=True,
    ):
        keys.setdefault(caller, _parse(caller))
        # pstats keeps a caller edge as (nc, cc, tt, ct), the reverse of a function's (cc, nc)
        callers.setdefault(callee, {})[keys[caller]] = (nc, cc, float(tt), float(ct))
    stats = {}
    for (label, tt, ct), (cc, nc) in zip(
        functions[["function", "tottime_s", "cumtime_s"]].itertuples(index=False, name=None),
        calls,
        strict=True,
    ):
        stats[keys[label]] = (cc, nc, float(tt), float(ct), callers.get(label, {}))
    path.write_bytes(marshal.dumps(stats))
    return path


def _counts(frame: pd.DataFrame, profile: Profile) -> list[tuple[int, int]]:
    if profile.kind == "deterministic":
        return list(zip(frame["primcalls"].astype(int), frame["ncalls"].astype(int), strict=True))
    samples = frame["samples"] if "samples" in frame else np.ones(len(frame))
    return [(int(s), int(s)) for s in samples]


def _parse(label: str) -> tuple[str, int, str]:
    match = _LABEL.match(label)
    return (match["file"], int(match["line"]), match["name"]) if match else ("", 0, label)
