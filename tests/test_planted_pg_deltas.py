"""Planted-bug tests for pg_stat_statements deltas (issue 16): the per-interval standard
deviation of execution time, from snapshots built from known batches of timings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.pg_deltas import pg_deltas

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
