"""Planted-bug tests for pg_stat_statements deltas (issue 16): the per-interval standard
deviation of execution time, from snapshots built from known batches of timings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.pg_deltas import pg_deltas
from perfkit.errors import InputError, PerfkitWarning

T0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")


def _snapshot(time: pd.Timestamp, statements: dict[int, np.ndarray]) -> pd.DataFrame:
    """What pg_stat_statements shows after the cumulative timings (ms) of each statement:
    calls, total, mean and the *population* standard deviation (as PostgreSQL reports it)."""
    return pd.DataFrame([{
        "snapshot_time": time, "queryid": queryid, "dbid": 1, "userid": 10, "toplevel": True,
        "query": f"SELECT {queryid}", "calls": len(ms), "total_exec_time": float(ms.sum()),
        "mean_exec_time": float(ms.mean()), "stddev_exec_time": float(ms.std(ddof=0)),
        "rows": len(ms),
    } for queryid, ms in statements.items()])  # fmt: skip


def test_interval_stddev_equals_numpy_on_the_interval_batch():
    rng = np.random.default_rng(42)
    first = {1: rng.gamma(2.0, 3.0, 500), 2: rng.normal(40, 2, 300).clip(1)}
    second = {1: rng.gamma(2.0, 7.0, 800), 2: rng.normal(90, 15, 200).clip(1)}  # slower
    third = {1: rng.gamma(5.0, 1.0, 50), 2: rng.normal(10, 1, 60).clip(1)}
    cumulative = {q: first[q] for q in first}
    snaps = [_snapshot(T0, cumulative)]
    for minutes, batch in ((1, second), (2, third)):
        cumulative = {q: np.concatenate([cumulative[q], batch[q]]) for q in cumulative}
        snaps.append(_snapshot(T0 + pd.Timedelta(minutes=minutes), cumulative))
    deltas = pg_deltas(pd.concat(snaps, ignore_index=True))
    assert len(deltas) == 4 and set(deltas["status"]) == {"ok"}
    for minutes, batch in ((1, second), (2, third)):
        end = T0 + pd.Timedelta(minutes=minutes)
        for queryid, ms in batch.items():
            row = deltas[(deltas["interval_end"] == end) & (deltas["queryid"] == queryid)].iloc[0]
            assert row["calls"] == len(ms)
            assert row["mean_exec_time"] == pytest.approx(ms.mean(), rel=1e-9)
            assert row["stddev_exec_time"] == pytest.approx(ms.std(ddof=0), rel=1e-6)


def test_a_global_reset_and_evictions_are_flagged_per_interval():
    """stats_reset changes before the third snapshot: every entry of that interval is reset
    (no deltas); dealloc grows before the second: that interval carries evictions."""
    ms = {1: np.full(10, 2.0), 2: np.full(20, 3.0)}
    snaps = []
    # the counters keep rising: only stats_reset tells the third interval was reset
    for minutes, factor, reset, dealloc in ((0, 1, "r0", 0), (1, 2, "r0", 3), (2, 3, "r1", 3),
                                            (3, 4, "r1", 3)):  # fmt: skip
        snap = _snapshot(T0 + pd.Timedelta(minutes=minutes),
                         {q: np.tile(v, factor) for q, v in ms.items()})  # fmt: skip
        snaps.append(snap.assign(stats_reset=reset, dealloc=dealloc))
    deltas = pg_deltas(pd.concat(snaps, ignore_index=True))
    by_end = deltas.groupby("interval_end")
    assert by_end["status"].agg(set).tolist() == [{"ok"}, {"reset"}, {"ok"}]
    assert by_end["evictions"].agg(set).tolist() == [{True}, {False}, {False}]
    reset = deltas[deltas["status"] == "reset"]
    assert reset["calls"].isna().all() and reset["total_exec_time"].isna().all()
    last = deltas[deltas["interval_end"] == T0 + pd.Timedelta(minutes=3)].set_index("queryid")
    assert last["calls"].to_dict() == {1: 10, 2: 20}


def _rows(time, entries) -> pd.DataFrame:
    """Snapshot rows from (queryid, userid, calls, total ms, rows, stats_since) tuples."""
    return pd.DataFrame([{
        "snapshot_time": time, "queryid": q, "dbid": 1, "userid": u, "toplevel": True,
        "query": "<insufficient privilege>" if q is None else f"SELECT {q}", "calls": c,
        "total_exec_time": t, "rows": r, "stats_since": since,
    } for q, u, c, t, r, since in entries])  # fmt: skip


def test_new_reset_and_recreated_entries_and_hidden_statements():
    """Four snapshots a minute apart. Statement 1 runs steadily; 2 appears in the second
    interval; 3's counters go down (reset alone); 4 is evicted and re-created with more calls
    (only stats_since tells). Two hidden entries of other roles (NULL queryid) run 5 + 7 calls
    a minute (10 + 0.7 ms)."""
    t = [T0 + pd.Timedelta(minutes=m) for m in range(4)]
    a, b = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-05 10:02:30", tz="UTC")
    snaps = pd.concat([
        _rows(t[0], [(1, 10, 100, 50.0, 100, a), (3, 10, 40, 8.0, 0, a), (4, 10, 5, 1.0, 5, a),
                     (None, 20, 50, 100.0, 0, a), (None, 21, 70, 7.0, 0, a)]),
        _rows(t[1], [(1, 10, 160, 80.0, 160, a), (2, 10, 9, 3.0, 18, a), (3, 10, 45, 9.0, 0, a),
                     (4, 10, 8, 1.5, 8, a), (None, 20, 55, 110.0, 0, a), (None, 21, 77, 7.7, 0, a)]),
        _rows(t[2], [(1, 10, 220, 110.0, 220, a), (2, 10, 19, 6.0, 38, a), (3, 10, 2, 1.0, 0, a),
                     (4, 10, 9, 2.0, 9, b), (None, 20, 60, 120.0, 0, a), (None, 21, 84, 8.4, 0, a)]),
        _rows(t[3], [(1, 10, 220, 110.0, 220, a), (2, 10, 29, 9.0, 58, a), (3, 10, 5, 2.0, 0, a),
                     (4, 10, 10, 2.5, 10, b), (None, 20, 65, 130.0, 0, a), (None, 21, 91, 9.1, 0, a)]),
    ], ignore_index=True)  # fmt: skip
    with pytest.warns(PerfkitWarning, match=r"2 statement\(s\) of 2 other role\(s\) are hidden"):
        deltas = pg_deltas(snaps)
    assert deltas["queryid"].notna().all()
    status = deltas.pivot(index="interval_end", columns="queryid", values="status")
    assert status[1].tolist() == ["ok", "ok", "ok"]
    assert status[2].dropna().tolist() == ["new", "ok", "ok"]
    assert status[3].tolist() == ["ok", "reset", "ok"]  # 45 -> 2 calls
    assert status[4].tolist() == ["ok", "reset", "ok"]  # re-created: stats_since moved
    calls = deltas.pivot(index="interval_end", columns="queryid", values="calls")
    assert calls[1].tolist() == [60, 60, 0] and calls[2].tolist() == [9, 10, 10]
    assert calls[3].isna().tolist() == [False, True, False] and calls[3].iloc[2] == 3
    assert (deltas["interval_s"] == 60.0).all()
    one = deltas[deltas["queryid"] == 1].reset_index(drop=True)
    assert one["mean_exec_time"].tolist()[:2] == [0.5, 0.5]
    assert np.isnan(one["mean_exec_time"].iloc[2])  # no calls in the interval: no mean
    assert one["rows_per_call"].tolist()[:2] == [1.0, 1.0]
    assert deltas.loc[deltas["queryid"] == 2, "rows_per_call"].tolist() == [2.0, 2.0, 2.0]
    assert not deltas["evictions"].any()
    # per interval, busiest first
    first = deltas[deltas["interval_end"] == t[1]]
    assert first["queryid"].tolist() == [1, 2, 3, 4]  # 30, 3, 1 and 0.5 ms
    hidden = deltas.attrs["perfkit"]["hidden"]
    assert hidden == {"statements": 2, "calls": 36, "total_exec_time": pytest.approx(32.1),
                      "roles": 2}  # fmt: skip


def test_snapshots_that_cannot_give_deltas_are_named():
    with pytest.raises(InputError, match="needs pg_stat_statements snapshots"):
        pg_deltas(pd.DataFrame({"snapshot_time": [T0], "query": ["x"]}))
    with pytest.raises(InputError, match="needs pg_stat_statements snapshots"):
        pg_deltas(pd.DataFrame({"calls": [1], "query": ["x"]}))
    with pytest.raises(InputError, match="at least two snapshots"):
        pg_deltas(_rows(T0, [(1, 10, 1, 1.0, 1, T0)]))
    # a hidden entry reset in the interval: what it holds since counts
    with pytest.warns(PerfkitWarning):
        reset = pg_deltas(pd.concat([
            _rows(T0, [(1, 10, 1, 1.0, 1, T0), (None, 20, 50, 5.0, 0, T0)]),
            _rows(T0 + pd.Timedelta(minutes=1), [(1, 10, 2, 2.0, 2, T0), (None, 20, 4, 0.4, 0, T0)]),
        ]))  # fmt: skip
    assert reset.attrs["perfkit"]["hidden"] == {"statements": 1, "calls": 4,
                                                "total_exec_time": pytest.approx(0.4), "roles": 1}  # fmt: skip
    none = pg_deltas(pd.concat([_rows(T0, [(1, 10, 1, 1.0, 1, T0)]),
                                _rows(T0 + pd.Timedelta(minutes=1), [(1, 10, 2, 2.0, 2, T0)])]))  # fmt: skip
    assert none.attrs["perfkit"]["hidden"] == {"statements": 0, "calls": 0,
                                               "total_exec_time": 0.0, "roles": 0}  # fmt: skip


def test_hidden_statements_that_come_and_go():
    """A hidden entry absent from the second snapshot (evicted), back in the third; one that
    never runs in the span is still counted and warned about; without userid, no roles."""
    t = [T0 + pd.Timedelta(minutes=m) for m in range(4)]
    seen = [(1, 10, 1, 1.0, 1, T0)]
    snaps = pd.concat([
        _rows(t[0], [*seen, (None, 20, 10, 1.0, 0, T0), (None, 21, 3, 0.3, 0, T0)]),
        _rows(t[1], [*seen, (None, 21, 3, 0.3, 0, T0)]),
        _rows(t[2], [*seen, (None, 20, 4, 0.4, 0, T0), (None, 21, 3, 0.3, 0, T0)]),
        _rows(t[3], [*seen, (None, 20, 4, 0.4, 0, T0), (None, 21, 3, 0.3, 0, T0)]),
    ], ignore_index=True)  # fmt: skip
    with pytest.warns(PerfkitWarning, match=r": 7 calls, 0.7 ms not shown"):
        deltas = pg_deltas(snaps)
    # sums 13, 3, 7, 7: a fall counts what is there since (3), then +4, then no change (0)
    hidden = deltas.attrs["perfkit"]["hidden"]
    assert hidden == {"statements": 2, "calls": 7, "total_exec_time": pytest.approx(0.7),
                      "roles": 2}  # fmt: skip
    assert deltas.index.tolist() == list(range(len(deltas)))
    idle = snaps[snaps["queryid"].notna() | (snaps["userid"] == 21)].drop(columns="userid")
    with pytest.warns(PerfkitWarning, match=r"1 statement\(s\) of 0 other role\(s\).*: 0 calls"):
        quiet = pg_deltas(idle)
    assert quiet.attrs["perfkit"]["hidden"] == {"statements": 1, "calls": 0,
                                                "total_exec_time": 0.0, "roles": 0}  # fmt: skip


# --- tests written to kill surviving mutants (issue 16); see tools/mutate.py -------------------


def _two(first: list, second: list) -> pd.DataFrame:
    """Two snapshots a minute apart from `_rows` tuples."""
    return pd.concat([_rows(T0, first), _rows(T0 + pd.Timedelta(minutes=1), second)],
                     ignore_index=True)  # fmt: skip


def test_the_errors_say_what_pg_deltas_needs_first():
    with pytest.raises(InputError, match=r"^pg_deltas needs pg_stat_statements snapshots "
                                         r"\(snapshot_time, calls"):  # fmt: skip
        pg_deltas(pd.DataFrame({"calls": [1]}))
    with pytest.raises(InputError, match=r"^pg_deltas needs at least two snapshots$"):
        pg_deltas(_rows(T0, [(1, 10, 1, 1.0, 1, T0)]))


def test_one_call_in_an_interval_has_its_own_time_and_no_spread():
    """Statement 1 runs once in the interval, 4.5 ms returning 3 rows: mean 4.5, 3 rows per
    call, spread 0 (one value); statement 2 runs twice, 2 and 6 ms: spread 2 ms."""
    first = _snapshot(T0, {1: np.array([1.0, 3.0]), 2: np.array([5.0])})
    second = _snapshot(T0 + pd.Timedelta(minutes=1),
                       {1: np.array([1.0, 3.0, 4.5]), 2: np.array([5.0, 2.0, 6.0])})  # fmt: skip
    second.loc[second["queryid"] == 1, "rows"] += 2  # 3 rows for the one call
    deltas = pg_deltas(pd.concat([first, second], ignore_index=True)).set_index("queryid")
    assert deltas.loc[1, "calls"] == 1 and deltas.loc[1, "mean_exec_time"] == pytest.approx(4.5)
    assert deltas.loc[1, "rows_per_call"] == pytest.approx(3.0)
    assert deltas.loc[1, "stddev_exec_time"] == pytest.approx(0.0, abs=1e-6)
    assert deltas.loc[2, "stddev_exec_time"] == pytest.approx(2.0, rel=1e-9)


def test_identical_timings_have_no_spread_even_when_rounding_dips_below_zero():
    """0.1 ms each time, 3 then 7 calls: PostgreSQL's stddev is 0 and the interval's variance,
    from the sums of squares, comes out a hair under 0 in floating point; its spread is 0."""
    frame = pd.concat([
        pd.DataFrame([{"snapshot_time": T0 + pd.Timedelta(minutes=m), "queryid": 1, "dbid": 1,
                       "userid": 10, "toplevel": True, "query": "SELECT 1", "calls": n,
                       "total_exec_time": n * 0.1, "mean_exec_time": 0.1,
                       "stddev_exec_time": 0.0, "rows": n}])
        for m, n in ((0, 3), (1, 7))
    ], ignore_index=True)  # fmt: skip
    deltas = pg_deltas(frame)
    assert deltas["calls"].tolist() == [4]
    assert deltas["stddev_exec_time"].tolist() == [0.0]


def test_a_mean_without_a_stddev_column_gives_means_and_no_spread():
    """Snapshots that report mean_exec_time but no stddev_exec_time (or the reverse): the
    interval's mean comes from the deltas, and there is no spread to report."""
    first = _snapshot(T0, {1: np.array([2.0, 4.0])})
    second = _snapshot(T0 + pd.Timedelta(minutes=1), {1: np.array([2.0, 4.0, 9.0, 11.0])})
    both = pd.concat([first, second], ignore_index=True)
    for dropped in ("stddev_exec_time", "mean_exec_time"):
        deltas = pg_deltas(both.drop(columns=dropped))
        assert "stddev_exec_time" not in deltas and "sumsq_exec_time" not in deltas
        assert deltas["mean_exec_time"].tolist() == [10.0]


