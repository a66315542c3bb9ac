"""``dtype_backend=`` on perfkit's loaders gives the dtypes pandas' own ``read_csv`` gives for the
same column kinds (pandas is the reference), keeps every value, and the analyses run on each."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfkit
from perfkit.errors import InputError
from perfkit.io._dtypes import column_kind, to_backend

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
BACKENDS = [None, "numpy_nullable", "pyarrow"]

# one column of each kind, with a gap where the kind allows one
CSV = """text,whole,real,flag,when,kind
a,1,1.5,True,2026-01-01T00:00:00Z,x
,2,,False,2026-01-01T00:00:01Z,y
<script>,3,2.25,True,2026-01-01T00:00:02Z,x
"""


def _pandas(dtype_backend: str | None) -> pd.DataFrame:
    """The reference: pandas' read_csv with the backend, dates parsed, `kind` categorical."""
    options = {} if dtype_backend is None else {"dtype_backend": dtype_backend}
    return pd.read_csv(io.StringIO(CSV), parse_dates=["when"], dtype={"kind": "category"},
                       **options)  # fmt: skip


def _reference_dtypes(dtype_backend: str | None) -> dict[str, object]:
    """pandas' dtype per column kind under `dtype_backend`, read off the reference frame."""
    frame = _pandas(dtype_backend)
    return {"string": frame["text"].dtype, "integer": frame["whole"].dtype,
            "floating": frame["real"].dtype, "boolean": frame["flag"].dtype}  # fmt: skip


@pytest.mark.parametrize("source", BACKENDS)
@pytest.mark.parametrize("target", BACKENDS)
def test_every_backend_matches_pandas_read_csv(source, target):
    """From a frame in any backend, `to_backend` gives exactly what read_csv gives in the target;
    but for the documented exception: nullable integers and flags stay nullable by default."""
    got = to_backend(_pandas(source), target)
    expected = _pandas(target)
    if target is None and source == "numpy_nullable":
        expected = expected.astype({"whole": "Int64", "flag": "boolean"})
    pd.testing.assert_frame_equal(got, expected)


def test_the_reference_dtypes_are_what_pandas_documents():
    # the control: the three backends differ, so a helper that ignored the backend would fail
    assert str(_pandas(None)["text"].dtype) == "str" and _pandas(None)["text"].isna().sum() == 1
    assert _pandas(None)["whole"].dtype == np.int64
    assert _pandas("numpy_nullable")["whole"].dtype == "Int64"
    assert _pandas("numpy_nullable")["text"].dtype.na_value is pd.NA
    assert str(_pandas("pyarrow")["real"].dtype) == "double[pyarrow]"
    assert len({str(_pandas(b)["flag"].dtype) for b in BACKENDS}) == 3


def test_default_keeps_nullable_integers_exact():
    """The one deliberate difference (README, perfkit.io._dtypes): a 64-bit integer with a gap
    stays Int64 where pandas' default would round it through float64."""
    big = 2**63 - 25  # a pg_stat_statements queryid
    frame = pd.DataFrame({"queryid": pd.array([big, None], dtype="Int64")})
    kept = to_backend(frame, None)
    assert kept["queryid"].dtype == "Int64" and kept["queryid"].iloc[0] == big
    assert float(big) != big  # what a float64 column would have held instead
    assert to_backend(frame, "pyarrow")["queryid"].iloc[0] == big


def _loaded(dtype_backend: str | None) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "locust stats": perfkit.read_locust(DATA / "baseline", table="stats",
                                                dtype_backend=dtype_backend),
            "locust history": perfkit.read_locust(DATA / "baseline", table="history",
                                                  dtype_backend=dtype_backend),
            "ab -g": perfkit.read_ab(ROOT / "tests/data/loadtest/ab_gnuplot.tsv",
                                     dtype_backend=dtype_backend),
            "ab -e": perfkit.read_ab(ROOT / "tests/data/loadtest/ab_percentiles.csv",
                                     dtype_backend=dtype_backend),
            "wrk": perfkit.read_wrk(ROOT / "tests/data/loadtest/wrk_latency.txt",
                                    dtype_backend=dtype_backend),
            "jsonl": perfkit.read_jsonl(DATA / "baseline/outbound.jsonl.gz",
                                        dtype_backend=dtype_backend),
            "memory": perfkit.read_memory(DATA / "baseline/memory.csv",
                                          dtype_backend=dtype_backend),
            "pg indexes": perfkit.read_pg_stat(DATA / "baseline/pg", "indexes",
                                               dtype_backend=dtype_backend),
        }  # fmt: skip


