"""`judge` on hand-built comparison frames with a planted answer (issue 16).

Each key is given its ratio, a normal interval from its log standard error and a p-value;
the run-wide shift is planted by giving most keys the same ratio. Expected verdicts follow
from the module docstring's rules; expected numbers from its formulas written out here
(the median's variance ``pi/2 * K / (sum 1/sigma_i)^2``, leave one out for the relative
reading), Holm by hand and Benjamini-Hochberg by scipy.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfkit.analysis.regression.verdict import MAX_SPREAD, Shift, judge

Z = stats.norm.ppf(0.975)


def key(ratio, base=100.0, se=0.01, p=1e-12, p95=None, p95_base=None, p95_se=0.01) -> dict:
    """One key: median `base` -> `base * ratio` ms, interval ratio * exp(+-1.96 se)."""
    row = {"ratio": ratio, "ci_low": ratio * np.exp(-Z * se), "ci_high": ratio * np.exp(Z * se),
           "p_value": p, "log_se": se, "p50_base": base, "p50_cand": base * ratio}  # fmt: skip
    if p95 is not None:
        b = 2 * base if p95_base is None else p95_base
        row.update(p95_base=b, p95_cand=b * p95, p95_ratio=p95, p95_ci_low=p95 * np.exp(-Z * p95_se),
                   p95_ci_high=p95 * np.exp(Z * p95_se), p95_log_se=p95_se)  # fmt: skip
    return row


def frame(rows: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index")


def flats(n: int, ratio: float, **kw) -> dict[str, dict]:
    """`n` keys that all moved by `ratio`: the run-wide shift."""
    return {f"/flat{i}": key(ratio, **kw) for i in range(n)}


def median_variance(s, tau: float = 0.0) -> float:
    """The docstring's variance of the median of the keys' log ratios."""
    s = np.asarray(s, dtype=float)
    return np.pi / 2 * len(s) / np.sum(1 / np.sqrt(s**2 + tau**2)) ** 2


def holm(p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    m, out, running = len(p), np.empty(len(p)), 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def verdicts(out: pd.DataFrame) -> dict[str, str]:
    return out["verdict"].to_dict()


def test_the_defaults_on_too_few_keys_for_a_shift():
    """Four keys (the default needs 5 for a shift): raw verdicts with alpha 5 %, Holm, a 5 %
    and 1 ms practical floor."""
    table = frame({
        "/p20": key(1.5, p=0.2),  # large but p = 0.2: not significant at 5 %
        "/ten": key(1.10),  # +10 %, 10 ms: clears both floors
        "/ms": key(1.075, base=20.0),  # +7.5 %, 1.5 ms
        "/sub": key(1.09, base=10.0),  # +9 %, but 0.9 ms: under 1 ms
    })  # fmt: skip
    out = judge(table)
    assert out["p_adjusted"].to_numpy() == pytest.approx(holm(table["p_value"]), rel=1e-12)
    assert verdicts(out) == {"/p20": "unchanged", "/ten": "regressed", "/ms": "regressed",
                             "/sub": "unchanged"}  # fmt: skip
    assert (out["verdict"] == out["raw_verdict"]).all()
    shift = out.attrs["shift"]
    assert not shift.estimated and shift.keys == 4 and shift.min_keys == 5
    assert shift.what == "endpoints" and not shift.applied
    assert shift.to_dict()["split"] is False
    assert "Only 4 endpoints" in shift.describe() and "under 5" in shift.describe()
    assert shift.describe().endswith("so each is judged on its raw times.")
    # a fifth key makes a shift estimable with the defaults
    five = judge(frame({**{k: key(1.1) for k in table.index}, "/fifth": key(1.1)}))
    assert five.attrs["shift"].estimated and five.attrs["shift"].keys == 5


def test_with_too_few_keys_the_raw_verdict_stands_when_the_relative_reading_differs():
    """Three keys: no shift, so the raw verdict (its own test: p = 0.01, Holm 0.03) stands
    even though the normal reading of the log ratio alone (z = log 1.1 / 0.045 = 2.12, Holm
    x3 = 0.10) finds nothing."""
    table = frame({"/mw": key(1.1, se=0.045, p=0.01), "/a": key(1.0, p=0.8),
                   "/b": key(1.0, p=0.9)})  # fmt: skip
    out = judge(table)
    rel_p = 2 * stats.norm.sf(np.log(1.1) / 0.045)
    assert out.loc["/mw", "rel_p_value"] == pytest.approx(rel_p, rel=1e-9)
    assert out.loc["/mw", "rel_p_adjusted"] == pytest.approx(3 * rel_p, rel=1e-9)
    assert out.loc["/mw", "relative_verdict"] == "unchanged"
    assert out.loc["/mw", "raw_verdict"] == "regressed"
    assert out.loc["/mw", "verdict"] == "regressed"


def shifted_run() -> pd.DataFrame:
    """Eight keys +20 % (the shift), one +30 % beyond it, one that stayed (-17 % against the
    run), one whose change beyond the shift is 8 % but 0.8 ms, one too vague to tell."""
    return frame({
        **flats(8, 1.2),
        "/beyond": key(1.2 * 1.3),
        "/still": key(1.0, p=0.6),
        "/small": key(1.2 * 1.08, base=10.0),  # 10 -> 12.96 ms; 10.8 ms against the shift
        "/vague": key(1.2, se=0.2, p=0.3),
    })  # fmt: skip


def test_a_planted_shift_with_the_defaults():
    table = shifted_run()
    out = judge(table)
    shift = out.attrs["shift"]
    s = table["log_se"].to_numpy()
    half = Z * np.sqrt(median_variance(s))
    assert shift.factor == pytest.approx(1.2, rel=1e-12)
    assert (shift.ci_low, shift.ci_high) == pytest.approx((1.2 * np.exp(-half), 1.2 * np.exp(half)),
                                                          rel=1e-9)  # fmt: skip
    assert shift.keys == 12 and shift.spread == 0.0 and shift.estimated and shift.material
    assert shift.applied and shift.normalized and not shift.split
    assert shift.max_spread == MAX_SPREAD and shift.min_shift == 0.02
    assert shift.what == "endpoints" and shift.direction == "slower"
    assert np.isnan(shift.p95_factor)  # no p95 columns
    want = dict.fromkeys(flats(8, 1.2), "moved with shift") | {
        "/beyond": "regressed",  # +30 % against the run: raw and relative agree
        "/still": "unchanged",  # raw unchanged; relative improved: never improved
        "/small": "moved with shift",  # 0.8 ms against the shift: under the 1 ms floor
        "/vague": "unchanged",  # neither reading finds anything
    }  # fmt: skip
    assert verdicts(out) == want
    assert out.loc["/still", "relative_verdict"] == "improved"
    assert out.loc["/small", ["raw_verdict", "relative_verdict"]].tolist() == [
        "regressed",
        "unchanged",
    ]
    # the relative reading of /beyond: its log ratio less the others' median, the others'
    # median's variance added (leave one out)
    others = np.delete(s, table.index.get_loc("/beyond"))
    se = np.sqrt(0.01**2 + median_variance(others))
    row = out.loc["/beyond"]
    assert row["rel_ratio"] == pytest.approx(1.3, rel=1e-12)
    assert (row["rel_ci_low"], row["rel_ci_high"]) == pytest.approx(
        (1.3 * np.exp(-Z * se), 1.3 * np.exp(Z * se)), rel=1e-9
    )
    assert row["rel_p_value"] == pytest.approx(2 * stats.norm.sf(np.log(1.3) / se), rel=1e-6)
    assert out["rel_p_adjusted"].to_numpy() == pytest.approx(holm(out["rel_p_value"]), rel=1e-12)
    # a floor of 0.5 ms lets /small's 0.8 ms beyond the shift count
    assert judge(table, min_abs=0.5).loc["/small", "verdict"] == "regressed"
    # another name for the keys and another confidence
    named = judge(table, what="statements", confidence=0.9).attrs["shift"]
    assert named.what == "statements" and "the statements" in named.describe()
    half90 = stats.norm.ppf(0.95) * np.sqrt(median_variance(s))
    assert named.ci_high == pytest.approx(1.2 * np.exp(half90), rel=1e-9)


def test_normalize_off_keeps_every_raw_verdict():
    table = shifted_run()
    out = judge(table, normalize=False)
    assert (out["verdict"] == out["raw_verdict"]).all()
    assert verdicts(out) == dict.fromkeys(flats(8, 1.2), "regressed") | {
        "/beyond": "regressed", "/still": "unchanged", "/small": "regressed",
        "/vague": "unchanged"}  # fmt: skip
    shift = out.attrs["shift"]
    assert shift.material and not shift.applied and not shift.normalized
    assert shift.describe().endswith("(normalize is off).")
    # the relative reading is still computed and shown
    assert out.loc["/beyond", "rel_ratio"] == pytest.approx(1.3, rel=1e-12)


def test_a_material_speed_up():
    """Everything 20 % faster: faster keys moved with it; a key raw unchanged stays unchanged
    whatever its relative reading; one 30 % faster beyond the run improved."""
    table = frame({
        **flats(8, 0.8),
        "/beyond": key(0.8 * 0.7),
        "/stayed": key(1.0, p=0.6),  # slower than the run, not in raw time
        "/vague": key(0.8, se=0.2, p=0.3),
    })  # fmt: skip
    out = judge(table)
    shift = out.attrs["shift"]
    assert shift.factor == pytest.approx(0.8, rel=1e-12)
    assert shift.material and shift.applied and shift.direction == "faster"
    assert verdicts(out) == dict.fromkeys(flats(8, 0.8), "moved with shift") | {
        "/beyond": "improved", "/stayed": "unchanged", "/vague": "unchanged"}  # fmt: skip
    assert out.loc["/stayed", "relative_verdict"] == "regressed"
    assert out.loc["/vague", ["raw_verdict", "relative_verdict"]].tolist() == [
        "unchanged",
        "unchanged",
    ]


def test_min_shift_decides_whether_a_shift_is_material():
    table = shifted_run()
    out = judge(table, min_shift=0.25)  # +20 % is under a 25 % floor
    shift = out.attrs["shift"]
    assert shift.estimated and not shift.material and shift.min_shift == 0.25
    assert shift.applied  # still significant: keys are judged against it
    # raw +20 % like the rest, and no material shift to have moved with: unchanged
    assert set(out.loc[list(flats(8, 1.2)), "verdict"]) == {"unchanged"}
    assert out.loc["/beyond", "verdict"] == "regressed"
    assert "too small to matter (under 25%)" in shift.describe()


def test_keys_marked_insufficient():
    """A key without a p-value, or one the caller marks, has insufficient data; the marks are
    added to the missing p-values, not put in their place."""
    table = frame({"/nan": key(1.5, p=np.nan), "/marked": key(1.5), "/ok": key(1.5)})
    want = {"/nan": "insufficient data", "/marked": "insufficient data", "/ok": "regressed"}
    for marks in (np.array([False, True, False]), pd.Series([False, True, False]),
                  np.array([0, 1, 0])):  # fmt: skip
        out = judge(table, insufficient=marks)
        assert verdicts(out) == want
        assert np.isnan(out.loc["/nan", "p_adjusted"])
    assert verdicts(judge(table)) == want | {"/marked": "regressed"}
    assert np.isnan(judge(table).loc["/nan", "rel_p_value"])


def test_the_correction_applies_to_the_relative_p_values_too():
    """Three keys (no shift): relative z of exactly 2.5, 2.2 and 0 from the log ratios."""
    se = 0.04
    table = frame({"/a": key(np.exp(2.5 * se), se=se, p=0.01),
                   "/b": key(np.exp(2.2 * se), se=se, p=0.02),
                   "/c": key(1.0, se=se, p=0.5)})  # fmt: skip
    rel_p = 2 * stats.norm.sf([2.5, 2.2, 0.0])
    bh = judge(table, correction="bh")
    assert bh["rel_p_value"].to_numpy() == pytest.approx(rel_p, rel=1e-9)
    assert bh["rel_p_adjusted"].to_numpy() == pytest.approx(
        stats.false_discovery_control(rel_p, method="bh"), rel=1e-9
    )
    assert bh["p_adjusted"].to_numpy() == pytest.approx(
        stats.false_discovery_control([0.01, 0.02, 0.5], method="bh"), rel=1e-12
    )
    default = judge(table)
    assert default["rel_p_adjusted"].to_numpy() == pytest.approx(holm(rel_p), rel=1e-9)
    assert bh.loc["/b", "rel_p_adjusted"] < default.loc["/b", "rel_p_adjusted"]  # they differ


def test_the_relative_p_value_at_alpha_is_not_significant():
    """A key 3.5 standard errors beyond the shift: Holm over nine keys gives 9 x its p. At
    alpha equal to that it moved with the shift; a hair above, it regressed."""
    k = 9
    se = np.sqrt(0.01**2 + median_variance(np.full(k - 1, 0.01)))
    q = np.exp(3.5 * se)  # +3.8 % beyond the shift: 3.8 ms
    table = frame({**flats(k - 1, 1.2), "/edge": key(1.2 * q)})
    p_adj = k * 2 * stats.norm.sf(3.5)
    first = judge(table, min_ratio=0.01)
    at = first.loc["/edge", "rel_p_adjusted"]
    assert at == pytest.approx(p_adj, rel=1e-6)
    out = judge(table, min_ratio=0.01, alpha=at)
    assert out.loc["/edge", "relative_verdict"] == "unchanged"
    assert out.loc["/edge", "verdict"] == "moved with shift"
    above = judge(table, min_ratio=0.01, alpha=np.nextafter(at, 1))
    assert above.loc["/edge", "relative_verdict"] == "regressed"
    assert above.loc["/edge", "verdict"] == "regressed"


def test_no_shift_and_no_spread_leaves_raw_verdicts_and_a_spread_floor_applies():
    """Eight keys unchanged, one +30 %, one +8 %: no shift, no spread; judged on raw times.
    With a floor of 0.05 under the spread (as the report passes the endpoints' own) the +8 %
    is no bigger than keys differ from run to run: unchanged."""
    table = frame({**flats(8, 1.0, p=0.6), "/up": key(1.3), "/mild": key(1.08)})
    out = judge(table)
    shift = out.attrs["shift"]
    assert shift.estimated and not shift.significant and shift.spread == 0.0
    assert not shift.applied
    assert "With no shift and no spread beyond sampling error" in shift.describe()
    assert out.loc["/up", "verdict"] == "regressed" and out.loc["/mild", "verdict"] == "regressed"
    floor = judge(table, min_spread=0.05)
    shift = floor.attrs["shift"]
    assert shift.spread == 0.05 and shift.applied and not shift.material
    s = table["log_se"].to_numpy()
    half = Z * np.sqrt(median_variance(s, 0.05))
    assert shift.ci_high == pytest.approx(np.exp(half), rel=1e-9)
    others = np.delete(s, table.index.get_loc("/up"))
    se = np.sqrt(0.01**2 + 0.05**2 + median_variance(others, 0.05))
    assert floor.loc["/up", "rel_ci_low"] == pytest.approx(1.3 * np.exp(-Z * se), rel=1e-9)
    assert floor.loc["/up", "verdict"] == "regressed"
    assert floor.loc["/mild", "raw_verdict"] == "regressed"
    assert floor.loc["/mild", "relative_verdict"] == "unchanged"
    assert floor.loc["/mild", "verdict"] == "unchanged"


def test_a_spread_above_max_spread_means_the_keys_do_not_move_together():
    log_ratio = np.array([-0.6, -0.4, -0.2, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])  # sd 0.47
    table = frame({f"/k{i}": key(np.exp(r)) for i, r in enumerate(log_ratio)})
    out = judge(table)
    shift = out.attrs["shift"]
    assert shift.estimated and shift.spread > MAX_SPREAD
    assert shift.split and not shift.applied and shift.to_dict()["split"] is True
    assert (out["verdict"] == out["raw_verdict"]).all()
    assert shift.describe().startswith("**The endpoints do not move together:**")


def test_a_spread_of_exactly_max_spread_still_moves_together():
    """The spread floored at exactly the bound: not above it, so the shift is applied; a bound
    a hair lower splits the keys and leaves raw verdicts."""
    table = shifted_run()
    out = judge(table, min_spread=0.15, max_spread=0.15)
    shift = out.attrs["shift"]
    assert shift.spread == 0.15 and not shift.split and shift.applied
    assert out.loc["/flat0", "verdict"] == "moved with shift"
    lower = judge(table, min_spread=0.15, max_spread=np.nextafter(0.15, 0))
    assert lower.attrs["shift"].split and not lower.attrs["shift"].applied
    assert lower.attrs["shift"].max_spread == np.nextafter(0.15, 0)
    assert lower.loc["/flat0", "verdict"] == "regressed"


def test_a_tail_judged_against_the_tails_shift():
    """Medians +20 %, p95s +50 % (the tails' own shift). Against it: a p95 +50 % beyond it
    regressed; a p95 40 % under it is an improvement the relative reading sees, so the raw
    regression (median +20 %) is unchanged; a p95 +8 % beyond it but only 0.8 ms (10 -> 16.2
    ms, 10.8 against the tails' 1.5) is under the floor."""
    table = frame({
        **flats(8, 1.2, p95=1.5),
        "/tail": key(1.2, p95=1.5 * 1.5),
        "/tail_fast": key(1.2, p95=1.5 * 0.6),
        "/tail_ms": key(1.2, base=5.0, p95=1.5 * 1.08, p95_base=10.0),
    })  # fmt: skip
    out = judge(table)
    shift = out.attrs["shift"]
    assert shift.factor == pytest.approx(1.2, rel=1e-12)
    assert shift.p95_factor == pytest.approx(1.5, rel=1e-12)
    assert out.loc["/tail", "rel_p95_ratio"] == pytest.approx(1.5, rel=1e-12)
    assert out.loc["/tail", ["relative_verdict", "verdict"]].tolist() == ["regressed", "regressed"]
    assert out.loc["/tail_fast", "relative_verdict"] == "improved"
    assert out.loc["/tail_fast", "verdict"] == "unchanged"
    assert out.loc["/tail_ms", "rel_p95_ratio"] == pytest.approx(1.08, rel=1e-12)
    assert out.loc["/tail_ms", "relative_verdict"] == "unchanged"
    assert out.loc["/tail_ms", "verdict"] == "moved with shift"
    assert set(out.loc[list(flats(8, 1.2)), "verdict"]) == {"moved with shift"}
    # at a 0.5 ms floor its 0.8 ms count
    assert judge(table, min_abs=0.5).loc["/tail_ms", "verdict"] == "regressed"


def test_too_few_tails_for_their_own_shift_use_the_medians():
    """Only three keys have a p95 (under min_keys): no tails' shift, so the p95's change is
    read against the medians' (+20 %): 10 -> 18 ms is 15 ms against it, 5 ms beyond."""
    table = frame({
        **flats(8, 1.2),
        "/a": key(1.2, p95=1.2), "/b": key(1.2, p95=1.2),
        "/c": key(1.2, p95=1.2 * 1.5, p95_base=10.0),
    })  # fmt: skip
    out = judge(table)
    shift = out.attrs["shift"]
    assert np.isnan(shift.p95_factor) and shift.to_dict()["p95_factor"] is None
    assert out.loc["/c", "rel_p95_ratio"] == pytest.approx(1.5, rel=1e-12)  # against /a, /b
    assert out.loc["/c", ["relative_verdict", "verdict"]].tolist() == ["regressed", "regressed"]
    assert out.loc["/a", "verdict"] == "moved with shift"
    # a floor above 5 ms: not enough beyond the shift
    assert judge(table, min_abs=6.0).loc["/c", "verdict"] == "moved with shift"
    # three tails are enough when min_keys is 3: their median, +20 %
    assert judge(table, min_keys=3).attrs["shift"].p95_factor == pytest.approx(1.2, rel=1e-12)


def test_a_spread_floor_widens_the_tails_reading_too():
    """The tails' relative reading carries the spread floor: p95 +8 % beyond the tails' shift
    stands out at tau = 0 (z = 7) but not at tau = 0.05 (z = 1.5); the relative p-value is
    Bonferroni's over the median's and the p95's readings, capped at 1."""
    table = frame({**flats(8, 1.2, p95=1.5), "/tail": key(1.2, p95=1.5 * 1.08)})
    s95 = table["p95_log_se"].to_numpy()
    others = np.delete(s95, table.index.get_loc("/tail"))
    for tau, verdict in ((0.0, "regressed"), (0.05, "moved with shift")):
        out = judge(table, min_spread=tau)
        se = np.sqrt(0.01**2 + tau**2 + median_variance(others, tau))
        p95 = 2 * stats.norm.sf(np.log(1.08) / se)
        p50 = 1.0  # the median moved exactly with the shift: z = 0
        assert out.loc["/tail", "rel_p_value"] == pytest.approx(min(1.0, 2 * min(p50, p95)),
                                                                rel=1e-6)  # fmt: skip
        assert out.loc["/tail", "verdict"] == verdict
        assert (out.loc[list(flats(8, 1.2)), "rel_p_value"] == 1.0).all()  # 2 x 1, capped


def test_an_interval_holding_1_is_no_change_even_when_significant():
    """At 99 % confidence a p95 2.3 standard errors beyond the tails' shift has an interval
    holding 1, while at alpha = 0.5 its adjusted p-value (9 keys x 2 x 0.0107) is
    significant: the interval rule keeps it unchanged, either way (a 1 % floor: the 2.5 %
    change clears it). At 95 % (1.96 < 2.3) the interval excludes 1."""
    s95 = np.full(8, 0.01)
    se = np.sqrt(0.01**2 + median_variance(s95))
    for name, sign, seen in (("/up", 1, "regressed"), ("/down", -1, "improved")):
        q = np.exp(sign * 2.3 * se)
        table = frame({**flats(8, 1.2, p95=1.5), name: key(1.2, p95=1.5 * q)})
        out = judge(table, alpha=0.5, confidence=0.99, min_ratio=0.01)
        assert out.loc[name, "rel_p_adjusted"] == pytest.approx(9 * 2 * 2 * stats.norm.sf(2.3),
                                                                rel=1e-6)  # fmt: skip
        assert out.loc[name, "rel_p_adjusted"] < 0.5
        assert out.loc[name, "relative_verdict"] == "unchanged"
        assert out.loc[name, "verdict"] == "moved with shift"
        at95 = judge(table, alpha=0.5, min_ratio=0.01)
        assert at95.loc[name, "relative_verdict"] == seen


def test_votes_carry_the_options():
    """A shift from other figures (`votes`): its name, confidence and spread floor are the
    caller's, and each key's error includes that spread and the votes' median's variance."""
    votes = (np.full(10, np.log(1.2)), np.full(10, 0.01))
    table = frame({"/along": key(1.2), "/beyond": key(1.5, se=0.02)})
    out = judge(table, votes=votes, what="functions", confidence=0.9, min_spread=0.05)
    shift = out.attrs["shift"]
    assert shift.what == "functions" and shift.keys == 10 and shift.spread == 0.05
    var = median_variance(votes[1], 0.05)
    z90 = stats.norm.ppf(0.95)
    assert shift.ci_low == pytest.approx(1.2 * np.exp(-z90 * np.sqrt(var)), rel=1e-9)
    se = np.sqrt(0.02**2 + 0.05**2 + var)
    assert out.loc["/beyond", "rel_ratio"] == pytest.approx(1.25, rel=1e-12)
    assert out.loc["/beyond", "rel_ci_high"] == pytest.approx(1.25 * np.exp(z90 * se), rel=1e-9)
    assert out.loc["/beyond", "verdict"] == "regressed"
    assert out.loc["/along", "verdict"] == "moved with shift"


def test_no_tails_shift_without_a_shift():
    """Three votes (under min_keys) estimate no shift; six keys' p95s do not make a tails'
    shift on their own."""
    table = frame({f"/k{i}": key(1.2, p95=1.5) for i in range(6)})
    votes = (np.full(3, np.log(1.2)), np.full(3, 0.01))
    shift = judge(table, votes=votes).attrs["shift"]
    assert not shift.estimated and np.isnan(shift.p95_factor)
    # the same keys' own ratios (six of them) make both shifts
    own = judge(table).attrs["shift"]
    assert own.factor == pytest.approx(1.2) and own.p95_factor == pytest.approx(1.5)


def test_numbers_in_object_columns_are_read_as_numbers():
    """A frame built from mixed records (object columns holding floats) gives the same
    verdicts as the float frame."""
    table = frame({**flats(8, 1.2, p95=1.5), "/tail": key(1.2, p95=1.5 * 1.5),
                   "/beyond": key(1.5, p95=1.5)})  # fmt: skip
    want = judge(table)
    got = judge(table.astype(object))
    assert got["verdict"].tolist() == want["verdict"].tolist()
    assert got["rel_p_value"].to_numpy(dtype=float) == pytest.approx(
        want["rel_p_value"].to_numpy(dtype=float), rel=1e-12
    )
    assert want.loc["/tail", "verdict"] == "regressed"
    assert want.loc["/beyond", "verdict"] == "regressed"


def test_missing_values_as_none_are_read_as_nan():
    """The same frame with its NaNs turned into None (as prepared for JSON): a new key (no
    baseline) has insufficient data either way, the others the same verdicts."""
    gone = dict.fromkeys(["p50_base", "p95_base", "p_value", "ratio", "ci_low", "ci_high",
                          "p95_ratio", "p95_ci_low", "p95_ci_high"], np.nan)  # fmt: skip
    table = frame({**flats(8, 1.2, p95=1.5), "/tail": key(1.2, p95=1.5 * 1.5),
                   "/new": key(1.2, p95=1.5) | gone})  # fmt: skip
    want = judge(table)
    got = judge(table.astype(object).where(table.notna(), None))
    assert got["verdict"].tolist() == want["verdict"].tolist()
    assert want.loc["/new", "verdict"] == "insufficient data"
    assert want.loc["/tail", "verdict"] == "regressed"


def test_degenerate_keys_raise_no_numpy_warnings():
    """Ratios of 0, infinite or missing and standard errors of 0 or missing are judged
    without a RuntimeWarning: a key with no error and no change has z = 0 (p = 1), one with
    no error and a change an infinite z (p = 0), one with an unknown error no p-value."""
    rows = flats(6, 1.2, p95=1.5)
    rows["/zero"] = key(1.2, p95=1.5) | {"ratio": 0.0, "p95_ratio": 0.0}
    rows["/from_none"] = key(1.2, p95=1.5) | {"ratio": np.inf, "p95_ratio": np.inf}
    rows["/no_ratio"] = key(1.2, p95=1.5) | {"ratio": np.nan, "p95_ratio": np.nan}
    rows["/no_se"] = key(1.2, p95=1.5) | {"log_se": np.nan, "p95_log_se": np.nan}
    rows["/exact"] = key(1.2, p95=1.5) | {"log_se": 0.0, "p95_log_se": 0.0}
    rows["/exact_moved"] = key(1.5, p95=2.0) | {"log_se": 0.0, "p95_log_se": 0.0}
    rows["/exact_still"] = key(1.0, p95=1.0) | {"log_se": 0.0, "p95_log_se": 0.0}
    table = frame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        own = judge(table)
        few = judge(table, votes=(np.full(3, np.log(1.2)), np.full(3, 0.01)))
    assert own.loc["/exact", "rel_p_value"] == 1.0
    assert own.loc["/exact_moved", "rel_p_value"] == 0.0
    assert np.isnan(own.loc["/no_se", "rel_p_value"])
    assert np.isnan(own.loc["/no_ratio", "rel_p_value"])
    # no shift estimated (three votes): the raw reading, z = log ratio / s
    assert few.loc["/exact_moved", "rel_p_value"] == 0.0
    assert few.loc["/exact_still", "rel_p_value"] == 1.0
    assert np.isnan(few.loc["/no_se", "rel_p_value"])


def test_the_spreads_in_words_are_rounded_percentages():
    """exp(0.4) - 1 = 49.2 % and exp(0.5) - 1 = 64.9 %: rounded, not 50 % or 66 %."""
    loose = Shift(factor=1.0, ci_low=0.9, ci_high=1.1, keys=6, spread=0.4, estimated=True)
    assert "differ from one another by about ±49 %)" in loose.describe()
    split = Shift(factor=1.1, ci_low=0.9, ci_high=1.3, keys=6, spread=0.5, estimated=True,
                  split=True, max_spread=0.4)  # fmt: skip
    assert "about ±65 %, more than two runs of the same code do here (±49 %)" in split.describe()


def test_combine_takes_plain_string_arrays():
    """Verdicts as a NumPy string array (fixed width, 9 characters here) still come back
    whole: 'moved with shift' is not cut to the input's width."""
    from perfkit.analysis.regression.verdict import combine

    shift = Shift(factor=1.2, ci_low=1.15, ci_high=1.25, keys=8, spread=0.0, estimated=True,
                  material=True)  # fmt: skip
    raw = np.array(["regressed", "regressed", "improved", "unchanged"])
    relative = np.array(["unchanged", "regressed", "unchanged", "improved"])
    assert list(combine(raw, relative, shift)) == ["moved with shift", "regressed", "unchanged",
                                                   "unchanged"]  # fmt: skip
    # a speed-up: improved keys moved with it, a regressed one went against it
    faster = replace(shift, factor=0.8, ci_low=0.75, ci_high=0.85)
    raw = np.array(["improved", "regressed", "improved"])
    relative = np.array(["unchanged", "unchanged", "improved"])
    assert list(combine(raw, relative, faster)) == ["moved with shift", "unchanged", "improved"]


def test_one_key_can_be_the_shift_when_asked():
    """min_keys = 1 and one key: the shift is its ratio, the median of one has variance
    pi/2 s^2, there is no spread to see."""
    from perfkit.analysis.regression.verdict import estimate_shift

    shift = estimate_shift(np.log([1.3]), np.array([0.02]), min_keys=1)
    half = Z * np.sqrt(np.pi / 2) * 0.02
    assert shift.estimated and shift.keys == 1 and shift.spread == 0.0
    assert (shift.factor, shift.ci_low, shift.ci_high) == pytest.approx(
        (1.3, 1.3 * np.exp(-half), 1.3 * np.exp(half)), rel=1e-12
    )


def test_a_key_exactly_at_the_clip_is_kept_in_the_spread():
    """|z| > 2.5 stands out; |z| = 2.5 exactly does not. Residuals (s = 1): five 0, four 2.0
    and one 2.5: the 40th percentile of |z| is 0 (rough tau 0), all ten stay, their clipped
    sum 22.25 exceeds 10 x 0.978 + 1.645 sqrt(10 x 1.68) = 16.5, and tau solves Paule-Mandel's
    mean(min(z^2, 6.25)) = E min(Z^2, 6.25) over all ten."""
    from scipy import integrate, optimize

    from perfkit.analysis.regression.verdict import _spread

    res = np.array([0.0] * 5 + [2.0] * 4 + [2.5])
    s = np.ones(10)
    target = integrate.quad(lambda x: min(x * x, 6.25) * stats.norm.pdf(x), -10, 10,
                            points=[-2.5, 2.5])[0]  # fmt: skip

    def excess(t: float) -> float:
        return float(np.mean(np.minimum(res**2 / (1 + t**2), 6.25))) - target

    want = optimize.brentq(excess, 0.0, 10.0, xtol=1e-14)
    assert want > 0.1  # without the key at 2.5 the sum (16 of 9) gives another tau
    assert _spread(res, s, lambda t: 0.0) == pytest.approx(want, rel=1e-9)


def test_the_heterogeneity_test_rejects_only_above_its_critical_value():
    """Ten residuals (s = 1: z = |r|) whose clipped z^2 sum to exactly the one-sided 5 %
    critical value 10 x 0.978 + 1.645 sqrt(10 x 1.68) = 16.52: not above it, so no spread;
    the next representable sum above it is heterogeneous."""
    from perfkit.analysis.regression import verdict as v

    n = 10
    critical = n * v._CLIPPED_MEAN + v._HETEROGENEITY_Z * np.sqrt(n * v._CLIPPED_VAR)
    assert critical == pytest.approx(16.5206, abs=1e-4)
    res = np.array([0.0] * 5 + [1.8] * 4 + [np.sqrt(critical - 4 * 1.8**2)])

    def total() -> float:
        return float(np.minimum(res**2, 6.25).sum())

    while total() < critical:
        res[-1] = np.nextafter(res[-1], np.inf)
    while total() > critical:
        res[-1] = np.nextafter(res[-1], 0)
    assert total() == critical  # found: exactly at the critical value
    assert v._spread(res, np.ones(n), lambda t: 0.0) == 0.0
    while total() <= critical:
        res[-1] = np.nextafter(res[-1], np.inf)
    assert v._spread(res, np.ones(n), lambda t: 0.0) > 0.0


def test_a_frame_without_standard_errors_or_tails():
    """No log_se and no p95 columns: the missing columns come back as NaN numbers, no shift
    can be estimated (no votes) and the raw verdicts stand."""
    table = frame({**flats(6, 1.2), "/beyond": key(1.5)}).drop(columns="log_se")
    out = judge(table)
    for column in ("log_se", "p95_log_se", "p95_base", "p95_cand", "p95_ratio"):
        assert out[column].dtype == np.float64 and out[column].isna().all()
    shift = out.attrs["shift"]
    assert not shift.estimated and shift.keys == 0
    assert out["rel_p_value"].isna().all()
    assert set(out["verdict"]) == {"regressed"} and (out["verdict"] == out["raw_verdict"]).all()


def test_an_interval_ending_exactly_at_1_does_not_exclude_it():
    """Five keys all at log ratio 1.96 sqrt(pi/2 s^2 / 5) (s = 0.05): the shift's interval
    [1, 1.116] touches 1, so the shift (+5.6 %) is neither significant nor material; the same
    the other way."""
    from perfkit.analysis.regression.verdict import estimate_shift

    c = Z * np.sqrt(np.pi / 2 * 0.05**2 / 5)
    up = estimate_shift(np.full(5, c), np.full(5, 0.05))
    assert up.ci_low == 1.0 and up.factor == pytest.approx(np.exp(c), rel=1e-12)
    assert not up.significant and not up.material
    down = estimate_shift(np.full(5, -c), np.full(5, 0.05))
    assert down.ci_high == 1.0 and not down.significant and not down.material
    # a hair further and it is excluded
    assert estimate_shift(np.full(5, 1.001 * c), np.full(5, 0.05)).material


def test_a_shift_exactly_at_the_floor_is_material():
    """Five keys all +25 % (exactly representable): a floor of 25 % is reached (at least the
    floor), one a hair above it is not; -25 % likewise."""
    from perfkit.analysis.regression.verdict import estimate_shift

    for ratio in (1.25, 0.75):
        r, s = np.log(np.full(5, ratio)), np.full(5, 0.01)
        assert estimate_shift(r, s, min_shift=0.25).material
        assert not estimate_shift(r, s, min_shift=np.nextafter(0.25, 1)).material


def test_votes_given_as_lists_with_missing_entries():
    """Missing votes (None, as from a list of records) are left out like NaN."""
    from perfkit.analysis.regression.verdict import estimate_shift

    r = [np.log(1.2), np.log(1.25), None, np.log(1.15), np.log(1.2), np.log(1.22)]
    s = [0.02, 0.02, 0.02, None, 0.02, 0.02]
    got = estimate_shift(r, s)
    want = estimate_shift(np.log([1.2, 1.25, 1.2, 1.22]), np.full(4, 0.02), min_keys=4)
    assert got.keys == 4 and not got.estimated  # four usable votes: under the default 5
    assert estimate_shift(r, s, min_keys=4).factor == pytest.approx(want.factor, rel=1e-12)
    assert estimate_shift(r, s, min_keys=4).factor == pytest.approx(np.sqrt(1.2 * 1.22))
