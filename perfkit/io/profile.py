"""`read_profile`: cProfile dumps and py-spy profiles as one `Profile`.

`Profile.functions` has one row per function (``function`` is
``file:line(name)``) with ``ncalls``, ``primcalls``, ``tottime_s`` (time in
the function itself) and ``cumtime_s`` (including callees); `Profile.edges`
one row per caller -> callee pair with the same counters for the calls along
that edge. Deterministic profiles (cProfile) merge as `pstats.Stats.add`
does; sampled ones (py-spy) turn sample weights into seconds and have no call
counts (NA). `Profile.dumps` lists the inputs, `Profile.per_dump` keeps each
dump's numbers for comparisons across requests.
"""

from __future__ import annotations

import lzma
import math
import numbers
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from perfkit.errors import InputError
from perfkit.io import cprofile, pyspy
from perfkit.io.paths import Paths, expand_paths
from perfkit.io.textfiles import open_binary

Kind = Literal["deterministic", "sampled"]
FUNCTION_COLUMNS = [
    "function",
    "file",
    "line",
    "name",
    "ncalls",
    "primcalls",
    "tottime_s",
    "cumtime_s",
]
EDGE_COLUMNS = ["caller", "callee", "ncalls", "primcalls", "tottime_s", "cumtime_s"]


@dataclass
class Profile:
    """Functions, caller edges and inputs of one or many merged profiles (times in seconds)."""

    functions: pd.DataFrame
    edges: pd.DataFrame
    dumps: pd.DataFrame
    kind: Kind
    per_dump: pd.DataFrame = field(repr=False)  # dump, function, ncalls, tottime_s, cumtime_s
    stacks: pd.DataFrame | None = field(default=None, repr=False)  # sampled: stack, weight_s

    @property
    def total_s(self) -> float:
        """Total time profiled: the sum of every function's own time."""
        return float(self.functions["tottime_s"].sum())

    def tree(
        self,
        root: str | None = None,
        min_fraction: float = 0.005,
        server_frames: Literal["collapse", "keep"] = "collapse",
    ) -> pd.DataFrame:
        """The inclusive call tree; see `perfkit.analysis.calltree.call_tree`."""
        from perfkit.analysis.calltree import call_tree

        return call_tree(self, root=root, min_fraction=min_fraction, server_frames=server_frames)

    def _display_parts(self) -> tuple[str, list[tuple[str, object]]]:
        from perfkit._display import count, one_line

        functions = self.functions
        headline = (f"{self.kind}, {self.total_s:.3g} s of own time in "
                    f"{count(len(self.dumps), 'dump')}")  # fmt: skip
        facts: list[tuple[str, object]] = [
            ("functions", f"{len(functions):,}"), ("call edges", f"{len(self.edges):,}")]
        if len(functions) and self.total_s > 0:
            top = functions.loc[cast(int, functions["tottime_s"].idxmax())]
            facts.append(("most own time", f"{one_line(top['name'], 60)} "
                          f"({top['tottime_s']:.3g} s, {top['tottime_s'] / self.total_s:.0%})"))
        return headline, facts

    def __repr__(self) -> str:
        """What it is and its sizes, a few lines (the frames are on the object)."""
        from perfkit._display import text_repr

        return text_repr("Profile", *self._display_parts())

    def _repr_html_(self) -> str:
        from perfkit._display import html_repr

        headline, facts = self._display_parts()
        top = self.functions.nlargest(10, "tottime_s")
        return html_repr("Profile", headline, facts,
                         top[["name", "ncalls", "tottime_s", "cumtime_s", "function"]], index=False)

    def to_pstats(self, path: str | os.PathLike[str]) -> Path:
        """Write the (merged) profile as a pstats dump, e.g. for snakeviz; returns the path."""
        from perfkit.io.pstats_writer import write_pstats

        return write_pstats(self, Path(path))


def read_profile(paths: Paths, rate: float = 100.0) -> Profile:
    """Read and merge profiles: cProfile/pstats dumps, py-spy speedscope JSON or raw stacks.

    `rate` (samples per second) converts raw collapsed-stack counts to
    seconds; speedscope files carry their own weights. All inputs must be of
    one kind (deterministic or sampled).
    """
    if not (isinstance(rate, numbers.Real) and 0 < rate < math.inf):
        raise InputError(f"read_profile: rate must be samples per second > 0, not {rate!r}")
    files = expand_paths(paths)
    if any(not isinstance(f, Path) for f in files):
        raise InputError("read_profile reads files; save the buffer to a file first")
    kinds = {f: _sniff(f) for f in files}
    if len(set(kinds.values())) > 1:
        raise InputError(
            "read_profile: cannot merge deterministic (cProfile) and sampled (py-spy) profiles: "
            + ", ".join(f"{f.name}={k}" for f, k in kinds.items())
        )
    if next(iter(kinds.values())) == "deterministic":
        return _deterministic(files)
    return _sampled(files, rate)


