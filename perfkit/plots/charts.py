"""The reports' charts. Every figure aggregates, so its size does not grow with the input:
ECDFs on a fixed grid of quantiles, time series as per-bucket percentiles or medians with a
bounded number of buckets, comparisons as one mark per key."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from perfkit.plots.theme import IMPROVED, NEUTRAL, REGRESSED, styled

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from perfkit.analysis.capacity import CapacityFit, USLFit
    from perfkit.analysis.sizing import GunicornPlan
    from perfkit.analysis.sketch import LatencySketch

QUANTILES = np.linspace(0, 1, 201)  # ECDF grid: 201 points per line, whatever the sample size
MAX_BUCKETS = 240  # time series: at most this many points per line
VERDICT_COLOURS = {"regressed": REGRESSED, "improved": IMPROVED, "unchanged": NEUTRAL,
                   "moved with shift": "#e67e22", "insufficient data": "#d5dbdb"}  # fmt: skip


def _label(text: object, width: int = 60) -> str:
    """A label for plotly: its pseudo-HTML neutralised, long texts shortened."""
    value = str(text)
    value = value if len(value) <= width else value[: width - 1] + "…"
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forest(
    table: pd.DataFrame, title: str, what: str = "median",
    shift: tuple[float, float, float] | None = None,
) -> go.Figure:  # fmt: skip
    """Change ratio per key with its interval, coloured by verdict; p95 ratio as a second mark;
    `shift` (factor, low, high) drawn as a shaded band with a line: the run-wide shift."""
    shown = table.dropna(subset=["ratio"]).sort_values("ratio")
    labels = [_label(k) for k in shown.index]
    colours = [VERDICT_COLOURS.get(v, NEUTRAL) for v in shown["verdict"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=shown["ratio"], y=labels, mode="markers", name=f"{what} ratio",
        marker={"color": colours, "size": 10},
        error_x={"type": "data", "symmetric": False, "array": shown["ci_high"] - shown["ratio"],
                 "arrayminus": shown["ratio"] - shown["ci_low"], "color": "#7f8c8d"},
        hovertemplate="%{y}<br>ratio %{x:.3f}<extra></extra>",
    ))  # fmt: skip
    if "p95_ratio" in shown and shown["p95_ratio"].notna().any():
        fig.add_trace(go.Scatter(
            x=shown["p95_ratio"], y=labels, mode="markers", name="p95 ratio",
            marker={"symbol": "diamond-open", "size": 9, "color": "#34495e"},
            hovertemplate="%{y}<br>p95 ratio %{x:.3f}<extra></extra>",
        ))  # fmt: skip
    fig.add_vline(x=1.0, line_dash="dot", line_color="#7f8c8d")
    note = "marks: point estimate; bars: 95 % interval; colour: verdict"
    if shift is not None:
        factor, low, high = shift
        fig.add_vrect(x0=low, x1=high, fillcolor="#e67e22", opacity=0.15, line_width=0)
        fig.add_vline(x=factor, line_color="#e67e22", line_dash="dash")
        note += "; orange band: the run-wide shift and its interval"
    fig.update_layout(height=max(260, 28 * len(shown) + 120), xaxis_title="candidate / baseline")
    return styled(fig, title, note)


def ecdf(base: pd.Series, cand: pd.Series, title: str) -> go.Figure:
    """The two sides' distributions as ECDFs on a fixed grid of quantiles (log x axis)."""
    fig = go.Figure()
    for values, name, colour in ((base, "baseline", NEUTRAL), (cand, "candidate", REGRESSED)):
        clean = values.dropna().to_numpy(dtype=float)
        if len(clean):
            fig.add_trace(go.Scatter(
                x=np.quantile(clean, QUANTILES), y=QUANTILES, mode="lines", name=name,
                line={"color": colour, "shape": "hv"},
                hovertemplate="%{x:.1f} ms: %{y:.0%} of requests at or under<extra></extra>",
            ))  # fmt: skip
    fig.update_layout(xaxis_type="log", xaxis_title="ms (log scale)", yaxis_title="share",
                      yaxis_tickformat=".0%", height=340)  # fmt: skip
    return styled(fig, title, "a curve to the right is slower; the gap at 0.95 is the p95 change")


