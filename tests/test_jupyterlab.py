"""The notebooks as a person sees them in JupyterLab: a real ``jupyter lab`` from the venv on
127.0.0.1 (a free port, a token, a throw-away root holding copies of notebooks papermill
executed on data/), each notebook opened in headless Chromium; every figure cell draws and no
output cell holds more than a screenful of text."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from tests.browser import Browser, undrawn

pytestmark = pytest.mark.slow
NOTEBOOKS = ("regression", "memory_leak")  # the flame_diff and the time series
CONTROL = "control"  # a notebook with a blank icicle and a wall of text: the checks must fail
PLOTLY = "application/vnd.plotly.v1+json"
SCREEN_LINES, SCREEN_BYTES = 40, 4096  # a screenful of text
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in view
FIGURE = f"{PANEL} .jp-RenderedPlotly"  # Lab's plotly renderer: the output is the figure's div
# per code cell with outputs: its position and the text of its outputs other than figures
OUTPUT_TEXT_JS = r"""
Array.from(document.querySelectorAll('PANEL .jp-CodeCell'))
  .map((cell, index) => ({
    index,
    shown: (cell.style.contentVisibility = 'visible'),  // off-screen cells have text too
    text: Array.from(cell.querySelectorAll('.jp-OutputArea-output'))
      .filter(out => !out.matches('.js-plotly-plot') && !out.querySelector('.js-plotly-plot'))
      .map(out => out.innerText).join('\n'),
  })).filter(cell => cell.text.trim())
""".replace("PANEL", PANEL)
# scroll each figure into view, as one reads: (figures, figures with their SVG)
SCROLL_JS = f"""(() => {{
  const outs = Array.from(document.querySelectorAll('{FIGURE}'));
  outs.forEach(out => out.scrollIntoView());
  return [outs.length, outs.filter(o => o.querySelector('.main-svg')).length];
}})()"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def shut_kernels(base: str, token: str) -> None:
    """Ask the server to shut down every kernel it started (bounded; errors ignored)."""
    try:
        with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=5) as reply:
            kernels = json.load(reply)
        for kernel in kernels:
            request = urllib.request.Request(
                f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
            )
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass


@pytest.fixture(scope="module")
def lab(demo_reports, tmp_path_factory):
    """A running JupyterLab on a copy of the executed notebooks: (base URL, token, root).
    At teardown its kernels are shut down through its API and its process group ended."""
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    for name in NOTEBOOKS:
        shutil.copy(demo_reports[name][0].with_suffix(".ipynb"), root / f"{name}.ipynb")
    write_control(root / f"{CONTROL}.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}  # fmt: skip
    env.pop("JUPYTER_TOKEN", None)
    log = open(home / "lab.log", "wb")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.news_url=None", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not up(f"{base}/api/status?token={token}"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base, token, root
    finally:
        shut_kernels(base, token)  # they run in sessions of their own
        try:
            os.killpg(server.pid, signal.SIGTERM)  # the server and what it started
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.close()


def write_control(path: Path) -> None:
    """A notebook as if executed: the issue's blank icicle and 200 lines of printed JSON."""
    icicle = {"data": [{"type": "icicle", "ids": ["r", "c"], "parents": ["", "r"],
                        "labels": ["r", "c"], "values": [1.1036614, 1.1037047],
                        "branchvalues": "total"}], "layout": {}}  # fmt: skip
    wall = json.dumps({f"key{i}": i for i in range(198)}, indent=1)
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.cells = [
        nbformat.v4.new_code_cell("fig", execution_count=1, outputs=[nbformat.v4.new_output(
            "display_data", data={PLOTLY: icicle, "text/plain": "Figure"})]),
        nbformat.v4.new_code_cell("print(summary)", execution_count=2, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=wall + "\n")]),
        nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[nbformat.v4.new_output(
            "execute_result", data={"text/plain": "2"}, execution_count=3)]),
        nbformat.v4.new_markdown_cell("the end"),
    ]  # fmt: skip
    nbformat.write(book, path)


