"""Gunicorn sizing: workers x threads for the brief's load, from Erlang C, checked against USL.

Inputs are what perfkit measures: the mean service time of a request (from
the access log at low load) and the share of it spent on the CPU in Python
(from a profile's hot spots; the rest waits on PostgreSQL or external APIs).

1. Load: the brief's 500 requests/minute, or what its 100 concurrent users
   send (each user waits ``think_time_s`` between requests, so they send
   ``users / (think + response)`` per second), whichever is more.
2. Servers: the fewest concurrent request slots (workers x threads) whose
   M/M/c queue keeps the mean response time (the brief's targets are
   averages) or, with `quantile`, that quantile of response time under the
   target (`size_workers`). M/M/c assumes exponential service times, which
   overstates the tail of most endpoints: the quantile form is the cautious one.
3. Split: Gunicorn's guidance of ``2 x cores + 1`` workers at most (more
   processes than that only contend for the CPUs and multiply memory), at
   least one per core and at least two (a single worker leaves cores idle
   and has no fallback while it is busy or restarting), and threads to make
   up the slots: threads overlap waiting on I/O but share
   one GIL per worker, so a worker's CPU work is what bounds it.
4. Checks: the CPU the load needs (rate x service x CPU share) must fit the
   cores with headroom; and when a USL fit is given, the service must reach
   the rate at no more concurrency than its peak, since past the peak more
   slots lower throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from perfkit.analysis.capacity import USLFit, erlang_c, response_quantile, size_workers
from perfkit.errors import InputError
from perfkit.targets import BRIEF, Targets


@dataclass(frozen=True)
class GunicornPlan:
    """A worker and thread count with the figures behind it (rates per second, times in s)."""

    workers: int
    threads: int
    slots: int
    arrival_rate_per_s: float
    utilisation: float
    response_s: float  # mean, or the quantile when one was asked for
    quantile: float | None
    target_s: float
    cpu_cores_needed: float
    usl_throughput_per_s: float | None
    usl_peak_concurrency: float | None
    meets_targets: bool
    notes: list[str] = field(default_factory=list)

    def command(self) -> str:
        """The Gunicorn options for this plan (gthread worker class when threads > 1)."""
        worker_class = " --worker-class gthread" if self.threads > 1 else ""
        return f"gunicorn --workers {self.workers} --threads {self.threads}{worker_class}"


def recommend_gunicorn(
    service_time_s: float,
    cores: int,
    cpu_share: float = 1.0,
    targets: Targets = BRIEF,
    target_s: float | None = None,
    quantile: float | None = None,
    think_time_s: float = 10.0,
    usl: USLFit | None = None,
    cpu_headroom: float = 0.7,
) -> GunicornPlan:
    """Workers x threads for the brief's load (see the module docstring).

    `target_s` bounds the mean response time, or its `quantile` when given
    (default: the API target, the strictest dynamic one). `cpu_share` is the
    share of service time on the CPU (0..1); `cpu_headroom` the CPU
    utilisation allowed. Raises `InputError` when no slot count can meet the
    target because one request alone is too slow.
    """
    target_s = targets.api_ms / 1000 if target_s is None else target_s
    rate = max(
        targets.requests_per_minute / 60,
        targets.concurrent_users / (think_time_s + service_time_s),
    )
    alone = service_time_s if quantile is None else -math.log(1 - quantile) * service_time_s
    if alone >= target_s:
        what = "mean" if quantile is None else f"p{quantile * 100:g}"
        raise InputError(
            f"a request alone takes {alone * 1000:.0f} ms ({what}, service time "
            f"{service_time_s * 1000:.0f} ms), over the {target_s * 1000:.0f} ms target: "
            "no worker count can fix that; make the request faster first"
        )
    if quantile is None:
        needed = size_workers(rate, service_time_s, target_wait=target_s - service_time_s)
    else:
        needed = size_workers(rate, service_time_s, target_response_quantile=(quantile, target_s))
    slots = needed.servers
    usl_x = usl_peak = None
    notes = []
    meets = True
    if usl is not None:  # measured contention: carrying `rate` may need more in flight
        usl_peak = usl.peak_concurrency
        carrying = _usl_concurrency_for(usl, rate)
        if carrying is None:
            meets = False
            notes.append(
                f"USL: the service peaks at {usl.peak_throughput:.1f} req/s "
                f"(at {usl_peak:.0f} in flight), below the {rate:.1f} req/s needed"
            )
        elif carrying > slots:
            notes.append(
                f"USL: measured contention means {carrying} requests must be in flight to carry "
                f"{rate:.1f} req/s, more than the {slots} an ideal queue needs"
            )
            slots = carrying
    max_workers = 2 * cores + 1
    # at least one worker per core and never a single one: idle cores and no fallback otherwise
    workers = min(max_workers, max(slots, cores, 2))
    threads = max(1, math.ceil(slots / workers))
    slots = workers * threads
    if usl is not None:
        assert usl_peak is not None  # set above from `usl`
        usl_x = float(usl.predict(min(slots, usl_peak)))
        if slots > usl_peak:
            notes.append(
                f"USL: {slots} slots exceed the peak concurrency {usl_peak:.0f}; past it "
                "throughput falls, so queueing in Gunicorn's backlog beats more threads"
            )
    queue = erlang_c(rate, service_time_s, slots)
    achieved = queue.mean_response if quantile is None else response_quantile(queue, quantile)
    cpu_needed = rate * service_time_s * cpu_share
    meets = meets and achieved <= target_s
    if cpu_needed > cores * cpu_headroom:
        meets = False
        notes.append(
            f"CPU: the load needs {cpu_needed:.2f} cores of Python time, over "
            f"{cpu_headroom:.0%} of {cores}; more workers or threads cannot help, more cores can"
        )
    elif threads > 1 and cpu_share * threads > 1:
        notes.append(
            f"GIL: {threads} threads per worker at {cpu_share:.0%} CPU each contend for one "
            "interpreter lock; prefer more workers if memory allows"
        )
    return GunicornPlan(
        workers, threads, slots, rate, queue.utilisation, achieved, quantile, target_s,
        cpu_needed, usl_x, usl_peak, meets, notes,
    )  # fmt: skip


def _usl_concurrency_for(usl: USLFit, rate: float) -> int | None:
    """The smallest whole concurrency at which the USL carries `rate`, if any up to its peak."""
    top = usl.peak_concurrency if math.isfinite(usl.peak_concurrency) else 100_000
    for n in range(1, int(top) + 2):
        if usl.predict(n) >= rate:
            return n
    return None


@dataclass(frozen=True)
class QueueCheck:
    """Erlang C against a run's own measurement (rates per second, times in ms)."""

    arrival_rate_per_s: float
    servers: int
    service_ms: float  # the requests' mean service time (the server log's durations)
    service_scv: float  # squared coefficient of variation of service, over the route mix
    routes: Any  # per route: requests, share, mean_ms, scv
    erlang_c_ms: float  # M/M/c with one mean service time: mean response
    per_route_ms: float  # M/G/c (Allen-Cunneen) from the per-route service times
    measured_ms: float  # the clients' mean response (or the log's when none is given)
    measured_source: str

    @property
    def error(self) -> dict[str, float]:
        """Relative error of each prediction against the measured mean response."""
        return {"erlang_c": self.erlang_c_ms / self.measured_ms - 1,
                "per_route": self.per_route_ms / self.measured_ms - 1}  # fmt: skip


