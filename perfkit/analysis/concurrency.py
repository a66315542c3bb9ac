"""Throughput and in-flight concurrency: from production access logs, and from Locust step loads.

These are the points a Universal Scalability Law fit needs (`fit_usl`), so
capacity can be estimated from the traffic a service already had, without a
load test.

From an access log each request occupies ``[end - duration, end]`` (``time``
is the end as logged). Per interval the time-average number of requests in
flight is exact: the area under the in-flight count, from cumulative sums of
sorted starts and ends (no per-request loop; a long request counts in every
interval it overlaps). Little's law, ``L = X * W`` (throughput of requests
completed in the interval times their mean duration), is computed beside it
as a cross-check: the two agree when intervals are long against request
durations, and a large gap means the log misses requests or durations.

Logs with whole-second times (Gunicorn's and nginx's default ``%t``
truncates) place each end at the middle of its second, the unbiased choice;
`time_resolution_s` says which was used.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning

# A request whose start or end lies more than OUTLIER_SPANS times the bulk's span outside
# the bulk (the requests between the BULK_TRIM and 1 - BULK_TRIM quantiles of end time)
# is a time outlier: reported and left out, never expanded into empty intervals.
OUTLIER_SPANS = 10.0
BULK_TRIM = 0.01
MAX_INTERVALS = 1_000_000  # beyond this the interval is too fine for the span: InputError


def concurrency_from_log(requests: pd.DataFrame, interval: str = "1min") -> pd.DataFrame:
    """Per `interval` (a pandas frequency): ``requests`` completed, ``throughput_per_s``,
    ``concurrency`` (exact mean in flight), ``little_concurrency`` (throughput x mean
    duration), ``mean_ms`` and ``p95_ms`` of the requests completed in it.

    Requests far outside the bulk of the log's times (a clock jump to 2099, a
    duration of years; see `OUTLIER_SPANS`) are left out, counted in
    ``attrs["time_outliers"]`` and warned about. More than `MAX_INTERVALS`
    intervals is an `InputError` (choose a longer `interval`).
    """
    if type(requests).__module__.startswith("dask"):
        return _concurrency_dask(requests, interval)
    frame = requests.dropna(subset=["time", "duration_ms"])
    if frame.empty:
        raise InputError("concurrency_from_log needs requests with time and duration_ms")
    step = _step(interval)
    step_s = step.total_seconds()
    end_int = _end_ns(frame["time"])
    duration = frame["duration_ms"].to_numpy(dtype=float) / 1000
    far = _far(end_int, duration, step_s)
    if far.any():
        _warn_outliers(frame["time"][far], len(frame))
        frame, end_int, duration = frame[~far], end_int[~far], duration[~far]
    whole_seconds = bool(np.all(end_int % 1_000_000_000 == 0))
    origin = end_int.min() // step.value * step.value  # intervals on the clock's boundaries
    end = (end_int - origin) / 1e9 + (0.5 if whole_seconds else 0.0)
    start = end - duration
    first = np.floor(start.min() / step_s) * step_s
    _check_intervals((end.max() - first) / step_s, interval)
    edges = np.arange(first, end.max() + step_s, step_s)
    area = _in_flight_area(np.sort(start), np.sort(end), edges)
    bucket = np.clip(((end - first) // step_s).astype(int), 0, len(edges) - 2)
    grouped = pd.DataFrame({"b": bucket, "ms": duration * 1000}).groupby("b")["ms"]
    index = pd.RangeIndex(len(edges) - 1)
    out = _table(
        edges, area, grouped.size().reindex(index, fill_value=0).to_numpy(),
        grouped.mean().reindex(index).to_numpy(), grouped.quantile(0.95).reindex(index).to_numpy(),
        step_s, origin, frame["time"].dt.tz, whole_seconds,
    )  # fmt: skip
    out.attrs["time_outliers"] = int(far.sum())
    return out


def _step(interval: str) -> pd.Timedelta:
    try:
        step = pd.Timedelta(interval)
    except ValueError as exc:
        raise InputError(
            f"interval must be a pandas frequency like '1min', not {interval!r}"
        ) from exc
    if not step > pd.Timedelta(0):
        raise InputError(f"interval must be positive, got {interval!r}")
    return step


def _end_ns(times: pd.Series) -> np.ndarray:
    """Request end times as int64 nanoseconds since 1970 (UTC)."""
    ends: np.ndarray = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    return ends.view(np.int64)


def _bulk(end_ns: np.ndarray) -> tuple[float, float]:
    """The BULK_TRIM and 1 - BULK_TRIM quantiles of `end_ns` (nearest rank), in ns."""
    n = len(end_ns)
    k = int(n * BULK_TRIM)
    low, high = np.partition(end_ns, (k, n - 1 - k))[[k, n - 1 - k]]
    return float(low), float(high)


def _window(low: float, high: float, step_s: float) -> tuple[float, float]:
    """Times (ns) outside which a request is a time outlier: OUTLIER_SPANS bulk spans away."""
    margin = OUTLIER_SPANS * max(high - low, step_s * 1e9)
    return low - margin, high + margin


def _far(end_ns: np.ndarray, duration_s: np.ndarray, step_s: float) -> np.ndarray:
    """Which requests start or end far outside the bulk of the log's times."""
    lo, hi = _window(*_bulk(end_ns), step_s)
    end = end_ns.astype(float)
    return (end > hi) | (end < lo) | (end - duration_s * 1e9 < lo)


