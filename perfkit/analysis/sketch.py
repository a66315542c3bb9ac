"""A mergeable latency sketch with a relative-error guarantee (after DDSketch).

Values are counted in logarithmic buckets: bucket ``i`` holds values in
``(gamma**(i-1), gamma**i]`` with ``gamma = (1 + alpha) / (1 - alpha)``, and a
quantile is answered with the bucket's midpoint ``2 * gamma**i / (gamma + 1)``.
For any quantile ``q`` the answer is within a relative error ``alpha`` of the
exact lower order statistic (the value of rank ``floor(q * (n - 1))``), for
values above `min_value`; values at or below it (including zero) count in a
zero bucket and are answered as 0. Two sketches with the same ``alpha`` merge
exactly by adding counts, so per-file sketches of many logs combine into the
sketch of all of them. Memory is one counter per occupied bucket: about
``log(max/min) / log(gamma)`` counters (≈ 1,000 for 1 µs..1 h at 1 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

FORMAT_VERSION = 1


@dataclass
class LatencySketch:
    """Log-bucketed counts of non-negative values (e.g. durations in ms)."""

    alpha: float = 0.01
    min_value: float = 1e-6
    offset: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    zero_count: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        self.gamma = (1 + self.alpha) / (1 - self.alpha)
        self._log_gamma = np.log(self.gamma)

    @property
    def count(self) -> int:
        return int(self.counts.sum()) + self.zero_count

    def add(self, values: Iterable[float] | np.ndarray) -> LatencySketch:
        """Count `values` (NaN ignored; negatives rejected). Returns self."""
        x = np.asarray(values, dtype=np.float64)
        x = x[~np.isnan(x)]
        if (x < 0).any():
            raise ValueError("a latency sketch holds non-negative values only")
        small = x <= self.min_value
        self.zero_count += int(small.sum())
        idx = np.ceil(np.log(x[~small]) / self._log_gamma).astype(np.int64)
        if len(idx):
            self._grow(int(idx.min()), int(idx.max()))
            self.counts += np.bincount(idx - self.offset, minlength=len(self.counts))
        return self

    def _grow(self, lo: int, hi: int) -> None:
        if not len(self.counts):
            self.offset, self.counts = lo, np.zeros(hi - lo + 1, dtype=np.int64)
            return
        new_lo, new_hi = min(lo, self.offset), max(hi, self.offset + len(self.counts) - 1)
        if (new_lo, new_hi) == (self.offset, self.offset + len(self.counts) - 1):
            return
        grown = np.zeros(new_hi - new_lo + 1, dtype=np.int64)
        grown[self.offset - new_lo : self.offset - new_lo + len(self.counts)] = self.counts
        self.offset, self.counts = new_lo, grown

    def merge(self, other: LatencySketch) -> LatencySketch:
        """Add `other`'s counts into this sketch (same alpha and min_value). Returns self."""
        if (other.alpha, other.min_value) != (self.alpha, self.min_value):
            raise ValueError("sketches merge only with the same alpha and min_value")
        self.zero_count += other.zero_count
        if len(other.counts):
            self._grow(other.offset, other.offset + len(other.counts) - 1)
            start = other.offset - self.offset
            self.counts[start : start + len(other.counts)] += other.counts
        return self

    @overload
    def quantile(self, q: float) -> float: ...
    @overload
    def quantile(self, q: Sequence[float] | np.ndarray) -> np.ndarray: ...
    def quantile(self, q: float | Sequence[float] | np.ndarray) -> float | np.ndarray:
        """Estimate of the lower `q` quantile(s), within relative error alpha."""
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if ((qs < 0) | (qs > 1)).any():
            raise ValueError("quantiles must be in [0, 1]")
        n = self.count
        if n == 0:
            out = np.full(len(qs), np.nan)
        else:
            rank = np.floor(qs * (n - 1))
            cumulative = self.zero_count + np.cumsum(self.counts)
            bucket = np.searchsorted(cumulative, rank, side="right")
            value = 2 * self.gamma ** (bucket + self.offset) / (self.gamma + 1)
            out = np.where(rank < self.zero_count, 0.0, value)
        return float(out[0]) if np.ndim(q) == 0 else out

    def share_at_most(self, value: float) -> float:
        """The share of values at or under `value` (bucket resolution: `alpha` relative)."""
        if not self.count:
            return float("nan")
        if value <= self.min_value:
            return self.zero_count / self.count
        top = int(np.ceil(np.log(value) / self._log_gamma)) - self.offset
        inside = int(self.counts[: max(0, min(top + 1, len(self.counts)))].sum())
        return (self.zero_count + inside) / self.count

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with ``format_version``) for saving partial summaries."""
        return {
            "format_version": FORMAT_VERSION,
            "alpha": self.alpha,
            "min_value": self.min_value,
            "offset": self.offset,
            "counts": self.counts.tolist(),
            "zero_count": self.zero_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencySketch:
        """Rebuild a sketch saved with `to_dict`."""
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown sketch format_version {data.get('format_version')!r}")
        return cls(
            alpha=data["alpha"],
            min_value=data["min_value"],
            offset=data["offset"],
            counts=np.asarray(data["counts"], dtype=np.int64),
            zero_count=data["zero_count"],
        )


def sketch_by(
    requests: Any, by: str = "route", metric: str = "duration_ms", alpha: float = 0.01
) -> dict[Any, LatencySketch]:
    """One `LatencySketch` of `metric` per value of `by` in a requests frame."""
    sketches: dict[Any, LatencySketch] = {}
    for key, values in requests.groupby(by, observed=True)[metric]:
        sketches[key] = LatencySketch(alpha).add(values.to_numpy(dtype="float64", na_value=np.nan))
    return sketches


def merge_sketches(parts: Iterable[dict[Any, LatencySketch]]) -> dict[Any, LatencySketch]:
    """Merge per-key sketches of many partial summaries (e.g. one per file)."""
    merged: dict[Any, LatencySketch] = {}
    for part in parts:
        for key, sketch in part.items():
            if key in merged:
                merged[key].merge(sketch)
            else:
                merged[key] = LatencySketch(sketch.alpha, sketch.min_value).merge(sketch)
    return merged
