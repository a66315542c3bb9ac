"""Allocation-site growth over a run: the trend machinery of `perfkit.analysis.leak` per site.

Input: `perfkit.read_tracemalloc`'s frame (bytes per site per snapshot, snapshots of several
worker processes). Each worker process is a series; a recycled worker's successor (a new pid,
or the same pid whose request count starts again) starts a new series. A site absent from a
snapshot holds 0 bytes there.

Per site, with `perfkit.analysis.leak`'s functions (not copies): warm-up is cut per series
(`leak._after_warmup`: the fit starts where the series meets the steady trend of its second
half), then the Theil–Sen slope with Sen's interval and the stratified Mann–Kendall test are
taken over all series at once (`leak.sen`: pairs within a series only, so the drop between
worker generations never counts as shrinking). Slopes are given against the requests each
worker had served (bytes/request; when the snapshots carry request counts) and against time
(bytes/s); the verdict is judged on the first of these the data has. p-values are
Holm-adjusted across the fitted sites.

Verdicts: ``growing`` when the adjusted p-value is below `alpha`, the interval is above 0 and
the growth over the fitted span (slope x the median series span) is at least
`min_growth_bytes`; ``warm-up-then-flat`` when not growing but the cut warm-up rose by at least
`min_growth_bytes` (a cache filling, then full); ``flat`` when even the interval's upper end
grows at most `min_growth_bytes` over the span; ``inconclusive`` otherwise (noisy, or fewer
than 6 snapshots). A site whose bytes never change by `min_growth_bytes` within the run is
``flat`` without a fit (its slopes are NaN): it cannot have grown by the floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from perfkit.analysis.leak import _after_warmup, _thin, sen
from perfkit.errors import InputError

VERDICTS = ("growing", "warm-up-then-flat", "flat", "inconclusive")
_NEEDED = ("time", "pid", "requests", "snapshot", "traceback", "size_bytes")


def snapshot_series(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot: ``snapshot``, ``time``, ``pid``, ``requests`` and ``series`` (a
    worker process's life: a new pid, or a pid whose request count went down, starts one)."""
    missing = [c for c in _NEEDED if c not in frame]
    if missing:
        raise InputError(f"allocation_growth: the frame lacks {', '.join(missing)} "
                         "(expected perfkit.read_tracemalloc's frame)")  # fmt: skip
    snaps = (frame[["snapshot", "time", "pid", "requests"]]
             .drop_duplicates("snapshot").reset_index(drop=True))  # fmt: skip
    snaps["snapshot"] = snaps["snapshot"].astype(str)
    snaps["pid"] = snaps["pid"].astype("Int64").fillna(-1)
    snaps["requests"] = snaps["requests"].astype("Float64")
    snaps = snaps.sort_values(["pid", "time"], kind="stable", ignore_index=True)
    restart = snaps.groupby("pid")["requests"].diff().lt(0).fillna(False).astype(bool)
    generation = restart.astype(int).groupby(snaps["pid"]).cumsum()
    snaps["series"] = pd.factorize(pd.MultiIndex.from_arrays([snaps["pid"], generation]))[0]
    return snaps


