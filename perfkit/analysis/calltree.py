"""Inclusive call trees of a `Profile`, for flame graphs.

Every tree is built the same way: nodes (paths of functions from a root)
receive *own* time, and a node's total is its own time plus its children's
totals. So a node is never smaller than the sum of its children (plotly's
``branchvalues="total"`` draws nothing otherwise), the root holds the whole
profile and no function's time is lost or counted twice.

Sampled profiles (py-spy): exact. A node's own time is the weight of the
samples whose stack ends at that path.

Deterministic profiles (cProfile) keep no stacks, only caller -> callee
totals, so the tree is an approximation:

* Roots are the functions with calls that no profiled caller made: a
  function's call count minus the calls on its caller edges. That finds
  ``builtins.exec`` under ``python -m cProfile`` although importlib calls
  ``exec`` too, Werkzeug's ``runapp`` in a ProfilerMiddleware dump, and
  every thread's function when per-thread dumps are merged. (Without such
  counts, the functions nobody calls; failing that, the largest.)
* A function's own time is split among the paths that reach it in
  proportion to its caller edges' cumulative times (a root's own share is
  its cumulative time not explained by its callers), then rescaled so that
  its paths together get all of its own time. A function called from
  several places with different costs per call is split by the edges, not
  by the real cost in each place.
* Recursion is cut where a function reappears on its own path; the time of
  the recursive calls stays with the function's other paths.
* A function too small for a node of its own (or past the 20,000-node cap)
  is charged to the nodes of its callers; one no root reaches at all keeps
  its time in the root node's own time.

By default the server's own frames at the bottom of the stacks (Gunicorn's
arbiter, worker and loop, Werkzeug/Flask request dispatch, the threading
and selectors plumbing below them) are merged into one ``(server)`` node
under the root, so the app's handlers sit at depth 2; ``server_frames=
"keep"`` shows them. Only a leading run of such frames is merged, and only
when it holds a server frame: Flask helpers your code calls stay as they
are. Nodes under `min_fraction` of the total are folded into their parent's
own time. Times in seconds; one row per node.
"""

from __future__ import annotations

import heapq
import re
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import pandas as pd

from perfkit.errors import InputError

if TYPE_CHECKING:
    from perfkit.io.profile import Profile

ROOT = "(all)"
SERVER = "(server)"
MAX_NODES = 20_000
ServerFrames = Literal["collapse", "keep"]
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
# a path segment naming a WSGI server / framework package (py-spy shortens site-packages
# paths to "gunicorn/arbiter.py"; the gunicorn console script is ".../bin/gunicorn")
SERVER_PACKAGES = ("gunicorn", "werkzeug", "flask", "waitress", "gevent", "eventlet", "meinheld")
_SERVER = re.compile(r"(?:^|/)(?:" + "|".join(SERVER_PACKAGES) + r")(?:/|$)")
# stdlib modules that only carry a server's loop: collapsed with it, never on their own
_PLUMBING = re.compile(
    r"(?:^|/)(?:threading|socketserver|selectors|runpy)\.py$|(?:^|/)concurrent/futures/"
    r"|^<frozen runpy>$"
)  # not C built-ins ("~"): `exec` roots every `python -m cProfile` script
_STDLIB = re.compile(r"^~$|^<frozen |/lib/python\d+(?:\.\d+)?t?/(?!.*(?:site|dist)-packages/)")


