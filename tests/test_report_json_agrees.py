"""`perfkit report --json` and the HTML say the same thing: every figure of every report's JSON
summary appears in its HTML as rendered, and the headline figures sit where a reader looks
(the verdict's sentences, the fit table's row and column). Rendered once, as `perfkit demo` does
(data/, default parameters, the CLI's run_report)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.slow  # four notebooks: about 50 s on 2 cores
FORMATS = ("{:,.0f}", "{:,.1f}", "{:,.2f}", "{:,.3g}", "{:.3f}", "{:.2e}", "{:.0%}", "{:.1%}",
           "{:+.0%}", "{:+.1%}", "{:+.1f}")  # fmt: skip  # every format the reports use
NOT_SHOWN = {"parameters", "generated"}  # echoed inputs and provenance, not findings


class Page(HTMLParser):
    """The visible text of an exported report, and its perfkit tables as lists of dicts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tables: list[list[dict[str, str]]] = []
        self._skip = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._header: list[str] = []
        self._in_table = False
        self.feed(html)
        self.text = " ".join(" ".join(self.parts).split())

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table" and "perfkit-table" in (dict(attrs).get("class") or ""):
            self._in_table, self._header = True, []
            self.tables.append([])
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "table" and self._in_table:
            self._in_table = False
        elif self._in_table and tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._in_table and tag == "tr" and self._row is not None:
            if not self._header:
                self._header = self._row
            else:
                self.tables[-1].append(dict(zip(self._header, self._row, strict=False)))
            self._row = None

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)
            if self._cell is not None:
                self._cell.append(data)


@pytest.fixture(scope="module")
def reports(demo_reports):
    """`perfkit demo`'s four reports (rendered once per session: tests/conftest.py)."""
    return {name: (Page(html.read_text()), summary)
            for name, (html, summary) in demo_reports.items()}  # fmt: skip


def figures(value, key=""):
    """(dotted key, number) for every number in a JSON summary, echoed inputs left out."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in NOT_SHOWN:
                yield from figures(v, f"{key}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from figures(v, f"{key}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield key, value


def shown(value: float, text: str) -> bool:
    """Whether `value`, in one of the reports' formats, is in `text` as a whole number."""
    return any(re.search(rf"(?<![\d.,]){re.escape(f.format(value))}(?![\d])", text)
               for f in FORMATS)  # fmt: skip


def test_every_report_was_rendered(reports):
    assert set(reports) == {"overview", "regression", "memory_leak", "capacity"}


@pytest.mark.parametrize("name", ["overview", "regression", "memory_leak", "capacity"])
def test_every_json_figure_is_in_the_html(reports, name):
    page, summary = reports[name]
    numbers = list(figures(summary))
    assert numbers, name  # a summary without figures would pass anything
    missing = [(k, v) for k, v in numbers if not shown(v, page.text)]
    assert not missing, (name, missing)


def test_shown_is_not_fooled_by_a_prefix_or_a_longer_number():
    assert shown(73.5, "reaches 2048 MiB in 73.5 h")
    assert not shown(342.4, "reaches 2048 MiB in 1,342.4 h and 3424 MiB")
    assert not shown(0.139, "took 10.139 s")


def hours(value: float) -> str:
    return f"{value:,.3g}"


def cell_shows(cell: str, value: float | None) -> bool:
    """A table cell shows `value` (None: empty) at the tables' three significant digits,
    thousands separators and all (``2,048``, ``0.000078``)."""
    if value is None:
        return cell == ""
    return cell != "" and float(cell.replace(",", "")) == pytest.approx(value, rel=5e-3)


def test_memory_text_table_and_json_give_the_same_times_to_limit(reports):
    page, summary = reports["memory_leak"]
    box = summary["processes"]["container"]
    sentence = re.search(r"The container as a whole .*? reaches ([\d,.]+) MiB in ([\d,.]+) h",
                         page.text)  # fmt: skip
    assert sentence, "the container's sentence"
    assert sentence[1] == f"{summary['parameters']['container_limit_mib']:g}"
    assert sentence[2] == hours(box["time_to_limit_h"])  # the text and --json: one figure
    assert summary["container"]["time_to_limit_h"] == box["time_to_limit_h"]
    assert box["limit_mib"] == summary["parameters"]["container_limit_mib"]
    for name in summary["leaks"]:  # each leaking process's bullet: its own limit and hours
        figures_ = summary["processes"][name]
        bullet = re.search(rf"{re.escape(name)}: .*? reaches ([\d,.]+) MiB in ([\d,.]+) h",
                           page.text)  # fmt: skip
        assert bullet and bullet[1] == f"{figures_['limit_mib']:g}", name
        assert bullet[2] == hours(figures_["time_to_limit_h"]), name
    (fits,) = [t for t in page.tables if t and "time_to_limit_h" in t[0]]
    rows = {f"{r['role']} {r['pid']}" if r["pid"] not in ("", "<NA>") else r["role"]: r
            for r in fits}  # fmt: skip
    assert set(rows) == set(summary["processes"])
    for name, figures_ in summary["processes"].items():
        row = rows[name]
        for column, key in (("time_to_limit_h", "time_to_limit_h"), ("limit_mib", "limit_mib"),
                            ("slope_mib_per_hour", "slope")):  # fmt: skip
            assert cell_shows(row[column], figures_[key]), (name, column, row[column])


def test_capacity_verdict_and_json_agree(reports):
    page, summary = reports["capacity"]
    usl, plan = summary["usl"], summary["gunicorn"]
    peak = re.search(r"peaks at ([\d,]+) req/min \(([\d.]+) req/s\) with (\d+) requests in flight",
                     page.text)  # fmt: skip
    assert peak
    assert peak[1] == f"{usl['peak_throughput'] * 60:,.0f}"
    assert peak[2] == f"{usl['peak_throughput']:.1f}"
    assert peak[3] == f"{usl['peak_concurrency']:.0f}"
    assert f"gunicorn --workers {plan['workers']} --threads {plan['threads']}" in page.text
    assert ("Meets the targets." in page.text) is summary["meets_targets"]
    assert f"The verdict rests on {summary['verdict_rests_on']}" in page.text


def test_regression_verdicts_name_the_same_routes(reports):
    page, summary = reports["regression"]
    assert summary["regressed"]  # the demo's candidate regresses: a list that can disagree
    for route in summary["regressed"]:
        assert route in page.text, route
