"""Outbound API calls per external host: latency against the 2 s target, errors, 429s, retries.

A call counts as an error when it got a 5xx or no response at all; 429
(rate limited) is reported apart, as is the share of calls that were
retries (``attempt`` > 1). Durations in ms; percentiles linear (numpy's).
"""

from __future__ import annotations

import pandas as pd

EXTERNAL_TARGET_MS = 2000.0


def outbound_summary(
    calls: pd.DataFrame, target_ms: float = EXTERNAL_TARGET_MS, by: str = "host"
) -> pd.DataFrame:
    """Per `by` (default host): calls, error_rate, rate_limited_rate, retry_rate, p50/p95/p99 ms,
    max ms and the share of calls slower than `target_ms`."""
    status = pd.to_numeric(calls["status"], errors="coerce")
    attempt = calls["attempt"] if "attempt" in calls else pd.Series(1, index=calls.index)
    frame = calls.assign(
        _error=status.isna() | (status >= 500),
        _limited=status == 429,
        _retry=pd.to_numeric(attempt, errors="coerce").fillna(1) > 1,
        _slow=calls["duration_ms"] > target_ms,
    )
    groups = frame.groupby(by, observed=True)
    out = pd.DataFrame({
        "calls": groups.size(),
        "error_rate": groups["_error"].mean(),
        "rate_limited_rate": groups["_limited"].mean(),
        "retry_rate": groups["_retry"].mean(),
        "p50_ms": groups["duration_ms"].quantile(0.5),
        "p95_ms": groups["duration_ms"].quantile(0.95),
        "p99_ms": groups["duration_ms"].quantile(0.99),
        "max_ms": groups["duration_ms"].max(),
        "over_target_rate": groups["_slow"].mean(),
    })  # fmt: skip
    out["target_ms"] = target_ms
    return out.sort_values("calls", ascending=False)