def call_tree(
    profile: Profile,
    root: str | None = None,
    min_fraction: float = 0.005,
    server_frames: ServerFrames = "collapse",
) -> pd.DataFrame:
    """The inclusive call tree: ``id``, ``parent`` (``""`` for the root), ``function``, ``name``,
    ``file``, ``line``, ``depth``, ``total_s`` and ``self_s`` (seconds), ``fraction`` of the
    root's time.

    The tree starts at ``(all)``, holding every top-level function; `root` (a
    ``function`` label, or a substring of one) starts it at that function's
    largest node instead. `server_frames` ``"collapse"`` (default) merges the
    server's own frames into one ``(server)`` node, ``"keep"`` keeps them.
    """
    if server_frames not in ("collapse", "keep"):
        raise InputError(f"server_frames must be 'collapse' or 'keep', not {server_frames!r}")
    if profile.kind == "sampled":
        parent, function, own = _from_stacks(profile)
    else:
        parent, function, own = _from_edges(profile, min_fraction)
    if server_frames == "collapse":
        parent, function, own = _collapse_server(parent, function, own, profile.functions)
    nodes = _totals_and_prune(parent, function, own, min_fraction)
    tree = pd.DataFrame(nodes, columns=["id", "parent", "function", "depth", "total_s", "self_s"])
    if root is not None:
        tree = _subtree(tree, root)
    info = profile.functions.set_index("function")[["name", "file", "line"]]
    tree = tree.join(info, on="function")
    for label in (ROOT, SERVER):
        tree.loc[tree["function"] == label, ["name", "file"]] = [label, ""]
    tree["line"] = tree["line"].fillna(0).astype("int64")
    top = tree["total_s"].iloc[0] if len(tree) else 0.0
    tree["fraction"] = tree["total_s"] / top if top else 0.0
    tree.attrs["approximation"] = APPROXIMATION if profile.kind == "deterministic" else ""
    return tree[TREE_COLUMNS]


def _from_stacks(profile: Profile) -> tuple[list[int], list[str], list[float]]:
    """Exact tree from sampled stacks: one node per distinct path prefix (a trie), own time
    the weight of the stacks ending there. Memory and time grow with the number of frames."""
    stacks = cast(pd.DataFrame, profile.stacks)  # a sampled profile's
    weights = stacks.groupby("stack", sort=False)["weight_s"].sum()
    labels = _frame_labels(profile)
    child: dict[tuple[int, str], int] = {}
    parent, function, own = [-1], [ROOT], [0.0]
    for stack, weight in weights.items():
        node = 0
        for frame in cast("tuple[tuple[str, int, str], ...]", stack):
            key = (node, labels[(frame[0], frame[2])])
            step = child.get(key)
            if step is None:
                step = child[key] = len(parent)
                parent.append(node)
                function.append(key[1])
                own.append(0.0)
            node = step
        own[node] += float(weight)
    return parent, function, own


def _frame_labels(profile: Profile) -> dict[tuple[str, str], str]:
    f = profile.functions
    return dict(zip(zip(f["file"], f["name"], strict=True), f["function"], strict=True))


def _from_edges(profile: Profile, min_fraction: float) -> tuple[list[int], list[str], list[float]]:
    """Approximate tree from caller -> callee totals (see the module docstring)."""
    functions = profile.functions.set_index("function")
    cumtime = functions["cumtime_s"].astype(float)
    tottime = functions["tottime_s"].astype(float)
    edges = profile.edges
    # pstats stores edge counts as (nc, cc), functions' as (cc, nc): all calls is the larger
    calls = np.maximum(edges["ncalls"].to_numpy(np.int64), edges["primcalls"].to_numpy(np.int64))
    edges = pd.DataFrame({"caller": edges["caller"], "callee": edges["callee"], "calls": calls,
                          "ct": edges["cumtime_s"].astype(float)})  # fmt: skip
    called = edges.groupby("callee")["calls"].sum()
    ncalls = functions["ncalls"].astype("float64").fillna(0.0)
    root_calls = (ncalls - called.reindex(functions.index, fill_value=0)).clip(lower=0)
    others = edges[edges["caller"] != edges["callee"]]
    explained = others.groupby("callee")["ct"].sum().reindex(functions.index, fill_value=0.0)
    roots = root_calls[root_calls > 0].index
    if roots.empty:  # no call counts to go by: whoever nobody calls, else the largest
        roots = functions.index.difference(others["callee"])  # type: ignore[arg-type]  # a list-like
        if roots.empty and len(cumtime):
            roots = pd.Index([cumtime.idxmax()])
    root_weight = pd.Series(0.0, index=functions.index)
    root_weight[roots] = (cumtime[roots] - explained[roots]).clip(lower=0)
    fallback = roots[root_weight[roots] <= 0]
    root_weight[fallback] = cumtime[fallback] * (root_calls[fallback] / ncalls[fallback]).fillna(1)
    # the share of each callee's time that each caller (or being a root) accounts for
    weight_in = explained + root_weight
    share = others["ct"].to_numpy() / weight_in.reindex(others["callee"]).to_numpy()
    by_count = ~np.isfinite(share)  # no time on any edge into it: go by call counts
    if by_count.any():
        count_in = (others.groupby("callee")["calls"].sum().reindex(functions.index, fill_value=0)
                    + root_calls.where(root_calls.index.isin(roots), 0))  # fmt: skip
        denominator = count_in.reindex(others["callee"]).to_numpy()[by_count]
        with np.errstate(divide="ignore", invalid="ignore"):
            share[by_count] = others["calls"].to_numpy()[by_count] / denominator
    share = np.nan_to_num(share, nan=0.0, posinf=0.0)
    children: dict[str, list[tuple[str, float]]] = defaultdict(list)
    callers_of: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for caller, callee, part in zip(others["caller"], others["callee"], share, strict=True):
        children[caller].append((callee, float(part)))
        callers_of[callee].append((caller, float(part)))
    root_share = (root_weight / weight_in).fillna(1.0).clip(upper=1.0)
    floor = min_fraction * profile.total_s / 10  # the final tree is pruned by the real totals
    parent, function, weight = [-1], [ROOT], [0.0]
    paths: list[frozenset[str]] = [frozenset()]
    heap = [(-float(root_share[f] * cumtime[f]), i, 0, f, float(root_share[f]))
            for i, f in enumerate(roots)]  # fmt: skip
    heapq.heapify(heap)
    pushed = len(heap)
    skipped: list[tuple[int, str, float]] = []  # (parent node, function, weight) not expanded
    while heap:  # the largest first: the cap drops the smallest
        estimate, _, above, name, part = heapq.heappop(heap)
        if part <= 0 or -estimate < floor or len(parent) >= MAX_NODES:
            skipped.append((above, name, part))
            continue
        node = len(parent)
        parent.append(above)
        function.append(name)
        weight.append(part)
        paths.append(paths[above] | {name})
        for callee, edge_share in children.get(name, ()):
            if callee not in paths[node]:
                child = part * edge_share
                heapq.heappush(heap, (-child * cumtime[callee], pushed, node, callee, child))
                pushed += 1
    return parent, function, _own_times(function, weight, skipped, tottime, callers_of)


