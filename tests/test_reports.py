"""The notebooks as users get them: papermill runs, verdicts against the data's ground truth,
HTML opened in a real Chromium offline, hostile strings, secrets, report size, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from perfkit.report.run import run_report
from tests.browser import open_page
from tests.servers import ROOT

pytestmark = pytest.mark.slow
DATA = ROOT / "data"
FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
PWNED = "data-pwned"


def expect(scenario: str) -> dict:
    from examples.warehouse.record import PLANS

    return PLANS[scenario].expect


@pytest.fixture(scope="module")
def demo(demo_reports):
    """`perfkit demo`'s four reports (run_demo, once per session: tests/conftest.py)."""
    return demo_reports


def test_demo_writes_four_reports_that_find_the_planted_truth(demo):
    assert set(demo) == {"overview", "regression", "memory_leak", "capacity"}
    regression = demo["regression"][1]  # data/baseline against data/candidate by default
    assert sorted(regression["regressed"]) == sorted(expect("candidate")["regressed_routes"])
    assert regression["queries_regressed"]  # the scan that replaced the dropped index
    assert demo["memory_leak"][1]["leak"] is expect("leak")["leak"]
    capacity = demo["capacity"][1]
    assert capacity["usl"]["peak_throughput"] > 0 and capacity["gunicorn"]["workers"] >= 1
    assert not demo["overview"][1]["failing"]  # the baseline meets the brief's targets


def test_the_aa_pair_and_the_recycling_run_raise_no_alarm(tmp_path):
    aa = run_report("regression", {"candidate": "data/baseline_repeat"}, tmp_path / "aa.html")
    assert aa["regressed"] == expect("baseline_repeat")["regressed_routes"] == []
    recycling = run_report("memory_leak", {"run": "data/recycling"}, tmp_path / "r.html")
    assert recycling["leak"] is expect("recycling")["leak"] is False
    assert recycling["recycled_workers"] >= 2  # the sawtooth was there to be fooled by


def test_every_report_renders_offline_in_chromium(demo):
    for name, (html, _) in demo.items():
        text = html.read_text()
        assert text.count("plotly.js v") == 1, name  # embedded once
        assert not [s for s in ("<script src=", "<link href=\"http", "<img src=\"http")
                    if s in text], name  # fmt: skip
        page = open_page(html)
        divs = page.count('class="plotly-graph-div')
        assert divs >= 1, name
        assert page.count('class="main-svg"') >= 2 * divs, name  # every figure drew its SVG
        assert 'data-perfkit-errors="0"' in page.dom, name
        assert not [m for m in page.console if "rror" in m], (name, page.console)
        assert 'id="perfkit-toc"' in page.dom and "Contents" in page.dom