def ecdf_from_quantiles(base: LatencySketch, cand: LatencySketch, title: str) -> go.Figure:
    """The same ECDFs from two `LatencySketch`es (the Dask engine: no raw rows at hand)."""
    fig = go.Figure()
    for sketch, name, colour in ((base, "baseline", NEUTRAL), (cand, "candidate", REGRESSED)):
        if sketch is not None and sketch.count:
            fig.add_trace(go.Scatter(x=sketch.quantile(QUANTILES), y=QUANTILES, mode="lines",
                                     name=name, line={"color": colour, "shape": "hv"}))  # fmt: skip
    fig.update_layout(xaxis_type="log", xaxis_title="ms (log scale)", yaxis_title="share",
                      yaxis_tickformat=".0%", height=340)  # fmt: skip
    return styled(fig, title, "from merged sketches (1 % relative error)")


def _buckets(times: pd.Series) -> str:
    span = (times.max() - times.min()).total_seconds()
    for seconds in (1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400):
        if span / seconds <= MAX_BUCKETS:
            return f"{seconds}s"
    return "7D"


def timeline_missing(requests: pd.DataFrame, routes: list | None = None) -> str:
    """Why `latency_timeline` has nothing to draw for `requests` (a sentence), or "" when it
    has: no requests at all, none of the routes asked for, or no request times."""
    frame = requests
    if routes:
        frame = frame[frame["route"].astype(str).isin([str(r) for r in routes])]
    counts = frame[["time", "duration_ms"]].count()
    total = len(frame.index)
    if type(frame).__module__.startswith("dask"):
        import dask

        counts, total = dask.compute(counts, total)
    if total == 0:
        return ("No latency chart: the access log holds no request"
                + (" of these routes." if routes else "s."))  # fmt: skip
    if counts["duration_ms"] == 0:
        return ("No latency chart: the access log has no request times (add the server's "
                "duration field: Gunicorn %(D)s, nginx $request_time, Apache %D).")  # fmt: skip
    if counts["time"] == 0:
        return "No latency chart: no request in the access log has a time."
    rows: Any = frame.dropna(subset=["time", "duration_ms"])  # a frame (pandas or Dask), or a count
    if type(rows).__module__.startswith("dask"):
        rows = rows.shape[0].compute()
    if (rows if isinstance(rows, int) else len(rows)) == 0:
        return "No latency chart: no request has both a time and a duration."
    return ""


def latency_timeline(
    requests: pd.DataFrame, title: str, routes: list | None = None
) -> go.Figure | None:
    """p50 and p95 per time bucket (bucket chosen so there are at most MAX_BUCKETS); buckets
    without requests are gaps in the lines. None when there is nothing to draw
    (`timeline_missing` says why)."""
    frame = requests.dropna(subset=["time", "duration_ms"])
    if routes:
        frame = frame[frame["route"].astype(str).isin([str(r) for r in routes])]
    if timeline_missing(frame):
        return None
    if type(frame).__module__.startswith("dask"):  # per-bucket sketches, no raw rows moved
        import dask

        from perfkit.analysis.distributed import totals

        first, last = dask.compute(frame["time"].min(), frame["time"].max())
        bucket = _buckets(pd.Series([first, last]))
        groups = totals(frame.assign(_bucket=frame["time"].dt.floor(bucket)), by="_bucket")
        stats = pd.DataFrame.from_dict(
            {k: {"p50": t.sketch.quantile(0.5), "p95": t.sketch.quantile(0.95), "count": t.count}
             for k, t in groups.items()}, orient="index",
        ).sort_index()  # fmt: skip
    else:
        bucket = _buckets(frame["time"])
        grouped = frame.groupby(frame["time"].dt.floor(bucket))["duration_ms"]
        stats = pd.DataFrame({"p50": grouped.median(), "p95": grouped.quantile(0.95),
                              "count": grouped.size()})  # fmt: skip
    every = pd.date_range(stats.index.min(), stats.index.max(), freq=bucket)
    quiet = len(every) - len(stats)
    stats = stats.reindex(every)  # a bucket without requests: a gap, not a line across it
    fig = go.Figure()
    for column, colour in (("p50", NEUTRAL), ("p95", REGRESSED)):
        fig.add_trace(go.Scatter(x=stats.index, y=stats[column], name=column, mode="lines",
                                 line={"color": colour}))  # fmt: skip
    fig.update_layout(yaxis_title="ms", height=320)
    note = f"percentiles per {bucket} bucket"
    if quiet:
        note += f"; gaps: {quiet} bucket(s) without requests"
    return styled(fig, title, note)


