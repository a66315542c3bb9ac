"""Profile diff: which functions made a request slower, from baseline and candidate profiles.

Times are per request: each side's totals divided by its number of dumps
(Werkzeug's ProfilerMiddleware writes one dump per request; one big
cProfile run counts as one). A function's contribution is its change in own
time over the change in total time, so contributions add up to 1 and show
where a regression went. With several dumps per side each function's
per-dump cumulative time is compared with the shared statistical core
(`perfkit.analysis.significance`, means, since a function absent from a
dump took 0 s there); functions whose per-request time stays under the
practical floor on both sides cannot change by it and are not tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfkit.analysis.hotspots import classify
from perfkit.analysis.significance import COLUMNS as TEST_COLUMNS
from perfkit.analysis.significance import compare_samples, min_p_value
from perfkit.io.profile import Profile

DIFF_COLUMNS = [
    "function", "name", "group", "self_s_base", "self_s_cand", "cum_s_base", "cum_s_cand",
    "share_base", "share_cand", "change_s", "contribution",
]  # fmt: skip


def compare_profiles(
    base: Profile,
    cand: Profile,
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs_s: float = 0.001,
    min_n: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per function, sorted by contribution to the total change (largest first).

    ``self_s_*``/``cum_s_*`` are own/cumulative seconds per request,
    ``share_*`` the cumulative share of that side's total, ``change_s`` the
    change of cumulative time per request, ``contribution`` the change of own
    time over the change of the total; then the comparison-frame columns
    (``n_base`` ... ``verdict``, ``test``) over per-dump cumulative times.
    """
    n_base, n_cand = max(len(base.dumps), 1), max(len(cand.dumps), 1)
    before = _per_request(base, n_base).add_suffix("_base")
    after = _per_request(cand, n_cand).add_suffix("_cand")
    table = before.join(after, how="outer").fillna(0.0)
    total_base, total_cand = base.total_s / n_base, cand.total_s / n_cand
    table["share_base"] = table["cum_s_base"] / total_base if total_base else 0.0
    table["share_cand"] = table["cum_s_cand"] / total_cand if total_cand else 0.0
    table["change_s"] = table["cum_s_cand"] - table["cum_s_base"]
    total_change = total_cand - total_base
    self_change = table["self_s_cand"] - table["self_s_base"]
    table["contribution"] = self_change / total_change if total_change else np.nan
    names = (
        pd.concat([base.functions, cand.functions])
        .drop_duplicates("function")
        .set_index("function")
    )
    table["name"] = names["name"].reindex(table.index).to_numpy()
    table["group"] = [classify(f)[0] for f in names["file"].reindex(table.index)]
    tests = _tests(base, cand, table, alpha, correction, min_ratio, min_abs_s, min_n, seed)
    table = table.join(tests)
    table.index.name = "function"
    table = table.reset_index()[DIFF_COLUMNS + TEST_COLUMNS]
    order = table["contribution"].fillna(0.0).to_numpy()
    table = table.iloc[np.argsort(-order, kind="stable")].reset_index(drop=True)
    table.attrs["total_s_base"], table.attrs["total_s_cand"] = total_base, total_cand
    return table


def _per_request(profile: Profile, n: int) -> pd.DataFrame:
    frame = profile.functions.set_index("function")[["tottime_s", "cumtime_s"]] / n
    return frame.rename(columns={"tottime_s": "self_s", "cumtime_s": "cum_s"})


def _tests(base, cand, table, alpha, correction, min_ratio, min_abs_s, min_n, seed) -> pd.DataFrame:
    tested = table.index[(table[["cum_s_base", "cum_s_cand"]].max(axis=1) >= min_abs_s)]
    long_base = _per_dump(base, tested)
    long_cand = _per_dump(cand, tested)
    result = compare_samples(
        long_base, long_cand, "function", "cumtime_s", statistic="mean", alpha=alpha,
        correction=correction, min_ratio=min_ratio, min_abs=min_abs_s, min_n=min_n, seed=seed,
    )  # fmt: skip
    result = result.reindex(table.index)
    untested = ~result.index.isin(tested)
    n1, n2 = len(base.dumps), len(cand.dumps)
    enough = n1 >= min_n and n2 >= min_n and min_p_value(n1, n2) <= alpha
    result.loc[untested, "n_base"], result.loc[untested, "n_cand"] = n1, n2
    result.loc[untested, "verdict"] = "unchanged" if enough else "insufficient data"
    result.loc[untested, "test"] = "below the practical floor on both sides: not tested"
    return result


def _per_dump(profile: Profile, functions: pd.Index) -> pd.DataFrame:
    """Per-dump cumulative time of `functions`, 0 s in the dumps they are absent from."""
    n = max(len(profile.dumps), 1)
    per_dump = profile.per_dump[profile.per_dump["function"].isin(functions)]
    dense = np.zeros((len(functions), n))
    rows = functions.get_indexer(per_dump["function"])
    np.add.at(dense, (rows, per_dump["dump"].to_numpy()), per_dump["cumtime_s"].to_numpy())
    return pd.DataFrame(
        {"function": np.repeat(functions.to_numpy(), n), "cumtime_s": dense.ravel()}
    )