@pytest.fixture(scope="module")
def loads() -> dict[str | None, dict[str, pd.DataFrame]]:
    return {backend: _loaded(backend) for backend in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
def test_loaders_give_pandas_dtypes_per_column_kind(loads, backend):
    reference = _reference_dtypes(backend)
    nullable = _reference_dtypes("numpy_nullable")
    for name, frame in loads[backend].items():
        default = loads[None][name]
        assert list(frame.columns) == list(default.columns), name
        for column in frame.columns:
            kind, dtype = column_kind(default[column]), frame[column].dtype
            if kind is None:  # times, categories, an all-missing column: as pandas leaves them
                assert dtype == default[column].dtype, (name, column)
            elif backend is None and kind in ("integer", "boolean") and dtype != reference[kind]:
                assert dtype == nullable[kind], (name, column)  # the documented exception
            else:
                assert dtype == reference[kind], (name, column, dtype)
            # every value kept: the same cells missing, the same values present
            same_gaps = frame[column].isna().to_numpy() == default[column].isna().to_numpy()
            assert same_gaps.all(), (name, column)
            present = default[column].notna().to_numpy()
            if kind in ("integer", "floating"):
                np.testing.assert_array_equal(
                    frame[column].to_numpy(dtype=float, na_value=np.nan)[present],
                    default[column].to_numpy(dtype=float, na_value=np.nan)[present],
                )
            elif kind is not None:
                assert (
                    frame[column].astype(object)[present].tolist()
                    == default[column].astype(object)[present].tolist()
                ), (name, column)


def test_text_columns_default_to_pandas_str(loads):
    """pandas 3's default string dtype, as read_csv gives: a missing text is NaN, not <NA>."""
    reference = _reference_dtypes(None)["string"]
    for name in ("locust stats", "jsonl", "pg indexes"):
        text = [c for c, d in loads[None][name].dtypes.items() if isinstance(d, pd.StringDtype)]
        assert text, name
        assert all(loads[None][name][c].dtype == reference for c in text), name
    assert str(loads[None]["pg indexes"]["indisunique"].dtype) == "boolean"  # no float flags


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_analyses_give_the_same_answers_on_every_backend(loads, backend):
    from perfkit.analysis.outbound import outbound_summary

    def both(run):
        return run(loads[None]), run(loads[backend])

    steps = both(lambda f: perfkit.locust_steps(f["locust history"]))
    pd.testing.assert_frame_equal(*steps)
    base = perfkit.read_locust(DATA / "candidate", table="stats")
    cand = perfkit.read_locust(DATA / "candidate", table="stats", dtype_backend=backend)
    plain = perfkit.compare_loadtests(loads[None]["locust stats"], base)
    other = perfkit.compare_loadtests(loads[backend]["locust stats"], cand)
    np.testing.assert_allclose(
        other.select_dtypes("number").to_numpy(float, na_value=np.nan),
        plain.select_dtypes("number").to_numpy(float, na_value=np.nan),
    )
    summaries = both(lambda f: outbound_summary(f["jsonl"]))
    np.testing.assert_allclose(
        summaries[1].select_dtypes("number").to_numpy(float, na_value=np.nan),
        summaries[0].select_dtypes("number").to_numpy(float, na_value=np.nan),
    )
    statements = {b: perfkit.read_pg_stat(DATA / "baseline/pg", "statements", dtype_backend=b)
                  for b in (None, backend)}  # fmt: skip
    deltas = {b: perfkit.pg_deltas(frame) for b, frame in statements.items()}
    assert len(deltas[backend]) == len(deltas[None]) > 0
    np.testing.assert_allclose(
        deltas[backend]["calls"].to_numpy(float, na_value=np.nan),
        deltas[None]["calls"].to_numpy(float, na_value=np.nan),
    )


@pytest.mark.parametrize("loader", ["read_locust", "read_ab", "read_wrk", "read_jsonl",
                                    "read_memory", "read_pg_stat"])  # fmt: skip
def test_an_unknown_backend_is_named(loader):
    args = {"read_locust": (DATA / "baseline",), "read_pg_stat": (DATA / "baseline/pg", "tables")}
    options = {"table": "stats"} if loader == "read_locust" else {}
    with pytest.raises(InputError, match=rf"^{loader}: dtype_backend must be 'numpy_nullable' or "
                                         r"'pyarrow' \(or None for pandas' defaults\), not 'numpy'"):  # fmt: skip
        getattr(perfkit, loader)(*args.get(loader, (DATA / "baseline/memory.csv",)),
                                 dtype_backend="numpy", **options)  # fmt: skip


def test_narrow_columns_keep_their_width():
    """A loader's int16 (access-log status) stays 16 bits in every backend; pandas' readers,
    which widen every integer to 64 bits, are not the reference for the width."""
    frame = pd.DataFrame({"status": np.array([200, 404], dtype=np.int16)})
    widths = {b: str(to_backend(frame, b)["status"].dtype) for b in BACKENDS}
    assert widths == {None: "int16", "numpy_nullable": "Int16", "pyarrow": "int16[pyarrow]"}