def rss_lines(memory: pd.DataFrame, fits: pd.DataFrame, title: str,
              limit_mib: float | None = None,
              generations: pd.DataFrame | None = None) -> go.Figure:  # fmt: skip
    """RSS per process over time (median per bucket), fitted trends, and where workers ended:
    with `generations` (`perfkit.worker_generations`) a marker per worker at its end, by how it
    ended (Gunicorn's error log); without, a dotted line where a worker's samples stop."""
    frame = memory.dropna(subset=["time", "rss_bytes"])
    bucket = _buckets(frame["time"])
    fig = go.Figure()
    start = frame["time"].min()
    pooled = fits[fits["role"] == "workers (pooled)"]
    for pid, group in frame.groupby("pid", observed=True, sort=True):
        series = group.groupby(group["time"].dt.floor(bucket))["rss_bytes"].median() / 2**20
        role = str(group["role"].iloc[0]) if "role" in group else ""
        fig.add_trace(go.Scatter(x=series.index, y=series, mode="lines", name=f"{role} {pid}",
                                 line={"width": 1.5}, legendgroup=role))  # fmt: skip
        fit = (fits[fits["pid"].astype("Int64") == int(cast(int, pid))] if "pid" in fits
               else fits.iloc[0:0])  # fmt: skip
        if len(fit) and np.isfinite(fit["slope_mib_per_hour"].iloc[0]):
            row = fit.iloc[0]
            hours = (group["time"] - start).dt.total_seconds() / 3600
            h0, h1 = hours.min(), hours.max()
            y1 = row["level_mib"]
            y0 = y1 - row["slope_mib_per_hour"] * (h1 - h0)
            colour = REGRESSED if row["verdict"] == "leak" else "#7f8c8d"
            fig.add_trace(go.Scatter(
                x=[group["time"].min(), group["time"].max()], y=[y0, y1], mode="lines",
                line={"dash": "dash", "color": colour},
                name=f"trend {pid}: {row['slope_mib_per_hour']:.1f} MiB/h ({row['verdict']})",
                legendgroup=role,
            ))  # fmt: skip
    workers = frame[frame["role"].astype(str) == "worker"] if "role" in frame else frame
    highest = float(frame["rss_bytes"].max()) / 2**20
    if generations is not None and generations["ended"].notna().any():
        _worker_endings(fig, workers, generations, highest)
        note = f"median per {bucket}; markers: how each worker ended (Gunicorn's error log)"
    else:
        ends = workers.groupby("pid", observed=True)["time"].max()
        recycled = ends[ends < frame["time"].max() - pd.Timedelta(seconds=5)]
        for when in recycled.sort_values().iloc[:50]:  # bounded: at most 50 markers
            fig.add_vline(x=when, line_dash="dot", line_color="#bdc3c7")
        note = f"median per {bucket}; dotted verticals: a worker ended (recycled)"
    if limit_mib and limit_mib <= 1.5 * highest:
        fig.add_hline(y=limit_mib, line_color=REGRESSED, annotation_text=f"limit {limit_mib:g} MiB")
    elif limit_mib:
        note += f"; the {limit_mib:g} MiB limit is far above"
    if len(pooled):
        note += f"; pooled workers {pooled['slope_mib_per_hour'].iloc[0]:.1f} MiB/h"
    fig.update_layout(yaxis_title="RSS (MiB)", height=420)
    return styled(fig, title, note)


# how a worker ended -> (marker symbol, colour); the serious ones stand out
ENDING_STYLE = {
    "killed": ("x", REGRESSED), "timed_out": ("triangle-down", "#e67e22"),
    "crashed": ("diamond", "#8e44ad"), "recycled": ("circle-open", "#7f8c8d"),
    "stopped": ("square-open", "#95a5a6"), "exited": ("circle-open", "#95a5a6"),
}  # fmt: skip
MAX_ENDINGS = 200  # markers per kind of ending: the figure's size stays bounded


