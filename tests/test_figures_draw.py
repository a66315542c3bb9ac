"""Figures that draw, as a person sees them.

plotly draws nothing at all for an icicle with ``branchvalues="total"`` when
a node is smaller than the sum of its children (plotly.js allows 1e-6
relative): every flame built from cProfile dumps used to be blank. Here:

* the invariant on the figure's data for `flame` and `flame_diff` on every
  profile of the test corpus (tests/data and the demo's data/), with the
  root's seconds against totals read independently (pstats' own numbers,
  py-spy's sample weights) and the shown seconds against the values;
* headless Chromium draws one slice per node of those icicles, with no
  plotly warning in the console;
* every figure of every report draws (each visible trace has marks on the
  SVG, each icicle all its nodes) with a quiet console; a deliberately broken
  figure injected into a report is caught (the control).
"""

from __future__ import annotations

import functools
import gzip
import json
import lzma
import marshal
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest

from perfkit import read_profile
from perfkit.plots import flame, flame_diff
from tests.browser import PLOTTED, Browser, figures, undrawn
from tests.servers import ROOT

REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\.")  # ProfilerMiddleware names
PROFILE_FILE = re.compile(
    r"\.(prof|pstats)(\.xz|\.gz)?$|pyspy.*\.(json|txt)(\.gz)?$|\.speedscope\.json$"
)


def corpus() -> list[Path]:
    """Every recorded profile under tests/data and data/: a folder of per-request dumps
    (Werkzeug's ProfilerMiddleware names) is one source, any other file is one."""
    sources: set[Path] = set()
    for top in (ROOT / "tests" / "data", ROOT / "data"):
        for path in top.rglob("*"):
            if path.is_file() and PROFILE_FILE.search(path.name):
                sources.add(path.parent if REQUEST.match(path.name) else path)
    return sorted(sources)


SOURCES = corpus()


def files_of(source: Path) -> list[Path]:
    return (
        sorted(p for p in source.iterdir() if PROFILE_FILE.search(p.name))
        if source.is_dir()
        else [source]
    )


@functools.cache
def load(source: Path):
    return read_profile(files_of(source))


def kind(source: Path) -> str:
    return "sampled" if re.search(r"pyspy|speedscope", source.name) else "deterministic"


def seconds_profiled(source: Path) -> float:
    """The profile's total time read without perfkit: the sum of every function's own time in
    the pstats dictionaries (cc, nc, tt, ct, callers), or of py-spy's sample weights (speedscope
    seconds; raw lines are counts at 100 samples per second)."""
    total = 0.0
    for path in files_of(source):
        raw = path.read_bytes()
        raw = lzma.decompress(raw) if path.suffix == ".xz" else raw
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        if kind(source) == "deterministic":
            total += sum(entry[2] for entry in marshal.loads(raw).values())
        elif raw.lstrip()[:1] == b"{":
            document = json.loads(raw)
            assert {p["unit"] for p in document["profiles"]} == {"seconds"}
            total += sum(sum(p["weights"]) for p in document["profiles"])
        else:
            total += sum(int(line.rsplit(None, 1)[-1]) for line in raw.decode().splitlines()
                         if line.strip()) / 100  # fmt: skip
    return total


def test_the_corpus_holds_every_kind_of_recording():
    names = [str(s.relative_to(ROOT)) for s in SOURCES]
    assert len(SOURCES) >= 35, names
    assert sum(kind(s) == "sampled" for s in SOURCES) >= 10
    assert sum(s.is_dir() for s in SOURCES) >= 10  # per-request dump folders
    assert "tests/data/wild/profiles/recorded/recurse-py313.prof" in names  # recursion
    assert "data/candidate/profiles" in names  # the demo's regression report


SHOWN = re.compile(r"^(?P<number>[\d.]+) (?P<unit>s|ms|µs)$")
UNIT = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}


def shown_seconds(text: str) -> tuple[float, float]:
    """A hover time as shown ("1.10 s", "3.4 ms", "12 µs"): (value in seconds, rounding)."""
    match = SHOWN.match(text)
    assert match, text
    number, unit = match["number"], UNIT[match["unit"]]
    decimals = len(number.partition(".")[2])
    return float(number) * unit, 0.5 * 10.0**-decimals * unit


