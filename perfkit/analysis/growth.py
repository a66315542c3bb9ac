"""Traffic growth: the daily peak-hour load, its trend and weekly pattern, when it hits capacity.

Model: ``log(peak rate on day t) = level + growth * t + weekday effect + noise``
(growth compounds; a Saturday is a fixed fraction of a Tuesday). Fitted
robustly: the growth is a Theil–Sen slope with Sen's interval on the series
with weekday effects removed, the weekday effects are medians of the
detrended series per weekday, alternating a few times. Sen's interval
assumes independent day-to-day noise; holidays and campaigns are outliers
the medians shrug off, but a regime change (a new customer) is not a trend:
look at the fit before trusting a projection far past the data.

The projection is of the busiest weekday's peak hour, the day capacity
breaks first. Its interval joins the growth interval with the level's
(pivoted at the middle of the data, where the two are least correlated):
early = fast growth from a high level, late = slow growth from a low one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.leak import sen
from perfkit.errors import InputError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def daily_peaks(requests: pd.DataFrame, window: str = "1h") -> pd.Series:
    """Per calendar day (in the log's own time zone): the busiest `window`'s rate (req/s).

    Days with no requests at all are absent, not zero (the log did not cover them).
    """
    times = requests["time"].dropna()
    if times.empty:
        raise InputError("daily_peaks needs requests with a time")
    per_window = times.dt.floor(window).value_counts().sort_index()
    rate = per_window / pd.Timedelta(window).total_seconds()
    peaks = rate.groupby(rate.index.normalize()).max()
    peaks.index.name = "day"
    named: pd.Series = peaks.rename("peak_per_s")
    return named


@dataclass(frozen=True)
class GrowthProjection:
    """Growth per day (ratio - 1) with its interval, weekday factors (busiest = max), and the
    dates the busiest weekday's peak reaches `capacity_per_s` (None: not within the horizon)."""

    growth_per_day: float
    growth_low: float
    growth_high: float
    p_value: float
    weekday_factors: pd.Series
    capacity_per_s: float
    reaches: pd.Timestamp | None
    reaches_early: pd.Timestamp | None
    reaches_late: pd.Timestamp | None
    fit: pd.DataFrame  # day, peak_per_s, fitted_per_s, trend_per_s
    projection: pd.DataFrame  # day, busiest_per_s, low_per_s, high_per_s

    @property
    def growth_per_month(self) -> float:
        """Compound growth over 30 days (ratio - 1)."""
        return (1 + self.growth_per_day) ** 30 - 1


def project_growth(
    daily: pd.Series,
    capacity_per_s: float,
    horizon_days: int = 365,
    confidence: float = 0.95,
    iterations: int = 4,
) -> GrowthProjection:
    """Fit the daily peaks (a Series indexed by day, req/s; see `daily_peaks`) and project
    the busiest weekday to `capacity_per_s` (req/s at which the latency target breaks)."""
    daily = daily.dropna()
    daily = daily[daily > 0].sort_index()
    if len(daily) < 21:
        raise InputError(f"project_growth needs at least 3 weeks of days, got {len(daily)}")
    days = pd.DatetimeIndex(daily.index)
    t = ((days - days[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    y = np.log(daily.to_numpy(dtype=float))
    weekday = days.day_of_week.to_numpy()
    effect = np.zeros(7)
    for _ in range(iterations):
        adjusted = y - effect[weekday]
        slope = sen([t], [adjusted], confidence)[0]
        residual = y - slope * t  # detrended, weekday effects still in
        for d in range(7):
            if np.any(weekday == d):
                effect[d] = np.median(residual[weekday == d])
        present = np.isin(np.arange(7), weekday)
        effect[present] -= effect[present].mean()
    adjusted = y - effect[weekday]
    slope, low, high, p_value, _ = sen([t], [adjusted], confidence)
    pivot = float(np.median(t))
    busiest = float(effect.max())

    def level_at(s: float) -> float:  # log level at the pivot for slope s
        return float(np.median(adjusted - s * (t - pivot)))

    resid = adjusted - level_at(slope) - slope * (t - pivot)
    z = stats.norm.ppf(0.5 + confidence / 2)
    level_se = 1.2533 * 1.4826 * float(np.median(np.abs(resid))) / np.sqrt(len(t))  # of a median

    trend = level_at(slope) + slope * (t - pivot)
    fit = pd.DataFrame({
        "day": days, "peak_per_s": daily.to_numpy(),
        "fitted_per_s": np.exp(trend + effect[weekday]), "trend_per_s": np.exp(trend),
    })  # fmt: skip
    future = np.arange(t[-1] + 1, t[-1] + horizon_days + 1)
    curves = {
        "mid": level_at(slope) + slope * (future - pivot) + busiest,
        "low": level_at(low) - z * level_se + low * (future - pivot) + busiest,
        "high": level_at(high) + z * level_se + high * (future - pivot) + busiest,
    }
    projection = pd.DataFrame({
        "day": days[-1] + pd.to_timedelta(future - t[-1], unit="D"),
        "busiest_per_s": np.exp(curves["mid"]),
        "low_per_s": np.exp(np.minimum(curves["low"], curves["high"])),
        "high_per_s": np.exp(np.maximum(curves["low"], curves["high"])),
    })  # fmt: skip
    target = np.log(capacity_per_s)

    def crossing(s: float, shift: float = 0.0) -> pd.Timestamp | None:
        level = level_at(s) + shift
        if level + s * (t[-1] - pivot) + busiest >= target:
            return days[-1]
        if s <= 0:
            return None
        when = pivot + (target - busiest - level) / s
        if when > t[-1] + horizon_days:
            return None
        return days[0] + pd.DateOffset(days=int(np.ceil(when)))  # calendar days, DST-safe

    factors = pd.Series(np.exp(effect - busiest), index=list(WEEKDAYS), name="factor")
    return GrowthProjection(
        float(np.expm1(slope)), float(np.expm1(low)), float(np.expm1(high)), float(p_value),
        factors, float(capacity_per_s), crossing(slope),
        crossing(high, z * level_se), crossing(low, -z * level_se),
        fit, projection,
    )  # fmt: skip