def _worker_endings(fig: go.Figure, workers: pd.DataFrame, generations: pd.DataFrame,
                    highest: float) -> None:  # fmt: skip
    """A marker per ended worker at its last RSS sample (the chart's top when unsampled)."""
    last = workers.sort_values("time").groupby("pid", observed=True)["rss_bytes"].last() / 2**20
    ended = generations.dropna(subset=["ended"])
    for ending, (symbol, colour) in ENDING_STYLE.items():
        group = ended[ended["ending"].astype(str) == ending]
        if not len(group):
            continue
        shown = group.head(MAX_ENDINGS)
        y = shown["worker_pid"].map(last).astype(float).fillna(highest)
        signal = shown["signal"].astype(object).where(shown["signal"].notna(), "")
        text = [f"worker {pid}: {ending.replace('_', ' ')}" + (f" ({s})" if s else "")
                for pid, s in zip(shown["worker_pid"], signal, strict=True)]  # fmt: skip
        fig.add_trace(go.Scatter(
            x=shown["ended"], y=y, mode="markers", text=text, hoverinfo="text+x",
            name=f"workers {ending.replace('_', ' ')}: {len(group)}",
            marker={"symbol": symbol, "color": colour, "size": 11, "line": {"width": 2}},
        ))  # fmt: skip


def usl_curve(
    concurrency: ArrayLike, throughput: ArrayLike, fit: USLFit, title: str,
    target_rate: float | None = None,
    target_users: float | None = None, source: str = "measured",
) -> go.Figure:  # fmt: skip
    """Measured throughput against concurrency, the USL fit and its projection past the data."""
    n = np.asarray(concurrency, dtype=float)
    seen = float(n.max())
    identified = getattr(fit, "kappa_identified", True) or fit.kappa == 0
    peak = fit.peak_concurrency if np.isfinite(fit.peak_concurrency) and identified else np.inf
    top = max(seen * 2, min(peak * 1.3, seen * 4), (target_users or 0) * 1.1)
    if not identified:  # an unidentified kappa: no peak, no retrograde projection past the data
        top = seen
    grid = np.linspace(0.5, top, 200)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=n, y=throughput, mode="markers", name=source,
                             marker={"size": 9, "color": "#2c3e50"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=grid, y=fit.predict(grid), mode="lines", name="USL fit",
                             line={"color": REGRESSED}))  # fmt: skip
    if peak <= top:
        fig.add_vline(x=peak, line_dash="dot", annotation_text=f"peak at N = {peak:.0f}")
    if target_rate:
        fig.add_hline(y=target_rate, line_color=IMPROVED, line_dash="dash",
                      annotation_text=f"target {target_rate * 60:.0f} req/min")  # fmt: skip
    if target_users:
        fig.add_vline(x=target_users, line_color=IMPROVED, line_dash="dash",
                      annotation_text=f"{target_users:.0f} users")  # fmt: skip
    fig.update_layout(xaxis_title="concurrency (requests in flight or users)",
                      yaxis_title="throughput (req/s)", height=420)  # fmt: skip
    subtitle = (f"sigma {fit.sigma:.3f} (contention), kappa {fit.kappa:.2e} (coherency), "
                f"lambda {fit.lambda_:.2f} req/s")  # fmt: skip
    if not identified:
        subtitle += "; kappa not identified (its interval holds 0): no peak, no projection"
    return styled(fig, title, subtitle)


