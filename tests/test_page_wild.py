"""The page and the terminal on runs recorded with real Gunicorn on an app that is not ours.

Inputs: ``tests/data/wild/page/`` (a flaskr-like blog; provenance and truth in its README):
``flaskr_base`` (timed log, a quiet period of ~8 s, a route rule over 200 characters, one
rejected line, no PostgreSQL statistics) and ``flaskr_untimed`` (Gunicorn's default format,
no request times). Truth comes from the files themselves (line counts, an independent regex,
the seconds that hold requests) and from the notebooks' own source, never from perfkit.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import tokenize
import warnings
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
WILD = ROOT / "tests" / "data" / "wild" / "page"
BASE, UNTIMED = WILD / "flaskr_base", WILD / "flaskr_untimed"
PERFKIT = str(Path(sys.executable).with_name("perfkit"))
# Gunicorn's line with %(D)s, written independently of perfkit's parser
TIMED_LINE = re.compile(r'^\S+ \S+ \S+ \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) [+-]\d{4}\] '
                        r'"[^"]*" \d{3} \S+ "[^"]*" "[^"]*" \d+$')  # fmt: skip


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def overview(tmp_path_factory):
    """`perfkit report overview` on flaskr_base through the CLI: (process, html, notebook, json)."""
    out = tmp_path_factory.mktemp("page") / "flaskr_base.html"
    run = subprocess.run(
        [PERFKIT, "report", "overview", "-p", f"run={BASE}", "-o", str(out),
         "--json", str(out.with_suffix(".json")), "--keep-notebook"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    notebook = nbformat.read(out.with_suffix(".ipynb"), as_version=4)
    return run, out.read_text(encoding="utf-8"), notebook, out.with_suffix(".json")


def test_recorded_inputs_hold_what_the_readme_says():
    lines = _lines(BASE / "access.log")
    bad = [i for i, text in enumerate(lines, 1) if not TIMED_LINE.match(text)]
    assert (len(lines), bad) == (301, [301])
    assert any(len(line.split('"')[1].split()[1]) > 200 for line in lines[:-1])
    assert not (BASE / "pg").exists()
    assert all(not TIMED_LINE.match(text) for text in _lines(UNTIMED / "access.log"))


def test_the_cli_user_sees_no_kernel_noise_and_the_page_no_python_warnings(overview):
    run, page, notebook, _ = overview
    assert run.stderr == ""  # no "KeyboardInterrupt caught in kernel", no [IPKernelApp] notice
    streams = [o for c in notebook.cells for o in c.get("outputs", [])
               if o.get("output_type") == "stream" and o.get("name") == "stderr"]  # fmt: skip
    assert streams == []
    text = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)  # plotly.js says "Warning:"
    assert "site-packages" not in text and "Warning:" not in text
    assert "Message serialization failed" not in json.dumps(notebook)


def test_perfkit_warnings_are_path_free_notes_in_the_data_trust_section(overview):
    _, page, _, _ = overview
    notes = re.findall(r'<div class="perfkit-notes".*?</div>', page, flags=re.S)
    assert len(notes) == 1
    trust = page.index('id="Data-trust"')
    assert page.index(notes[0]) > trust  # in the data-trust section, not where it was raised
    # the one rejected line: 1 of the 301 lines, the last one, named by folder and file only
    assert "1 of 301 lines were rejected" in notes[0]
    assert "flaskr_base/access.log:301" in notes[0]
    assert "tests/data/wild" not in notes[0] and str(ROOT) not in notes[0]


def test_run_folder_with_underscore_shows_no_backslash(overview):
    _, page, _, _ = overview
    assert "flaskr\\_base" not in page
    assert re.search(r"<title>Service overview: flaskr_base</title>", page)
    assert re.search(r"<code>[^<]*flaskr_base</code>", page)


def test_no_postgresql_statistics_said_once(overview):
    _, page, _, _ = overview
    assert page.count("No PostgreSQL statistics in this run.") == 1


def test_summary_payload_and_figures_are_strict_json(overview):
    _, _, notebook, summary = overview
    json.loads(summary.read_text(), parse_constant=lambda c: pytest.fail(c))
    figures = [o["data"]["application/vnd.plotly.v1+json"] for c in notebook.cells
               for o in c.get("outputs", []) if "application/vnd.plotly.v1+json" in
               o.get("data", {})]  # fmt: skip
    assert figures
    for figure in figures:
        json.dumps(figure, allow_nan=False)


def test_latency_timeline_leaves_the_quiet_period_as_gaps(overview):
    _, page, notebook, _ = overview
    seconds = sorted({m[1] for m in map(TIMED_LINE.match, _lines(BASE / "access.log")) if m})
    import datetime as dt

    stamps = [dt.datetime.strptime(s, "%d/%b/%Y:%H:%M:%S") for s in seconds]
    span = int((stamps[-1] - stamps[0]).total_seconds()) + 1
    quiet = span - len(stamps)
    assert quiet >= 5  # the recording paused 8 s between its two bursts
    assert f"percentiles per 1s bucket; gaps: {quiet} bucket(s) without requests" in page
    timeline = [f for c in notebook.cells for o in c.get("outputs", [])
                for f in [o.get("data", {}).get("application/vnd.plotly.v1+json")]
                if f and "Latency over the run" in f["layout"]["title"]["text"]]  # fmt: skip
    p95 = timeline[0]["data"][1]["y"]  # plotly's typed array: base64 of float64
    import base64

    import numpy as np

    values = np.frombuffer(base64.b64decode(p95["bdata"]), dtype=p95["dtype"])
    assert len(values) == span and int(np.isnan(values).sum()) == quiet


def test_no_latency_chart_without_request_times():
    from perfkit.plots.charts import latency_timeline, timeline_missing
    from perfkit.report.overview import overview_report

    report = overview_report(UNTIMED)
    shown = report.timeline()
    assert not hasattr(shown, "to_plotly_json")  # a sentence, not a figure
    assert "no request times" in shown.data
    assert latency_timeline(report.run.requests, "x") is None
    # the easy rule ("no rows") is wrong here: rows exist, timings do not
    assert len(report.run.requests) == len(_lines(UNTIMED / "access.log"))
    timed = overview_report(BASE).run.requests
    assert timeline_missing(timed) == ""
    assert "of these routes" in timeline_missing(timed, routes=["/no/such/route"])
    assert "holds no requests" in timeline_missing(timed.iloc[0:0])


def test_missing_reason_once_per_group_but_distinct_reasons_each_shown():
    from perfkit.report.overview import overview_report

    report = overview_report(BASE)
    shown = [report.db_table(n) for n in
             ("slow", "top", "n_plus_one", "cache", "seq_scans", "unused_indexes")]  # fmt: skip
    assert [s is not None for s in shown] == [True] + [False] * 5
    assert report._once("database", "tables lack x") is not None
    assert report._once("database", "indexes lack y") is not None
    assert report._once("database", "tables lack x") is None
    assert report._once("memory", "No PostgreSQL statistics in this run.") is not None


def test_markdown_significant_run_names_cannot_inject_markup():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from perfkit.report.display import md

    name = "runs/a_b*c*<script>alert(1)</script>[x](javascript:alert(1))`tick`"
    rendered = markdown2html_mistune(md("**{title}**: `{run}`", title="T_1 <b>", run=name).data)
    assert "<script>" not in rendered and "<a " not in rendered and "<b>" not in rendered
    assert "\\" not in rendered  # no Markdown escape shows
    assert "a_b*c*&lt;script&gt;" in rendered and "T_1 &lt;b&gt;" in rendered


def test_page_title_is_escaped(tmp_path):
    from perfkit.report.run import export_html

    node = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x")])
    page = export_html(node, {"title": "A <b>", "run": "runs/x_y</title><script>"})
    title = re.search(r"<title>(.*?)</title>", page, flags=re.S).group(1)
    assert "<" not in title and title == "A &lt;b&gt;: title&gt;&lt;script&gt;"


def test_nan_in_a_figure_is_null_in_its_payload():
    import numpy as np
    import plotly.graph_objects as go
    import plotly.io as pio

    from perfkit.report.display import setup

    shown = warnings.showwarning
    try:
        setup()
    finally:
        warnings.showwarning = shown
    figure = go.Figure(go.Scatter(x=[1, 2, 3], y=[1.0, np.nan, np.inf]))
    bundle = pio.renderers["perfkit"].to_mimebundle(figure.to_dict())
    payload = bundle["application/vnd.plotly.v1+json"]
    json.dumps(payload, allow_nan=False)
    assert payload["data"][0]["y"] == [1.0, None, None]


def test_warnings_perfkit_as_notes_others_not_on_the_page(capsys):
    from perfkit.errors import PerfkitWarning
    from perfkit.report import display

    class Rejected(PerfkitWarning):
        pass

    shown = warnings.showwarning
    try:
        display.setup()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = display._show_warning
            warnings.warn(Rejected(f"{BASE / 'access.log'}: 2 rows left out"), stacklevel=1)
            warnings.warn("Out of range float values", UserWarning, stacklevel=1)
        note = display.notes()
    finally:
        warnings.showwarning = shown
    assert "flaskr_base/access.log: 2 rows left out" in note.data
    assert str(WILD) not in note.data and "Out of range" not in note.data
    assert display.notes() is None  # shown once
    assert "Out of range" not in capsys.readouterr().out


def test_wide_tables_scroll_inside_their_box_in_chromium(overview, tmp_path):
    pytest.importorskip("tests.browser")
    from tests.browser import chromium, open_page

    try:
        chromium()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    _, page, _, _ = overview
    probe = """<script>window.addEventListener("load", function () { setTimeout(function () {
      var out = [], view = document.documentElement.clientWidth;
      document.querySelectorAll("table").forEach(function (t) {
        var box = t.parentElement, style = getComputedStyle(box);
        out.push([Math.round(t.getBoundingClientRect().right),
                  Math.round(box.getBoundingClientRect().right), style.overflowX,
                  box.scrollWidth > box.clientWidth]);
      });
      document.body.setAttribute("data-tables", JSON.stringify(
        {view: view, page: document.documentElement.scrollWidth, tables: out}));
    }, 500); });</script></body>"""
    path = tmp_path / "probe.html"
    path.write_text(page.replace("</body>", probe, 1), encoding="utf-8")
    dom = open_page(path).dom
    found = json.loads(re.search(r'data-tables="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert found["tables"], dom[:500]
    assert found["page"] <= found["view"]  # nothing pushes the page sideways
    wide = [t for t in found["tables"] if t[0] > t[1]]
    assert wide  # the endpoint table with the 250-character route is wider than the page
    for _right, box_right, overflow, scrolls in wide:
        assert box_right <= found["view"] and overflow == "auto" and scrolls


def _parameters_cell(notebook: Path) -> dict[str, tuple[str, str]]:
    """name -> (default source, comment) from the tagged parameters cell, read with tokenize."""
    node = nbformat.read(notebook, as_version=4)
    cell = next(c for c in node.cells if "parameters" in c.metadata.get("tags", []))
    found = {}
    for statement in ast.parse(cell.source).body:
        line = cell.source.splitlines()[statement.lineno - 1]
        comments = [t.string for t in tokenize.generate_tokens(io.StringIO(line).readline)
                    if t.type == tokenize.COMMENT]  # fmt: skip
        found[statement.targets[0].id] = (ast.get_source_segment(cell.source, statement.value),
                                          comments[0].lstrip("# ") if comments else "")  # fmt: skip
    return found


@pytest.mark.parametrize("name", ["overview", "regression"])
def test_report_help_lists_parameters_with_defaults_and_comments(name):
    from perfkit.cli import main

    truth = _parameters_cell(ROOT / "notebooks" / f"{name}.ipynb")
    run = subprocess.run([PERFKIT, "report", name, "--help"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "--fail-on-regression" in run.stdout  # the command's own options are still there
    listed = run.stdout.split("parameters of report", 1)[1].splitlines()[1:]
    assert len(listed) == len(truth)
    for line, (key, (default, comment)) in zip(listed, truth.items(), strict=True):
        assert re.match(rf"\s+{key} = {re.escape(default)}\s*{re.escape(comment)}$", line), line
    assert main(["report", "no_such_report", "--help"]) == 2


def test_summary_cuts_long_routes_for_the_terminal():
    import pandas as pd

    from perfkit.cli import ROUTE_WIDTH, terminal_table

    sent = json.loads((BASE / "sent.json").read_text())
    long_path = max((s["path"] for s in sent), key=len)
    route = long_path.rsplit("/", 1)[0] + "/{id}"
    assert len(route) > 200
    exact = "/r" + "x" * (ROUTE_WIDTH - 2)  # fits exactly: never cut
    hostile = "/\x1b[31mred\x1b[0m/" + "y" * 100
    table = pd.DataFrame({"count": [60, 5, 2], "mean_ms": [3.9, 1.0, 2.0]},
                         index=pd.Index([route, exact, hostile], name="route"))  # fmt: skip
    wide = terminal_table(table, columns=200)
    assert route[:40] + "…" + route[-20:] in wide
    assert exact in wide and "\x1b" not in wide and "\\x1b[31mred" in wide
    assert max(map(len, wide.splitlines())) <= 200
    narrow = terminal_table(table, columns=60)
    assert max(map(len, narrow.splitlines())) <= 60
    assert route not in narrow and route[:10] in narrow and route[-8:] in narrow
    tiny = terminal_table(table, columns=20)  # no room at all: the narrowest cut, 24 characters
    assert route[:15] + "…" + route[-8:] in tiny


def test_summary_cli_on_the_wild_log_stays_within_the_terminal():
    fmt = (BASE / "access_log_format.txt").read_text().strip()
    run = subprocess.run([PERFKIT, "summary", str(BASE / "access.log"), "--format", fmt],
                         capture_output=True, text=True, timeout=120,
                         env={"COLUMNS": "150", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= 150
    assert "…" in run.stdout and "/reports/quarterly" in run.stdout


def test_import_perfkit_then_plots_works_and_stays_light():
    code = ("import sys, perfkit; heavy = {'plotly', 'pandas', 'scipy'} & set(sys.modules); "
            "print(sorted(heavy)); print(perfkit.plots.flame.__module__)")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert run.stdout.split("\n")[:2] == ["[]", "perfkit.plots.flame"]


@pytest.mark.parametrize("kind", ["memory", "capacity"])
def test_memory_and_capacity_show_perfkit_warnings_as_notes_once(kind, tmp_path):
    """Like the overview and regression pages: a perfkit warning raised while the report reads
    its run is a styled note (path cut to folder and file) and not a row of the trust table."""
    import shutil

    from perfkit.errors import PerfkitWarning
    from perfkit.report import display
    from perfkit.report.capacity import capacity_report
    from perfkit.report.memory import memory_report

    run = tmp_path / "flaskr_base"
    shutil.copytree(WILD.parent / "loadmem" / "leak" if kind == "memory" else BASE, run)
    shown = warnings.showwarning
    try:
        display.setup()
        display.pending_notes(mark_shown=True)  # nothing left from other tests
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = display._show_warning
            report = (memory_report if kind == "memory" else capacity_report)(run)
            warnings.warn(PerfkitWarning(f"{run / 'access.log'}: 3 rows left out"), stacklevel=1)
            page = report.trust()._repr_html_()
    finally:
        warnings.showwarning = shown
    assert 'class="perfkit-notes"' in page
    assert "flaskr_base/access.log: 3 rows left out" in page
    assert page.count("3 rows left out") == 1 and str(tmp_path) not in page
