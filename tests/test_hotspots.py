"""Hot spots: top functions and the time of app, library and stdlib code."""

from __future__ import annotations

import cProfile
import pstats
import sqlite3
import time

import pytest

from perfkit import hotspots, read_profile
from perfkit.analysis.hotspots import classify


def app_work():
    con = sqlite3.connect(":memory:")
    con.execute("create table t(a int)")
    con.executemany(
        "insert into t values (?)", [(i,) for i in range(20000)]
    )  # C code, called from here
    time.sleep(0.02)  # C code too: charged to this app function
    total = 0
    for i in range(200_000):  # own Python time
        total += i % 7
    return total


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("hot") / "app.prof"
    profiler = cProfile.Profile()
    profiler.runcall(app_work)
    profiler.dump_stats(path)
    return read_profile(path)


def test_groups_add_up_and_builtins_follow_their_caller(profile):
    spots = hotspots(profile)
    assert spots.groups["self_s"].sum() == pytest.approx(profile.total_s, rel=1e-9)
    assert spots.groups["share"].sum() == pytest.approx(1.0)
    app = spots.groups[spots.groups["group"] == "app"]["self_s"].sum()
    # independently, from pstats: the own time of this file's functions (app_work and its
    # list comprehension) plus every C built-in only they called
    stats = pstats.Stats(str(profile.dumps["file"].iloc[0])).stats
    own = sum(v[2] for k, v in stats.items() if k[0] == __file__)
    builtins = sum(
        tt
        for (file, _, _), (_, _, tt, _, callers) in stats.items()
        if file == "~" and callers and all(c[0] == __file__ for c in callers)
    )
    assert app == pytest.approx(own + builtins, rel=1e-6)
    assert app >= 0.02  # the sleep is the app's


def test_top_lists(profile):
    spots = hotspots(profile, top=3)
    assert len(spots.by_self) == 3
    assert spots.by_self["tottime_s"].is_monotonic_decreasing
    assert spots.by_cumulative.iloc[0]["name"] == "app_work"
    assert spots.by_cumulative.iloc[0]["group"] == "app"


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("~", ("builtin", "")),
        (
            "/srv/wh/.venv/lib/python3.11/site-packages/sqlalchemy/orm/query.py",
            ("library", "sqlalchemy"),
        ),
        ("/usr/lib/python3/dist-packages/jinja2/environment.py", ("library", "jinja2")),
        (sqlite3.__file__, ("stdlib", "sqlite3")),
        ("json/decoder.py", ("stdlib", "json")),  # py-spy's short stdlib paths
        ("/srv/wh/app/views.py", ("app", "")),
        ("<frozen importlib._bootstrap>", ("stdlib", "importlib")),
    ],
)
def test_classify(file, expected):
    assert classify(file) == expected