def check_queue(
    requests: pd.DataFrame, servers: int, client_mean_ms: float | None = None
) -> QueueCheck:
    """Erlang C's mean response on the run itself, predicted against measured.

    `requests`: an access log frame (``time``, ``duration_ms``, ``route``); a
    server log's duration (Gunicorn's ``%(D)s``) is the service time: the
    worker's whole handling, WSGI included, but not the wait in the listen
    backlog, which is what the queue model predicts. The arrival rate is the
    log's requests over its span. Two predictions: Erlang C with one mean
    service time (exponential service), and per route: the route mix's mean
    and squared coefficient of variation ``C2 = E[S^2] / E[S]^2 - 1`` in the
    M/G/c approximation of Allen and Cunneen, ``Wq = Wq(M/M/c) * (1 + C2) / 2``
    (a mix of 5 ms and 300 ms routes waits far longer than exponential service
    of the same mean). `client_mean_ms`: the clients' mean response (Locust's
    Aggregated mean, which adds the backlog wait and the network); without it
    the log's own mean is the measurement (no backlog wait seen).
    """
    frame = requests.dropna(subset=["time", "duration_ms"])
    if len(frame) < 2:
        raise InputError("check_queue needs an access log with 2 or more timed requests")
    span = (frame["time"].max() - frame["time"].min()).total_seconds()
    if not span > 0:
        raise InputError("check_queue: the access log's requests span no time")
    rate = len(frame) / span
    ms = frame["duration_ms"].astype(float)
    key = frame["route"] if "route" in frame else pd.Series("all", index=frame.index)
    routes = ms.groupby(key).agg(["count", "mean", "var"]).rename(
        columns={"count": "requests", "mean": "mean_ms"})  # fmt: skip
    routes["var"] = routes["var"].fillna(0.0)
    routes["share"] = routes["requests"] / routes["requests"].sum()
    routes["scv"] = routes["var"] / routes["mean_ms"] ** 2
    mean = float((routes["share"] * routes["mean_ms"]).sum())
    second = float((routes["share"] * (routes["var"] + routes["mean_ms"] ** 2)).sum())
    scv = second / mean**2 - 1
    queue = erlang_c(rate, mean / 1000, servers)
    wait_ms = queue.mean_wait * 1000
    measured, source = ((client_mean_ms, "the clients' mean response") if client_mean_ms
                        else (float(ms.mean()), "the access log's mean duration"))  # fmt: skip
    table = routes[["requests", "share", "mean_ms", "scv"]].sort_values("requests",
                                                                      ascending=False)
    return QueueCheck(rate, servers, mean, scv, table, mean + wait_ms,
                      mean + wait_ms * (1 + scv) / 2, float(measured), source)  # fmt: skip
