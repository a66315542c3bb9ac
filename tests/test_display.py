"""Readable outputs: the notebook summary is one line, reprs are short and state the object's own
verdict and sizes, tables are formatted by unit, and frames sort as they should."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfkit._display import number, one_line, unit_of, verdict_line
from perfkit.io.pg import read_pg_stat
from perfkit.io.profile import read_profile
from perfkit.report import display as pdisplay
from perfkit.report.run import extract_summary

DATA = Path(__file__).resolve().parents[1] / "data"


def _emitted(monkeypatch, summary: dict) -> dict:
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    pdisplay.emit_summary(summary)
    assert len(shown) == 1
    return shown[0]


def test_emit_summary_is_one_line_and_machine_readable(monkeypatch):
    endpoints = {f"/api/items/{i}": {"verdict": "unchanged", "n_base": i} for i in range(200)}
    summary = {"report": "regression", "baseline": "base", "candidate": "cand",
               "regressed": ["/a", "/b", "/c"], "improved": ["/d"], "errors_regressed": [],
               "queries_regressed": ["SELECT 1"], "functions_regressed": [],
               "cannot_judge": [], "ratio": float("nan"), "endpoints": endpoints}
    bundle = _emitted(monkeypatch, summary)
    text = bundle["text/plain"]
    # a reader in Lab sees one short line (Lab does not render the summary mimetype)
    assert "\n" not in text and len(text) <= 200
    assert "3 endpoints regressed" in text and "1 endpoint improved" in text
    assert "1 statement regressed" in text and "base vs cand" in text
    assert "error rate" not in text  # none regressed: not mentioned
    # the machine-readable part is whole: every endpoint, NaN as null
    data = bundle[pdisplay.SUMMARY_MIME]
    assert data["endpoints"] == endpoints and data["ratio"] is None
    # and `perfkit report --json` finds it in an executed notebook
    cell = nbformat.v4.new_code_cell("pr.emit_summary(report.summary())")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    node = nbformat.v4.new_notebook(cells=[cell])
    node = nbformat.reads(nbformat.writes(node), as_version=4)
    assert extract_summary(node) == json.loads(json.dumps(data))


@pytest.mark.parametrize(("summary", "expected"), [
    ({"report": "memory_leak", "run": "r", "leak": True, "leaks": ["w1", "w2", "w3", "w4"],
      "cannot_judge": ["x"]}, "r: leak in w1, w2, w3 and 1 more; 1 thing could not be judged"),
    ({"report": "memory_leak", "run": "r", "leak": False, "leaks": []}, "r: no leak"),
    ({"report": "memory_leak", "run": "r", "leak": None, "leaks": []},
     "r: not judged (no memory series)"),
    ({"report": "overview", "run": "r", "failing": ["api"]}, "r: api misses the targets"),
    ({"report": "overview", "run": "r", "failing": []}, "r: no route class misses its target"),
    ({"report": "capacity", "run": "r", "meets_targets": False,
      "gunicorn": {"workers": 5, "threads": 2}}, "r: 5 workers x 2 threads do not meet the targets"),
    ({"report": "capacity", "run": "r", "meets_targets": True,
      "gunicorn": {"workers": 3, "threads": 1}}, "r: 3 workers x 1 thread meet the targets"),
])
def test_verdict_line_states_the_summary(summary, expected):
    assert verdict_line(summary) == expected


def test_one_line_flattens_and_clips():
    assert one_line("a\nb\x1b[31m\u202ec", width=100) == "a b [31m c"
    clipped = one_line("x" * 300, width=50)
    assert len(clipped) == 50 and clipped.endswith("…")


# -- tables formatted by unit -------------------------------------------------------------------
def _cells(html_text: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", html_text)]


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    (1720.0, 6, "1,720"), (3.868e-05, 6, "0.000039"), (0.0367, 3, "0.037"),
    (12.345, 6, "12.3"), (4.3, 6, "4.30"), (-0.811, 6, "-0.811"), (0.0, 6, "0"),
    (1234567.8, 6, "1,234,568"), (2e-9, 6, "<0.000001"), (float("nan"), 6, ""),
])
def test_number_never_in_exponent_form(value, decimals, expected):
    assert number(value, decimals=decimals) == expected


@pytest.mark.parametrize(("column", "unit"), [
    ("p50_ms", "ms"), ("mean_ms_base", "ms"), ("tottime_s", "s"), ("cum_s_cand", "s"),
    ("time_to_limit_h", "s"), ("level_mib", "mib"), ("p_adjusted", "p"), ("rel_p_value", "p"),
    ("ncalls", "count"), ("calls", "count"), ("n_base", "count"), ("errors_cand", "count"),
    ("shared_blks_hit", "count"), ("calls_per_request_base", None),
    ("slope_mib_per_hour", None), ("ratio", None), ("time_share", None),
])
def test_unit_of_column_names(column, unit):
    assert unit_of(column) == unit


def test_table_of_a_real_profile_shows_counts_and_seconds_readably():
    functions = read_profile(sorted(DATA.glob("baseline/profiles/*.prof.xz"))).functions
    many = functions[functions["ncalls"] >= 1000]
    tiny = functions[(functions["tottime_s"] > 0) & (functions["tottime_s"] < 1e-4)]
    assert len(many) and len(tiny)  # the corpus holds both cases the issue names
    rows = pd.concat([many.head(3), tiny.head(3)])[["name", "ncalls", "tottime_s"]]
    rows = rows.assign(ncalls=rows["ncalls"].astype(float))  # a float count: was "1.72e+03"
    cells = _cells(pdisplay.table(rows, floats="{:,.3g}", index=False).data)
    for (name, ncalls, seconds), shown in zip(rows.itertuples(index=False),
                                              [cells[i:i + 3] for i in range(0, len(cells), 3)],
                                              strict=True):  # fmt: skip
        assert shown[0] == name
        assert shown[1] == f"{int(ncalls):,}"
        assert "e" not in shown[2] and len(shown[2].split(".")[-1]) <= 6
        assert float(shown[2]) == pytest.approx(seconds, rel=0.02, abs=5e-7)


def test_table_keeps_sql_line_breaks_and_formats_counts():
    snapshots = read_pg_stat(DATA / "baseline" / "pg", "statements")
    multi = snapshots[snapshots["query"].str.contains("\n", regex=False)]
    multi = multi.sort_values("calls", ascending=False).drop_duplicates("queryid").head(3)
    assert len(multi)
    shown = multi[["queryid", "calls", "total_exec_time", "query"]]
    shown = shown.assign(calls=shown["calls"].astype(float))
    out = pdisplay.table(shown, floats="{:,.3g}", index=False).data
    assert "\\n" not in out  # pandas' writer would show the newline as the text "\n"
    cells = _cells(out)
    for i, row in enumerate(shown.itertuples(index=False)):
        queryid, calls, total, query = cells[4 * i:4 * i + 4]
        assert float(total.replace(",", "")) == pytest.approx(row.total_exec_time, rel=0.01)
        assert queryid == str(row.queryid)  # an identifier: no thousands separators
        assert calls == f"{int(row.calls):,}"
        assert query == row.query  # the SQL as written, line breaks and all
    assert out.count('style="white-space:pre-wrap"') == len(shown)
    assert "<script" not in pdisplay.table(pd.DataFrame({"q": ["<script>\nx"]})).data


# -- short reprs that lead with the verdict ------------------------------------------------------
ROOT = DATA.parent
BLOG_RULES = ["/", "/<int:id>", "/user/<username>", "/create", "/auth/login", "/health"]


def _short(obj, max_lines: int = 10, max_chars: int = 1200, max_html: int = 12_000) -> tuple:
    text, page = repr(obj), obj._repr_html_()
    assert len(text.splitlines()) <= max_lines and len(text) <= max_chars, text
    assert len(page) <= max_html
    kind = type(obj).__name__
    assert text.startswith(f"<{kind}: ") and page.startswith(
        f'<div class="perfkit-repr"><p><strong>{kind}: ')  # the verdict comes first
    return text, page


@pytest.fixture(scope="module")
def blog_report():
    from perfkit.report.regression import regression_report

    return regression_report(ROOT / "tests/data/blog/base", ROOT / "tests/data/blog/grown",
                             routes=BLOG_RULES)


def test_regression_report_repr_states_its_own_verdict(blog_report):
    report = blog_report
    text, page = _short(report)
    regressed = len(report.regressed())
    assert regressed  # the grown blog is slower: the verdict line has something to say
    first = text.splitlines()[0]
    assert f"{regressed} endpoint{'s' if regressed > 1 else ''} regressed" in first
    improved = int((report.endpoints["verdict"] == "improved").sum())
    assert f"{improved} endpoint{'' if improved == 1 else 's'} improved" in first
    assert f"{len(report.base.requests):,} requests in base" in text
    assert f"{len(report.cand.requests):,} requests in grown" in text
    assert f"{len(report.endpoints):,} compared" in text
    assert f"{report.functions.attrs['functions']:,} functions compared" in text
    # the HTML's table starts with the regressed endpoints, in the object's own order
    body = page.split("<tbody>", 1)[1]
    first_rows = re.findall(r"<tr>\s*<th>([^<]*)</th>", body)[:regressed]
    assert sorted(html.unescape(r) for r in first_rows) == sorted(map(str, report.regressed().index))
    assert len(repr(report)) < len(repr(report.endpoints))  # much shorter than the 31 KB before


def test_memory_report_repr(tmp_path):
    from perfkit.report.memory import memory_report

    report = memory_report(DATA / "leak")
    text, _ = _short(report)
    leaks = report.leaks()
    assert len(leaks)  # data/leak plants a leak
    assert f"{len(report.run.memory):,} samples" in text
    for _, row in leaks.iterrows():
        assert str(row["pid"]) in text.splitlines()[0]
    counts = report.fits["verdict"].value_counts()
    assert all(f"{n:,} {v}" in text for v, n in counts.items())


def test_profile_and_hotspots_reprs_state_their_sizes():
    import perfkit

    profile = read_profile(sorted(DATA.glob("baseline/profiles/*.prof.xz")))
    text, page = _short(profile)
    assert f"{profile.total_s:.3g} s of own time in {len(profile.dumps)} dumps" in text
    assert f"functions: {len(profile.functions):,}" in text
    assert f"call edges: {len(profile.edges):,}" in text
    top = profile.functions.loc[profile.functions["tottime_s"].idxmax(), "name"]
    assert html.escape(top) in page and top in text
    spots = perfkit.hotspots(profile)
    text, _ = _short(spots)
    share = spots.by_self["share"].iloc[0]
    assert f"({share:.0%})" in text.splitlines()[0]


def test_reprs_escape_and_flatten_names_from_the_data():
    from perfkit.analysis.hotspots import HotSpots

    hostile = "<script>alert(1)</script>\n\x1b[31m\u202eevil"
    frame = pd.DataFrame({"function": ["f"], "name": [hostile], "group": ["app"], "package": [""],
                          "ncalls": [3], "tottime_s": [0.5], "cumtime_s": [0.5], "share": [0.5]})
    groups = pd.DataFrame({"group": ["app"], "package": [""], "self_s": [0.5], "share": [0.5]})
    spots = HotSpots(frame, frame, groups, 1.0)
    text, page = _short(spots)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "\x1b" not in text and "\u202e" not in text and len(text.splitlines()) == 3


def test_change_points_repr_names_the_planted_change():
    import numpy as np

    import perfkit

    rng = np.random.default_rng(3)
    series = np.r_[np.zeros(25), np.full(25, 8.0)] + rng.normal(0, 0.5, 50)
    found = perfkit.change_points(series, model="mean")
    text, _ = _short(found)
    assert found.points == [25]
    assert text.splitlines()[0] == "<ChangePoints: 1 change at 25>"
    assert "2 over 50 runs" in text


# -- light notebooks, self-contained exports -----------------------------------------------------
FIGURE_CELL = """import pandas as pd
import plotly.graph_objects as go
import perfkit.report as pr
pr.setup(standalone={standalone})
go.Figure(go.Bar(x=["a", "b", "c"], y=[1, 3, 2]))"""
FRAME_CELL = """pd.DataFrame({"calls": [1720.0, 3.0], "tottime_s": [3.868e-05, 0.5],
              "query": ["SELECT 1\\nFROM t", "<b>x</b>"]})"""
LONG_CELL = """pd.DataFrame({"n": range(1000), "mean_ms": [0.00123 * i for i in range(1000)]})"""


def _executed(standalone: bool) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    node = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# figure"),
        nbformat.v4.new_code_cell(FIGURE_CELL.format(standalone=standalone)),
        nbformat.v4.new_code_cell(FRAME_CELL), nbformat.v4.new_code_cell(LONG_CELL)])  # fmt: skip
    NotebookClient(node, kernel_name="python3", timeout=180).execute()
    return node


@pytest.mark.slow
def test_notebooks_stay_light_and_the_html_export_embeds_plotlyjs_once(tmp_path):
    from perfkit.report.run import export_html
    from tests.browser import open_page

    light, standalone = _executed(False), _executed(True)
    light_text, standalone_text = nbformat.writes(light), nbformat.writes(standalone)
    # the interactive notebook: the figure as plotly's mimetype (JupyterLab draws it), no
    # plotly.js; standalone (for JupyterLab's own HTML export): plotly.js once, ~4.6 MB
    assert pdisplay.PLOTLY_MIME in light.cells[1].outputs[-1]["data"]
    assert "plotly.js v" not in light_text and len(light_text) < 60_000
    assert standalone_text.count("plotly.js v") == 1 and len(standalone_text) > 3_000_000
    # frames shown in the notebook: by unit as the reports' tables, SQL with its line break,
    # text escaped; a long frame cut to its first and last rows
    frame_html = light.cells[2].outputs[0]["data"]["text/html"]
    assert "<td>1,720</td>" in frame_html and "<td>0.000039</td>" in frame_html
    assert "SELECT 1\nFROM t</td>" in frame_html and "\\n" not in frame_html
    assert "&lt;b&gt;x&lt;/b&gt;" in frame_html
    long_html = light.cells[3].outputs[0]["data"]["text/html"]
    assert long_html.count("<tr>") == 10 and "of 1,000 rows" in long_html
    assert "<td>999</td>" in long_html and "<td>1.23</td>" in long_html  # 1,000 x 0.00123
    # perfkit report's export: plotly.js once, ahead of the first figure, either way
    for name, node in (("light", light), ("standalone", standalone)):
        page = export_html(node, {"title": name})
        assert page.count("plotly.js v") == 1, name
        assert page.index("plotly.js v") < page.index('class="plotly-graph-div'), name
        assert len(nbformat.writes(node)) == len(light_text if name == "light"
                                                 else standalone_text)  # fmt: skip
        (tmp_path / f"{name}.html").write_text(page)
    drawn = open_page(tmp_path / "light.html")  # offline, in Chromium: the bars draw
    assert drawn.count('class="main-svg"') >= 2 and 'data-perfkit-errors="0"' in drawn.dom