def allocation_growth(
    frame: pd.DataFrame,
    *,
    alpha: float = 0.05,
    min_growth_bytes: float = 64 * 1024,
    confidence: float = 0.95,
    per_process: bool = False,
) -> pd.DataFrame:
    """Per allocation site (the frame's ``traceback``), its growth pooled over every worker
    process and generation, fastest-growing first.

    Columns: ``site``, ``traceback``, ``verdict`` (see the module docstring),
    ``slope_bytes_per_request`` with ``ci_low_bytes_per_request``/``ci_high_bytes_per_request``
    (NaN when the snapshots carry no request counts), ``slope_bytes_per_s`` with
    ``ci_low_bytes_per_s``/``ci_high_bytes_per_s``, ``p_value``, ``p_adjusted`` (Holm),
    ``growth_bytes`` (slope x median fitted span), ``warmup_bytes`` (how much the cut warm-up
    rose, median over series), ``latest_bytes`` (the site's bytes in a series' last snapshot,
    median over series), ``samples`` (snapshots fitted), ``series``. With `per_process` also
    one row per site and series (``pid`` set; the pooled row's pid is missing).
    """
    snaps = snapshot_series(frame)
    per_request = bool(snaps["requests"].notna().all())
    start = snaps["time"].min()
    snaps["_s"] = (snaps["time"] - start).dt.total_seconds()
    snaps["_x"] = snaps["requests"].astype(float) if per_request else snaps["_s"]
    n_snaps = len(snaps)
    position = pd.Series(np.arange(n_snaps), index=snaps["snapshot"])
    column = position.reindex(frame["snapshot"].astype(str)).to_numpy()
    site_codes, site_index = pd.factorize(frame["traceback"].astype(str), sort=False)
    sites = [str(s) for s in site_index]
    size = frame["size_bytes"].to_numpy(dtype=float)
    present = np.bincount(site_codes, minlength=len(sites))
    high = pd.Series(size).groupby(site_codes).max().to_numpy()
    low = pd.Series(size).groupby(site_codes).min().to_numpy()
    low = np.where(present < n_snaps, np.minimum(low, 0.0), low)  # absent: 0 bytes there
    fitted = np.flatnonzero(high - low >= min_growth_bytes)
    # dense bytes per (fitted site, snapshot): only the sites that can have grown
    dense = np.zeros((len(fitted), n_snaps))
    row_of = np.full(len(sites), -1)
    row_of[fitted] = np.arange(len(fitted))
    keep = row_of[site_codes] >= 0
    np.add.at(dense, (row_of[site_codes[keep]], column[keep]), size[keep])
    series = [snaps.index[snaps["series"] == s].to_numpy()
              for s in sorted(snaps["series"].unique())]  # fmt: skip
    rows = []
    for i, code in enumerate(fitted):
        text = str(sites[code])
        groups = [_series_frame(snaps, cols, dense[i]) for cols in series]
        rows.append(_fit(text, groups, per_request, confidence, pd.NA))
        if per_process:
            for cols, group in zip(series, groups, strict=True):
                rows.append(_fit(text, [group], per_request, confidence,
                                 int(snaps["pid"].iloc[cols[0]])))  # fmt: skip
    last = snaps.groupby("series")["_x"].idxmax().to_numpy()  # each series' last snapshot
    unfitted = np.setdiff1d(np.arange(len(sites)), fitted)
    latest = _latest(site_codes, column, size, last, unfitted)
    for code in unfitted:
        rows.append({"site": _site(str(sites[code])), "traceback": str(sites[code]),
                     "pid": pd.NA, "samples": n_snaps, "series": len(series),
                     "latest_bytes": latest.get(code, 0.0), "p_value": np.nan})  # fmt: skip
    out = pd.DataFrame(rows, columns=_COLUMNS)
    _verdicts(out, alpha, min_growth_bytes, per_request, fitted_rows=len(rows) - len(unfitted))
    key = "slope_bytes_per_request" if per_request else "slope_bytes_per_s"
    out = out.sort_values([key, "latest_bytes"], ascending=False, na_position="last",
                          kind="stable", ignore_index=True)  # fmt: skip
    out["pid"] = out["pid"].astype("Int64")
    for name in ("samples", "series"):
        out[name] = out[name].astype("int64")
    out.attrs["perfkit"] = {"axis": "requests" if per_request else "time",
                            "snapshots": n_snaps, "series": len(series),
                            "fitted_sites": len(fitted), "sites": len(sites)}  # fmt: skip
    return out[[c for c in _COLUMNS if c != "_span" and (per_process or c != "pid")]]


_COLUMNS = ["site", "traceback", "pid", "verdict", "slope_bytes_per_request",
            "ci_low_bytes_per_request", "ci_high_bytes_per_request", "slope_bytes_per_s",
            "ci_low_bytes_per_s", "ci_high_bytes_per_s", "p_value", "p_adjusted",
            "growth_bytes", "warmup_bytes", "latest_bytes", "samples", "series",
            "_span"]  # fmt: skip


def _site(traceback: str) -> str:
    return traceback.split(" <- ", 1)[0]


