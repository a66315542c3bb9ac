"""Profile diff: which functions made a request slower, from baseline and candidate profiles.

Times are per request. Werkzeug's ProfilerMiddleware writes one dump per
request and names it after the request (method and path, hence the route);
a sampled run profiles a different *mix* of routes on each side (1 request
in 25 per worker gives a few dozen dumps, and which routes they hold is
chance), and a totals-per-dump comparison would then move with the mix, not
the code. So, as `mix_adjusted_change` does for latency, each function's
time is averaged per route (method and route) and the routes are combined
at the **baseline's** mix: ``sum_r w_r * mean_r``, ``w_r`` the baseline's
share of dumps in route ``r``, over the routes both sides profiled (the
others are listed in ``attrs["routes_unmatched"]``). Dumps without a route
(one big cProfile run, py-spy) form one route.

Per function: own (``self_s_*``) and cumulative (``cum_s_*``) seconds per
request at that mix; ``change_s`` the change of cumulative time;
``contribution_s`` the change of own time (what the function itself added,
its callees excluded) and ``contribution`` that over the change of the
total, so contributions add up to 1. Rows are ranked by the absolute
contribution in seconds per request. The test is on cumulative time: the
difference at the baseline's mix with its stratified standard error
(``sum w_r^2 (var_c / n_c + var_b / n_b)``, a function absent from a dump
took 0 s there) and Welch–Satterthwaite degrees of freedom; the verdict is
the shared rule (`perfkit.analysis.regression.verdict`), with the run-wide
shift estimated from the functions' *own* times (a CPU hog slows every
function's own time; a slower driver, only the driver's), each function one
vote. Functions whose time per request stays under the practical floor on
both sides cannot change by it and are not tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.hotspots import classify
from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge
from perfkit.analysis.significance import COLUMNS as TEST_COLUMNS
from perfkit.analysis.significance import min_p_value
from perfkit.io.profile import Profile

if TYPE_CHECKING:
    from perfkit.io.routes import Rule

DIFF_COLUMNS = [
    "function", "name", "group", "self_s_base", "self_s_cand", "cum_s_base", "cum_s_cand",
    "share_base", "share_cand", "change_s", "contribution_s", "contribution",
]  # fmt: skip
# what a reader looks at first: who added the time, how much, and the verdict on it
SHORT_COLUMNS = [
    "name", "group", "contribution_s", "contribution", "cum_s_base", "cum_s_cand", "change_s",
    "ratio", "p_adjusted", "verdict", "function",
]  # fmt: skip
CHANGED = ("regressed", "improved", "moved with shift")
NO_ROUTE = "(no route)"


def compare_profiles(
    base: Profile,
    cand: Profile,
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs_s: float = 0.001,
    min_n: int = 5,
    seed: int = 0,
    normalize: bool = True,
    by_route: bool = True,
    min_keys: int = 5,
    routes: object = None,
    mix: Mapping[str, float] | pd.Series | None = None,
    min_spread: float = 0.0,
    top: int = 25,
    detail: bool = False,
) -> pd.DataFrame:
    """The functions that changed the time per request, ranked by absolute contribution (see
    the module docstring): the `top` rows plus every function judged changed (``regressed``,
    ``improved``, ``moved with shift``), in `SHORT_COLUMNS` (seconds per request). With
    `detail` every function (the long tail) and every column: own and cumulative seconds
    and shares per side, and the comparison-frame columns (``n_base`` ... ``verdict``,
    ``test``) testing cumulative seconds per request. ``attrs``: ``total_s_base``/
    ``total_s_cand`` (per request, at the baseline's mix), ``weights`` (route -> baseline
    share), ``routes_unmatched``, ``shift``, ``functions`` (how many were compared) and
    ``left_out`` (rows only `detail` shows).
    `by_route=False` pools every dump as one route (the raw mix); `routes` (a Flask app or rule
    strings, as `read_access_log` takes) labels the dumps' paths, else perfkit's heuristic
    templates do. `mix` ("METHOD route" -> share, e.g. `request_mix` of the baseline's access
    log) weighs the routes by traffic rather than by the baseline's dumps (a sampler that
    keeps a few dumps per route profiles an even mix). `seed` is unused (kept for the
    signature every comparison shares)."""
    del seed
    rules = None
    if routes is not None:
        from perfkit.io.routes import rules_from

        rules = rules_from(routes)
    strata_b, strata_c, weights, unmatched = _strata(base, cand, by_route, rules, mix)
    own_b, cum_b, tot_b = _moments(base, strata_b, weights)
    own_c, cum_c, tot_c = _moments(cand, strata_c, weights)
    functions = own_b.index.union(own_c.index)
    own_b, own_c, cum_b, cum_c = (m.reindex(functions, fill_value=0.0)
                                  for m in (own_b, own_c, cum_b, cum_c))  # fmt: skip
    table = pd.DataFrame({
        "self_s_base": own_b["mean"], "self_s_cand": own_c["mean"],
        "cum_s_base": cum_b["mean"], "cum_s_cand": cum_c["mean"],
    }, index=functions)  # fmt: skip
    total_base, total_cand = tot_b["mean"], tot_c["mean"]
    table["share_base"] = table["cum_s_base"] / total_base if total_base else 0.0
    table["share_cand"] = table["cum_s_cand"] / total_cand if total_cand else 0.0
    table["change_s"] = table["cum_s_cand"] - table["cum_s_base"]
    table["contribution_s"] = table["self_s_cand"] - table["self_s_base"]
    total_change = total_cand - total_base
    table["contribution"] = table["contribution_s"] / total_change if total_change else np.nan
    names = (
        pd.concat([base.functions, cand.functions])
        .drop_duplicates("function")
        .set_index("function")
    )
    table["name"] = names["name"].reindex(table.index).to_numpy()
    table["group"] = [classify(f)[0] for f in names["file"].reindex(table.index)]
    n1 = int(strata_b.notna().sum())
    n2 = int(strata_c.notna().sum())
    tests = _tests(table, own_b, own_c, cum_b, cum_c, n1, n2, alpha, correction, min_ratio,
                   min_abs_s, min_n, normalize, min_keys, min_spread)  # fmt: skip
    table = table.join(tests)
    table.index.name = "function"
    table = table.reset_index()[DIFF_COLUMNS + TEST_COLUMNS + EXTRA_COLUMNS]
    order = table["contribution_s"].abs().fillna(0.0).to_numpy()
    table = table.iloc[np.argsort(-order, kind="stable")].reset_index(drop=True)
    table.attrs.update(
        total_s_base=total_base, total_s_cand=total_cand, weights=weights,
        routes_unmatched=unmatched, shift=tests.attrs["shift"], functions=len(table),
        left_out=0,
    )  # fmt: skip
    return table if detail else shorten(table, top)


def shorten(table: pd.DataFrame, top: int = 25) -> pd.DataFrame:
    """`table` (``compare_profiles(..., detail=True)``) cut to what a reader looks at: its first
    `top` rows and every function judged changed, in `SHORT_COLUMNS`, order kept;
    ``attrs["left_out"]`` counts the rows cut."""
    keep = (np.arange(len(table)) < top) | table["verdict"].isin(CHANGED).to_numpy()
    short = table.loc[keep, SHORT_COLUMNS].reset_index(drop=True)
    short.attrs = {**table.attrs, "left_out": int(len(table) - keep.sum())}
    return short


def _route_of(profile: Profile, by_route: bool, rules: list[Rule] | None = None) -> pd.Series:
    """Each dump's stratum: "METHOD route", or one stratum for dumps without a route."""
    dumps = profile.dumps.set_index("dump")
    if not by_route or "route" not in dumps or dumps["route"].isna().all():
        return pd.Series(NO_ROUTE, index=dumps.index)
    route = dumps["route"]
    if rules is not None:
        import pyarrow as pa

        from perfkit.io.routes import route_labels

        known = dumps["path"].notna()
        labels, _ = route_labels(pa.array(dumps.loc[known, "path"].astype(str).tolist(),
                                          pa.string()), rules)  # fmt: skip
        route = pd.Series(pd.NA, index=dumps.index, dtype=object)
        route[known] = labels.to_pylist()
    method = dumps["method"].fillna("").astype(str)
    return (method + " " + route.fillna(NO_ROUTE).astype(str)).str.strip()


