"""Latency summaries of the requests frame: exact per-group percentiles.

Percentiles use linear interpolation between order statistics (numpy's
default, "linear"), computed for every group at once from one sort. A
request counts as an error when its status is 500 or more (server errors;
4xx are the client's and reported apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from perfkit.errors import InputError

PERCENTILES = (50, 90, 95, 99)


def summarize(
    requests: pd.DataFrame,
    by: str | Sequence[str] = "route",
    freq: str | None = None,
    metric: str = "duration_ms",
    percentiles: Sequence[float] = PERCENTILES,
) -> pd.DataFrame:
    """Per group (and per time bucket of `freq`, e.g. ``"5min"``): count, error rates, latency.

    Returns one row per group with ``count``, ``error_rate`` (share of 5xx),
    ``client_error_rate`` (share of 4xx), ``mean_ms``, ``p50_ms`` ... ``p99_ms``
    and ``max_ms`` of `metric` (NaN values are left out of the latency
    figures but counted in ``count``), sorted by count, largest first. With
    `freq` one row per group and ``bucket`` (the bucket's start): the groups
    by their total count, largest first, each group's buckets in time order.
    """
    outside = [p for p in percentiles if not (isinstance(p, Real) and 0 <= p <= 100)]
    if outside:
        raise InputError(f"summarize: percentiles are numbers from 0 to 100, not {outside}")
    if _is_dask(requests):
        return _summarize_dask(requests, by, freq, metric, percentiles)
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in [*keys, metric, "status"] if k not in requests.columns]
    if missing:
        raise InputError(f"summarize: the frame has no column {', '.join(missing)}")
    frame = requests
    if freq is not None:
        frame = requests.assign(bucket=requests["time"].dt.floor(freq))
        keys = [*keys, "bucket"]
    codes, index = _group_codes(frame, keys)
    status = frame["status"].to_numpy(dtype="float64", na_value=np.nan)
    values = frame[metric].to_numpy(dtype="float64", na_value=np.nan)
    n_groups = len(index)
    count = np.bincount(codes)  # every group has a row: no minlength needed
    out = pd.DataFrame(index=index)
    out["count"] = count
    out["error_rate"] = np.bincount(codes, weights=status >= 500) / count
    out["client_error_rate"] = np.bincount(codes, weights=(status >= 400) & (status < 500)) / count
    out = out.join(_latency(codes, values, n_groups, index, percentiles))
    if freq is not None:
        return out.iloc[_group_then_time(out)]
    return out.sort_values("count", ascending=False, kind="stable")


def _group_then_time(out: pd.DataFrame) -> np.ndarray:
    """Row order of a bucketed summary: groups by total count (largest first, ties in key
    order), each group's buckets in time order (a bucket without a time last)."""
    groups = out.index.droplevel("bucket")  # type: ignore[arg-type]  # pandas-stubs: a level name
    code = pd.factorize(groups)[0]
    total = np.bincount(code, weights=out["count"].to_numpy())[code]
    bucket = pd.DatetimeIndex(out.index.get_level_values("bucket"))
    when = np.where(bucket.isna(), np.iinfo(np.int64).max, bucket.asi8)
    return np.lexsort((when, code, -total))


def _is_dask(frame: object) -> bool:
    return type(frame).__module__.startswith("dask")


def _summarize_dask(
    requests: Any,
    by: str | Sequence[str],
    freq: str | None,
    metric: str,
    percentiles: Sequence[float],
) -> pd.DataFrame:
    """A Dask frame: per-partition totals and sketches merged in a tree (exact counts,
    percentiles within the sketch's 1 % relative error; `perfkit.analysis.distributed`)."""
    from perfkit.analysis.distributed import summarize_totals, totals

    if freq is not None or not isinstance(by, str):
        raise InputError("summarize on a Dask frame groups by one column, without freq")
    return summarize_totals(totals(requests, by, metric), percentiles)


def _group_codes(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.Index]:
    """Group number of each row, and the group keys in that numbering."""
    column = frame[keys[0]]
    if len(keys) == 1 and isinstance(column.dtype, pd.CategoricalDtype) and not column.hasnans:
        codes = column.cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(codes))  # the categories present, in their order
        if len(used) < len(column.cat.categories):  # renumbered without the absent ones
            renumber = np.zeros(len(column.cat.categories), dtype=np.int64)
            renumber[used] = np.arange(len(used))
            codes = renumber[codes]
        return codes, pd.Index(column.cat.categories[used], name=keys[0])
    grouper = frame.groupby(keys, observed=True, dropna=False)
    return grouper.ngroup().to_numpy(), grouper.size().index