def _series_frame(snaps: pd.DataFrame, cols: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """One series in `perfkit.analysis.leak`'s shape: ``time``, ``_h`` (the axis: requests or
    seconds), ``_mib`` (here bytes: the functions are unit-free), ``_s`` (seconds)."""
    part = snaps.iloc[cols].sort_values("_x", kind="stable")
    return pd.DataFrame({"time": part["time"].to_numpy(), "_h": part["_x"].to_numpy(dtype=float),
                         "_mib": values[part.index.to_numpy()],
                         "_s": part["_s"].to_numpy(dtype=float)})  # fmt: skip


def _fit(text: str, groups: list[pd.DataFrame], per_request: bool, confidence: float,
         pid: Any) -> dict[str, Any]:  # fmt: skip
    kept = [_after_warmup(_thin(g))[0] for g in groups]
    x = [k["_h"].to_numpy() for k in kept]
    y = [k["_mib"].to_numpy() for k in kept]
    slope, low, high, p_value, n = sen(x, y, confidence)
    by_time = sen([k["_s"].to_numpy() for k in kept], y, confidence)
    rise = [float(k["_mib"].iloc[: max(1, len(k) // 10)].median() - g["_mib"].iloc[0])
            for g, k in zip(groups, kept, strict=True) if len(k) < len(g)]  # fmt: skip
    spans = [float(k["_h"].iloc[-1] - k["_h"].iloc[0]) for k in kept if len(k)]
    nan = float("nan")
    row = {"site": _site(text), "traceback": text, "pid": pid, "p_value": p_value,
           "slope_bytes_per_s": by_time[0], "ci_low_bytes_per_s": by_time[1],
           "ci_high_bytes_per_s": by_time[2], "samples": n, "series": len(groups),
           "warmup_bytes": float(np.median(rise)) if rise else 0.0,
           "latest_bytes": float(np.median([g["_mib"].iloc[-1] for g in groups])),
           "_span": float(np.median(spans)) if spans else nan}  # fmt: skip
    row.update({"slope_bytes_per_request": slope if per_request else nan,
                "ci_low_bytes_per_request": low if per_request else nan,
                "ci_high_bytes_per_request": high if per_request else nan})  # fmt: skip
    return row


def _latest(site_codes: np.ndarray, column: np.ndarray, size: np.ndarray, last: np.ndarray,
            sites: np.ndarray) -> dict[int, float]:  # fmt: skip
    """Median over series of each site's bytes in the series' last snapshot (0 if absent)."""
    wanted = np.isin(column, last) & np.isin(site_codes, sites)
    table = pd.DataFrame({"site": site_codes[wanted], "col": column[wanted], "size": size[wanted]})
    wide = table.pivot_table(index="site", columns="col", values="size", aggfunc="sum",
                             fill_value=0.0).reindex(columns=last, fill_value=0.0)  # fmt: skip
    medians = wide.median(axis=1)
    keys, values = medians.index.astype(int).tolist(), medians.astype(float).tolist()
    return dict(zip(keys, values, strict=True))


def _verdicts(out: pd.DataFrame, alpha: float, floor: float, per_request: bool,
              fitted_rows: int) -> None:  # fmt: skip
    """Verdicts on Holm-adjusted p-values across the fitted pooled rows (per-process rows
    are adjusted among themselves); `out`'s first `fitted_rows` rows were fitted."""
    from perfkit.analysis.significance import adjust

    axis = "bytes_per_request" if per_request else "bytes_per_s"
    slope = out[f"slope_{axis}"].to_numpy(dtype=float)
    low = out[f"ci_low_{axis}"].to_numpy(dtype=float)
    high = out[f"ci_high_{axis}"].to_numpy(dtype=float)
    span = out["_span"].to_numpy(dtype=float)
    pooled = out["pid"].isna().to_numpy()
    p = out["p_value"].to_numpy(dtype=float)
    adjusted = np.full(len(out), np.nan)
    adjusted[pooled] = adjust(p[pooled])
    adjusted[~pooled] = adjust(p[~pooled])
    out["p_adjusted"] = adjusted
    out["growth_bytes"] = slope * span
    fitted = np.arange(len(out)) < fitted_rows  # the rest never changed by `floor`: flat
    with np.errstate(invalid="ignore"):
        growing = fitted & (adjusted < alpha) & (low > 0) & (slope * span >= floor)
        flat = ~fitted | (high * span <= floor)
        rise = out["warmup_bytes"].to_numpy(dtype=float)
        warm = fitted & ~growing & (rise >= floor) & (rise > 0)
    few = fitted & ((out["samples"].to_numpy() < 6) | np.isnan(p))
    verdict = np.select([few, growing, warm, flat], ["inconclusive", "growing",
                        "warm-up-then-flat", "flat"], "inconclusive")  # fmt: skip
    out["verdict"] = verdict
    del out["_span"]
