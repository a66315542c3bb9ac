"""One row per Gunicorn worker: when it booted, when and how it ended.

How a worker ended, from the events about it (the first rule that holds):

- ``timed_out``: the master logged ``WORKER TIMEOUT`` for it (it then sends SIGABRT, and
  SIGKILL when that is not enough: a kill after a timeout is the timeout's, not memory's);
- ``killed``: it died of SIGKILL with no timeout before (Gunicorn adds "Perhaps out of
  memory?": the kernel's OOM killer sends SIGKILL, and so does ``kill -9``);
- ``recycled``: it logged ``Autorestarting worker after current request`` (``max_requests``);
- ``stopped``: it exited after the master handled a stop or reload signal (TERM, INT, QUIT,
  HUP, TTOU, USR2) or was sent SIGTERM/SIGQUIT/SIGINT;
- ``crashed``: it exited with a non-zero code, or died of another signal;
- ``exited``: it logged ``Worker exiting`` with none of the above;
- ``running``: no end was logged (alive when the log ends).

Columns: ``worker_pid``, ``booted`` (NaT when it booted before the log began), ``ended``,
``ending``, ``signal``, ``exit_code``, ``lifetime_s``, ``generation`` (0 for the workers
the master started with, then 1, 2 ... for each replacement in boot order),
``requests_hint`` (none: join the access log's ``pid`` for counts). Times are UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfkit.errors import InputError

ENDINGS = ["timed_out", "killed", "recycled", "stopped", "crashed", "exited", "running"]
_STOPS = {"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGTTOU", "SIGUSR2"}
_COLUMNS = ["worker_pid", "booted", "ended", "ending", "signal", "exit_code", "lifetime_s",
            "generation"]  # fmt: skip


def worker_generations(events: pd.DataFrame) -> pd.DataFrame:
    """Each worker's life from `events` (`perfkit.read_gunicorn_log`'s frame), by boot time.

    See the module docstring for the endings. A pid Linux reuses for a later worker starts
    a new row at its new ``Booting worker`` line.
    """
    needed = {"time", "kind", "worker_pid", "signal", "exit_code", "pid"}
    if not needed <= set(events.columns):
        raise InputError(f"worker_generations needs read_gunicorn_log's events (columns "
                         f"{sorted(needed)}); missing {sorted(needed - set(events.columns))}")
    ev = events.sort_values("time", kind="stable").reset_index(drop=True)
    kind = ev["kind"].astype(str).to_numpy()
    # a stop or reload the master handled: workers that exit after it were stopped
    stop_signals = ev["signal"].astype(object).where(kind == "master_signal")
    stops = ev.loc[stop_signals.isin(_STOPS).to_numpy(), "time"]
    about = ev[ev["worker_pid"].notna()].copy()
    about["worker_pid"] = about["worker_pid"].astype("int64")
    about["kind"] = about["kind"].astype(str)
    # a pid booted again is a new worker: number each pid's lives by its boot lines
    about["life"] = (about["kind"] == "boot").astype(int).groupby(about["worker_pid"]).cumsum()
    rows = []
    for (pid, _life), own in about.groupby(["worker_pid", "life"], sort=False):
        kinds = set(own["kind"])
        booted = own.loc[own["kind"] == "boot", "time"].min() if "boot" in kinds else pd.NaT
        ends = own[own["kind"].isin(["worker_exit", "signalled", "exit_code", "timeout"])]
        ended = ends["time"].max() if len(ends) else pd.NaT
        signals = own.loc[own["kind"] == "signalled", "signal"].dropna().astype(str)
        signal = signals.iloc[-1] if len(signals) else None
        codes = own.loc[own["kind"] == "exit_code", "exit_code"].dropna()
        code = int(codes.iloc[-1]) if len(codes) else None
        stopped = pd.notna(ended) and bool((stops <= ended).any()) and \
            (pd.isna(booted) or bool(((stops >= booted) & (stops <= ended)).any()))  # fmt: skip
        if "timeout" in kinds:
            ending = "timed_out"
        elif signal == "SIGKILL":
            ending = "killed"
        elif "autorestart" in kinds:
            ending = "recycled"
        elif signal in _STOPS or (stopped and code is None and signal is None):
            ending = "stopped"
        elif code is not None or signal is not None:
            ending = "crashed"
        elif "worker_exit" in kinds:
            ending = "exited"
        else:
            ending = "running"
        if ending == "running":
            ended = pd.NaT
        rows.append({"worker_pid": int(str(pid)), "booted": booted, "ended": ended,
                     "ending": ending, "signal": signal, "exit_code": code})  # fmt: skip
    frame = pd.DataFrame(rows, columns=_COLUMNS[:6])
    frame["booted"] = pd.to_datetime(frame["booted"], utc=True)
    frame["ended"] = pd.to_datetime(frame["ended"], utc=True)
    frame = frame.sort_values(["booted", "worker_pid"], kind="stable", na_position="first",
                              ignore_index=True)  # fmt: skip
    frame["lifetime_s"] = (frame["ended"] - frame["booted"]).dt.total_seconds()
    first_boot = frame["booted"].min()
    # the first workers: booted before the log began or within a second of the first boot
    initial = frame["booted"].isna() | (frame["booted"] <= first_boot + pd.Timedelta("1s"))
    frame["generation"] = np.where(initial, 0, np.cumsum(~initial.to_numpy()))
    frame["ending"] = pd.Categorical(frame["ending"], categories=ENDINGS)
    frame["signal"] = frame["signal"].astype(pd.StringDtype("pyarrow"))
    frame["exit_code"] = frame["exit_code"].astype("Int64")
    return frame[_COLUMNS]


def worker_event_rates(events: pd.DataFrame) -> dict[str, float | int]:
    """Counts and rates per hour over the log's span (its first to last entry): worker
    ``restarts`` (workers that ended and were replaced: recycled, killed, timed out, crashed
    or exited; not a TTIN scale-up, a TTOU or a reload), ``killed`` (SIGKILL), ``timed_out``
    (``WORKER TIMEOUT``), ``recycled`` (``max_requests``) and logged ``errors``; ``hours`` the
    span. Rates are None-free: a span under a minute gives rates over one minute."""
    generations = worker_generations(events)
    span_s = (events["time"].max() - events["time"].min()).total_seconds() if len(events) else 0
    hours = max(float(span_s), 60.0) / 3600
    endings = generations["ending"].astype(str)
    counts = {
        "restarts": int(endings.isin(["recycled", "killed", "timed_out", "crashed",
                                       "exited"]).sum()),
        "killed": int((endings == "killed").sum()),
        "timed_out": int((endings == "timed_out").sum()),
        "recycled": int((endings == "recycled").sum()),
        "errors": int((events["kind"].astype(str) == "error").sum()),
    }
    out: dict[str, float | int] = {"hours": float(span_s) / 3600, **counts}
    out.update({f"{k}_per_hour": v / hours for k, v in counts.items()})
    return out
