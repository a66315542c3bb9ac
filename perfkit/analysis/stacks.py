"""Sampled stacks (py-spy) -> per-function and per-edge times.

A function's own time is the weight of the samples where it is the leaf;
its cumulative time the weight of the samples it appears in (once per
sample, however deep it recurses). An edge's cumulative time is the weight
of the samples holding that caller -> callee pair. Frames are keyed by file
and function name (py-spy reports the executing line, which moves); the
line shown is the smallest seen. Work is done once per distinct stack.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd


def aggregate_stacks(stacks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """functions, edges and per-dump frames from rows of dump, stack, weight_s, samples."""
    distinct = stacks.groupby(["dump", "stack"], sort=False)[["weight_s", "samples"]].sum()
    ids: dict[tuple[str, str], int] = {}
    first_line: list[int] = []
    own: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    edge: dict[tuple[int, int, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for (dump, stack), weight, count in zip(
        distinct.index, distinct["weight_s"], distinct["samples"], strict=True
    ):
        path = [_id(frame, ids, first_line) for frame in stack]
        own[(dump, path[-1])][0] += weight
        for fid in set(path):
            cell = own[(dump, fid)]
            cell[1] += weight
            cell[2] += count
        pairs = set(itertools.pairwise(path))
        for caller, callee in pairs:
            cell = edge[(dump, caller, callee)]
            cell[1] += weight
            cell[2] += count
        if len(path) > 1:
            edge[(dump, path[-2], path[-1])][0] += weight
    keys = sorted(ids, key=ids.__getitem__)
    labels = np.array([f"{f}:{first_line[i]}({n})" for i, (f, n) in enumerate(keys)], dtype=object)
    per_dump = _frame(own, ["dump", "fid"], labels)
    functions = per_dump.groupby("fid", sort=False)[["tottime_s", "cumtime_s", "samples"]].sum()
    functions = pd.DataFrame(
        {
            "function": labels[functions.index],
            "file": [keys[i][0] for i in functions.index],
            "line": np.array([first_line[i] for i in functions.index], dtype=np.int64),
            "name": [keys[i][1] for i in functions.index],
            "ncalls": pd.array([pd.NA] * len(functions), dtype="Int64"),
            "primcalls": pd.array([pd.NA] * len(functions), dtype="Int64"),
            "tottime_s": functions["tottime_s"].to_numpy(),
            "cumtime_s": functions["cumtime_s"].to_numpy(),
            "samples": functions["samples"].to_numpy(),
        }
    ).sort_values("cumtime_s", ascending=False, kind="stable", ignore_index=True)
    edges = _frame(edge, ["dump", "caller", "callee"], labels)
    edges = (
        edges.groupby(["caller", "callee"], sort=False)[["tottime_s", "cumtime_s"]]
        .sum()
        .reset_index()
    )
    edges["caller"], edges["callee"] = labels[edges["caller"]], labels[edges["callee"]]
    # pandas-stubs: insert and assign take an ExtensionArray and a missing value (pandas does)
    edges.insert(2, "ncalls", pd.array([pd.NA] * len(edges), dtype="Int64"))  # type: ignore[arg-type]
    edges.insert(3, "primcalls", pd.array([pd.NA] * len(edges), dtype="Int64"))  # type: ignore[arg-type]
    per_dump = per_dump.assign(function=labels[per_dump["fid"]], ncalls=pd.NA)  # type: ignore[arg-type]
    return functions, edges, per_dump[["dump", "function", "ncalls", "tottime_s", "cumtime_s"]]


def _id(frame: tuple[str, int, str], ids: dict[tuple[str, str], int], first_line: list[int]) -> int:
    file, line, name = frame
    key = (file, name)
    fid = ids.get(key)
    if fid is None:
        fid = ids[key] = len(first_line)
        first_line.append(line)
    elif 0 < line < first_line[fid] or first_line[fid] == 0:
        first_line[fid] = line
    return fid


def _frame(cells: dict[Any, list[float]], key_names: list[str], labels: np.ndarray) -> pd.DataFrame:
    keys = np.array(list(cells.keys()), dtype=np.int64).reshape(-1, len(key_names))
    values = np.array(list(cells.values()), dtype=np.float64).reshape(-1, 3)
    frame = pd.DataFrame(keys, columns=key_names)
    frame["tottime_s"], frame["cumtime_s"], frame["samples"] = (
        values[:, 0],
        values[:, 1],
        values[:, 2],
    )
    return frame
