"""Readable outputs: the notebook summary is one line, reprs are short and state the object's own
verdict and sizes, tables are formatted by unit, and frames sort as they should."""

from __future__ import annotations

import json

import nbformat
import pytest

from perfkit._display import one_line, verdict_line
from perfkit.report import display as pdisplay
from perfkit.report.run import extract_summary


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
])
def test_verdict_line_states_the_summary(summary, expected):
    assert verdict_line(summary) == expected


def test_one_line_flattens_and_clips():
    assert one_line("a\nb\x1b[31m\u202ec", width=100) == "a b [31m c"
    clipped = one_line("x" * 300, width=50)
    assert len(clipped) == 50 and clipped.endswith("…")