def capacity_curve(concurrency: ArrayLike, throughput: ArrayLike, fit: CapacityFit, title: str,
                   target_users: float | None = None, source: str = "measured",
                   ) -> go.Figure:  # fmt: skip
    """Measured throughput, the chosen capacity law (solid where measured, dashed where
    extrapolated) and its 95 % prediction band; past 4x the measured load nothing is drawn."""
    import warnings

    from perfkit.errors import PerfkitWarning

    n = np.asarray(concurrency, dtype=float)
    seen = float(n.max())
    top = min(4 * seen, max(2 * seen, (target_users or 0) * 1.1))
    grid = np.linspace(max(0.5, float(n.min()) / 2), top, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        x = fit.predict(grid)
        low, high = fit.predict_interval(grid)
    inside = grid <= seen
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(grid) + list(grid[::-1]), y=list(high) + list(low[::-1]),
                             fill="toself", line={"width": 0}, opacity=0.2,
                             name="95 % prediction interval", hoverinfo="skip"))  # fmt: skip
    fig.add_trace(go.Scatter(x=n, y=throughput, mode="markers", name=source,
                             marker={"size": 9, "color": "#2c3e50"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=grid[inside], y=x[inside], mode="lines", name=f"{fit.model} fit",
                             line={"color": REGRESSED}))  # fmt: skip
    fig.add_trace(go.Scatter(x=grid[~inside], y=x[~inside], mode="lines",
                             name=f"{fit.model}, extrapolated",
                             line={"color": REGRESSED, "dash": "dash"}))  # fmt: skip
    fig.add_vrect(x0=seen, x1=top, fillcolor=NEUTRAL, opacity=0.08, line_width=0,
                  annotation_text="extrapolated", annotation_position="top left")  # fmt: skip
    if fit.peak is not None and fit.peak[0] <= top:
        fig.add_vline(x=fit.peak[0], line_dash="dot",
                      annotation_text=f"USL peak at N = {fit.peak[0]:.0f}")  # fmt: skip
    if target_users and target_users <= top:
        fig.add_vline(x=target_users, line_color=IMPROVED, line_dash="dash",
                      annotation_text=f"{target_users:.0f} users")  # fmt: skip
    fig.update_layout(xaxis_title="users (client concurrency)", yaxis_title="throughput (req/s)",
                      height=420)  # fmt: skip
    error = fit.holdout_error
    subtitle = (f"chosen: {fit.model} (held-out error "
                f"{'not scored' if not np.isfinite(error) else f'{error:.1%}'}); server cap "
                f"{fit.servers if fit.servers is not None else '?'} "
                f"({html.escape(fit.servers_source)})")  # from a log or command: escaped
    return styled(fig, title, subtitle)


def concurrency_sides(users: ArrayLike, server_in_flight: ArrayLike, servers: int | None,
                      title: str, source: str = "") -> go.Figure:  # fmt: skip
    """Client users against the requests the server held at once (the access log), per step."""
    u = np.asarray(users, dtype=float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=u, y=u, mode="lines+markers", name="client: users outstanding"))
    fig.add_trace(go.Scatter(x=u, y=server_in_flight, mode="lines+markers",
                             name="server: requests in flight (access log)"))  # fmt: skip
    if servers:
        fig.add_hline(y=servers, line_dash="dot", annotation_text=f"server cap {servers}")
    fig.update_layout(xaxis_title="users", yaxis_title="requests at once", yaxis_type="log",
                      xaxis_type="log", height=380)  # fmt: skip
    return styled(fig, title, html.escape(source))  # from a log or command: escaped


def sizing_curve(rate: float, service_s: float, plan: GunicornPlan, title: str,
                 quantile: float = 0.95) -> go.Figure:  # fmt: skip
    """Mean and `quantile` response time against the number of request slots (Erlang C)."""
    from perfkit.analysis.capacity import erlang_c, response_quantile

    first = int(np.floor(rate * service_s)) + 1
    slots = np.arange(first, max(first + 8, plan.slots + 6))
    mean, tail = [], []
    for c in slots:
        queue = erlang_c(rate, service_s, int(c))
        mean.append(queue.mean_response * 1000)
        tail.append(response_quantile(queue, quantile) * 1000)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=slots, y=mean, name="mean", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=slots, y=tail, name=f"p{quantile * 100:g}", mode="lines+markers"))
    fig.add_hline(y=plan.target_s * 1000, line_color=IMPROVED, line_dash="dash",
                  annotation_text=f"target {plan.target_s * 1000:.0f} ms")  # fmt: skip
    fig.add_vline(x=plan.slots, line_dash="dot", annotation_text=f"plan: {plan.slots} slots")
    fig.update_layout(xaxis_title="workers x threads", yaxis_title="response time (ms)",
                      height=380)  # fmt: skip
    note = f"M/M/c at {rate * 60:.0f} req/min, {service_s * 1000:.0f} ms of service per request"
    return styled(fig, title, note)


def slo_bars(table: pd.DataFrame, title: str) -> go.Figure:
    """Each class's judged latency against its target (bars), met or not (colour)."""
    shown = table.dropna(subset=["mean_ms"])
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[_label(c) for c in shown.index], y=shown["mean_ms"] / shown["target_ms"],
        marker_color=[NEUTRAL if ok is None else IMPROVED if ok else REGRESSED
                      for ok in shown["meets"]],
        text=[f"{m:.0f} / {t:.0f} ms" for m, t in zip(shown["mean_ms"], shown["target_ms"],
                                                       strict=True)],
        hovertemplate="%{x}: %{text}<extra></extra>",
    ))  # fmt: skip
    fig.add_hline(y=1.0, line_dash="dash", line_color="#7f8c8d", annotation_text="target")
    fig.update_layout(yaxis_title="mean / target", height=340)
    return styled(fig, title, "below the line meets the brief's target; labels: mean / target")
