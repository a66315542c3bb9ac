"""The service's performance targets (from the brief), as one configurable value.

Response-time targets are on the *mean* (the brief says "average response
time"), and reports show p95 beside them; external calls are judged on their
p95 (95 % of calls answer within 2 s). Static files have no target in the
brief: 100 ms is perfkit's default for files a proxy or Gunicorn serves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, cast


@dataclass(frozen=True)
class Targets:
    """Targets in ms, shares in [0, 1], rates per minute."""

    dashboard_ms: float = 500.0
    api_ms: float = 200.0
    static_ms: float = 100.0
    db_ms: float = 50.0
    external_ms: float = 2000.0
    error_rate: float = 0.01
    concurrent_users: int = 100
    requests_per_minute: float = 500.0
    availability: float = 0.999
    cache_hit_ratio: float = 0.9  # Redis keyspace hits / (hits + misses); perfkit's default

    def with_(self, **changes: float) -> Targets:
        """A copy with some targets changed (unknown names are an error)."""
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise TypeError(f"unknown targets {sorted(unknown)}; valid: {sorted(asdict(self))}")
        return replace(self, **cast("dict[str, Any]", changes))  # int fields take whole numbers

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


BRIEF = Targets()
