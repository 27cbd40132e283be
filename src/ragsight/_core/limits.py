"""Allowed values of one setting, stated once for the configuration loader and the component.

A component's config object (``BreakerConfig``, ``RetryConfig``, the export settings) declares
a :class:`Limit` per field; its constructor checks values with it, and the configuration key
of that field builds its parser from the very same object. So a value passes validation
exactly when the component accepts it, and the message that refuses it is the same in both
places (``configure(breaker_window=0)`` and ``CircuitBreaker(window=0)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class LimitError(ValueError):
    """A value outside its :class:`Limit`; the message says what is allowed."""


@dataclass(frozen=True, slots=True)
class Limit:
    """What one numeric or choice setting accepts.

    ``type`` is ``int``, ``float`` or ``str``. Numbers are finite (no NaN, no infinity)
    unless ``allow_inf``; ``minimum``/``maximum`` bound them (``exclusive_min`` makes the
    minimum itself refused). ``choices`` lists the strings a ``str`` setting accepts
    (compared case-insensitively, returned lower-cased). ``unit`` is appended to the
    description ("seconds", "bytes").
    """

    type: type
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    choices: tuple[str, ...] = ()
    allow_inf: bool = False
    unit: str = ""
    note: str = ""

    def describe(self) -> str:
        """The allowed values in words, as error messages and ``config show`` print them."""
        if self.type is str:
            text = "one of " + ", ".join(self.choices)
        else:
            noun = "an integer" if self.type is int else "a number"
            parts = []
            if self.minimum is not None:
                parts.append(f"{'>' if self.exclusive_min else '>='} {_fmt(self.minimum)}")
            if self.maximum is not None:
                parts.append(f"<= {_fmt(self.maximum)}")
            text = noun + (" " + " and ".join(parts) if parts else "")
            if self.unit:
                text += f" ({self.unit})"
        if self.note:
            text += f" ({self.note})"
        return text

    def check(self, value: Any, name: str = "value") -> Any:
        """``value`` normalised (ints stay ints, floats become float), or :class:`LimitError`.

        Strings are not parsed here: the configuration loader turns environment text into
        numbers first, so a component given ``"3"`` in code is refused like any wrong type.
        """
        if self.type is str:
            if not isinstance(value, str) or value.strip().lower() not in self.choices:
                raise LimitError(f"{name}={value!r}: must be {self.describe()}")
            return value.strip().lower()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LimitError(f"{name}={value!r}: must be {self.describe()}")
        if self.type is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise LimitError(f"{name}={value!r}: must be {self.describe()}")
                value = int(value)
        else:
            value = float(value)
            if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
                raise LimitError(f"{name}={value!r}: must be {self.describe()}")
        low, high = self.minimum, self.maximum
        if low is not None and (value < low or (self.exclusive_min and value == low)):
            raise LimitError(f"{name}={value!r}: must be {self.describe()}")
        if high is not None and value > high:
            raise LimitError(f"{name}={value!r}: must be {self.describe()}")
        return value


def check_all(limits: Mapping[str, Limit], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value checked against its limit; one :class:`LimitError` listing each problem."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in values.items():
        limit = limits.get(name)
        if limit is None:
            out[name] = value
            continue
        try:
            out[name] = limit.check(value, name)
        except LimitError as exc:
            problems.append(str(exc))
    if problems:
        raise LimitError("; ".join(problems))
    return out


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(number)
