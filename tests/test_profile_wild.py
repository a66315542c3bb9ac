"""Call trees and flame graphs of profiles recorded with real tools on apps other than the
warehouse (tests/data/wild/profiles/README.md: tools, versions, commands, truths).

Truths come from outside perfkit: pstats' own totals and caller edges for the cProfile
dumps, sample counts read straight from py-spy's files for the sampled ones, and the
costs planted in the recorded app (a handler that busy-loops 3x longer than another).
"""

from __future__ import annotations

import itertools
import json
import pstats
from pathlib import Path

import plotly.graph_objects as go
import pytest

from perfkit import InputError, read_profile
from perfkit.analysis.calltree import MAX_NODES
from perfkit.plots import flame
from tests.browser import open_page
from tests.conftest import DATA

WILD = DATA / "wild" / "profiles" / "recorded"
PYTHONS = ("py311", "py312", "py313")
DUMPS = sorted(WILD.glob("*.prof"))
FLASK = sorted(p for p in WILD.glob("flask-*") if p.is_dir())
PYSPY = sorted(WILD.glob("gunicorn-*"))
SOURCES = DUMPS + FLASK + PYSPY
RATE = 100  # py-spy -r 100: one sample is 0.01 s


def load(source: Path):
    return read_profile(source / "*.prof" if source.is_dir() else source)


def pstats_of(source: Path) -> pstats.Stats:
    files = sorted(source.glob("*.prof")) if source.is_dir() else [source]
    return pstats.Stats(*[str(f) for f in files])