def _warn_outliers(times: pd.Series, total: int) -> None:
    shown = ", ".join(str(t) for t in times.iloc[:3])
    warnings.warn(
        f"{len(times):,} request(s) of {total:,} lie far outside the bulk of the log's times "
        f"(e.g. ending {shown}; a clock jump or a bogus duration): left out of the intervals",
        PerfkitWarning,
        stacklevel=3,
    )


def _check_intervals(count: float, interval: str) -> None:
    if count > MAX_INTERVALS:
        raise InputError(
            f"the requests span {count:,.0f} intervals of {interval} (at most "
            f"{MAX_INTERVALS:,}); pass a longer interval"
        )


def _table(
    edges: np.ndarray, area: np.ndarray, counts: np.ndarray, mean_ms: np.ndarray,
    p95_ms: np.ndarray | pd.Series, step_s: float, origin: int, tz: Any, whole: bool,
) -> pd.DataFrame:  # fmt: skip
    """The per-interval table both engines return (index: interval starts in `tz`)."""
    out = pd.DataFrame({"requests": counts, "throughput_per_s": counts / step_s,
                        "concurrency": np.diff(area) / step_s, "mean_ms": mean_ms,
                        "p95_ms": p95_ms})  # fmt: skip
    out["little_concurrency"] = out["throughput_per_s"] * out["mean_ms"].fillna(0) / 1000
    starts = pd.to_datetime(origin + np.round(edges[:-1] * 1e9).astype(np.int64), utc=True)
    out.index = starts.tz_convert(tz)
    out.index.name = "interval_start"
    out.attrs["time_resolution_s"] = 1.0 if whole else 1e-6
    return out


