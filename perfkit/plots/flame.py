"""Flame graphs of profiles as plotly icicles: they work in a static, offline HTML file."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from perfkit.analysis.calltree import ServerFrames, call_tree
from perfkit.io.profile import Profile
from perfkit.plots.theme import DIVERGING, SEQUENTIAL, styled

HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
    "total %{customdata[2]}<br>self %{customdata[3]}<br>%{customdata[4]} of all<extra></extra>"
)


def flame(
    profile: Profile,
    root: str | None = None,
    min_fraction: float = 0.005,
    server_frames: ServerFrames = "collapse",
) -> go.Figure:
    """Icicle of `profile`'s call tree, coloured by each node's own time share.

    The server's own frames are one ``(server)`` node unless `server_frames` is
    ``"keep"``; see `perfkit.analysis.calltree.call_tree`.
    """
    tree = call_tree(profile, root=root, min_fraction=min_fraction, server_frames=server_frames)
    fig = go.Figure(
        _icicle(
            tree,
            color=tree["self_s"] / max(tree["total_s"].iloc[0], 1e-12),
            colorscale=SEQUENTIAL,
            colorbar="own time<br>share",
            cmid=None,
        )
    )
    return styled(
        fig, f"Call tree: {_seconds(tree['total_s'].iloc[0])} profiled", _note(tree, profile)
    )


def flame_diff(
    base: Profile,
    cand: Profile,
    min_fraction: float = 0.005,
    server_frames: ServerFrames = "collapse",
) -> go.Figure:
    """Icicle of the candidate's tree coloured by the change of each node's time per request.

    Times are divided by each side's number of dumps (requests), so a
    baseline of 100 requests and a candidate of 80 compare fairly; red is
    slower, green faster, grey unchanged or new.
    """
    cand_tree = call_tree(cand, min_fraction=min_fraction, server_frames=server_frames)
    base_tree = call_tree(base, min_fraction=min_fraction / 4, server_frames=server_frames)
    per_base, per_cand = max(len(base.dumps), 1), max(len(cand.dumps), 1)
    base_total = _path_totals(base_tree) / per_base
    cand_paths = _paths(cand_tree)
    before = cand_paths.map(base_total).fillna(0.0).to_numpy()
    after = cand_tree["total_s"].to_numpy() / per_cand
    change_ms = (after - before) * 1e3
    limit = float(np.nanmax(np.abs(change_ms))) if len(change_ms) else 1.0
    fig = go.Figure(
        _icicle(
            cand_tree,
            color=change_ms,
            colorscale=DIVERGING,
            colorbar="change<br>ms/request",
            cmid=0.0,
            limit=limit or 1.0,
        )
    )
    total_change = (after[0] - base_tree["total_s"].iloc[0] / per_base) * 1e3 if len(after) else 0.0
    subtitle = (
        f"per request: {before[0] * 1e3 if len(before) else 0:.1f} → {after[0] * 1e3:.1f} ms "
        f"({total_change:+.1f} ms); {per_base} vs {per_cand} dumps. {_note(cand_tree, cand)}"
    )
    return styled(fig, "Profile change, candidate vs baseline", subtitle)


def _icicle(tree: pd.DataFrame, color, colorscale, colorbar: str, cmid, limit=None) -> go.Icicle:
    top = max(float(tree["total_s"].iloc[0]), 1e-12)
    where = [f"{f}:{line}" if f else "" for f, line in zip(tree["file"], tree["line"], strict=True)]
    custom = np.column_stack(
        [
            [html.escape(str(n)) for n in tree["name"]],
            [html.escape(w) for w in where],
            [_seconds(t) for t in tree["total_s"]],
            [_seconds(s) for s in tree["self_s"]],
            [f"{t / top:.1%}" for t in tree["total_s"]],
        ]
    )
    marker = {"colors": color, "colorscale": colorscale, "colorbar": {"title": colorbar}}
    if cmid is not None:
        marker.update(cmid=cmid, cmin=-limit, cmax=limit)
    return go.Icicle(
        ids=tree["id"],
        parents=tree["parent"],
        labels=[html.escape(str(n)) for n in tree["name"]],
        values=tree["total_s"],
        branchvalues="total",
        customdata=custom,
        hovertemplate=HOVER,
        marker=marker,
        tiling={"orientation": "v"},
        maxdepth=12,
    )


def _paths(tree: pd.DataFrame) -> pd.Series:
    """Each node's path of function labels, as one string."""
    parent = dict(zip(tree["id"], tree["parent"], strict=True))
    function = dict(zip(tree["id"], tree["function"], strict=True))
    out = []
    for node in tree["id"]:
        path = []
        while node:
            path.append(function[node])
            node = parent[node]
        out.append(" > ".join(reversed(path)))
    return pd.Series(out, index=tree.index)


def _path_totals(tree: pd.DataFrame) -> pd.Series:
    return pd.Series(tree["total_s"].to_numpy(), index=_paths(tree).to_numpy())


def _note(tree: pd.DataFrame, profile: Profile) -> str:
    if profile.kind == "sampled":
        return "Sampled: times are sample weights."
    return "Approximate tree: " + tree.attrs.get("approximation", "") + "."


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"
