"""The contract every loader keeps: same frame from a str, a Path, a glob, a buffer and a .gz."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest

import perfkit.io.access_log as access_log
from perfkit import read_access_log

LINES = "".join(
    f'10.0.0.{i} - - [10/Oct/2024:13:55:{i:02d} +0200] "GET /orders/{i}?page=1 HTTP/1.1" 200 {i} "-" "ua" {1000 + i}\n'
    for i in range(30)
)


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(LINES)
    return path


def frames(tmp_path, path):
    packed = tmp_path / "packed.log.gz"
    packed.write_bytes(gzip.compress(LINES.encode()))
    yield read_access_log(str(path))
    yield read_access_log(path)
    yield read_access_log(str(tmp_path / "access.*"))
    yield read_access_log(io.BytesIO(LINES.encode()))
    yield read_access_log(io.StringIO(LINES))
    yield read_access_log(io.BytesIO(gzip.compress(LINES.encode())))
    yield read_access_log(packed)


def test_same_frame_from_every_kind_of_input(tmp_path, log_file):
    first, *others = frames(tmp_path, log_file)
    for other in others:
        pd.testing.assert_frame_equal(first.drop(columns="source"), other.drop(columns="source"))
    # typed columns, tz-aware times, no sentinels left
    assert isinstance(first["time"].dtype, pd.DatetimeTZDtype)
    assert first["time"].iloc[0] == pd.Timestamp("2024-10-10T11:55:00Z")
    assert not (first.select_dtypes("string") == "-").any().any()
    assert first["status"].dtype == "int16" and first["duration_ms"].dtype == "float64"


def test_progress_bar_only_when_someone_watches(log_file, capsys, monkeypatch):
    monkeypatch.setattr(access_log, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(access_log, "_interactive", lambda: True)
    read_access_log(log_file)
    assert "read_access_log" in capsys.readouterr().err
    monkeypatch.setattr(access_log, "_interactive", lambda: False)
    read_access_log(log_file)
    assert capsys.readouterr().err == ""