def tree_problems(icicle: go.Icicle) -> list[str]:
    """What keeps plotly from drawing `icicle` or shows wrong seconds; empty when none.

    Children are summed in the trace's order, as plotly.js does, and compared without
    plotly's 1e-6 tolerance; the hover's total and self times must show the node's value
    and the value less its children's."""
    values = np.asarray(icicle.values, dtype=np.float64)
    index = {node: i for i, node in enumerate(icicle.ids)}
    children = np.zeros(len(values))
    for i, parent in enumerate(icicle.parents):
        if parent:
            children[index[parent]] += values[i]
    problems = []
    if not np.all(np.isfinite(values) & (values >= 0)):
        problems.append("a value is negative or not finite")
    roots = [i for i, parent in enumerate(icicle.parents) if not parent]
    if len(roots) != 1:
        problems.append(f"{len(roots)} roots")
    for i in np.flatnonzero(values < children):
        problems.append(
            f"node {icicle.ids[i]}: {float(values[i])!r} s < its children's {float(children[i])!r} s"
        )
    for i, row in enumerate(icicle.customdata):
        total, total_err = shown_seconds(row[2])
        own, own_err = shown_seconds(row[3])
        if abs(total - values[i]) > total_err * 1.0001 + 1e-12:
            problems.append(f"node {icicle.ids[i]}: shows total {row[2]} for {values[i]} s")
        if abs(own - (values[i] - children[i])) > own_err * 1.0001 + 1e-9 * values[i]:
            problems.append(f"node {icicle.ids[i]}: shows self {row[3]} for "
                            f"{values[i] - children[i]} s")  # fmt: skip
    return problems


def test_tree_problems_sees_a_child_larger_than_its_parent_and_a_dishonest_hover():
    """The control: the checks below are able to fail."""
    good = dict(ids=["a", "b", "c"], parents=["", "a", "a"], labels=["a", "b", "c"],
                values=[1.0, 0.6, 0.4], branchvalues="total",
                customdata=[["a", "", "1.00 s", "0 µs"], ["b", "", "600.0 ms", "600.0 ms"],
                            ["c", "", "400.0 ms", "400.0 ms"]])  # fmt: skip
    assert tree_problems(go.Icicle(**good)) == []
    over = {**good, "values": [1.0, 0.6, 0.4000000001]}  # plotly itself would allow this
    assert tree_problems(go.Icicle(**over)) == ["node a: 1.0 s < its children's 1.0000000001 s"]
    lying = {**good, "customdata": [["a", "", "1.10 s", "0 µs"], *good["customdata"][1:]]}
    assert tree_problems(go.Icicle(**lying)) == ["node a: shows total 1.10 s for 1.0 s"]


def baseline_for(source: Path) -> Path:
    """The source before `source` of the same kind (itself when first): a different profile,
    so that `flame_diff` meets paths that exist on one side only."""
    same = [s for s in SOURCES if kind(s) == kind(source)]
    at = same.index(source)
    return same[at - 1] if at else source


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: str(s.relative_to(ROOT)))
def test_flames_keep_every_node_at_least_its_children(source):
    profile = load(source)
    truth = seconds_profiled(source)
    base_source = baseline_for(source)
    base = load(base_source)
    figures = {
        "flame": flame(profile),
        "flame keep": flame(profile, server_frames="keep"),
        "flame_diff": flame_diff(base, profile),
    }
    for name, figure in figures.items():
        icicle = figure.data[0]
        assert icicle.branchvalues == "total" and len(icicle.ids) >= 3, name
        assert tree_problems(icicle) == [], name
        # the root holds the whole profile, as pstats / py-spy count it
        assert icicle.values[0] == pytest.approx(truth, rel=1e-9, abs=1e-12), name
    # started at the largest node below the root (flame(root=...)): that node's seconds
    tree = profile.tree()
    inner = tree[tree["depth"] >= 1].sort_values("total_s", ascending=False).iloc[0]
    sub = flame(profile, root=inner["function"]).data[0]
    assert tree_problems(sub) == [] and sub.values[0] == inner["total_s"]
    # flame_diff's root: the change of seconds per request, computed here independently
    per_request = len(files_of(source)), len(files_of(base_source))
    change_ms = (truth / per_request[0] - seconds_profiled(base_source) / per_request[1]) * 1e3
    assert figures["flame_diff"].data[0].marker.colors[0] == pytest.approx(change_ms, abs=1e-9)


def expected_slices(icicle) -> tuple[int, int]:
    """Slices plotly makes (one per node) and those it paints with an area: the nodes in the
    icicle's first `maxdepth` levels (deeper ones show when one clicks into the tree)."""
    depth: dict[str, int] = {}
    for node, parent in zip(icicle.ids, icicle.parents, strict=True):  # parents come first
        depth[node] = depth[parent] + 1 if parent else 0
    limit = getattr(icicle, "maxdepth", None) or math.inf
    return len(depth), sum(d < limit for d in depth.values())


