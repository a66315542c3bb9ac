"""Which statements changed plan between two runs, and what it cost (auto_explain plans).

`plan_shape` reduces a plan (auto_explain's text or JSON, as `perfkit.read_pg_log`
keeps it) to its shape: node types, the relation and index each scans, nesting and join
order, without costs, times or values, e.g. ``Limit(Index Scan using t_pkey on t)``.
`plan_changes` compares the shapes each statement ran with in a baseline and a candidate
log: a statement whose usual shape differs is a plan change (an index no longer used, a
join reordered), with its time per call before and after and the worst row misestimate
(actual / estimated rows, either way) of the candidate's plans.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from perfkit.errors import InputError

_NODE = re.compile(
    r"^(?P<indent>\s*)(?:->\s+)?(?P<node>[A-Z][A-Za-z ]*?)"
    r"(?: using (?P<index>\S+))?(?: on (?P<rel>\S+)(?: (?P<alias>\S+))?)?"
    r"  \(cost=[\d.]+\.\.[\d.]+ rows=(?P<est>\d+) width=\d+\)"
    r"(?: \(actual time=[\d.]+\.\.[\d.]+ rows=(?P<act>\d+) loops=(?P<loops>\d+)\))?"
)


def plan_shape(plan: str) -> tuple[str, float]:
    """(shape, worst misestimate) of one plan; the misestimate is max over nodes of
    ``max(actual, 1) / max(estimated, 1)`` or its inverse (1.0 when no actual rows)."""
    text = plan.strip()
    if text.startswith("{"):
        try:
            tree = json.loads(text)
        except ValueError:
            return "", 1.0
        root = tree.get("Plan", tree) if isinstance(tree, dict) else {}
        return _json_shape(root)
    nodes: list[tuple[int, str, float]] = []
    above: list[tuple[int, str]] = []  # the ancestors of the current node: (depth, label)
    for line in text.splitlines():
        m = _NODE.match(line)
        if not m:
            continue
        indent = len(m.group("indent"))
        depth = indent + (1 if line[indent:].startswith("->") else 0)
        label = m.group("node").strip()
        if m.group("index"):
            label += f" using {m.group('index')}"
        if m.group("rel"):
            label += f" on {m.group('rel')}"
        while above and above[-1][0] >= depth:
            above.pop()
        limited = any(a[1].startswith("Limit") for a in above)
        nodes.append((depth, label, _miss(m.group("est"), m.group("act"), limited)))
        above.append((depth, label))
    if not nodes:
        return "", 1.0
    return _nest(nodes), max(n[2] for n in nodes)


def _miss(est: Any, act: Any, limited: bool = False) -> float:
    """How far the planner's row estimate was off, as a factor; under a Limit a node stops
    early by design, so only an underestimate (more rows than planned) counts there."""
    if act is None:
        return 1.0
    e, a = max(float(est), 1.0), max(float(act), 1.0)
    return a / e if limited else max(a / e, e / a)


def _nest(nodes: list[tuple[int, str, float]]) -> str:
    """``parent(child, child)`` from (depth, label) in plan order (a child is deeper)."""
    roots: list[tuple[str, list[Any]]] = []
    stack: list[tuple[int, tuple[str, list[Any]]]] = []
    for depth, label, _ in nodes:
        node: tuple[str, list[Any]] = (label, [])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1][1] if stack else roots).append(node)
        stack.append((depth, node))

    def render(node: tuple[str, list[Any]]) -> str:
        label, children = node
        return label + ("(" + ", ".join(map(render, children)) + ")" if children else "")

    return ", ".join(map(render, roots))


# JSON node types that EXPLAIN's text format names by a detail (PostgreSQL's explain.c)
_AGGREGATE = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}
_SETOP = {"Hashed": "HashSetOp"}


def _json_label(node: dict[str, Any]) -> str:
    """The node's name as the text format writes it (``Update``, not ``ModifyTable``;
    ``Index Scan Backward``; ``Finalize HashAggregate``)."""
    kind = str(node.get("Node Type", "?"))
    if kind == "ModifyTable":
        return str(node.get("Operation", kind))
    if kind == "Aggregate":
        kind = _AGGREGATE.get(str(node.get("Strategy")), kind)
        mode = str(node.get("Partial Mode", "Simple"))
        return kind if mode == "Simple" else f"{mode} {kind}"
    if kind == "SetOp":
        return _SETOP.get(str(node.get("Strategy")), kind)
    if kind in ("Index Scan", "Index Only Scan") and node.get("Scan Direction") == "Backward":
        return f"{kind} Backward"
    join = str(node.get("Join Type", "Inner"))
    if join != "Inner" and kind in ("Nested Loop", "Hash Join", "Merge Join"):
        stem = kind if kind == "Nested Loop" else kind.removesuffix(" Join")  # explain.c's names
        return f"{stem} {join} Join"
    return kind


# what the text format names after "on" when a node scans no relation
_SCANNED = {"Bitmap Index Scan": "Index Name", "Function Scan": "Function Name",
            "CTE Scan": "CTE Name", "Subquery Scan": "Alias", "WorkTable Scan": "CTE Name"}


def _json_shape(node: dict[str, Any], limited: bool = False) -> tuple[str, float]:
    label = _json_label(node)
    if node.get("Parallel Aware"):
        label = f"Parallel {label}"
    kind = str(node.get("Node Type", ""))
    if kind in _SCANNED:
        if node.get(_SCANNED[kind]):
            label += f" on {node[_SCANNED[kind]]}"
    else:
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            label += f" on {node['Relation Name']}"
    miss = _miss(node.get("Plan Rows", 0), node.get("Actual Rows"), limited)
    below = limited or kind == "Limit"
    children = [_json_shape(child, below) for child in node.get("Plans", []) or []]
    if children:
        label += "(" + ", ".join(c[0] for c in children) + ")"
        miss = max(miss, *(c[1] for c in children))
    return label, miss


def _scans(shape: str) -> set[str]:
    """The scan nodes of a shape (what it reads and through which index)."""
    return set(re.findall(r"(?:Parallel )?(?:\w+ )*?Scan(?: using [^\s,()]+)?(?: on [^,()]+)?",
                          shape))  # fmt: skip


def plan_changes(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """Statements whose plan shape differs between two `perfkit.read_pg_log` frames.

    One row per statement (``fingerprint``) planned in both: ``statement`` (normalised),
    ``base_plan`` / ``cand_plan`` (each run's most frequent shape), ``changed``, ``change``
    (the scans that went and came, e.g. ``Index Scan using t_pkey on t -> Seq Scan on t``),
    ``base_ms`` / ``cand_ms`` (mean time per call of the plans' executions, ms), ``ratio``,
    ``base_calls`` / ``cand_calls``, ``added_ms`` (``(cand_ms - base_ms) * cand_calls``) and
    ``misestimate`` (the candidate's worst rows estimate, a factor). Changed plans first,
    each group by ``added_ms``, largest first.
    """
    sides = []
    for name, frame in (("base", base), ("cand", cand)):
        if not {"kind", "plan", "fingerprint", "duration_ms"} <= set(frame.columns):
            raise InputError(f"plan_changes: the {name} frame is not read_pg_log's (it needs "
                             "kind, plan, fingerprint and duration_ms)")  # fmt: skip
        plans = frame[(frame["kind"].astype(str) == "plan") & frame["plan"].notna()
                      & frame["fingerprint"].notna()]  # fmt: skip
        shapes = plans["plan"].astype(str).map(plan_shape)
        table = pd.DataFrame({"fingerprint": plans["fingerprint"].astype(str),
                              "statement": plans["normalized"].astype(str),
                              "shape": shapes.str[0], "miss": shapes.str[1],
                              "ms": plans["duration_ms"].astype(float)})  # fmt: skip
        sides.append(table)
    both = sorted(set(sides[0]["fingerprint"]) & set(sides[1]["fingerprint"]))
    groups = [dict(tuple(side.groupby("fingerprint", sort=False))) for side in sides]
    rows = []
    for key in both:
        b, c = groups[0][key], groups[1][key]
        base_plan, cand_plan = b["shape"].mode().iloc[0], c["shape"].mode().iloc[0]
        gone, came = _scans(base_plan) - _scans(cand_plan), _scans(cand_plan) - _scans(base_plan)
        change = ""
        if base_plan != cand_plan:
            change = (" + ".join(sorted(gone)) or "(same scans)") + " -> " + \
                (" + ".join(sorted(came)) or "(same scans)")  # fmt: skip
        base_ms, cand_ms = float(b["ms"].mean()), float(c["ms"].mean())
        rows.append({"statement": c["statement"].iloc[0], "base_plan": base_plan,
                     "cand_plan": cand_plan, "changed": base_plan != cand_plan,
                     "change": change, "base_ms": base_ms, "cand_ms": cand_ms,
                     "ratio": cand_ms / base_ms if base_ms > 0 else np.nan,
                     "base_calls": len(b), "cand_calls": len(c),
                     "added_ms": (cand_ms - base_ms) * len(c),
                     "misestimate": float(c["miss"].max()), "fingerprint": key})  # fmt: skip
    out = pd.DataFrame(rows, columns=["statement", "base_plan", "cand_plan", "changed", "change",
                                      "base_ms", "cand_ms", "ratio", "base_calls", "cand_calls",
                                      "added_ms", "misestimate", "fingerprint"])  # fmt: skip
    return out.sort_values(["changed", "added_ms"], ascending=[False, False],
                           ignore_index=True)  # fmt: skip