def _own_times(
    function: list[str],
    weight: list[float],
    skipped: list[tuple[int, str, float]],
    tottime: pd.Series,
    callers_of: dict[str, list[tuple[str, float]]],
) -> list[float]:
    """Each node's own time: its function's own time split by the nodes' weights, all of it
    to the function's nodes. A function with no node (too small on every path) gives its
    time to the nodes that would have been its callers, by weight; below those, to the
    strongest such node of each caller, by edge share. One never reached at all leaves it
    with the root (node 0)."""
    anchors: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for node in range(1, len(function)):
        anchors[function[node]][node] += weight[node]
    placed = set(anchors)
    for above, name, part in skipped:
        if name not in placed and part > 0:
            anchors[name][above] += part
    unresolved = set(tottime.index).difference(anchors)
    strongest = {name: max(nodes, key=nodes.__getitem__) for name, nodes in anchors.items()}
    while unresolved:  # a pass per level of nodeless callers
        found = {}
        for name in unresolved:
            inherited: dict[int, float] = defaultdict(float)
            for caller, share in callers_of.get(name, ()):
                if caller in strongest and share > 0:
                    inherited[strongest[caller]] += share
            if inherited:
                found[name] = inherited
        if not found:
            break
        for name, inherited in found.items():
            anchors[name] = inherited
            strongest[name] = max(inherited, key=inherited.__getitem__)
        unresolved.difference_update(found)
    own = np.zeros(len(function))
    for name, nodes in anchors.items():
        seconds = float(tottime.get(name, 0.0))
        total = sum(nodes.values())
        if seconds and total > 0:
            for node, part in nodes.items():
                own[node] += seconds * part / total
    own[0] += float(tottime[list(unresolved)].sum()) if unresolved else 0.0
    return own.tolist()


def is_server_frame(file: str) -> bool:
    """Whether `file` (as a profiler reports it) belongs to a WSGI server or framework."""
    return bool(_SERVER.search(file.replace("\\", "/")))