def icicle_nodes(html_text: str) -> dict[str, tuple[int, int]]:
    """div id -> `expected_slices`, for every icicle in a page written by plotly."""
    out = {}
    for call in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html_text):
        data, _ = json.JSONDecoder().raw_decode(html_text, call.end())
        for trace in data:
            if trace.get("type") == "icicle":
                out[call[1]] = expected_slices(SimpleNamespace(**trace))
    return out


def write_page(path: Path, figures: list[go.Figure]) -> dict[str, tuple[int, int]]:
    """One offline page of `figures` (div ids f0, f1, ...); returns the icicles' slice counts."""
    path.write_text("<html><body>" + "".join(
        f.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"f{i}")
        for i, f in enumerate(figures)) + "</body></html>")  # fmt: skip
    return {f"f{i}": expected_slices(f.data[0]) for i, f in enumerate(figures)
            if isinstance(f.data[0], go.Icicle)}  # fmt: skip


@pytest.mark.slow
def test_flames_of_the_whole_corpus_draw_every_node_in_chromium(tmp_path):
    figures = []
    for source in SOURCES:
        profile = load(source)
        figures += [flame(profile), flame_diff(load(baseline_for(source)), profile)]
    broken = go.Figure(go.Icicle(ids=["a", "b"], parents=["", "a"], labels=["a", "b"],
                                 values=[1.0, 1.0 + 2e-6], branchvalues="total"))  # fmt: skip
    page, control = tmp_path / "flames.html", tmp_path / "control.html"
    expected = write_page(page, figures)
    assert len(expected) == 2 * len(SOURCES) and min(n for _, n in expected.values()) >= 3
    control_expected = write_page(control, [figures[0], broken])
    with Browser() as browser:
        tab = browser.open(page.as_uri())
        assert tab.wait(PLOTTED, timeout=60)
        assert undrawn(tab, expected) == []
        bad = browser.open(control.as_uri())
        assert bad.wait(PLOTTED, timeout=30)
        found = undrawn(bad, control_expected)
    assert found[:2] == [
        "f1: icicle 'trace 0' is empty",
        "f1: 0 slices for 2 nodes, 0 painted of 2",
    ]
    assert any("Total value for node a of trace 0 is smaller than the sum of its children" in m
               for m in found[2:]), found  # fmt: skip


BROKEN = """<div id="broken-icicle" class="plotly-graph-div"></div>
<div id="broken-nan" class="plotly-graph-div"></div><script>
Plotly.newPlot("broken-icicle", [{type: "icicle", ids: ["r", "c"], parents: ["", "r"],
  labels: ["r", "c"], values: [1.1036614, 1.1037047], branchvalues: "total"}]);
Plotly.newPlot("broken-nan", [{type: "scatter", x: [1, 2], y: [null, null], name: "p95"}]);
</script></body>"""


@pytest.mark.slow
def test_every_figure_of_every_report_draws_in_chromium(demo_reports, tmp_path):
    pages = {}
    for name, (html, _) in demo_reports.items():
        text = html.read_text()
        pages[name] = (html, icicle_nodes(text))
    # the control: the regression page with the blank icicle and an all-NaN line added
    control = tmp_path / "broken.html"
    head, _, tail = demo_reports["regression"][0].read_text().rpartition("</body>")
    control.write_text(head + BROKEN + tail)
    assert sum(len(n) for _, n in pages.values()) >= 1  # the regression report's flame_diff
    with Browser() as browser:
        for name, (html, icicles) in pages.items():
            tab = browser.open(html.as_uri())
            assert tab.wait(PLOTTED, timeout=60), name
            assert len(figures(tab)) >= 1, name
            assert undrawn(tab, icicles) == [], name
        tab = browser.open(control.as_uri())
        assert tab.wait(PLOTTED, timeout=60)
        found = undrawn(tab, {**pages["regression"][1], "broken-icicle": (2, 2)})
    assert found[:3] == ["broken-icicle: icicle 'trace 0' is empty",
                         "broken-icicle: 0 slices for 2 nodes, 0 painted of 2",
                         "broken-nan: scatter 'p95' is empty"], found  # fmt: skip
    assert any("Total value for node r of trace 0 is smaller" in m for m in found[3:]), found
