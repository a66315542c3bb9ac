"""Mutation fuzz over real psql CSV exports (issue 14): every damaged export is read or gives
`InputError` naming the file; what a damaged export still yields holds no impossible value
(a negative or infinite counter, a time outside 2000-2200, a row twice in one snapshot)."""

from __future__ import annotations

import csv
import gzip
import io
import warnings
from pathlib import Path

import numpy as np
import pytest

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io.pg_csv import read_exports
from tests.fuzz import fuzz_loader

BLOG = Path(__file__).resolve().parent / "data" / "blog" / "base" / "pg"
SOURCES = {
    "statements": "statements-20261202T175616Z.csv.gz",
    "tables": "tables-20261202T175616Z.csv.gz",
    "indexes": "indexes-20261202T175616Z.csv.gz",
}
KEYS = {"statements": ["queryid", "dbid", "userid", "toplevel"], "tables": ["relid"],
        "indexes": ["indexrelid"]}  # fmt: skip


def reader(view: str):
    """read_exports, and what a returned frame must hold."""

    def load(path: Path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            frame = read_exports([path], view)
        for column in frame.columns:
            if column in ("queryid", "reltuples") or frame[column].dtype.kind not in "iuf":
                continue
            values = frame[column].astype("float64").dropna().to_numpy()
            assert np.isfinite(values).all() and (values >= 0).all(), (path, column)
        times = frame["snapshot_time"]
        assert times.dt.year.between(2000, 2199).all(), (path, times.unique())
        assert not frame.dropna(subset=KEYS[view][:1]).duplicated(
            ["snapshot_time", *KEYS[view]]).any(), path  # fmt: skip
        return frame

    return load


@pytest.mark.parametrize("view", list(SOURCES))
@pytest.mark.parametrize("compressed", [False, True])
def test_fuzz_psql_csv_exports(view, compressed, tmp_path):
    source = BLOG / SOURCES[view]
    if not compressed:  # mutate the CSV itself, not only its gzip wrapping
        plain = tmp_path / source.name.removesuffix(".gz")
        plain.write_bytes(gzip.decompress(source.read_bytes()))
        source = plain
    per = 3 if compressed else 6
    counts = fuzz_loader(reader(view), source, tmp_path, seed=14, per_mutation=per)
    assert sum(counts.values()) == 8 * per
    assert counts["ok"] > 0 or compressed  # many plain mutants are still exports


def _rows() -> list[list[str]]:
    """The real statements export as CSV rows (query texts may hold commas and newlines)."""
    text = gzip.decompress((BLOG / SOURCES["statements"]).read_bytes()).decode()
    return list(csv.reader(io.StringIO(text)))


def _export(tmp_path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path = tmp_path / "statements-20261202T175616Z.csv"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def _edited(row: int, column: str, value: str) -> list[list[str]]:
    rows = _rows()
    rows[row][rows[0].index(column)] = value
    return rows


def test_impossible_values_name_the_file_and_row(tmp_path):
    repeated = _rows()
    repeated.insert(5, repeated[3])
    cases = {
        "calls -1": (_edited(3, "calls", "-1"), "data row 3"),
        "time inf": (_edited(2, "total_exec_time", "inf"), "data row 2"),
        "time NaN": (_edited(2, "total_exec_time", "NaN"), "data row 2"),
        "year 0001": (_edited(4, "snapshot_time", "2H26-12-02 17:56:16.393646+00"), "data row 4"),
        "year 9999": (_edited(4, "snapshot_time", "9999-12-02 17:56:16.393646+00"), "data row 4"),
        "year 1000": (_edited(1, "snapshot_time", "1000-01-01 00:00:00+00"), "data row 1"),
        "repeated": (repeated, "data row 5"),
    }
    for name, (rows, where) in cases.items():
        path = _export(tmp_path, rows)
        with pytest.raises(InputError) as caught:
            read_exports([path], "statements")
        assert path.name in str(caught.value) and where in str(caught.value), (name, caught.value)


def test_latin1_text_is_read_with_replacement_and_counted(tmp_path):
    rows = _edited(2, "query", "select 'M\xfcller'")
    path = _export(tmp_path, rows, encoding="latin-1")
    line = 1 + sum(1 + sum(cell.count("\n") for cell in row) for row in rows[:2])
    with pytest.warns(PerfkitWarning, match=rf"16Z\.csv:{line}: 1 byte sequence\(s\) that are not"):
        frame = read_exports([path], "statements")
    assert frame["query"].tolist()[1] == "select 'M\ufffdller'"
    assert len(frame) == len(rows) - 1