def _strata(
    base: Profile,
    cand: Profile,
    by_route: bool,
    rules: list[Rule] | None = None,
    mix: Mapping[str, float] | pd.Series | None = None,
) -> tuple[pd.Series, pd.Series, dict[str, float], list[str]]:
    """Each side's dump -> stratum (NA for routes the other side lacks), the baseline's
    weights over the shared routes (its dumps', or `mix`), and the routes left out."""
    rb, rc = _route_of(base, by_route, rules), _route_of(cand, by_route, rules)
    shared = sorted(set(rb) & set(rc))
    unmatched = sorted(set(rb) ^ set(rc))
    counts: pd.Series = rb[rb.isin(shared)].value_counts()
    if mix is not None and by_route:
        traffic = pd.Series(dict(mix), dtype=float).reindex(shared).fillna(0.0)
        counts = traffic if traffic.sum() > 0 else counts
    weights = cast("dict[str, float]", (counts / counts.sum()).to_dict() if counts.sum() else {})
    return rb.where(rb.isin(shared)), rc.where(rc.isin(shared)), weights, unmatched


def _moments(
    profile: Profile, strata: pd.Series, weights: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Per function, own and cumulative seconds per request at the weights' mix: ``mean``,
    ``var`` (of that mean: sum w^2 var_r / n_r), ``terms`` (the per-route variance parts
    and their n - 1, for Welch-Satterthwaite); and the same for the dumps' totals."""
    n = strata.value_counts().reindex(list(weights), fill_value=0)
    per_dump = profile.per_dump.assign(route=strata.reindex(profile.per_dump["dump"]).to_numpy())
    per_dump = per_dump.dropna(subset=["route"])
    totals = per_dump.groupby("dump", sort=False).agg(tottime_s=("tottime_s", "sum"),
                                                      route=("route", "first"))  # fmt: skip
    totals = totals.assign(function="(total)")
    own = _weighted(per_dump, "tottime_s", n, weights)
    cum = _weighted(per_dump, "cumtime_s", n, weights)
    total = _weighted(totals.reset_index(), "tottime_s", n, weights)
    return own, cum, total.iloc[0] if len(total) else pd.Series({"mean": 0.0, "var": 0.0})


def _weighted(
    rows: pd.DataFrame, value: str, n: pd.Series, weights: dict[str, float]
) -> pd.DataFrame:
    """Stratified mean and its variance per function (absent dumps count 0)."""
    if rows.empty:
        return pd.DataFrame(columns=["mean", "var", "dof_part"], dtype=float)
    per_dump = rows.groupby(["function", "route", "dump"], sort=False)[value].sum()
    levels = ["function", "route"]
    sums = pd.DataFrame({"s": per_dump.groupby(level=levels, sort=False).sum(),
                         "ss": (per_dump**2).groupby(level=levels, sort=False).sum()})  # fmt: skip
    routes = sums.index.get_level_values("route")
    size = n.reindex(routes).to_numpy(dtype=float)
    weight = np.array([weights.get(r, 0.0) for r in routes])
    mean = sums["s"].to_numpy() / size
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(size > 1, (sums["ss"].to_numpy() - size * mean**2) / (size - 1), np.nan)
        part = weight**2 * np.clip(var, 0, None) / size  # this route's share of var(mean)
        dof_part = np.where(size > 1, part**2 / (size - 1), np.inf)
    frame = pd.DataFrame({"function": sums.index.get_level_values("function"),
                          "mean": weight * mean, "var": part, "dof_part": dof_part})  # fmt: skip
    out = frame.groupby("function", sort=False)[["mean", "var", "dof_part"]].sum()
    # routes where the function never ran still add 0 to the mean and nothing to var
    return out


def _tests(
    table: pd.DataFrame,
    own_b: pd.DataFrame,
    own_c: pd.DataFrame,
    cum_b: pd.DataFrame,
    cum_c: pd.DataFrame,
    n1: int,
    n2: int,
    alpha: float,
    correction: str,
    min_ratio: float,
    min_abs_s: float,
    min_n: int,
    normalize: bool,
    min_keys: int,
    min_spread: float = 0.0,
) -> pd.DataFrame:
    tested = table.index[table[["cum_s_base", "cum_s_cand"]].max(axis=1) >= min_abs_s]
    b, c = cum_b.loc[tested], cum_c.loc[tested]
    diff = c["mean"] - b["mean"]
    var = c["var"] + b["var"]
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = var**2 / (c["dof_part"] + b["dof_part"])
        t_stat: pd.Series = diff / np.sqrt(var)
        p_value = np.where(var > 0, 2 * stats.t.sf(np.abs(t_stat), dof),
                           np.where(diff == 0, 1.0, 0.0))  # fmt: skip
        half = stats.t.ppf(0.975, dof) * np.sqrt(var)
        half = np.where(var > 0, half, 0.0)
        ratio = c["mean"] / b["mean"]
        log_se = np.sqrt(c["var"] / c["mean"] ** 2 + b["var"] / b["mean"] ** 2)
    frame = pd.DataFrame({
        "n_base": n1, "n_cand": n2, "ratio": ratio,
        "ci_low": (diff - half) / b["mean"] + 1, "ci_high": (diff + half) / b["mean"] + 1,
        "p_value": p_value, "log_se": log_se,
        "mean_base": b["mean"], "mean_cand": c["mean"],
    }, index=tested)  # fmt: skip
    enough = n1 >= min_n and n2 >= min_n and min_p_value(n1, n2) <= alpha
    votes = _own_time_votes(own_b, own_c, min_abs_s / 10)
    judged = judge(frame, ("mean_base", "mean_cand"), alpha=alpha, correction=correction,
                   min_ratio=min_ratio, min_abs=min_abs_s, normalize=normalize,
                   min_keys=min_keys, insufficient=np.full(len(frame), not enough),
                   what="functions", votes=votes, min_spread=min_spread)  # fmt: skip
    judged["test"] = "Welch t on seconds per request at the baseline's route mix"
    for column in ("p50_base", "p50_cand"):  # per-dump times have means, not percentiles
        judged[column] = np.nan
    result = judged.reindex(table.index)
    untested = ~result.index.isin(tested)
    result.loc[untested, "n_base"], result.loc[untested, "n_cand"] = n1, n2
    result.loc[untested, "verdict"] = "unchanged" if enough else "insufficient data"
    result.loc[untested, ["raw_verdict", "relative_verdict"]] = result.loc[untested, "verdict"]
    result.loc[untested, "test"] = "below the practical floor on both sides: not tested"
    result.attrs["shift"] = judged.attrs["shift"]
    return result


def _own_time_votes(
    own_b: pd.DataFrame, own_c: pd.DataFrame, min_abs_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The run-wide shift's votes: log ratios of own time (and their standard errors) of
    functions spending at least `min_abs_s` of their own per request on both sides (a tenth
    of the practical floor: votes need precision, not size)."""
    both = (own_b["mean"] >= min_abs_s) & (own_c["mean"] >= min_abs_s)
    b, c = own_b[both], own_c[both]
    log_ratio = cast(pd.Series, np.log(c["mean"] / b["mean"])).to_numpy()
    log_se = np.sqrt(c["var"] / c["mean"] ** 2 + b["var"] / b["mean"] ** 2).to_numpy()
    return log_ratio, log_se


def request_mix(requests: pd.DataFrame) -> pd.Series:
    """Each "METHOD route"'s share of an access log's requests: the `mix` of
    `compare_profiles`."""
    keys = requests["method"].astype(str) + " " + requests["route"].astype(str)
    return keys.value_counts(normalize=True)