def samples(source: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """(frames as (file, name), count) straight from py-spy's file, root frame first."""
    if source.suffix == ".json":
        doc = json.loads(source.read_text())
        frames = doc["shared"]["frames"]
        return [([(frames[i]["file"], frames[i]["name"]) for i in sample], 1)
                for profile in doc["profiles"] for sample in profile["samples"]]  # fmt: skip
    out = []
    for line in source.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = [f.rsplit(" (", 1) for f in stack.split(";") if f]
        out.append(([(f[1].rsplit(":", 1)[0], f[0]) for f in frames], int(count)))
    return out


def children(tree, node_id):
    return tree[tree["parent"] == node_id]


def path(tree, *names):
    """The row at the path of names below the root (each the largest such child)."""
    current = tree.iloc[0]
    for name in names:
        below = children(tree, current["id"])
        current = below[below["name"] == name].sort_values("total_s").iloc[-1]
    return current


def assert_drawable(tree):
    """plotly's branchvalues='total': no node smaller than its children together."""
    below = tree.groupby("parent")["total_s"].sum()
    sums = tree["id"].map(below).fillna(0.0)
    assert (tree["total_s"] >= sums * (1 - 1e-9)).all()
    assert (tree["self_s"] >= 0).all()
    assert tree["self_s"].to_numpy() == pytest.approx(
        (tree["total_s"] - sums).to_numpy(), abs=1e-12
    )


@pytest.mark.parametrize("min_fraction", [0, 0.005])
@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_root_holds_every_second_and_the_tree_draws(source, min_fraction):
    profile = load(source)
    if profile.kind == "deterministic":
        truth = pstats_of(source).total_tt
    else:
        truth = sum(count for _, count in samples(source)) / RATE
    for server_frames in ("collapse", "keep"):
        tree = profile.tree(min_fraction=min_fraction, server_frames=server_frames)
        assert tree["total_s"].iloc[0] == pytest.approx(truth, rel=1e-9)
        assert tree["self_s"].sum() == pytest.approx(truth, rel=1e-9)  # nothing lost or doubled
        assert_drawable(tree)
        # the old bug: one '(all)' node holding everything as its own time
        # (min_fraction 0: only past the 20,000-node cap can a function be left unplaced)
        assert tree["self_s"].iloc[0] < (0.02 if min_fraction else 1e-5) * truth
        if min_fraction:
            assert (tree["total_s"].iloc[1:] >= min_fraction * truth).all()


@pytest.mark.parametrize("source", DUMPS + FLASK, ids=lambda s: s.name)
def test_every_function_keeps_its_own_time(source):
    """Over its nodes, each function's own time is pstats' tottime. Where the 20,000-node cap
    bites (the dumps that import Flask or email), a function too small for a node of its
    own is charged to its callers' nodes: moved, not lost, and little of it."""
    tree = load(source).tree(min_fraction=0, server_frames="keep")
    own = tree.groupby("function")["self_s"].sum()
    stats = pstats_of(source)
    moved = 0.0
    for (file, line, name), (_, _, tt, _, _) in stats.stats.items():
        got = own.get(f"{file}:{line}({name})", 0.0)
        if len(tree) < MAX_NODES:
            assert got == pytest.approx(tt, rel=1e-9, abs=1e-12)
        moved += abs(got - tt) / 2
    assert moved < 0.05 * stats.total_tt


@pytest.mark.parametrize("source", PYSPY, ids=[s.name for s in PYSPY])
def test_sampled_leaves_are_the_files_leaves(source):
    tree = load(source).tree(min_fraction=0, server_frames="keep")
    by_leaf: dict[str, float] = {}
    for frames, count in samples(source):
        if frames:
            by_leaf[frames[-1][1]] = by_leaf.get(frames[-1][1], 0) + count / RATE
    own = tree.groupby("name")["self_s"].sum()
    for name, seconds in by_leaf.items():
        assert own[name] == pytest.approx(seconds, rel=1e-9)


@pytest.mark.parametrize("python", PYTHONS)
def test_exec_with_importlib_callers_is_the_root(python):
    """`python -m cProfile` of a script importing json/email/csv/decimal: exec is called by
    importlib too, so 'nobody calls it' finds no root; the call counts do."""
    source = WILD / f"libuse-{python}.prof"
    stats = pstats_of(source)
    exec_key = next(k for k in stats.stats if k[2] == "<built-in method builtins.exec>")
    assert stats.stats[exec_key][4], "the adversarial case: exec has callers"
    ct = {k[2]: v[3] for k, v in stats.stats.items() if k[0].endswith("libuse.py")}
    tree = load(source).tree()
    top = path(tree, "<built-in method builtins.exec>")
    assert top["total_s"] >= 0.97 * stats.total_tt
    assert path(tree, "<built-in method builtins.exec>", "<module>")["file"].endswith("libuse.py")
    main = path(tree, "<built-in method builtins.exec>", "<module>", "main")
    assert main["depth"] == 3
    assert main["total_s"] == pytest.approx(ct["main"], rel=0.05)
    for name in ("mail", "encode_json", "money"):
        node = path(tree, "<built-in method builtins.exec>", "<module>", "main", name)
        assert node["total_s"] == pytest.approx(ct[name], rel=0.05, abs=0.002)


@pytest.mark.parametrize("python", PYTHONS)
def test_pure_script_functions_at_their_depth(python):
    source = WILD / f"pure-{python}.prof"
    ct = {k[2]: v[3] for k, v in pstats_of(source).stats.items() if k[0].endswith("pure.py")}
    tree = load(source).tree()
    main = ("<built-in method builtins.exec>", "<module>", "main")
    for name in ("crunch", "tally"):
        node = path(tree, *main, name)
        assert node["depth"] == 4
        assert node["total_s"] == pytest.approx(ct[name], rel=0.01)


@pytest.mark.parametrize("python", PYTHONS)
def test_recursion_and_a_function_called_from_two_places(python):
    source = WILD / f"recurse-{python}.prof"
    stats = pstats_of(source).stats
    key = {k[2]: k for k in stats if k[0].endswith("recurse.py")}
    ct = {name: stats[k][3] for name, k in key.items()}
    tree = load(source).tree(min_fraction=0)
    main = ("<built-in method builtins.exec>", "<module>", "main")
    for name in ("fib", "is_even"):  # direct and mutual recursion: cut, time kept
        assert path(tree, *main, name)["total_s"] == pytest.approx(ct[name], rel=0.05)
    assert path(tree, *main, "is_even", "is_odd")["depth"] == 5
    assert len(tree[tree["name"] == "fib"]) == 1
    # shared(): 10 cheap calls from one caller, 1 dear call from the other; split by the
    # time on each edge (pstats' callers), not by call counts (which would be 10:1)
    edges = stats[key["shared"]][4]
    dear_edge, cheap_edge = edges[key["dear_caller"]][3], edges[key["cheap_caller"]][3]
    dear = path(tree, *main, "dear_caller", "shared")["total_s"]
    cheap = path(tree, *main, "cheap_caller", "shared")["total_s"]
    assert dear == pytest.approx(dear_edge, rel=0.05) and cheap == pytest.approx(
        cheap_edge, rel=0.1
    )
    assert dear > 2 * cheap


def test_two_roots_from_two_threads():
    """One profiler per thread merged with pstats.Stats.add: two top-level roots."""
    source = WILD / "twoprofilers-py311.prof"
    ct = {k[2]: v[3] for k, v in pstats_of(source).stats.items()}
    tree = load(source).tree()
    for name in ("job_left", "job_right"):
        node = path(tree, name)
        assert node["depth"] == 1
        assert node["total_s"] == pytest.approx(ct[name], rel=1e-3)


@pytest.mark.parametrize("python", ["py312", "py313"])
def test_threads_under_312_cprofile(python):
    """3.12+ cProfile (sys.monitoring) sees every thread through one stack, so pstats' callers
    mix threads (spin() 'called by' threading's _bootstrap). The tree follows pstats' edges,
    keeps each thread's bootstrap a root, and collapses no threading frames without a server."""
    source = WILD / f"threads-{python}.prof"
    stats = pstats_of(source).stats
    spin = next(k for k in stats if k[2] == "spin")
    caller = max(stats[spin][4].items(), key=lambda item: item[1][3])[0]
    tree = load(source).tree(min_fraction=0)
    assert "(server)" not in set(tree["name"])
    assert path(tree, "_bootstrap")["depth"] == 1
    spins = tree[tree["name"] == "spin"].sort_values("total_s")
    parent = tree.set_index("id").loc[spins["parent"].iloc[-1]]
    assert parent["name"] == caller[2] == "_bootstrap"
    assert {"worker_a", "worker_b", "main"} <= set(tree["name"])


@pytest.mark.parametrize("python", ["py311", "py312"])
def test_flask_frames_the_script_calls_are_not_collapsed(python):
    """`python -m cProfile` of a script driving a Flask app with its test client: Flask and
    Werkzeug are imported under exec and called by main(), never at the stack's bottom."""
    source = WILD / f"testclient-{python}.prof"
    ct = {k[2]: v[3] for k, v in pstats_of(source).stats.items() if k[0].endswith("client.py")}
    tree = load(source).tree()
    assert "(server)" not in set(tree["name"])
    main = path(tree, "<built-in method builtins.exec>", "<module>", "main")
    assert main["depth"] == 3 and main["file"].endswith("testclient.py")
    # 10 %: test_client() imports lazily, and recursive import machinery shares its time
    # among all its paths by edge (an import under main gets the average, not its own)
    assert main["total_s"] == pytest.approx(ct["main"], rel=0.1)
    work = tree[tree["name"] == "work"]
    assert (work["depth"] > 3).all()  # below the test client and Flask's dispatch
    assert work["total_s"].sum() == pytest.approx(ct["work"], rel=0.05)


@pytest.mark.parametrize("source", FLASK, ids=[s.name for s in FLASK])
def test_flask_middleware_dumps(source):
    """Werkzeug's ProfilerMiddleware under Gunicorn: one dump per request, merged."""
    stats = pstats_of(source).stats
    ct = {k[2]: v[3] for k, v in stats.items() if k[0].endswith("shopapp.py")}
    profile = load(source)
    tree = profile.tree(min_fraction=0)
    for name in ("slow_report", "fast_lookup", "item"):
        node = path(tree, "(server)", name)
        assert node["depth"] == 2
        assert node["total_s"] == pytest.approx(ct[name], rel=1e-3)
    # planted: slow busy-loops 90 ms, fast 30 ms, three requests each
    assert 2.4 < ct["slow_report"] / ct["fast_lookup"] < 3.6
    # a Flask helper the app calls is the app's call, not server plumbing
    jsonify = children(tree, path(tree, "(server)", "item")["id"])
    assert "jsonify" in set(jsonify["name"])
    kept = profile.tree(min_fraction=0, server_frames="keep")
    assert "(server)" not in set(kept["name"])
    assert path(kept, "runapp")["depth"] == 1
    deep = kept[kept["name"] == "slow_report"]
    assert (deep["depth"] >= 5).all()
    assert deep["total_s"].sum() == pytest.approx(ct["slow_report"], rel=1e-3)


@pytest.mark.parametrize("source", PYSPY, ids=[s.name for s in PYSPY])
def test_gunicorn_worker_flame_shows_the_app(source):
    """py-spy on a Gunicorn worker: 14 Gunicorn and 4 Flask frames above the handler (sync
    worker). By default they are one node and the handlers are at depth 2 with exactly
    their samples; the stacks with no app frame are that node's own time."""
    counts = {"slow_report": 0, "fast_lookup": 0}
    server_only = 0
    deepest = 0
    for frames, count in samples(source):
        names = [name for _, name in frames]
        for handler in counts:
            if handler in names:
                counts[handler] += count
                deepest = max(deepest, names.index(handler))
        if frames and not any(file.endswith("shopapp.py") for file, _ in frames):
            server_only += count  # (an empty stack is py-spy's "no Python frame")
    profile = load(source)
    tree = profile.tree()
    server = path(tree, "(server)")
    assert server["depth"] == 1
    assert server["self_s"] == pytest.approx(server_only / RATE, abs=1e-9)
    for handler, count in counts.items():
        node = path(tree, "(server)", handler)
        assert node["depth"] == 2
        assert node["total_s"] == pytest.approx(count / RATE, rel=1e-9)
    # planted 3:1 (90 ms vs 30 ms of busy wall time per request, requests alternating)
    assert 2.4 < counts["slow_report"] / counts["fast_lookup"] < 3.6
    # the stdlib that Gunicorn calls (email.utils.formatdate for the Date header) is the
    # server's: under the server node there is nothing but the app
    full = profile.tree(min_fraction=0)
    assert set(children(full, path(full, "(server)")["id"])["name"]) == set(counts)
    kept = profile.tree(server_frames="keep")
    assert deepest >= 11  # sync: 18 server frames above the handler; gthread's threads: 11
    assert kept.loc[kept["name"] == "slow_report", "depth"].min() == deepest + 1
    assert "(server)" not in set(kept["name"])


def test_flame_of_a_wild_dump_draws_the_app():
    profile = load(WILD / "libuse-py311.prof")
    fig = flame(profile)
    icicle = fig.data[0]
    assert isinstance(icicle, go.Icicle) and icicle.branchvalues == "total"
    assert len(icicle.ids) > 20 and "main" in set(icicle.labels)
    kept = flame(load(PYSPY[0]), server_frames="keep").data[0]
    collapsed = flame(load(PYSPY[0])).data[0]
    assert "(server)" in set(collapsed.labels) and "(server)" not in set(kept.labels)


def test_flames_draw_in_a_browser(tmp_path):
    """Headless Chromium draws every node of the flames; plotly draws nothing at all for an
    icicle whose child exceeds its parent (the control: that is what the check detects)."""
    figures = [
        flame(load(WILD / "libuse-py311.prof")),
        flame(load(WILD / "gunicorn-sync-pyspy043.json"), server_frames="keep"),
        flame(load(WILD / "flask-py312"), min_fraction=0),
        *(go.Figure(go.Icicle(ids=["a", "b"], labels=["a", "b"], parents=["", "a"],
                              values=values, branchvalues="total"))
          for values in ([1.0, 2.0], [2.0, 1.0])),  # the same icicle, child above / below parent
    ]
    html = tmp_path / "flames.html"
    html.write_text("<html><body>" + "".join(
        f.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"fig{i}")
        for i, f in enumerate(figures)) + "</body></html>")  # fmt: skip
    dom = open_page(html).dom
    cuts = [dom.index(f'id="fig{i}"') for i in range(len(figures))] + [len(dom)]
    drawn = [dom[a:b].count('class="slice cursor-pointer"') for a, b in itertools.pairwise(cuts)]
    assert drawn == [len(f.data[0].ids) for f in figures[:-2]] + [0, 2]
    assert min(drawn[:-2]) > 10


def test_server_frames_option_is_checked():
    profile = load(WILD / "pure-py311.prof")
    with pytest.raises(InputError, match="server_frames must be 'collapse' or 'keep', not 'drop'"):
        profile.tree(server_frames="drop")
