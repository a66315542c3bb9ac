"""Damaged RSS CSVs and a restarted collector (issue 14, causes 10 and 22).

A disk that fills mid-row leaves a partial row; a collector restarted on the same
file appends after it. Every good row must survive, the damaged ones be counted in a
`PerfkitWarning` naming the file and the lines, and a file with someone else's
columns must never be appended to.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from perfkit import InputError, PerfkitWarning, read_memory
from perfkit.collect.rss import FIELDS, collect_rss

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "data" / "leak" / "memory.csv"


def recorded_window() -> tuple[pd.Timestamp, pd.Timestamp]:
    """The recording's own window: from its manifest's start, the load plus 10 min of start-up."""
    manifest = json.loads((RECORDED.parent / "manifest.json").read_text())
    started = pd.Timestamp(manifest["started"])
    return started, started + pd.Timedelta(seconds=manifest["load_seconds"] + 600)


def _collect(pid: int, out: Path, rows: int) -> int:
    """Sample until at least `rows` rows are written (one process: one row per sample)."""
    return collect_rss(pid, out, children=False, interval_s=0.01, duration_s=rows * 0.012)


def test_partial_row_then_restart_keeps_every_good_row(sleeper, tmp_path):
    out = tmp_path / "rss.csv"
    first = _collect(sleeper.pid, out, 40)
    data = out.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == first + 1
    last_row = data[data.rstrip(b"\n").rfind(b"\n") + 1 :]
    partial = data[: len(data) - len(last_row) // 2]  # the disk filled mid-row
    out.write_bytes(partial)
    partial_line = first + 1  # header on line 1
    second = _collect(sleeper.pid, out, 20)  # the collector restarted on the same file
    with pytest.warns(PerfkitWarning) as caught:
        memory = read_memory(out)
    message = " ".join(str(w.message) for w in caught)
    assert out.name in message and re.search(rf"\b{partial_line}\b", message), message
    assert "1 damaged row" in message
    assert len(memory) == first - 1 + second  # every whole row of both runs
    assert set(memory["pid"]) == {sleeper.pid}
    assert (memory["rss_bytes"] > 2**20).all()
    text = out.read_text()
    assert text.count("\n") == first + second + 1  # the restart began a fresh line
    assert (
        text.splitlines()[partial_line - 1]
        == last_row[: len(last_row) - len(last_row) // 2].decode()
    )


def test_restart_after_a_whole_row_adds_no_blank_line(sleeper, tmp_path):
    out = tmp_path / "rss.csv"
    first = _collect(sleeper.pid, out, 5)
    second = _collect(sleeper.pid, out, 5)
    text = out.read_text()
    assert text.count(",".join(FIELDS)) == 1 and "\n\n" not in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_memory(out)) == first + second


@pytest.mark.parametrize(
    "header",
    ["time,pid,rss_mib", "time,pid,ppid,role,rss_bytes,uss_bytes", "Type,Name,Request Count"],
)
def test_collector_refuses_a_foreign_header(sleeper, tmp_path, header):
    out = tmp_path / "other.csv"
    out.write_text(f"{header}\n1700000000,1,100\n")
    before = out.read_bytes()
    with pytest.raises(InputError, match=r"other\.csv.*header"):
        _collect(sleeper.pid, out, 2)
    assert out.read_bytes() == before


def test_collector_refuses_a_binary_file(sleeper, tmp_path):
    out = tmp_path / "binary.csv"
    out.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(InputError, match=r"binary\.csv"):
        _collect(sleeper.pid, out, 2)


def _recorded_with(tmp_path: Path, name: str, replace: dict[int, str]) -> tuple[Path, int]:
    """The recorded leak run's memory.csv with some data rows (1-based line numbers) replaced."""
    lines = RECORDED.read_text().splitlines()
    for number, text in replace.items():
        lines[number - 1] = text
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines) - 1