def expected(notebook: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    """The notebook's plotly outputs, and for each icicle among them ("figure <i>", in the
    order Lab shows them) the slices plotly makes and paints (`expected_slices`)."""
    from tests.test_figures_draw import expected_slices

    book = nbformat.read(notebook, as_version=4)
    found = [out["data"][PLOTLY] for cell in book.cells for out in cell.get("outputs", [])
             if PLOTLY in out.get("data", {})]  # fmt: skip
    icicles = {f"figure {i}": expected_slices(SimpleNamespace(**trace))
               for i, figure in enumerate(found) for trace in figure["data"]
               if trace.get("type") == "icicle"}  # fmt: skip
    return len(found), icicles


@pytest.fixture(scope="module")
def pages(lab):
    """Each notebook opened in Lab, scrolled through as a reader does, its figures waited for
    (bounded): {name: (figures expected, (figures, figures drawn), texts per output cell,
    problems)}."""
    base, token, root = lab
    seen = {}
    with Browser(allow_local=True, width=1400, height=1000) as browser:
        for name in (*NOTEBOOKS, CONTROL):
            count, icicles = expected(root / f"{name}.ipynb")
            # a workspace of its own, reset: only this notebook open
            tab = browser.open(
                f"{base}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={token}"
            )
            opened = tab.wait("document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > 3",
                              timeout=60)  # fmt: skip
            assert opened, f"{name}: JupyterLab did not open the notebook"
            deadline = time.monotonic() + (10 if name == CONTROL else 45)
            found = tab.evaluate(SCROLL_JS)
            while found[1] < count and time.monotonic() < deadline:
                time.sleep(0.5)
                found = tab.evaluate(SCROLL_JS)
            time.sleep(1)  # late redraws (resize) settle
            seen[name] = (count, found, tab.evaluate(OUTPUT_TEXT_JS),
                          undrawn(tab, icicles, selector=FIGURE))  # fmt: skip
            browser.call("Target.closeTarget", targetId=tab.target)
    return seen


def walls(texts: list[dict]) -> list[tuple]:
    """Output cells holding more than a screenful of text: (position, lines, bytes, start)."""
    return [(cell["index"], len(cell["text"].splitlines()), len(cell["text"].encode()),
             cell["text"][:80]) for cell in texts
            if len(cell["text"].splitlines()) > SCREEN_LINES
            or len(cell["text"].encode()) > SCREEN_BYTES]  # fmt: skip


def test_the_checks_see_a_blank_figure_and_a_wall_of_text(pages):
    """The control: a notebook whose icicle plotly refuses to draw, and 200 printed lines."""
    count, (outputs, drawn), texts, problems = pages[CONTROL]
    assert (count, outputs, drawn) == (1, 1, 1)  # plotly made its SVG, with nothing in it
    assert problems[:2] == ["figure 0: icicle 'trace 0' is empty",
                            "figure 0: 0 slices for 2 nodes, 0 painted of 2"], problems  # fmt: skip
    assert any("Total value for node r of trace 0 is smaller" in p for p in problems[2:])
    assert [(w[0], w[1]) for w in walls(texts)] == [(1, 200)]
    assert [cell["text"] for cell in texts if cell["index"] == 2] == ["2"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_figure_cell_draws_in_jupyterlab(pages, name):
    count, (outputs, drawn), _, problems = pages[name]
    assert count >= 1, name  # the executed notebook holds plotly figures
    assert (outputs, drawn) == (count, count), name  # Lab's plotly renderer drew each
    assert problems == [], name  # each visible trace has marks, each icicle all its nodes;
    # no console warning or error (plotly's included)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_output_cell_holds_more_than_a_screenful_of_text(pages, name):
    _, _, texts, _ = pages[name]
    assert len(texts) >= 4, name  # verdicts, tables and notes are there to be measured
    assert walls(texts) == [], name