def write_run(folder, lines: int, seed: int = 0, payload: str = "", secret: str = ""):
    """A small run folder: a Gunicorn access log of `lines` requests over an hour."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    routes = ["/dashboard", "/api/orders/{}", "/api/stock/SKU-{:06d}", "/static/app.css"]
    with open(folder / "access.log", "w") as out:
        for i in range(lines):
            path = routes[i % 4].format(int(rng.integers(1, 9999)))
            if payload and i % 50 == 0:
                path = f"/api/{payload}"
            query = f"?api_key={secret}&page=2" if secret and i % 7 == 0 else ""
            agent = payload if payload and i % 3 == 0 else "Mozilla/5.0"
            second = i * 3600 // lines
            stamp = f"27/Nov/2026:{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            micros = int(rng.lognormal(np.log(20_000), 0.6))
            out.write(f'10.0.0.{i % 250} - - [{stamp} +0000] "GET {path}{query} HTTP/1.1" 200 '
                      f'512 "-" "{agent}" {micros}\n')  # fmt: skip
    (folder / "access_log_format.txt").write_text(FORMAT + "\n")
    return folder


def test_report_size_does_not_grow_with_input(tmp_path):
    small = write_run(tmp_path / "small", 3_000, seed=1)
    large = write_run(tmp_path / "large", 30_000, seed=2)
    sizes = {}
    for run in (small, large):
        run_report("overview", {"run": str(run)}, tmp_path / f"{run.name}.html")
        sizes[run.name] = (tmp_path / f"{run.name}.html").stat().st_size
    assert sizes["large"] <= sizes["small"] * 1.10, sizes


def test_hostile_strings_are_shown_never_run(tmp_path, pg):
    # no space or double quote, so the request line stays one token, as an attacker would send it
    payload = (f"<img/src=x/onerror=document.body.setAttribute('{PWNED}','1')>"
               f"<script>document.body.setAttribute('{PWNED}','2')</script>")  # fmt: skip
    base = write_run(tmp_path / "base", 2_000, seed=3, payload=payload)
    cand = write_run(tmp_path / "cand", 2_000, seed=4, payload=payload)
    store = base / "pg"
    from perfkit import snapshot_pg

    snapshot_pg(pg.dsn(), store, views=("statements",))
    for _ in range(3):
        pg.psql(f"select 1 as x /* {payload.replace('/*', '')} */")
    snapshot_pg(pg.dsn(), store, views=("statements",))
    shutil.copytree(store, cand / "pg")
    pages = []
    for name, params in (("overview", {"run": str(base)}),
                         ("regression", {"baseline": str(base), "candidate": str(cand)})):  # fmt: skip
        html = tmp_path / f"{name}.html"
        run_report(name, params, html)
        text = html.read_text()
        assert "&lt;img/src=x/onerror=" in text, name  # shown, as text
        pages.append(open_page(html))
    for page in pages:
        assert PWNED not in page.dom.replace(f"setAttribute('{PWNED}'", "")  # never executed
        assert 'data-perfkit-errors="0"' in page.dom


def test_secrets_never_reach_any_output(tmp_path, pg):
    token, password = "PLANTEDTOKEN8f3a", "PLANTEDPASSWORDq7"
    run = write_run(tmp_path / "run", 1_500, seed=5, secret=token)
    html, summary = tmp_path / "overview.html", tmp_path / "overview.json"
    os.environ["PERFKIT_PG_DSN"] = pg.dsn(password=password)
    try:
        result = run_report("overview", {"run": str(run), "pg_window_s": 0.5}, html, summary,
                            keep_notebook=True)  # fmt: skip
    finally:
        del os.environ["PERFKIT_PG_DSN"]
    assert "n_plus_one_suspects" in result
    executed = html.with_suffix(".ipynb")
    outputs = {p: p.read_text() for p in (html, summary, executed)}
    assert "live: host=127.0.0.1" in outputs[html]  # the live server was used, password-free
    for path, text in outputs.items():
        assert token not in text and password not in text, path
    assert "api_key=REDACTED" in outputs[html] or "REDACTED" in outputs[executed]


def perfkit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "perfkit"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_cli_report_parameters_gates_and_failures(tmp_path):
    bad = perfkit_cli("report", "regression", "-p", "candidat=data/candidate")
    assert bad.returncode == 2
    assert "unknown parameter(s) candidat" in bad.stderr and "valid: alpha, baseline" in bad.stderr
    gate = perfkit_cli("report", "regression", "-o", str(tmp_path / "r.html"), "--json",
                       str(tmp_path / "r.json"), "--fail-on-regression")  # fmt: skip
    assert gate.returncode == 1, gate.stderr
    assert "regressed: " in gate.stderr and (tmp_path / "r.html").exists()
    assert json.loads((tmp_path / "r.json").read_text())["parameters"]["candidate"] == (
        "data/candidate"
    )
    broken = perfkit_cli("report", "memory_leak", "-p", "run=data/no-such-run", "-o",
                         str(tmp_path / "m.html"))  # fmt: skip
    assert broken.returncode == 2
    assert "no-such-run: no such run folder" in broken.stderr
    assert (tmp_path / "m.ipynb").exists()  # the partly executed notebook, for diagnosis


def test_notebooks_are_committed_thin_and_clean():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        assert book.metadata["kernelspec"]["name"] == "python3", path
        assert book.metadata["kernelspec"]["language"] == "python", path
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path
                assert len(cell.source.splitlines()) <= 12, (path, cell.source)  # thin


def test_notebooks_run_top_to_bottom_as_in_jupyterlab(tmp_path):
    """JupyterLab starts kernels in the notebook's folder: the defaults must work from there."""
    import nbformat
    import papermill

    out = tmp_path / "memory_leak.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "memory_leak.ipynb"), str(out),
                               cwd=str(ROOT / "notebooks"), kernel_name="python3",
                               progress_bar=False)  # fmt: skip
    book = nbformat.read(out, as_version=4)
    kinds = {k for c in book.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert "application/vnd.plotly.v1+json" in kinds  # JupyterLab's own plotly renderer
    assert "text/html" in kinds


def test_memory_and_capacity_reports_on_a_tiny_fixture(tmp_path):
    run = write_run(tmp_path / "tiny", 1_200, seed=6)
    rows = ["time,pid,ppid,role,rss_bytes,uss_bytes,name"]
    for second in range(0, 600, 5):  # ten minutes; worker 11 leaks 2 MiB a minute, 12 is flat
        stamp = f"2026-11-27T10:{second // 60:02d}:{second % 60:02d}+00:00"
        rows.append(f"{stamp},10,1,master,{30 * 2**20},0,python")
        rows.append(f"{stamp},11,10,worker,{(80 + 2 * second / 60) * 2**20:.0f},0,python")
        rows.append(f"{stamp},12,10,worker,{(80 + (second % 7) / 10) * 2**20:.0f},0,python")
    (run / "memory.csv").write_text("\n".join(rows) + "\n")
    memory = run_report("memory_leak", {"run": str(run), "limit_mib": 200}, tmp_path / "m.html")
    assert memory["leak"] and memory["leaks"] == ["worker 11"]
    assert memory["processes"]["worker 11"]["slope"] == pytest.approx(120, rel=0.02)  # MiB/h
    assert memory["processes"]["worker 12"]["verdict"] != "leak"
    capacity = run_report("capacity", {"run": str(run)}, tmp_path / "c.html")
    assert capacity["usl"] is None  # no step load in the fixture: said, not guessed
    assert capacity["gunicorn"]["workers"] >= 2 and capacity["meets_targets"] is True
    for html in (tmp_path / "m.html", tmp_path / "c.html"):
        page = open_page(html)
        assert 'data-perfkit-errors="0"' in page.dom and page.count('class="main-svg"') >= 2
