"""Call trees and flame graphs of deterministic profiles, against known program structure."""

from __future__ import annotations

import cProfile
import time

import plotly.graph_objects as go
import pytest

from perfkit import read_profile
from perfkit.plots import flame


def leaf_a():
    time.sleep(0.030)


def leaf_b():
    time.sleep(0.010)


def middle():
    leaf_a()
    leaf_b()


def top():
    middle()
    leaf_b()


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("tree") / "top.prof"
    profiler = cProfile.Profile()
    profiler.runcall(top)
    profiler.dump_stats(path)
    return read_profile(path)


def node(tree, *names):
    """The tree row at the path of function names below the root."""
    current = tree[tree["parent"] == ""].iloc[0]
    for name in names:
        current = tree[(tree["parent"] == current["id"]) & (tree["name"] == name)].iloc[0]
    return current


def test_tree_follows_the_calls(profile):
    tree = profile.tree(min_fraction=0)
    assert node(tree)["total_s"] == pytest.approx(profile.total_s)
    functions = profile.functions.set_index("name")
    # one caller each: the node holds the function's whole cumulative time as pstats reports it
    # (sleeps only ever overrun on a busy machine, so the planted times are lower bounds)
    assert node(tree, "top")["total_s"] == pytest.approx(functions.loc["top", "cumtime_s"])
    assert node(tree, "top")["total_s"] >= 0.049
    leaf_a = node(tree, "top", "middle", "leaf_a")["total_s"]
    assert leaf_a == pytest.approx(functions.loc["leaf_a", "cumtime_s"]) and leaf_a >= 0.029
    # leaf_b is called from two places; each path gets its own edge's time here
    under_middle = node(tree, "top", "middle", "leaf_b")["total_s"]
    under_top = node(tree, "top", "leaf_b")["total_s"]
    assert under_middle + under_top == pytest.approx(functions.loc["leaf_b", "cumtime_s"], rel=1e-9)
    children = tree.groupby("parent")["total_s"].sum()
    for node_id, total, own in tree[["id", "total_s", "self_s"]].itertuples(index=False):
        assert own + children.get(node_id, 0.0) == pytest.approx(total, abs=1e-9)
    assert "proportion" in tree.attrs["approximation"]


def test_root_and_pruning(profile):
    sub = profile.tree(root="middle", min_fraction=0)
    assert sub.iloc[0]["name"] == "middle" and sub.iloc[0]["parent"] == ""
    assert set(sub["name"]) >= {"middle", "leaf_a", "leaf_b"} and "top" not in set(sub["name"])
    pruned = profile.tree(min_fraction=0.5)
    assert (pruned["total_s"].iloc[1:] >= 0.5 * profile.total_s).all()


def test_flame_is_a_static_icicle(profile, tmp_path):
    fig = flame(profile)
    icicle = fig.data[0]
    assert isinstance(icicle, go.Icicle) and icicle.branchvalues == "total"
    tree = profile.tree()
    assert list(icicle.ids) == list(tree["id"]) and list(icicle.parents) == list(tree["parent"])
    assert list(icicle.values) == pytest.approx(list(tree["total_s"]))
    hover = dict(zip(icicle.labels, icicle.customdata[:, 1], strict=True))
    assert hover["leaf_a"].endswith(f"test_profile_tree.py:{leaf_a.__code__.co_firstlineno}")
    assert "Approximate tree" in fig.layout.title.text
    html = tmp_path / "flame.html"
    fig.write_html(html, include_plotlyjs=True)
    assert "cdn.plot.ly" not in html.read_text()[:5000]
