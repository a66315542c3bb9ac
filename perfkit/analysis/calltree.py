"""Inclusive call trees of a `Profile`, for flame graphs.

Sampled profiles: the tree is exact, built from the stacks (a node's time is
the weight of the samples passing through that path).

Deterministic profiles (cProfile) keep no stacks, only caller -> callee
totals, so the tree is an approximation: a function's time under one
particular path is its edge time from that caller, scaled by the share of
the caller's time that this path carries (``edge cumtime x node time /
caller cumtime``). A function called from several places with different
costs per call gets its time split in proportion to the edges, not by the
real cost in each place. Recursion is cut where a function reappears on its
own path.

Nodes under `min_fraction` of the total are folded into their parent's own
time. Assumes times in seconds; the result has one row per node.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from perfkit.io.profile import Profile

ROOT = "(all)"
MAX_NODES = 20_000
TREE_COLUMNS = [
    "id",
    "parent",
    "function",
    "name",
    "file",
    "line",
    "depth",
    "total_s",
    "self_s",
    "fraction",
]
APPROXIMATION = (
    "cProfile keeps caller->callee totals, not stacks: a function's time is split "
    "among its callers in proportion to each edge"
)


def call_tree(
    profile: Profile, root: str | None = None, min_fraction: float = 0.005
) -> pd.DataFrame:
    """The inclusive call tree: ``id``, ``parent`` (``""`` for the root), ``function``, ``name``,
    ``file``, ``line``, ``depth``, ``total_s``, ``self_s`` and ``fraction`` of the root's time.

    `root` (a ``function`` label, or a substring of one) starts the tree at
    that function; by default it starts at ``(all)``, holding every top-level
    function.
    """
    if profile.kind == "sampled":
        nodes = _from_stacks(profile, min_fraction)
    else:
        nodes = _from_edges(profile, min_fraction)
    tree = pd.DataFrame(nodes, columns=["id", "parent", "function", "depth", "total_s", "self_s"])
    if root is not None:
        tree = _subtree(tree, root)
    info = profile.functions.set_index("function")[["name", "file", "line"]]
    tree = tree.join(info, on="function")
    tree.loc[tree["function"] == ROOT, ["name", "file"]] = [ROOT, ""]
    tree["line"] = tree["line"].fillna(0).astype("int64")
    top = tree["total_s"].iloc[0] if len(tree) else 0.0
    tree["fraction"] = tree["total_s"] / top if top else 0.0
    tree.attrs["approximation"] = APPROXIMATION if profile.kind == "deterministic" else ""
    return tree[TREE_COLUMNS]


def _from_stacks(profile: Profile, min_fraction: float) -> list[tuple]:
    """Exact tree from sampled stacks: one node per distinct path prefix.

    The prefixes are a trie (node -> (parent node, function)), so memory and
    time grow with the number of frames, not with depth squared.
    """
    weights = profile.stacks.groupby("stack", sort=False)["weight_s"].sum()
    labels = _frame_labels(profile)
    total = float(weights.sum())
    child: dict[tuple[int, str], int] = {}
    parent, function, depth, node_total = [-1], [ROOT], [0], [total]
    for stack, weight in weights.items():
        node = 0
        for frame in stack:
            key = (node, labels[(frame[0], frame[2])])
            step = child.get(key)
            if step is None:
                step = child[key] = len(parent)
                parent.append(node)
                function.append(key[1])
                depth.append(depth[node] + 1)
                node_total.append(0.0)
            node_total[step] += weight
            node = step
    floor = min_fraction * total
    order = np.argsort(np.array(depth), kind="stable")  # by depth, first seen first
    kept = np.zeros(len(parent), dtype=bool)
    kept[0] = True
    for node in order[1:].tolist():  # a node below the floor hides its subtree
        kept[node] = node_total[node] >= floor and kept[parent[node]]
    nodes = order[kept[order]]
    number = np.full(len(parent), -1, dtype=np.int64)
    number[nodes] = np.arange(len(nodes))
    totals = np.array(node_total)
    parents = np.array(parent)
    below = np.zeros(len(parent))
    np.add.at(below, parents[nodes[1:]], totals[nodes[1:]])
    own = np.maximum(totals - below, 0.0)
    return [
        (f"n{number[k]}", f"n{number[parents[k]]}" if k else "", function[k], depth[k],
         node_total[k], float(own[k]))
        for k in nodes.tolist()
    ]  # fmt: skip


def _frame_labels(profile: Profile) -> dict[tuple[str, str], str]:
    f = profile.functions
    return dict(zip(zip(f["file"], f["name"], strict=True), f["function"], strict=True))


def _from_edges(profile: Profile, min_fraction: float) -> list[tuple]:
    """Approximate tree from caller -> callee totals (see the module docstring)."""
    functions = profile.functions.set_index("function")
    cumtime = functions["cumtime_s"].to_dict()
    children: dict[str, list[tuple[str, float]]] = defaultdict(list)
    has_caller: set[str] = set()
    for caller, callee, ct in profile.edges[["caller", "callee", "cumtime_s"]].itertuples(
        index=False, name=None
    ):
        if caller != callee:
            children[caller].append((callee, float(ct)))
            has_caller.add(callee)
    total = profile.total_s
    floor = min_fraction * total
    tops = [(f, cumtime[f]) for f in functions.index if f not in has_caller]
    nodes = [("n0", "", ROOT, 0, total, 0.0)]
    ids = {(): "n0"}
    children_total: dict[tuple, float] = defaultdict(float)
    queue = [((f,), t) for f, t in tops if t >= floor]
    while queue and len(nodes) < MAX_NODES:
        path, time_s = queue.pop(0)
        ids[path] = f"n{len(nodes)}"
        nodes.append((ids[path], ids[path[:-1]], path[-1], len(path), time_s, 0.0))
        children_total[path[:-1]] += time_s
        function = path[-1]
        scale = time_s / cumtime[function] if cumtime.get(function) else 0.0
        for callee, edge_time in sorted(children[function], key=lambda c: -c[1]):
            child_time = edge_time * scale
            if callee not in path and child_time >= floor:
                queue.append(((*path, callee), child_time))
    return _with_self(nodes, ids, children_total)


def _with_self(nodes: list[tuple], ids: dict, children_total: dict) -> list[tuple]:
    by_id = {node_id: path for path, node_id in ids.items()}
    out = []
    for node_id, parent, function, depth, total_s, _ in nodes:
        own = max(total_s - children_total.get(by_id[node_id], 0.0), 0.0)
        out.append((node_id, parent, function, depth, total_s, own))
    return out


def _subtree(tree: pd.DataFrame, root: str) -> pd.DataFrame:
    match = tree[tree["function"] == root]
    if match.empty:
        match = tree[tree["function"].str.contains(root, regex=False)]
    if match.empty:
        raise KeyError(f"no function {root!r} in the call tree")
    start = match.sort_values("total_s", ascending=False).iloc[0]
    keep = {start["id"]}
    for node_id, parent in zip(tree["id"], tree["parent"], strict=True):
        if parent in keep:
            keep.add(node_id)
    sub = tree[tree["id"].isin(keep)].copy()
    sub.loc[sub["id"] == start["id"], "parent"] = ""
    sub["depth"] -= int(start["depth"])
    return sub.reset_index(drop=True)