def _latency(
    codes: np.ndarray,
    values: np.ndarray,
    n_groups: int,
    index: pd.Index,
    percentiles: Sequence[float],
) -> pd.DataFrame:
    ok = ~np.isnan(values)
    codes, values = codes[ok], values[ok]
    n = np.bincount(codes, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    quantiles = [p / 100 for p in percentiles]
    sorted_values = sort_within_groups(codes, values, start, n, quantiles)
    out = pd.DataFrame(index=index)
    with np.errstate(invalid="ignore"):  # a group without durations: 0 / 0, its mean NaN
        out["mean_ms"] = np.bincount(codes, weights=values, minlength=n_groups) / n
    for p in percentiles:
        out[f"p{_label(p)}_ms"] = group_quantile(sorted_values, start, n, p / 100)
    last = start + n - 1  # -1 at least: a valid index, masked when the group is empty
    out["max_ms"] = np.where(n > 0, sorted_values[last] if len(sorted_values) else np.nan, np.nan)
    return out


def sort_within_groups(
    codes: np.ndarray,
    values: np.ndarray,
    start: np.ndarray,
    n: np.ndarray,
    quantiles: Sequence[float] | None = None,
) -> np.ndarray:
    """`values` ordered by group (`codes`; group g at ``start[g]``, ``n[g]`` long), each group
    sorted. With few groups, a stable radix sort of the codes then one sort per group
    (numpy's SIMD sort): about twice as fast as sorting by value then by group, which many
    small groups (``freq=`` buckets) still do. Given `quantiles` (0-1), a group of few only
    has the order statistics `group_quantile` reads for them, and its maximum, in place
    (a partition: about twice as fast as its sort)."""
    small = codes.astype(np.int16) if len(n) <= np.iinfo(np.int16).max else codes
    several = n > 1
    if np.count_nonzero(several) > SORT_GROUPS_APART:
        order = np.argsort(values)
        return values[order[np.argsort(small[order], kind="stable")]]
    grouped = values[np.argsort(small, kind="stable")]
    for first, size in zip(start[several].tolist(), n[several].tolist(), strict=True):
        if quantiles is None:
            grouped[first : first + size].sort()
        else:
            grouped[first : first + size].partition(_order_statistics(size, quantiles))
    return grouped


def _order_statistics(size: int, quantiles: Sequence[float]) -> list[int]:
    """The positions `group_quantile` reads in a sorted group of `size` for `quantiles`, and
    the last (the maximum)."""
    wanted = {size - 1}
    for q in quantiles:
        low = int(np.floor(q * (size - 1)))
        wanted.update((low, min(low + 1, size - 1)))
    return sorted(wanted)


SORT_GROUPS_APART = 1000  # groups sorted one by one up to this many (a Python loop over them)


def group_quantile(
    sorted_values: np.ndarray, start: np.ndarray, n: np.ndarray, q: float
) -> np.ndarray:
    """Linear-interpolated `q` quantile of each group of `sorted_values` (groups contiguous)."""
    result = np.full(len(n), np.nan)
    has = n > 0
    pos = q * (n[has] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n[has] - 1)
    base = start[has]
    low, high = sorted_values[base + lo], sorted_values[base + hi]
    result[has] = low + (high - low) * (pos - lo)
    return result


def _label(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else str(p).replace(".", "_")
