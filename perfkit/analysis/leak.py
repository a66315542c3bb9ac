"""Memory-leak trend fits per process, aware of warm-up and of Gunicorn worker recycling.

Assumptions: memory is sampled at roughly regular times; a leak is a steady
growth (MiB per hour) on top of noise; the noise of successive samples may
be serially dependent only weakly (the tests below are rank based, but
strongly autocorrelated samples make intervals too narrow: sample no faster
than memory changes).

- Slope: Theil–Sen (the median of all pairwise slopes) with Sen's
  distribution-free interval from the variance of Kendall's S; the trend
  test is Mann–Kendall (Kendall's tau of memory against time).
- Warm-up: a fast rise that flattens (imports, caches filling) is cut off:
  the fit starts at the first of 0 %, 10 % ... 40 % of the run whose next
  tenth lies on the steady trend of the run's second half, within noise.
- Recycling: with ``max_requests`` each worker lives briefly and a new pid
  starts low again (a sawtooth). Workers (role ``worker``) are pooled into
  one fit: pairwise slopes are taken within each pid only and S, its
  variance and the interval are summed over pids (a stratified Mann–Kendall),
  so the drops between generations never count as shrinking.

Verdicts (p-values Holm-adjusted across the processes of one call): ``leak``
when the trend is significant, the interval is above 0
the slope is at least `min_mib_per_hour`, and the growth over the fitted
span (``growth_mib``: slope x span; for pooled workers, x the median worker
life) is at least `min_growth_mib`; ``no leak`` when the interval lies below
`min_mib_per_hour`; otherwise ``inconclusive``. The growth floor is what
keeps a short run honest: a fresh worker's caches fill for minutes, and a
few hundred KiB of that over two minutes is a steep but meaningless slope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable

    from pandas.core.groupby import DataFrameGroupBy

MIB = 2**20
WARMUP_CUTS = (0.0, 0.1, 0.2, 0.3, 0.4)
MAX_POINTS = 2000  # per process; longer series are thinned evenly (pairs grow as n^2)


def fit_leak(
    memory: pd.DataFrame,
    by: str = "pid",
    limit_bytes: float | None = None,
    alpha: float = 0.05,
    min_mib_per_hour: float = 1.0,
    min_growth_mib: float = 4.0,
    confidence: float = 0.95,
    pool_workers: bool = True,
    requests_per_hour: float | None = None,
    container_limit_bytes: float | None = None,
) -> pd.DataFrame:
    """One row per process, and one ``workers (pooled)`` row when workers recycle (more
    worker pids over the run than ever ran at once).

    Columns: ``pid``, ``role``, ``verdict``, ``slope_mib_per_hour``, ``ci_low``,
    ``ci_high``, ``p_value``, ``warmup_end``, ``samples``, ``level_mib`` (latest
    fitted level, MiB), and when a limit is given ``limit_mib`` (the limit the row
    is held against) and ``time_to_limit_h`` (hours, with ``ttl_low_h``/``ttl_high_h``;
    0 when already at or over it); ``growth_per_request_kib`` and
    ``max_requests_for_limit`` when `requests_per_hour` (per worker) is given.

    With `container_limit_bytes` a ``container`` row fits the sum of every
    process's RSS (the container's memory as the limit sees it, samples
    bucketed to the sampling interval). It is held against the container limit
    only (per-process `limit_bytes` never applies to it; its time to limit is
    also in ``container_time_to_limit_h``), its per-request figures are NaN,
    and ``worst_case_mib`` is the master plus as many workers as run at once
    (per sampling round), each at the largest RSS any worker reached.
    """
    frame = memory.dropna(subset=["time", "rss_bytes"]).sort_values("time")
    start = frame["time"].min()
    hours = (frame["time"] - start).dt.total_seconds().to_numpy() / 3600
    frame = frame.assign(_h=hours, _mib=frame["rss_bytes"].to_numpy(dtype=float) / MIB)
    rows = []
    for key, group in _groups(frame, by):  # sorted by `by`
        role = str(group["role"].iloc[0]) if "role" in group else ""
        rows.append(_row(key, role, [group], confidence))
    if pool_workers and "role" in frame:
        workers = frame[frame["role"].astype(str) == "worker"]
        if _recycled(workers, by):
            groups = [g for _, g in _groups(workers, by)]
            rows.append(_row(pd.NA, "workers (pooled)", groups, confidence))
    if container_limit_bytes is not None:
        total = _container_total(frame, by)
        if len(total) >= 2:
            rows.append(_row(pd.NA, "container", [total], confidence))
    out = pd.DataFrame(rows)
    _verdicts(out, alpha, min_mib_per_hour, min_growth_mib)
    container = out["role"] == "container"
    limits = pd.Series(np.nan, index=out.index)  # the limit each row is held against, MiB
    if limit_bytes is not None:
        limits[~container] = limit_bytes / MIB
    if container_limit_bytes is not None and container.any():
        out.loc[container, "worst_case_mib"] = _worst_case_mib(frame, by)
        limits[container] = container_limit_bytes / MIB
    if limits.notna().any():
        out["limit_mib"] = limits
        _time_to_limit(out, limits)
    if container_limit_bytes is not None and container.any():  # kept under their old names
        for column in ("time_to_limit_h", "ttl_low_h", "ttl_high_h"):
            out.loc[container, f"container_{column}"] = out.loc[container, column]
    if requests_per_hour:  # per worker: meaningless for the container's sum
        per_process = out["slope_mib_per_hour"] / requests_per_hour * 1024
        out["growth_per_request_kib"] = per_process.where(~container)
        if limit_bytes is not None:
            headroom = limit_bytes / MIB - out["start_mib"]
            per_request = out["ci_high"] / requests_per_hour  # > 0 on the leak rows kept
            out["max_requests_for_limit"] = cast(
                "pd.Series[float]", np.floor(headroom / per_request)
            ).where((out["verdict"] == "leak") & ~container)
    out["growth_mib"] = out["slope_mib_per_hour"] * out["span_h"]
    return out.drop(columns=["start_mib"])


def _groups(frame: pd.DataFrame, by: str | list[str]) -> DataFrameGroupBy[Any, Any]:
    """`frame` grouped by `by`, sorted, with no empty group per unused category (pandas 2's
    default for a categorical key)."""
    return frame.groupby(by, observed=True)


def _row(key: Hashable, role: str, groups: list[pd.DataFrame], confidence: float) -> dict[str, Any]:
    kept = [_after_warmup(_thin(g)) for g in groups]
    slope, low, high, p_value, n = sen(
        [k[0]["_h"].to_numpy() for k in kept], [k[0]["_mib"].to_numpy() for k in kept], confidence
    )
    warmup_end = kept[0][1] if len(kept) == 1 else pd.NaT
    level = float(np.median([g["_mib"].iloc[-max(1, len(g) // 10) :].median() for g, _ in kept]))
    if len(kept) == 1 and np.isfinite(slope):  # one series: its trend line at the last sample
        t, y = kept[0][0]["_h"].to_numpy(), kept[0][0]["_mib"].to_numpy()
        level = float(np.median(y - slope * t) + slope * t[-1])
    start_level = float(
        np.median([g["_mib"].iloc[: max(1, len(g) // 10)].median() for g, _ in kept])
    )
    return {
        "pid": key, "role": role, "slope_mib_per_hour": slope,
        "ci_low": low, "ci_high": high, "p_value": p_value, "warmup_end": warmup_end,
        "samples": n, "level_mib": level, "start_mib": start_level,
        "span_h": float(np.median([g["_h"].iloc[-1] - g["_h"].iloc[0] for g, _ in kept])),
    }  # fmt: skip


def _verdicts(out: pd.DataFrame, alpha: float, floor: float, min_growth: float) -> None:
    """Verdicts on Holm-adjusted p-values: many processes are many tests."""
    from perfkit.analysis.significance import adjust

    out["p_adjusted"] = adjust(out["p_value"].to_numpy())  # Holm: adjust's default
    verdicts = []
    for row in cast("Iterable[Any]", out.itertuples()):  # the stubs type each field as any scalar
        if row.samples < 6 or np.isnan(row.p_value):
            verdicts.append("inconclusive")
        elif (row.p_adjusted < alpha and row.ci_low > 0 and row.slope_mib_per_hour >= floor
              and row.slope_mib_per_hour * row.span_h >= min_growth):  # fmt: skip
            verdicts.append("leak")
        elif row.ci_high < floor:
            verdicts.append("no leak")
        else:
            verdicts.append("inconclusive")
    out.insert(cast(int, out.columns.get_loc("role")) + 1, "verdict", verdicts)


def _recycled(workers: pd.DataFrame, by: str) -> bool:
    """Whether worker pids turned over: more pids than ever ran at once (max_requests)."""
    if workers.empty:
        return False
    span = workers["time"].max() - workers["time"].min()
    bucket = max(span / 200, pd.Timedelta(seconds=1))
    at_once = workers.groupby(workers["time"].dt.floor(bucket))[by].nunique().max()
    return bool(workers[by].nunique() > at_once)


def _container_total(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Sum of all processes' RSS per sampling bucket (the median sampling interval)."""
    steps = _groups(frame, by)["_h"].diff().dropna()
    step = float(steps[steps > 0].median()) if (steps > 0).any() else 1 / 60
    bucket = np.floor(frame["_h"].to_numpy() / step)
    per_process = _groups(frame.assign(_b=bucket), ["_b", by])["_mib"].mean()
    total = per_process.groupby(level="_b").sum()
    hours = total.index.to_numpy() * step
    start = frame["time"].min()
    return pd.DataFrame({
        "time": start + pd.to_timedelta(hours * 3600, unit="s"), "_h": hours,
        "_mib": total.to_numpy(),
    })  # fmt: skip