def _concurrency_dask(requests: Any, interval: str) -> pd.DataFrame:  # a Dask frame
    """The same table from a Dask frame in two passes: the time span, then per partition the
    area at the interval edges and the per-interval counts and sums (areas add over requests,
    so partitions add up exactly). ``p95_ms`` is not computed here (NaN)."""
    import dask

    frame = requests.dropna(subset=["time", "duration_ms"])
    step = _step(interval)
    step_s = step.total_seconds()
    ns = frame["time"].dt.tz_convert("UTC").dt.tz_localize(None).astype("int64")
    low, high = (float(q) for q in ns.quantile([BULK_TRIM, 1 - BULK_TRIM]).compute())
    lo, hi = _window(low, high, step_s)
    far = (ns > hi) | (ns < lo) | (ns - frame["duration_ms"] * 1e6 < lo)
    n_far, total = dask.compute(far.sum(), far.count())
    if n_far:
        _warn_outliers(frame["time"][far].head(3, npartitions=-1), int(total))
        frame, ns = frame[~far], ns[~far]
    first, last, earliest, whole = dask.compute(
        ns.min(), ns.max(), (ns / 1e9 - frame["duration_ms"] / 1000).min(),
        (ns % 1_000_000_000 == 0).all(),
    )  # earliest: the first request's start, in epoch seconds
    origin = int(first) // step.value * step.value
    shift = 0.5 if whole else 0.0
    lowest = float(earliest) - origin / 1e9 + shift
    start_edge = np.floor(lowest / step_s) * step_s
    top = (int(last) - origin) / 1e9 + shift
    _check_intervals((top - start_edge) / step_s, interval)
    edges = np.arange(start_edge, top + step_s, step_s)

    def part(chunk: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        end = (chunk["time"].dt.tz_convert("UTC").dt.tz_localize(None).astype("int64").to_numpy()
               - origin) / 1e9 + shift  # fmt: skip
        duration = chunk["duration_ms"].to_numpy(dtype=float) / 1000
        area = _in_flight_area(np.sort(end - duration), np.sort(end), edges)
        bucket = np.clip(((end - start_edge) // step_s).astype(int), 0, len(edges) - 2)
        counts = np.bincount(bucket, minlength=len(edges) - 1)
        sums = np.bincount(bucket, weights=duration * 1000, minlength=len(edges) - 1)
        return area, counts, sums

    pieces = dask.compute(*[dask.delayed(part)(p) for p in frame.to_delayed()])
    area = sum(p[0] for p in pieces)
    counts = sum(p[1] for p in pieces)
    sums = sum(p[2] for p in pieces)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ms = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    out = _table(edges, area, counts, mean_ms, np.full(len(counts), np.nan), step_s, origin,
                 frame["time"].dtype.tz, whole)  # fmt: skip
    out.attrs["time_outliers"] = int(n_far)
    return out


def _in_flight_area(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Integral of the in-flight count from -inf to each of `at` (request-seconds).

    A(x) = sum over started (x - s) - sum over ended (x - e), by binary search on
    sorted starts and ends with prefix sums.
    """
    s_cum = np.concatenate([[0.0], np.cumsum(starts)])
    e_cum = np.concatenate([[0.0], np.cumsum(ends)])
    k_s = np.searchsorted(starts, at, side="right")
    k_e = np.searchsorted(ends, at, side="right")
    area: np.ndarray = (at * k_s - s_cum[k_s]) - (at * k_e - e_cum[k_e])
    return area


def locust_steps(history: pd.DataFrame, settle_s: float = 10.0) -> pd.DataFrame:
    """One row per user count of a Locust step load: ``users``, ``start``, ``end``,
    ``seconds``, ``requests``, ``throughput_per_s``, ``mean_ms``, ``in_flight`` (Little:
    throughput x mean response) and ``failures``.

    Each step's first `settle_s` seconds are left out (users still ramping); the
    figures come from the differences of Locust's running totals, so they are
    exact for the kept window rather than averages of its rolling rate.
    """
    rows = history[history["name"] == "Aggregated"].sort_values("time")
    rows = rows.dropna(subset=["user_count", "total_request_count"])
    if rows.empty:
        raise InputError("locust_steps needs Locust history rows (the Aggregated name)")
    users = rows["user_count"].to_numpy(dtype=float)  # any dtype backend (pyarrow: no cumsum)
    step_id = np.r_[0, np.cumsum(users[1:] != users[:-1])]
    out = []
    for _, step in rows.groupby(step_id):
        kept = step[step["time"] >= step["time"].iloc[0] + pd.Timedelta(seconds=settle_s)]
        if len(kept) < 2:
            continue
        a, b = kept.iloc[0], kept.iloc[-1]
        seconds = (b["time"] - a["time"]).total_seconds()
        count = b["total_request_count"] - a["total_request_count"]
        if seconds <= 0 or count <= 0:
            continue
        response_total = b["total_mean_ms"] * b["total_request_count"] - (
            a["total_mean_ms"] * a["total_request_count"]
        )
        mean_ms = response_total / count
        throughput = count / seconds
        out.append({
            "users": int(a["user_count"]), "start": a["time"], "end": b["time"],
            "seconds": seconds, "requests": int(count), "throughput_per_s": throughput,
            "mean_ms": mean_ms, "in_flight": throughput * mean_ms / 1000,
            "failures": int(b["total_failure_count"] - a["total_failure_count"]),
        })  # fmt: skip
    return pd.DataFrame(out)


CPU_WARNING = "CPU usage above"  # Locust's own warning when its process passes 90 % of a core
SATURATED = 0.9  # a machine this busy (share of all cores) leaves the server and client fighting


def flag_interference(
    steps: pd.DataFrame,
    locust_log: str | None = None,
    cpu: pd.DataFrame | None = None,
    weight: float = 0.25,
) -> pd.DataFrame:
    """`steps` (from `locust_steps`) with ``interference`` (why, or "") and ``weight``.

    A step is flagged when Locust logged its CPU warning inside it (`locust_log`:
    the log text; the warning's ``[YYYY-mm-dd HH:MM:SS,ms]`` time, UTC), or when
    `cpu` (columns ``time``: Unix seconds, ``machine_busy``: share of all cores
    0..1, optional ``locust_cores``: the load generator's CPU in cores) shows the
    machine at least `SATURATED` busy on average over the step or the load generator
    above 0.9 of a core: the client then delays its own requests and the
    throughput measures the shared machine, not the server. Flagged steps get
    `weight` (for `fit_capacity`'s ``weights``), the others 1; a machine busy in
    most steps is the whole run's condition (``attrs["machine_saturated_throughout"]``),
    and then only the load generator's own flags lower a weight.
    """
    out = steps.copy()
    reasons: list[list[str]] = [[] for _ in range(len(out))]
    if locust_log:
        stamps = []
        for line in locust_log.splitlines():
            if CPU_WARNING in line and line.startswith("["):
                try:
                    stamps.append(pd.Timestamp(line[1:24].replace(",", "."), tz="UTC"))
                except ValueError:
                    continue
        for i, (start, end) in enumerate(zip(out["start"], out["end"], strict=True)):
            if any(start <= t <= end for t in stamps):
                reasons[i].append("Locust warned its CPU was above 90 %")
    busy_steps = [False] * len(out)
    if cpu is not None and len(cpu):
        when = pd.to_datetime(cpu["time"], unit="s", utc=True)
        for i, (start, end) in enumerate(zip(out["start"], out["end"], strict=True)):
            inside = cpu[(when >= start) & (when <= end)]
            if not len(inside):
                continue
            busy = float(inside["machine_busy"].mean())
            if busy >= SATURATED:
                busy_steps[i] = True
                reasons[i].append(f"the machine was {busy:.0%} busy")
            if "locust_cores" in inside and float(inside["locust_cores"].mean()) > 0.9:
                reasons[i].append(
                    f"Locust used {float(inside['locust_cores'].mean()):.2f} cores"
                )
    # a machine busy through most steps is the run's condition, not one step's disturbance:
    # said, but weighting every step alike changes nothing, so only a minority is down-weighted
    whole_run = sum(busy_steps) > len(out) / 2
    weights = []
    for why, busy in zip(reasons, busy_steps, strict=True):
        other = [r for r in why if not r.startswith("the machine was")]
        weights.append(weight if other or (busy and not whole_run) else 1.0)
    out.attrs["machine_saturated_throughout"] = whole_run
    out["interference"] = ["; ".join(r) for r in reasons]
    out["weight"] = weights
    return out
