"""Mutation fuzz (tests/fuzz.py) of the access-log and JSON-lines loaders over recorded files.

Every mutant must load or raise `InputError` naming the file; what loads must make sense:
times tz-aware and within pandas' range, statuses 100..599, durations not negative, and
every line of the file read or rejected. Both parse paths (the tokenizer and RE2 line by
line) run. Seeded and bounded: 8 mutations x 3 per source and path.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfkit import read_access_log
from perfkit.errors import PerfkitWarning
from perfkit.io import access_log
from perfkit.io.jsonl import read_jsonl
from tests.fuzz import MUTATIONS, fuzz_loader

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
PER_MUTATION = 3
LOW, HIGH = pd.Timestamp("1677-09-22", tz="UTC"), pd.Timestamp("2262-04-10", tz="UTC")
OUTBOUND = {"time": "time", "method": "method", "path": "endpoint", "status": "status",
            "duration_ms": "duration_ms"}  # fmt: skip

# name -> (recorded file, format); the Gunicorn log is cut to 400 lines to stay fast
SOURCES = {
    "gunicorn": (ROOT / "data/baseline/access.log.gz",
                 (ROOT / "data/baseline/access_log_format.txt").read_text().strip()),
    "nginx": (DATA / "nginx_timed.log", "auto"),
    "apache": (DATA / "apache_combined_D.log", "combined_us"),
    "nginx_ms": (DATA / "review_inputs/case6_nginx_ms/baseline/access.log.gz",
                 (DATA / "review_inputs/case6_nginx_ms/baseline/access_log_format.txt")
                 .read_text().strip()),
    "jsonl": (ROOT / "data/baseline/outbound.jsonl.gz", OUTBOUND),
}  # fmt: skip


def _plain_source(name: str, tmp: Path) -> Path:
    """The recorded file as plain text (its first 400 lines) in `tmp`."""
    path, _ = SOURCES[name]
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    source = tmp / ("access.jsonl" if name == "jsonl" else "access.log")
    source.write_bytes(b"".join(data.splitlines(keepends=True)[:400]))
    return source


def _line_count(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _check_frame(df: pd.DataFrame, path: Path) -> None:
    """What a loader returns from a damaged file must still make sense."""
    where = f"{path}: "
    account = df.attrs["perfkit"]
    assert account["parsed"] + account["rejected"] == account["lines"], where + str(account)
    assert account["lines"] == _line_count(path), where + f"{account['lines']} lines counted"
    assert account["parsed"] == len(df), where
    assert isinstance(df["time"].dtype, pd.DatetimeTZDtype), where + str(df["time"].dtype)
    assert df["time"].notna().all(), where + "a request without a time"
    assert ((df["time"] >= LOW) & (df["time"] <= HIGH)).all(), where + str(df["time"].agg(["min", "max"]))
    status = df["status"].dropna().astype(int)
    assert status.between(100, 599).all(), where + str(status.agg(["min", "max"]))
    duration = df["duration_ms"].to_numpy(dtype=float)
    assert not (duration < 0).any() and not np.isinf(duration).any(), where + "bad duration"
    if "bytes" in df:
        assert (df["bytes"].dropna() >= 0).all(), where + "negative bytes"


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize("name", ["gunicorn", "nginx", "apache", "nginx_ms"])
def test_access_log_mutants_keep_the_contract(tmp_path, monkeypatch, name, exact):
    source = _plain_source(name, tmp_path)
    _, fmt = SOURCES[name]
    if exact:
        monkeypatch.setattr(access_log, "tokenize", lambda *a, **k: None)

    def load(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            _check_frame(read_access_log(path, format=fmt), path)

    (tmp_path / "mutants").mkdir()
    counts = fuzz_loader(load, source, tmp_path / "mutants", seed=14, per_mutation=PER_MUTATION)
    assert sum(counts.values()) == len(MUTATIONS) * PER_MUTATION
    assert counts["ok"] > 0  # most damage costs lines, not the file


def test_json_lines_mutants_keep_the_contract(tmp_path):
    source = _plain_source("jsonl", tmp_path)

    def load(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            _check_frame(read_access_log(path, format=OUTBOUND), path)

    (tmp_path / "mutants").mkdir()
    counts = fuzz_loader(load, source, tmp_path / "mutants", seed=14, per_mutation=PER_MUTATION)
    assert counts["ok"] > 0


def test_read_jsonl_mutants_keep_the_contract(tmp_path):
    source = _plain_source("jsonl", tmp_path)

    def load(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            df = read_jsonl(path, fields={"time": "time", "status": "status",
                                          "duration_ms": "duration_ms"})  # fmt: skip
        account = df.attrs["perfkit"]
        assert account["parsed"] + account["rejected"] == account["lines"] == _line_count(path)
        times = df["time"].dropna()
        assert isinstance(df["time"].dtype, pd.DatetimeTZDtype), f"{path}: {df['time'].dtype}"
        assert ((times >= LOW) & (times <= HIGH)).all(), f"{path}: {times.agg(['min', 'max'])}"

    (tmp_path / "mutants").mkdir()
    counts = fuzz_loader(load, source, tmp_path / "mutants", seed=14, per_mutation=PER_MUTATION)
    assert counts["ok"] > 0
