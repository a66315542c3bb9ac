"""compare_profiles on per-request dumps with a planted regression; flame_diff colours it."""

from __future__ import annotations

import pandas as pd
import pytest

from perfkit import compare_profiles, read_profile
from perfkit.plots import flame_diff
from tests.apps.warehouse_views import create_app

REQUESTS = 12


def profiled(folder, app, paths: list[str]):
    """`app` serving `paths` under Werkzeug's ProfilerMiddleware: one dump per request."""
    return profiled_together([(folder, app, paths)])[0]


def profiled_together(sides):
    """Each (folder, app, paths) side's dumps, its requests taken in turn with the other
    sides' (A, B, A, B, ...): a machine that gets busier or quieter while they run moves
    every side alike, not the side recorded last.

    The cyclic collector is paused while they run: inside pytest the heap is large, and a full
    collection landing in one request adds tens of ms to whichever function allocated last,
    noise these truths are not about."""
    import gc
    import itertools

    from werkzeug.middleware.profiler import ProfilerMiddleware

    clients = []
    for folder, app, _ in sides:
        folder.mkdir()
        app.wsgi_app = ProfilerMiddleware(app.wsgi_app, stream=None, profile_dir=str(folder))
        clients.append(app.test_client())
    turns = itertools.zip_longest(*[[(c, p) for p in paths]
                                    for c, (_, _, paths) in zip(clients, sides, strict=True)])
    gc.collect()
    gc.disable()
    try:
        for client, path in (t for turn in turns for t in turn if t is not None):
            assert client.get(path).status_code == 200
    finally:
        gc.enable()
    return [read_profile(str(folder / "*.prof")) for folder, _, _ in sides]


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff")
    paths = [f"/orders/{i}" for i in range(REQUESTS)]
    base, cand = profiled_together([(tmp / "base", create_app(slow_pricing=False), paths),
                                    (tmp / "cand", create_app(slow_pricing=True), paths)])
    return base, cand


def test_planted_regression_is_found_and_attributed(sides):
    base, cand = sides
    table = compare_profiles(base, cand, detail=True).set_index("name")
    # price_lines sleeps 20 ms instead of 5 ms per request: +15 ms, all of it in time.sleep
    assert table.loc["price_lines", "change_s"] == pytest.approx(0.015, abs=0.005)
    assert table.loc["price_lines", "verdict"] == "regressed"
    assert table.loc["order", "verdict"] == "regressed"  # its caller carries it too
    sleep = table.index[table.index.str.contains("time.sleep")][0]
    assert table.loc[sleep, "contribution"] == pytest.approx(1.0, abs=0.25)
    assert table.iloc[0].name == sleep  # sorted by contribution
    assert table.loc["render", "verdict"] == "unchanged"  # untouched code
    assert table["contribution"].sum() == pytest.approx(1.0, abs=1e-6)
    assert (table.loc["price_lines", ["n_base", "n_cand"]] == REQUESTS).all()
    assert table.attrs["total_s_cand"] - table.attrs["total_s_base"] == pytest.approx(
        0.015, abs=0.006
    )


def test_the_default_table_is_the_head_and_the_changes_of_the_detail(sides):
    """The default frame: the top rows by contribution plus every function judged changed,
    in a few columns, cut from the full comparison (`detail=True`) without reordering."""
    from perfkit.analysis.profile_diff import CHANGED, SHORT_COLUMNS

    base, cand = sides
    full = compare_profiles(base, cand, detail=True)
    short = compare_profiles(base, cand, top=5)
    changed = full["verdict"].isin(CHANGED)
    assert changed.sum() >= 2 and len(full) > 5 + changed.sum()  # there is a tail to cut
    expected = full[(full.index < 5) | changed]
    assert list(short.columns) == SHORT_COLUMNS and len(full.columns) > len(SHORT_COLUMNS)
    pd.testing.assert_frame_equal(short, expected[SHORT_COLUMNS].reset_index(drop=True))
    assert short.attrs["functions"] == len(full)
    assert short.attrs["left_out"] == len(full) - len(short)
    assert short.iloc[0]["function"] == full.iloc[0]["function"]  # still ranked by contribution


def test_one_dump_per_side_is_insufficient(sides, tmp_path):
    base, cand = sides
    one_base = read_profile(base.dumps["file"].iloc[0])
    one_cand = read_profile(cand.dumps["file"].iloc[0])
    table = compare_profiles(one_base, one_cand, detail=True).set_index("name")
    assert set(table["verdict"]) == {"insufficient data"}
    assert table.loc["price_lines", "change_s"] > 0.005  # the numbers are still shown


def test_flame_diff_colours_the_change(sides):
    base, cand = sides
    fig = flame_diff(base, cand, min_fraction=0.0005)  # render is ~0.3 % of the time: keep it
    icicle = fig.data[0]
    colours = dict(zip(icicle.labels, icicle.marker.colors, strict=True))
    assert colours["price_lines"] == pytest.approx(15.0, abs=5.0)  # ms per request
    assert abs(colours["render"]) < 1.0
    assert icicle.marker.cmid == 0


def pages(heavy: int, light: int) -> list[str]:
    """`heavy` report pages and `light` item pages, spread evenly over the run."""
    paths = [((i + 0.5) / heavy, f"/reports/{i + 1}") for i in range(heavy)]
    paths += [((i + 0.5) / light, f"/items/{i + 1}") for i in range(light)]
    return [path for _, path in sorted(paths)]


def test_a_different_mix_of_profiled_routes_is_not_a_change(tmp_path):
    """Base: 12 heavy + 8 light dumps; candidate: 6 heavy + 14 light, where only the shared
    query (``sqlite3.Cursor.execute``) grew. Pooled per dump, ``render`` looks like the
    biggest change (fewer heavy pages); per route at the baseline's mix it is not.

    Six dumps is the fewest per route: with three, one stalled query on a busy machine leaves
    Welch-Satterthwaite two degrees of freedom and an 18x growth short of significance."""
    from tests.apps import mix_pages

    base, cand = profiled_together([
        (tmp_path / "base", mix_pages.create_app(slow_query=False), pages(heavy=12, light=8)),
        (tmp_path / "cand", mix_pages.create_app(slow_query=True), pages(heavy=6, light=14)),
    ])  # fmt: skip
    table = compare_profiles(base, cand)
    top = table.iloc[0]
    assert "execute" in top["name"] and top["verdict"] == "regressed"
    render = table.set_index("name").loc["render"]
    # pooled, render "falls" by 0.7-0.9x what execute grew (the assertion at the end); per
    # route it does not move: half that is far from both on a busy machine
    assert abs(render["contribution_s"]) < 0.45 * top["contribution_s"]
    assert render["verdict"] != "regressed"
    assert table.attrs["weights"] == pytest.approx({"GET /reports/{id}": 0.6,
                                                    "GET /items/{id}": 0.4})  # fmt: skip
    pooled = compare_profiles(base, cand, by_route=False).set_index("name")
    # the confound this guards against: pooled, render "fell" by a third of what execute grew
    assert pooled.loc["render", "contribution_s"] < -top["contribution_s"] / 3