def test_a_statement_without_its_text_still_has_deltas():
    """pg_stat_statements shows a NULL query when its text file could not be read: the entry
    is still a statement (it has a queryid), with its deltas."""
    deltas = pg_deltas(_two([(1, 10, 5, 2.0, 5, T0), (2, 10, 1, 1.0, 1, T0)],
                            [(1, 10, 9, 3.0, 9, T0), (2, 10, 4, 4.0, 4, T0)]).assign(
                                query=lambda f: f["query"].where(f["queryid"] != 2, None)))  # fmt: skip
    assert deltas.set_index("queryid")["calls"].to_dict() == {1: 4, 2: 3}


def test_rows_are_numbered_in_their_sorted_order():
    """Statement 1 comes first in the snapshots but spends less time than 2: 2's row leads the
    interval and the rows are numbered 0, 1 in that order."""
    deltas = pg_deltas(_two([(1, 10, 1, 1.0, 1, T0), (2, 10, 1, 1.0, 1, T0)],
                            [(1, 10, 2, 2.0, 2, T0), (2, 10, 2, 51.0, 2, T0)]))  # fmt: skip
    assert deltas["queryid"].tolist() == [2, 1]
    assert deltas.index.tolist() == [0, 1]
    assert deltas.loc[0, "total_exec_time"] == 50.0