DAMAGE = {
    # what disks, kills and hostile writers leave; each a whole line of the file
    "partial row": "2026-12-02T18:37:18.351974+00:00,32313,3",
    "glued rows": "2026-12-02T18:37:18.35,3231" + "2026-12-02T18:37:19.351974+00:00,32313,"
    "32311,worker,70307840,52027392,python",
    "inf rss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,inf,52027392,python",
    "nan rss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,nan,52027392,python",
    "negative rss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,-1,52027392,python",
    "huge rss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,1e309,52027392,python",
    "2^64 rss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,18446744073709551616,1,python",
    "inf uss": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,70307840,inf,python",
    "text pid": "2026-12-02T18:37:18.351974+00:00,abc,32311,worker,70307840,52027392,python",
    "fraction pid": "2026-12-02T18:37:18.351974+00:00,12.5,32311,worker,70307840,52027392,python",
    "year 9999": "9999-12-02T18:37:18.351974+00:00,32313,32311,worker,70307840,52027392,python",
    "year 1000": "1000-12-02T18:37:18.351974+00:00,32313,32311,worker,70307840,52027392,python",
    "31 February": "2026-02-31T18:37:18.351974+00:00,32313,32311,worker,70307840,52027392,python",
    "NUL bytes": "\x00\x00\x00\x00\x00\x00\x00\x00",
    "Latin-1": "2026-12-02T18:37:18.351974+00:00,32313,32311,worker,7030\ufffd840,1,python",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_rows_are_left_out_and_counted(tmp_path, kind):
    path, rows = _recorded_with(tmp_path, "memory.csv", {100: DAMAGE[kind], 300: DAMAGE[kind]})
    with pytest.warns(
        PerfkitWarning, match=r"memory\.csv: 2 damaged rows left out.*\b100\b.*\b300\b"
    ):
        memory = read_memory(path)
    assert len(memory) == rows - 2
    assert memory["rss_bytes"].between(2**20, 2**40).all()
    assert memory["time"].between(*recorded_window()).all()
    assert memory["pid"].notna().all() and (memory["pid"] > 0).all()


def test_epoch_times_out_of_range(tmp_path):
    path = tmp_path / "epoch.csv"
    path.write_text("time,pid,rss_mib\n1700000000,10,100\n99999999999,10,100\n1700000002,10,100\n"
                    "1700000003,10,100\n1e309,10,100\n1700000005,10,101\n")  # fmt: skip
    with pytest.warns(PerfkitWarning, match=r"epoch\.csv: 2 damaged rows.*\b3\b.*\b6\b"):
        memory = read_memory(path)
    assert memory["time"].dt.year.eq(2023).all() and len(memory) == 4


def test_mostly_damaged_file_is_an_input_error(tmp_path):
    path, _ = _recorded_with(tmp_path, "broken.csv", {n: DAMAGE["inf rss"] for n in range(2, 400)})
    with pytest.raises(InputError, match=r"broken\.csv:2: expected a number in rss_bytes"):
        read_memory(path)


def test_mprof_and_prometheus_values_out_of_range(tmp_path):
    mprof = tmp_path / "inf.dat"
    mprof.write_text("CMDLINE python app.py\nMEM 12.5 1700000000.0\nMEM inf 1700000001.0\n")
    with pytest.raises(InputError, match=r"inf\.dat:3"):
        read_memory(mprof)
    future = tmp_path / "future.dat"
    future.write_text("MEM 12.5 1700000000.0\nMEM 12.5 99999999999999.0\n")
    with pytest.raises(InputError, match=r"future\.dat:2"):
        read_memory(future)
    huge_pid = tmp_path / "pid.dat"
    huge_pid.write_text("MEM 12.5 1700000000.0\nCHLD 18446744073709551616 12.5 1700000000.0\n")
    with pytest.raises(InputError, match=r"pid\.dat:2"):
        read_memory(huge_pid)
    prom = tmp_path / "nan.prom"
    prom.write_text("process_resident_memory_bytes NaN 1700000000000\n")
    with pytest.raises(InputError, match=r"nan\.prom:1"):
        read_memory(prom)
    prom_far = tmp_path / "far.prom"
    prom_far.write_text("process_resident_memory_bytes 1000 99999999999999999\n")
    with pytest.raises(InputError, match=r"far\.prom:1"):
        read_memory(prom_far)


def test_a_duplicated_column_is_an_input_error(tmp_path):
    lines = RECORDED.read_text().splitlines()
    path = tmp_path / "memory.csv"
    path.write_text("\n".join(line + (",pid" if n == 0 else ",1") for n, line in
                              enumerate(lines)) + "\n")  # fmt: skip
    with pytest.raises(InputError) as caught:
        read_memory(path)
    message = str(caught.value)
    assert str(path) in message and "'pid'" in message and "twice" in message


def test_collector_refusing_an_access_log_does_not_quote_its_secrets(sleeper, tmp_path):
    out = tmp_path / "victim.log"
    out.write_text('10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a?token=SECRET HTTP/1.1" '
                   '200 10\n')  # fmt: skip
    with pytest.raises(InputError, match=r"victim\.log") as caught:
        _collect(sleeper.pid, out, 2)
    assert "SECRET" not in str(caught.value)
    out.write_text("token=SECRET,Authorization: Bearer SECRET2\n")
    with pytest.raises(InputError, match=r"victim\.log") as caught:
        _collect(sleeper.pid, out, 2)
    assert "SECRET" not in str(caught.value)