def _worst_case_mib(frame: pd.DataFrame, by: str) -> float:
    roles = frame["role"].astype(str) if "role" in frame else pd.Series("worker", frame.index)
    workers = frame[roles == "worker"]
    others = _groups(frame[roles != "worker"], by)["_mib"].max().sum()
    if workers.empty:
        return float(others)
    return float(others + np.ceil(workers_at_once(workers, by)) * workers["_mib"].max())


def sampling_interval(memory: pd.DataFrame, by: str = "pid") -> pd.Timedelta:
    """The median time between two samples of one process (1 s when none is repeated)."""
    ordered = memory.sort_values("time")
    steps = _groups(ordered, by)["time"].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    return cast(pd.Timedelta, steps.median()) if len(steps) else pd.Timedelta(seconds=1)


def workers_at_once(workers: pd.DataFrame, by: str = "pid") -> float:
    """How many of `workers` (memory rows) run at once: the median count of distinct pids per
    sampling round (bucket = the sampling interval). Wider buckets would count a recycled
    worker and its successor as two at once."""
    if workers.empty:
        return 0.0
    step = sampling_interval(workers, by)
    rounds = (workers["time"] - workers["time"].min()) // step
    return float(workers.groupby(rounds.to_numpy())[by].nunique().median())


def recycled_workers(memory: pd.DataFrame, by: str = "pid") -> int:
    """Workers (role ``worker``) that ended before the sampling did: pids absent from the last
    sampling round. A worker that ended within a few seconds of the end counts (it is not in the
    last round); one that lived between two samples was never seen and cannot be counted."""
    roles = memory["role"].astype(str)
    workers = memory[roles == "worker"]
    if workers.empty:
        return 0
    end = memory["time"].max()
    ends = _groups(workers, by)["time"].max()
    return int((ends < end - sampling_interval(memory, by) / 2).sum())


