"""Capacity models: USL, Amdahl, a closed MVA network, Erlang C, and the choice among them.

`laws` holds the USL fit and the M/M/c (Erlang C) queue, `mva` the exact
mean value analysis of a closed network with a multi-server station,
`select` the `fit_capacity` that picks a law by its held-out error, and
`servers` the server concurrency read from the evidence (access log,
Gunicorn's log and command).
"""

from perfkit.analysis.capacity.laws import (
    ErlangC,
    USLFit,
    erlang_c,
    fit_usl,
    max_arrival_rate,
    response_quantile,
    size_workers,
)
from perfkit.analysis.capacity.mva import bounds, mva, mva_at
from perfkit.analysis.capacity.select import CapacityFit, fit_capacity
from perfkit.analysis.capacity.servers import ServerCap, server_concurrency

__all__ = [
    "CapacityFit",
    "ErlangC",
    "ServerCap",
    "USLFit",
    "bounds",
    "erlang_c",
    "fit_capacity",
    "fit_usl",
    "max_arrival_rate",
    "mva",
    "mva_at",
    "response_quantile",
    "server_concurrency",
    "size_workers",
]  # fmt: skip
