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
import zlib
from dataclasses import dataclass
from pathlib import Path

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


def load(path: Path) -> dict:
    """The stats dict of one dump; `InputError` naming the file when it is not one."""
    try:
        with open_binary(path) as handle:  # .gz/.bz2/.xz dumps too
            data = handle.read()
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{path}: cannot be read ({reason}); {HOW_TO}") from exc
    if not data:
        raise InputError(f"{path}: empty file, not a profile; {HOW_TO}")
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
    _check(path, stats)
    return stats


def _check(path: Path, stats: object) -> None:
    if not isinstance(stats, dict):
        raise InputError(
            f"{path}: marshal data holds a {type(stats).__name__}, not a profile "
            f"(a dict of (file, line, function) -> (cc, nc, tt, ct, callers)); {HOW_TO}"
        )
    for key, value in list(stats.items())[:50]:
        if not (
            isinstance(key, tuple)
            and len(key) == 3
            and isinstance(value, tuple)
            and len(value) == 5
        ):
            raise InputError(
                f"{path}: marshal data is a dict but entry {key!r} is not "
                f"(file, line, function) -> (cc, nc, tt, ct, callers); {HOW_TO}"
            )


def flatten(stats_list: list[dict]) -> Dumps:
    """Every function and caller edge of every dump as flat columns (one pass, no merging)."""
    ids: dict[tuple, int] = {}
    keys: list[tuple] = []
    f_dump, f_func, f_vals = [], [], []
    e_dump, e_caller, e_callee, e_vals = [], [], [], []
    for dump, stats in enumerate(stats_list):
        for key, (cc, nc, tt, ct, callers) in stats.items():
            fid = ids.get(key)
            if fid is None:
                fid = ids[key] = len(keys)
                keys.append(key)
            f_dump.append(dump)
            f_func.append(fid)
            f_vals.append((cc, nc, tt, ct))
            for caller, numbers in callers.items():
                cid = ids.get(caller)
                if cid is None:
                    cid = ids[caller] = len(keys)
                    keys.append(caller)
                e_dump.append(dump)
                e_caller.append(cid)
                e_callee.append(fid)
                e_vals.append(
                    numbers if isinstance(numbers, tuple) else (numbers, numbers, 0.0, 0.0)
                )
    return Dumps(
        keys, _columns(f_dump, f_func, None, f_vals), _columns(e_dump, e_caller, e_callee, e_vals)
    )


def _columns(dump, first, second, values) -> dict[str, np.ndarray]:
    numbers = np.array(values, dtype=np.float64).reshape(-1, 4)
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