def _thin(group: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_POINTS samples, evenly spread, the first and the last kept (all when fewer)."""
    n = len(group)
    return group.iloc[np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int)]


def _after_warmup(group: pd.DataFrame) -> tuple[pd.DataFrame, object]:
    """The part after warm-up, and when warm-up ended (the first sample's time if none).

    The steady trend is the Theil–Sen line of the run's second half; the fit
    starts at the first cut (0 %, 10 % ... 40 % of the run) whose next tenth
    of samples is not below that line by more than noise allows (4 standard
    errors of a median, noise from the second half's residuals), and leading
    samples more than 1.5 noise deviations below the line are dropped too
    (warm-ups faster than a tenth of the run).
    """
    if len(group) < 20:
        return group, group["time"].iloc[0]
    t = group["_h"].to_numpy()
    y = group["_mib"].to_numpy()
    span = t[-1] - t[0]
    half = t >= t[0] + span / 2
    slope, *_ = sen([t[half]], [y[half]])  # the slope alone: no interval needed
    residual = y - slope * t
    level = np.median(residual[half])
    noise = 1.4826 * np.median(np.abs(residual[half] - level)) or 1e-9
    for cut in WARMUP_CUTS:
        window = (t >= t[0] + cut * span) & (t < t[0] + (cut + 0.1) * span)
        if window.sum() < 3:
            continue
        standard_error = 1.2533 * noise / np.sqrt(window.sum())  # of a median
        if np.median(residual[window]) - level >= -4 * standard_error:  # not still below the line
            # fast warm-ups: from the first sample of the cut on within 1.5 noise deviations of
            # the line (one exists: half the second half's residuals are at or above `level`)
            near = (t >= t[0] + cut * span) & (residual - level >= -1.5 * noise)
            keep = t >= t[np.flatnonzero(near)[0]]
            return group[keep], group["time"][keep].iloc[0]
    keep = t >= t[0] + (WARMUP_CUTS[-1] + 0.1) * span
    return group[keep], group["time"][keep].iloc[0]


def sen(
    times: list[np.ndarray], values: list[np.ndarray], confidence: float = 0.95
) -> tuple[float, float, float, float, int]:
    """Theil–Sen slope over one or several series (pairs within a series only), Sen's interval,
    and the (stratified) Mann–Kendall two-sided p-value: (slope, low, high, p, samples)."""
    slopes, var_total, n_total = [], 0.0, 0
    for t, y in zip(times, values, strict=True):
        n = len(t)
        n_total += n
        if n < 2:
            continue
        i, j = np.triu_indices(n)  # the diagonal's pairs (dt = 0) go with the tied times below
        dt, dy = t[j] - t[i], y[j] - y[i]
        ok = dt != 0
        slopes.append(dy[ok] / dt[ok])
        var_total += _var_s(t)
    if not slopes or var_total <= 0:
        return (np.nan, np.nan, np.nan, np.nan, n_total)
    pairs = np.sort(np.concatenate(slopes))
    slope = float(np.median(pairs))
    c = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(var_total)
    m = len(pairs)
    low = float(
        pairs[max(int(np.round((m - c) / 2)) - 1, 0)]
    )  # Sen's ranks, as scipy's theilslopes
    high = float(pairs[min(int(np.round((m + c) / 2)), m - 1)])
    s = float(np.sign(pairs).sum())  # Kendall's S: pairs rising minus pairs falling
    z = (s - np.sign(s)) / np.sqrt(var_total)  # continuity-corrected; 0 when S = 0
    p_value = float(2 * stats.norm.sf(abs(z)))
    return (slope, low, high, p_value, n_total)


def _var_s(t: np.ndarray) -> float:
    """Variance of Kendall's S under no trend, corrected for tied times (as scipy does)."""
    n = len(t)
    _, counts = np.unique(t, return_counts=True)
    ties = float((counts * (counts - 1) * (2 * counts + 5)).sum())  # untied times add 0
    return (n * (n - 1) * (2 * n + 5) - ties) / 18.0


def _time_to_limit(out: pd.DataFrame, limit_mib: float | pd.Series) -> None:
    """Hours from the latest fitted level to `limit_mib` (per row when a Series) at the slope
    and its interval's ends; 0 when the level is already at or above the limit, NaN when not
    growing (or no limit)."""
    headroom = (limit_mib - out["level_mib"]).clip(lower=0)
    for column, slope in (("time_to_limit_h", "slope_mib_per_hour"), ("ttl_low_h", "ci_high"),
                          ("ttl_high_h", "ci_low")):  # fmt: skip
        out[column] = (headroom / out[slope]).where(out[slope] > 0)