def _collapse_server(
    parent: list[int], function: list[str], own: list[float], functions: pd.DataFrame
) -> tuple[list[int], list[str], list[float]]:
    """Merge the leading run of server frames below the root into one ``(server)`` node.

    A node is in the run when it is a server or plumbing frame and its parent
    is the root or in the run; plumbing alone (a thread's bootstrap) is merged
    only when a server frame is in the same run. A stdlib subtree (nothing but
    the standard library and built-ins) called from the run is merged too.
    Paths that become equal merge.
    """
    files = functions["file"].astype(str).str.replace("\\", "/", regex=False)
    head = files.str.split("/", n=1).str[0].str.removesuffix(".py")
    stdlib = files.str.contains(_STDLIB) | (
        ~files.str.startswith("/") & head.isin(sys.stdlib_module_names)  # py-spy's short paths
    )
    kinds = pd.DataFrame(
        {
            "server": files.str.contains(_SERVER),
            "plumbing": files.str.contains(_PLUMBING),
            "stdlib": stdlib,
        }
    ).set_axis(functions["function"])
    kinds = kinds.reindex(function, fill_value=False)
    server, plumbing = kinds["server"].to_numpy(bool), kinds["plumbing"].to_numpy(bool)
    only_stdlib = kinds["stdlib"].to_numpy(bool).copy()  # and so is everything below it
    n = len(parent)
    for i in range(n - 1, 0, -1):  # children come after their parents
        if not only_stdlib[i]:
            only_stdlib[parent[i]] = False
    run = np.zeros(n, dtype=bool)
    has_server = np.zeros(n, dtype=bool)
    for i in range(1, n):  # parents come before their children
        up = parent[i]
        run[i] = (server[i] or plumbing[i]) and (up == 0 or run[up])
        has_server[i] = run[i] and (server[i] or (up != 0 and has_server[up]))
    merged = has_server.copy()
    for i in range(n - 1, 0, -1):  # a plumbing frame above a merged one is merged too
        if merged[i] and parent[i] > 0 and run[parent[i]]:
            merged[parent[i]] = True
    for i in range(1, n):  # the stdlib the server calls (a date format, a socket write)
        if not merged[i] and parent[i] > 0 and merged[parent[i]] and only_stdlib[i]:
            merged[i] = True
    if not merged.any():
        return parent, function, own
    new_parent, new_function, new_own = [-1, 0], [ROOT, SERVER], [own[0], 0.0]
    index: dict[tuple[int, str], int] = {}
    where = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        if merged[i]:
            where[i] = 1
            new_own[1] += own[i]
            continue
        key = (int(where[parent[i]]), function[i])
        target = index.get(key)
        if target is None:
            target = index[key] = len(new_parent)
            new_parent.append(key[0])
            new_function.append(function[i])
            new_own.append(0.0)
        new_own[target] += own[i]
        where[i] = target
    return new_parent, new_function, new_own


def _totals_and_prune(
    parent: list[int], function: list[str], own: list[float], min_fraction: float
) -> list[tuple[str, str, str, int, float, float]]:
    """Totals bottom-up (own + children), then nodes under the floor folded into their parent.

    Rows come out by depth, first seen first, numbered ``n0`` (the root) on.
    """
    parents = np.asarray(parent, dtype=np.int64)
    own_s = np.asarray(own, dtype=np.float64)
    n = len(parents)
    depth = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        depth[i] = depth[parents[i]] + 1
    total = own_s.copy()
    for level in range(int(depth.max(initial=0)), 0, -1):
        at = np.flatnonzero(depth == level)
        np.add.at(total, parents[at], total[at])
    floor = min_fraction * total[0] if n else 0.0
    kept = np.zeros(n, dtype=bool)
    kept[0] = True
    for level in range(1, int(depth.max(initial=0)) + 1):
        at = np.flatnonzero(depth == level)
        kept[at] = (total[at] >= floor) & kept[parents[at]] & (total[at] > 0 if floor else True)
    order = np.argsort(depth, kind="stable")
    nodes = order[kept[order]]
    below = np.zeros(n)
    np.add.at(below, parents[nodes[1:]], total[nodes[1:]])
    self_s = np.maximum(total - below, 0.0)
    number = np.full(n, -1, dtype=np.int64)
    number[nodes] = np.arange(len(nodes))
    return [
        (f"n{number[k]}", f"n{number[parents[k]]}" if k else "", function[k], int(depth[k]),
         float(total[k]), float(self_s[k]))
        for k in nodes.tolist()
    ]  # fmt: skip


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
