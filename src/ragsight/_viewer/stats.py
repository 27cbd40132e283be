"""Percentiles that never lie about their range.

Two sources, one rule set:

* **Observations** (span durations, span attributes): exact order statistics, linear
  between the closest ranks (the default of numpy and of most spreadsheets); identical
  values give exactly that value.
* **Histograms** (metric points): interpolation inside the explicit bucket holding the
  rank, like Prometheus's ``histogram_quantile``, but with the bucket's edges narrowed to
  the recorded ``min`` and ``max``: an estimate never leaves the observed range, a
  histogram of identical values gives that value, and a value past the last bucket bound
  is interpolated up to the recorded maximum instead of being printed as the bound. Only
  when a point carries no maximum is a rank in the overflow bucket reported as "at least
  the last bound".

:func:`describe` picks observations when they are complete (at least as many as the
histogram counted, so none were sampled away) and the histogram otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragsight._viewer.reader import MetricPoint


@dataclass(frozen=True, slots=True)
class Figure:
    """A statistic and how much it can be trusted."""

    value: float
    exact: bool = True  # computed from every observation
    at_least: bool = False  # only a lower bound is known (overflow bucket, no maximum)


def exact_quantile(ordered: Sequence[float], q: float) -> float:
    """Quantile ``q`` (0..1) of non-empty, sorted ``ordered``, linear between closest ranks."""
    if not ordered:
        raise ValueError("no observations")
    position = (len(ordered) - 1) * min(1.0, max(0.0, q))
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    low, high = ordered[below], ordered[above]
    if low == high:
        return low
    return low + (high - low) * (position - below)


@dataclass
class Distribution:
    """Histogram points added up: cumulative series' latest points, or delta points."""

    count: int = 0
    total: float = 0.0
    bounds: tuple[float, ...] = ()
    buckets: list[int] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    extremes_known: bool = True  # every point added carried min and max
    buckets_known: bool = True  # every point added had the same bounds

    def add(self, point: MetricPoint) -> None:
        if point.count <= 0:
            return
        first = self.count == 0
        self.count += point.count
        self.total += point.value
        if point.minimum is None or point.maximum is None:
            self.extremes_known = False
        elif self.minimum is None or self.maximum is None:
            self.minimum, self.maximum = point.minimum, point.maximum
        else:
            self.minimum = min(self.minimum, point.minimum)
            self.maximum = max(self.maximum, point.maximum)
        if first:
            self.bounds, self.buckets = point.bounds, list(point.bucket_counts)
        elif point.bounds == self.bounds and len(point.bucket_counts) == len(self.buckets):
            self.buckets = [a + b for a, b in zip(self.buckets, point.bucket_counts, strict=True)]
        else:
            self.buckets_known = False
        if sum(self.buckets) != self.count:
            self.buckets_known = False

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> Figure | None:
        """Quantile ``q`` estimated from the buckets, inside the recorded min and max."""
        if self.count == 0:
            return None
        lo, hi = (self.minimum, self.maximum) if self.extremes_known else (None, None)
        if lo is not None and hi is not None and lo == hi:
            return Figure(lo, exact=True)
        if q <= 0.0 and lo is not None:
            return Figure(lo)
        if q >= 1.0 and hi is not None:
            return Figure(hi)
        if not self.buckets_known or not self.buckets:
            return None
        rank = q * self.count
        seen = 0
        for i, n in enumerate(self.buckets):
            if n == 0 or seen + n < rank:
                seen += n
                continue
            if i > 0:
                lower = self.bounds[i - 1]
            elif lo is not None:
                lower = lo
            else:  # the first bucket is open below: assume the non-negative quantities of ours
                lower = min(0.0, self.bounds[0]) if self.bounds else 0.0
            if i < len(self.bounds):
                upper = self.bounds[i]
            elif hi is not None:
                upper = hi
            else:
                return Figure(lower, exact=False, at_least=True)
            if lo is not None:
                lower = max(lower, lo)
                upper = max(upper, lo)
            if hi is not None:
                upper = min(upper, hi)
                lower = min(lower, hi)
            value = lower + (upper - lower) * max(0.0, rank - seen) / n
            return Figure(value, exact=False)
        return Figure(hi, exact=False) if hi is not None else None


@dataclass(frozen=True)
class Stats:
    """count, mean, min, p50, p95, max of one quantity; None where unknown."""

    count: int
    mean: float | None
    minimum: Figure | None
    p50: Figure | None
    p95: Figure | None
    maximum: Figure | None

    @property
    def exact(self) -> bool:
        return all(f is None or f.exact for f in (self.p50, self.p95))


def from_values(values: Sequence[float]) -> Stats:
    ordered = sorted(values)
    if not ordered:
        return Stats(0, None, None, None, None, None)
    return Stats(
        len(ordered),
        math.fsum(ordered) / len(ordered),
        Figure(ordered[0]),
        Figure(exact_quantile(ordered, 0.5)),
        Figure(exact_quantile(ordered, 0.95)),
        Figure(ordered[-1]),
    )


def from_distribution(dist: Distribution) -> Stats:
    known = dist.extremes_known and dist.count > 0
    return Stats(
        dist.count,
        dist.mean,
        Figure(dist.minimum) if known and dist.minimum is not None else None,
        dist.quantile(0.5),
        dist.quantile(0.95),
        Figure(dist.maximum) if known and dist.maximum is not None else None,
    )


def describe(values: Sequence[float], dist: Distribution | None) -> Stats:
    """Exact statistics from ``values`` when they are all the observations the histogram
    counted (or there is no histogram); estimates from ``dist`` otherwise."""
    if dist is None or dist.count == 0 or len(values) >= dist.count:
        return from_values(values)
    return from_distribution(dist)
