"""read_profile on real cProfile dumps: agreement with pstats, merging, middleware metadata."""

from __future__ import annotations

import cProfile
import json
import marshal
import pstats
import re
import sqlite3

import pandas as pd
import pytest

from perfkit import InputError, read_profile
from tests.apps.warehouse_views import create_app


def real_work(n: int) -> int:
    for _ in range(n):
        json.loads(json.dumps({"sku": list(range(30)), "name": "pallet"}))
    found = re.findall(r"(\w+)@(\w+)\.com", "a@b.com c@d.com " * n)
    con = sqlite3.connect(":memory:")
    con.execute("create table t(a int)")
    con.executemany("insert into t values (?)", [(i,) for i in range(n)])
    return con.execute("select sum(a) from t").fetchone()[0] + len(found) + fib(12)


def fib(k: int) -> int:  # recursion: primitive calls differ from calls
    return k if k < 2 else fib(k - 1) + fib(k - 2)


@pytest.fixture
def dumps(tmp_path):
    paths = []
    for i, n in enumerate((200, 400, 800)):
        profiler = cProfile.Profile()
        profiler.runcall(real_work, n)
        path = tmp_path / f"run{i}.prof"
        profiler.dump_stats(path)
        paths.append(path)
    return paths


def assert_agrees_with_pstats(profile, paths):
    reference = pstats.Stats(*[str(p) for p in paths])
    functions = profile.functions.set_index("function")
    assert len(functions) == len(reference.stats)
    for (file, line, name), (cc, nc, tt, ct, _) in reference.stats.items():
        row = functions.loc[f"{file}:{line}({name})"]
        assert (row["ncalls"], row["primcalls"]) == (nc, cc)
        assert row["tottime_s"] == pytest.approx(tt, rel=1e-12, abs=1e-15)
        assert row["cumtime_s"] == pytest.approx(ct, rel=1e-12, abs=1e-15)
    edges = profile.edges.set_index(["caller", "callee"])
    n_edges = 0
    for (file, line, name), (*_, callers) in reference.stats.items():
        for (cfile, cline, cname), (enc, ecc, ett, ect) in callers.items():  # an edge: nc first
            edge = edges.loc[(f"{cfile}:{cline}({cname})", f"{file}:{line}({name})")]
            assert (edge["ncalls"], edge["primcalls"]) == (enc, ecc)
            assert edge["tottime_s"] == pytest.approx(ett, rel=1e-12, abs=1e-15)
            assert edge["cumtime_s"] == pytest.approx(ect, rel=1e-12, abs=1e-15)
            n_edges += 1
    assert n_edges == len(edges)


def test_one_dump_agrees_with_pstats(dumps):
    profile = read_profile(dumps[0])
    assert profile.kind == "deterministic"
    assert_agrees_with_pstats(profile, dumps[:1])
    fib_row = profile.functions[profile.functions["name"] == "fib"].iloc[0]
    assert fib_row["primcalls"] == 1 and fib_row["ncalls"] > 100  # recursion counted as pstats does
    assert profile.total_s == pytest.approx(pstats.Stats(str(dumps[0])).total_tt, rel=1e-12)


def test_merged_dumps_equal_pstats_add(dumps):
    profile = read_profile(dumps)
    assert_agrees_with_pstats(profile, dumps)
    assert profile.dumps["file"].tolist() == [str(p) for p in dumps]
    assert profile.dumps["total_s"].sum() == pytest.approx(profile.total_s, rel=1e-12)
    assert profile.per_dump["dump"].nunique() == 3


def test_profiler_middleware_dumps_and_their_metadata(tmp_path):
    from werkzeug.middleware.profiler import ProfilerMiddleware

    app = create_app()
    app.wsgi_app = ProfilerMiddleware(app.wsgi_app, stream=None, profile_dir=str(tmp_path))
    client = app.test_client()
    for order in (17, 23, 42):
        assert client.get(f"/orders/{order}").status_code == 200
    files = sorted(tmp_path.glob("*.prof"))
    assert len(files) == 3
    profile = read_profile(str(tmp_path / "*.prof"))
    assert_agrees_with_pstats(profile, files)
    dumps = profile.dumps
    assert dumps["method"].tolist() == ["GET"] * 3
    assert sorted(dumps["path"]) == ["/orders/17", "/orders/23", "/orders/42"]
    assert set(dumps["route"]) == {"/orders/{id}"}
    assert (dumps["request_ms"] >= 5).all()  # each request sleeps 5 ms in price_lines
    assert (dumps["timestamp"] > pd.Timestamp("2020-01-01", tz="UTC")).all()
    names = set(profile.functions["name"])
    assert {"order", "price_lines", "render"} <= names


def test_bad_dumps_are_named(tmp_path, dumps):
    data = dumps[0].read_bytes()
    cut = tmp_path / "cut.prof"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.prof: truncated profile dump.*cProfile -o"):
        read_profile(cut)
    other = tmp_path / "list.prof"
    other.write_bytes(marshal.dumps([1, 2, 3]))
    with pytest.raises(InputError, match=r"list\.prof: marshal data holds a list, not a profile"):
        read_profile(other)
    wrong_dict = tmp_path / "dict.prof"
    wrong_dict.write_bytes(marshal.dumps({"a": 1}))
    with pytest.raises(InputError, match=r"dict\.prof: marshal data is a dict but entry 'a'"):
        read_profile(wrong_dict)
    future = tmp_path / "future.prof"
    future.write_bytes(b"\xff" + data[1:])  # a type code this Python's marshal does not know
    with pytest.raises(
        InputError,
        match=r"future\.prof: not a profile dump readable by this Python.*different Python version",
    ):
        read_profile(future)
    empty = tmp_path / "empty.prof"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.prof: empty file, not a profile"):
        read_profile(empty)


def test_compressed_middleware_dumps_read_like_plain_ones(tmp_path):
    import gzip
    import shutil

    profiler = cProfile.Profile()
    profiler.enable()
    sorted(range(50_000), key=lambda x: -x)
    profiler.disable()
    plain = tmp_path / "GET.orders.7.12ms.1767225600.prof"
    profiler.dump_stats(plain)
    packed = tmp_path / "packed" / (plain.name + ".gz")
    packed.parent.mkdir()
    with open(plain, "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a, b = read_profile(plain), read_profile(packed)
    pd.testing.assert_frame_equal(a.functions, b.functions)
    assert b.dumps["path"].iloc[0] == "/orders/7" and b.dumps["request_ms"].iloc[0] == 12
    broken = tmp_path / "broken.prof.gz"
    broken.write_bytes(packed.read_bytes()[:40])
    with pytest.raises(InputError, match=r"broken\.prof\.gz"):
        read_profile(broken)


@pytest.mark.parametrize("version", ["py311", "py312", "py313"])
def test_recursive_edges_keep_pstats_counts_in_their_order(version):
    """A caller edge is (nc, cc, tt, ct) in pstats, the reverse of a function's (cc, nc)."""
    from pathlib import Path

    path = Path(__file__).parent / "data/wild/profiles/recorded" / f"recurse-{version}.prof"
    reference = pstats.Stats(str(path))
    ((key, value),) = [(k, v) for k, v in reference.stats.items() if k[2] == "fib"]
    nc, cc = value[4][key][:2]  # fib calling itself
    assert nc > cc  # recursion: many calls, few of them primitive
    label = f"{key[0]}:{key[1]}(fib)"
    edge = read_profile(path).edges.set_index(["caller", "callee"]).loc[(label, label)]
    assert (edge["ncalls"], edge["primcalls"]) == (nc, cc)
