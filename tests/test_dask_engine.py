"""engine="dask": the same parser per partition, sketch-based summaries and comparisons that
match the pandas engine, on a LocalCluster of two worker processes; Dask stays optional."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfkit
from perfkit.analysis.distributed import _binned, mannwhitney_binned
from perfkit.analysis.sketch import LatencySketch
from perfkit.errors import InputError

FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'


def write_log(path, lines, seed, slow=None):
    rng = np.random.default_rng(seed)
    routes = {"/api/orders/{}": 40.0, "/api/stock/{}": 25.0, "/dashboard": 300.0, "/healthz": 2.0}
    with open(path, "w") as out:
        for i in range(lines):
            template, median = list(routes.items())[i % 4]
            factor = (slow or {}).get(template, 1.0)
            micros = int(median * factor * 1000 * rng.lognormal(0, 0.5))
            status = 500 if rng.random() < 0.01 else 200
            second = i * 7200 // lines
            stamp = f"27/Nov/2026:{8 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            path_ = template.format(int(rng.integers(1, 99999)))
            out.write(f'10.1.2.3 - - [{stamp} +0000] "GET {path_} HTTP/1.1" {status} 99 "-" '
                      f'"curl/8" {micros}\n')  # fmt: skip
    return path


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local, Client(local) as client:  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    base = write_log(tmp / "base.log", 40_000, 1)
    cand = write_log(tmp / "cand.log", 40_000, 2, slow={"/api/orders/{}": 1.25})
    return base, cand


def test_same_columns_dtypes_and_rows_as_the_pandas_engine(logs, cluster):
    base, _ = logs
    frame = perfkit.read_access_log(base, format=FORMAT, engine="dask", partition_bytes=1 << 20)
    assert frame.npartitions >= 3  # one file, cut into byte ranges at line ends
    exact = perfkit.read_access_log(base, format=FORMAT)
    assert list(frame.columns) == list(exact.columns)
    for column in exact.columns:
        want = str(exact.dtypes[column]).split("(")[0]
        if want == "str":  # Dask's own convention (dataframe.convert-string): string[pyarrow]
            want = "string"
        assert str(frame.dtypes[column]).split("(")[0] == want
    got = frame.compute().reset_index(drop=True)
    for column in exact.columns:
        left, right = got[column], exact[column].reset_index(drop=True)
        if isinstance(right.dtype, pd.CategoricalDtype):
            left, right = left.astype(str), right.astype(str)
        pd.testing.assert_series_equal(left, right, check_dtype=False)


def test_summaries_match_counts_exactly_and_percentiles_within_the_sketch_error(logs, cluster):
    base, _ = logs
    frame = perfkit.read_access_log(base, format=FORMAT, engine="dask", partition_bytes=1 << 20)
    table = perfkit.summarize(frame)
    exact = perfkit.read_access_log(base, format=FORMAT)
    reference = perfkit.summarize(exact)
    assert table["count"].to_dict() == reference["count"].to_dict()
    assert table["error_rate"].to_dict() == pytest.approx(reference["error_rate"].to_dict())
    assert table["mean_ms"].to_dict() == pytest.approx(reference["mean_ms"].to_dict(), rel=1e-12)
    groups = exact.groupby("route", observed=True)["duration_ms"]
    for q in (0.5, 0.95, 0.99):
        lower = groups.quantile(q, interpolation="lower")  # the order statistic it guarantees
        relative = (table[f"p{q * 100:g}_ms"].reindex(lower.index) / lower - 1).abs()
        assert relative.max() <= 0.01 + 1e-12


def test_comparison_on_sketches_finds_the_regression_and_agrees_with_scipy(logs, cluster):
    base, cand = logs
    options = {"format": FORMAT, "engine": "dask", "partition_bytes": 1 << 20}
    table = perfkit.compare(perfkit.read_access_log(base, **options),
                            perfkit.read_access_log(cand, **options))  # fmt: skip
    assert list(table.index[table["verdict"] == "regressed"]) == ["/api/orders/{id}"]
    assert (table.drop(index="/api/orders/{id}")["verdict"] == "unchanged").all()
    assert table.loc["/api/orders/{id}", "ci_low"] < 1.25 < table.loc["/api/orders/{id}", "ci_high"]
    pandas_table = perfkit.compare(perfkit.read_access_log(base, format=FORMAT),
                                   perfkit.read_access_log(cand, format=FORMAT))  # fmt: skip
    assert table["verdict"].to_dict() == pandas_table["verdict"].to_dict()


def test_binned_rank_test_is_scipys_on_the_bucket_values():
    rng = np.random.default_rng(3)
    x = LatencySketch().add(rng.lognormal(3, 0.6, 3000))
    y = LatencySketch().add(rng.lognormal(3.05, 0.6, 2500))
    vx, cx = _binned(x)
    vy, cy = _binned(y)
    expected = stats.mannwhitneyu(np.repeat(vy, cy), np.repeat(vx, cx), method="asymptotic")
    assert mannwhitney_binned(x, y) == pytest.approx(expected.pvalue, rel=1e-9)


def test_a_bad_line_in_a_later_range_is_named_with_its_file_and_range(tmp_path, cluster):
    log = write_log(tmp_path / "a.log", 20_000, 4)
    lines = log.read_text().splitlines(keepends=True)
    lines[15_000] = "this is not a log line\n"
    log.write_text("".join(lines))
    frame = perfkit.read_access_log(log, format=FORMAT, engine="dask", partition_bytes=256 << 10,
                                    on_bad_lines="error")  # fmt: skip
    with pytest.raises(InputError, match=r"a\.log \(from line \d+\)"):
        frame.compute()


def test_dask_stays_optional(tmp_path):
    log = write_log(tmp_path / "small.log", 200, 5)
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.dataframe'] = None\n"
        "import perfkit\n"
        f"df = perfkit.read_access_log({str(log)!r}, format={FORMAT!r})\n"
        "assert len(df) == 200\n"
        "try:\n"
        f"    perfkit.read_access_log({str(log)!r}, format={FORMAT!r}, engine='dask')\n"
        "except perfkit.InputError as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "pip install 'perfkit[dask]'" in run.stdout


def test_concurrency_from_a_dask_frame_equals_the_pandas_result(logs, cluster):
    from perfkit.analysis.concurrency import concurrency_from_log

    base, _ = logs
    lazy = perfkit.read_access_log(base, format=FORMAT, engine="dask", partition_bytes=1 << 20)
    eager = perfkit.read_access_log(base, format=FORMAT)
    got, expected = concurrency_from_log(lazy, "5min"), concurrency_from_log(eager, "5min")
    assert list(got.index) == list(expected.index)
    assert got["requests"].tolist() == expected["requests"].tolist()
    np.testing.assert_allclose(got["concurrency"], expected["concurrency"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["mean_ms"], expected["mean_ms"], rtol=1e-9)


def test_reports_run_unchanged_with_the_dask_engine(tmp_path, cluster):
    from perfkit.report.run import run_report

    summary = run_report("regression", {"engine": "dask"}, tmp_path / "r.html")
    pandas_summary = run_report("regression", {}, tmp_path / "p.html")
    assert summary["regressed"] == pandas_summary["regressed"]
    overview = run_report("overview", {"engine": "dask"}, tmp_path / "o.html")
    pandas_overview = run_report("overview", {}, tmp_path / "po.html")
    assert overview["failing"] == pandas_overview["failing"]
    for name, figures in overview["classes"].items():  # means exact, class membership the same
        assert figures["mean_ms"] == pytest.approx(pandas_overview["classes"][name]["mean_ms"])
    leak = run_report("memory_leak", {"engine": "dask"}, tmp_path / "m.html")
    assert leak["leak"] is True and leak["leaks"] == run_report("memory_leak", {},
                                                                tmp_path / "pm.html")["leaks"]
    capacity = run_report("capacity", {"engine": "dask"}, tmp_path / "c.html")
    assert capacity["usl"] == run_report("capacity", {}, tmp_path / "pc.html")["usl"]