def test_hidden_statements_first_seen_later_and_the_last_snapshot_counted():
    """No hidden entry in the first snapshot; 2 (of role 20) in the second, with 5 calls and
    3 ms; 3 of roles 20, 21 and 22 in the last, 8 calls and 4 ms more: everything they did
    in the span is counted, and the entries and roles of the last snapshot."""
    from perfkit.analysis.pg_deltas import hidden_statements

    t = [T0 + pd.Timedelta(minutes=m) for m in range(3)]
    seen = (1, 10, 1, 1.0, 1, T0)
    snaps = pd.concat([
        _rows(t[0], [seen]),
        _rows(t[1], [seen, (None, 20, 4, 2.0, 0, T0), (None, 20, 1, 1.0, 0, T0)]),
        _rows(t[2], [seen, (None, 20, 6, 3.0, 0, T0), (None, 20, 2, 1.5, 0, T0),
                     (None, 21, 3, 1.0, 0, T0), (None, 22, 2, 1.5, 0, T0)]),
    ], ignore_index=True)  # fmt: skip
    assert hidden_statements(snaps) == {"statements": 4, "calls": 13,
                                        "total_exec_time": pytest.approx(7.0), "roles": 3}  # fmt: skip
    # without their time, the time is unknown (NaN), not 0 ms; the calls are still known
    untimed = hidden_statements(snaps.drop(columns="total_exec_time"))
    assert untimed["calls"] == 13 and untimed["statements"] == 4
    assert np.isnan(untimed["total_exec_time"])
    # snapshots without a queryid column hide nothing
    assert hidden_statements(snaps.drop(columns="queryid")) == {
        "statements": 0, "calls": 0, "total_exec_time": 0.0, "roles": 0}  # fmt: skip


def test_hidden_time_is_worded_as_unknown_not_as_nan_ms():
    """The evidence table and the warning say the hidden statements' time is unknown when the
    snapshots lack total_exec_time (NaN), and give it in ms otherwise."""
    from perfkit.report.evidence import _hidden

    frame = pd.DataFrame()
    frame.attrs["perfkit"] = {"hidden": {"statements": 4, "calls": 1300, "roles": 3,
                                         "total_exec_time": float("nan")}}  # fmt: skip
    text = _hidden(frame)
    assert text.endswith("1,300 calls not shown (their time unknown)") and "nan" not in text
    frame.attrs["perfkit"]["hidden"]["total_exec_time"] = 1234.56
    assert _hidden(frame).endswith("1,300 calls, 1,234.6 ms not shown")