def _read(path: Path, size: int = -1) -> bytes:
    """The (decompressed) bytes of `path`, or its first `size`; `InputError` when unreadable."""
    try:
        with open_binary(path) as f:
            return f.read(size)
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{path}: cannot be read ({reason})") from exc


def _sniff(path: Path) -> Kind:
    """What the content is, whatever the name: a marshal dict is a cProfile dump, JSON or
    text (py-spy raw lines of any length) is sampled, other binary data is left to the
    cProfile reader to name."""
    head = _read(path, 4096)
    if not head:
        raise InputError(f"{path}: empty file, not a profile; {cprofile.HOW_TO}")
    text = head.lstrip()
    if text[:1] == b"{" and text[1:].lstrip()[:1] in (b'"', b"}"):  # JSON (a marshal dict: '{')
        return "sampled"
    if head[:1] in (b"{", b"\xfb"):  # marshal's dict type code, plain or with FLAG_REF
        return "deterministic"
    return "sampled" if b"\x00" not in head and text[:1].isascii() else "deterministic"


def _deterministic(files: list[Path]) -> Profile:
    flat = cprofile.flatten([cprofile.load(f) for f in files], files)
    labels = _labels(flat.keys)
    rows = pd.DataFrame(flat.rows)
    functions = rows.groupby("function", sort=False)[
        ["ncalls", "primcalls", "tottime_s", "cumtime_s"]
    ].sum()
    functions = _function_frame(functions, labels, flat.keys)
    edges_raw = pd.DataFrame(flat.edges)
    edges = (
        edges_raw.groupby(["caller", "callee"], sort=False)[
            ["ncalls", "primcalls", "tottime_s", "cumtime_s"]
        ]
        .sum()
        .reset_index()
    )
    edges["caller"] = labels[edges["caller"].to_numpy()]
    edges["callee"] = labels[edges["callee"].to_numpy()]
    per_dump = rows.assign(function=labels[rows["function"].to_numpy()])[
        ["dump", "function", "ncalls", "tottime_s", "cumtime_s"]
    ]
    dumps = _dumps_frame(files, per_dump)
    return Profile(functions, edges[EDGE_COLUMNS], dumps, "deterministic", per_dump)


def _labels(keys: list[tuple[str, int, str]]) -> np.ndarray:
    return np.array([f"{file}:{line}({name})" for file, line, name in keys], dtype=object)


def _function_frame(
    sums: pd.DataFrame, labels: np.ndarray, keys: list[tuple[str, int, str]]
) -> pd.DataFrame:
    ids = sums.index.to_numpy()
    frame = pd.DataFrame(
        {
            "function": labels[ids],
            "file": [keys[i][0] for i in ids],
            "line": np.array([keys[i][1] for i in ids], dtype=np.int64),
            "name": [keys[i][2] for i in ids],
            "ncalls": sums["ncalls"].to_numpy(),
            "primcalls": sums["primcalls"].to_numpy(),
            "tottime_s": sums["tottime_s"].to_numpy(),
            "cumtime_s": sums["cumtime_s"].to_numpy(),
        }
    )
    return frame.sort_values("cumtime_s", ascending=False, kind="stable").reset_index(drop=True)


def _dumps_frame(files: list[Path], per_dump: pd.DataFrame) -> pd.DataFrame:
    totals = per_dump.groupby("dump")["tottime_s"].sum()
    rows = []
    for i, path in enumerate(files):
        meta = cprofile.middleware_metadata(path)
        rows.append({"dump": i, "file": str(path), "total_s": float(totals.get(i, 0.0)), **meta})
    frame = pd.DataFrame(rows)
    for column in ("method", "path", "request_ms", "timestamp"):
        if column not in frame:
            frame[column] = pd.NA
    if frame["path"].notna().any():
        import pyarrow as pa

        from perfkit.io.routes import heuristic_templates

        known = frame["path"].notna()
        frame.loc[known, "route"] = heuristic_templates(
            pa.array(frame.loc[known, "path"], pa.string())
        ).to_pylist()
    else:
        frame["route"] = pd.NA
    return frame[["dump", "file", "method", "path", "route", "request_ms", "timestamp", "total_s"]]


def _sampled(files: list[Path], rate: float) -> Profile:
    parts = []
    for i, path in enumerate(files):
        text = _read(path).decode("utf-8", errors="replace")
        stacks = (
            pyspy.read_speedscope(path, text)
            if text.lstrip().startswith("{")
            else pyspy.read_collapsed(path, text, rate)
        )
        parts.append(stacks.assign(dump=i))
    stacks = pd.concat(parts, ignore_index=True)
    from perfkit.analysis.stacks import aggregate_stacks

    functions, edges, per_dump = aggregate_stacks(stacks)
    dumps = _dumps_frame(files, per_dump)
    return Profile(functions, edges, dumps, "sampled", per_dump, stacks)
