"""Values on and just outside a ``ragsight._core.limits.Limit``, for the tests that walk
every configuration key of a component (a value passes validation exactly when the
component accepts it)."""

from __future__ import annotations

import math
from typing import Any

from ragsight._core.limits import Limit


def accepted(limit: Limit) -> list[Any]:
    """Values on and just inside the limit's boundaries (every choice of a text setting)."""
    if limit.type is str:
        return [*limit.choices, limit.choices[0].upper()]
    low, high = limit.minimum, limit.maximum
    step = 1 if limit.type is int else 1e-9
    values: list[Any] = []
    if low is not None:
        values.append(low + step if limit.exclusive_min else low)
    values.append(high if high is not None else (10**6 if limit.type is int else 1e6))
    return [limit.type(v) for v in values]


def refused(limit: Limit) -> list[Any]:
    """Values just outside the limit, the non-finite numbers and the wrong types."""
    if limit.type is str:
        return ["none", "", limit.choices[0][:-1], 1]
    low, high = limit.minimum, limit.maximum
    values: list[Any] = []
    if low is not None:
        values.append(limit.type(low) if limit.exclusive_min else _below(limit, low))
    if high is not None:
        values.append(_above(limit, high))
    values += [math.nan, math.inf, -math.inf, True]
    if limit.type is int:
        values.append(1.5)
    return values


def _below(limit: Limit, value: float) -> Any:
    """The nearest value under ``value`` (a float step of 1e-9 vanishes next to 3e7)."""
    if limit.type is int:
        return int(value) - 1
    return min(value - 1e-9, math.nextafter(value, -math.inf))


def _above(limit: Limit, value: float) -> Any:
    if limit.type is int:
        return int(value) + 1
    return max(value + 1e-9, math.nextafter(value, math.inf))
