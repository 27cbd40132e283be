"""Backoff schedules, with the cap applied before randomising so jitter survives saturation.

``tenacity.wait_exponential_jitter``, stamina and Polly clamp *after* adding jitter, so once
the exponential passes the cap every client of a fleet sleeps exactly ``max`` and they retry
in lockstep (1000 of 1000 draws equal at attempt 20). Here every jittered schedule draws from
an interval whose upper bound is already capped.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

from ragsight._core.limits import Limit
from ragsight._core.policy import JITTER_KINDS, RETRY_LIMITS, JitterKind

__all__ = ["EXPONENTIAL_FACTOR", "JITTER_KINDS", "Backoff", "JitterKind", "jittered_duration"]

EXPONENTIAL_FACTOR: Final = Limit(float, minimum=1.0)
"""What ``Backoff.factor`` (``retry(exponential_factor=...)``) accepts."""

_rng = random.Random()


def shared_rng() -> random.Random:
    """The process RNG used when no ``rng=`` is given (the testing kit can seed/replace it)."""
    return _rng


def install_rng(rng: random.Random) -> random.Random:
    global _rng
    previous = _rng
    _rng = rng
    return previous


@dataclass(frozen=True, slots=True)
class Backoff:
    """An immutable delay schedule; ``delay`` is pure given its inputs and an RNG.

    ``full`` (default; least total work in AWS's study): ``U(0, min(cap, base*factor^(n-1)))``.
    ``equal``: half fixed, half random. ``decorrelated`` (AWS): ``U(base, min(cap, 3*prev))``.
    ``constant``: always ``min(base, cap)``. ``exponential``: no jitter,
    ``min(cap, base*factor^(n-1))``. ``cap`` bounds every schedule, so a ``base`` above it
    means every delay is ``cap``.

    Raises:
        LimitError (a ValueError): ``kind``, ``base`` or ``cap`` outside the limits of the
            ``retry.jitter``/``retry.base_delay``/``retry.max_delay`` keys, or ``factor`` < 1.
    """

    kind: JitterKind = "full"
    base: float = 0.5
    cap: float = 20.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kind", RETRY_LIMITS["jitter"].check(self.kind, "jitter"))
        set_(self, "base", RETRY_LIMITS["base_delay"].check(self.base, "base_delay"))
        set_(self, "cap", RETRY_LIMITS["max_delay"].check(self.cap, "max_delay"))
        set_(self, "factor", EXPONENTIAL_FACTOR.check(self.factor, "exponential_factor"))

    def ceiling(self, retry_number: int) -> float:
        """The capped exponential for the ``retry_number``-th retry (1-based)."""
        exponent = max(0, retry_number - 1)
        # Avoid float overflow for large attempt numbers: past the cap nothing changes.
        if self.base == 0:
            return 0.0
        if self.cap <= self.base:  # also keeps log() away from a zero cap
            return self.cap
        limit = math.log(self.cap / self.base, self.factor) if self.factor > 1 else 0.0
        if self.factor > 1 and exponent > limit:
            return self.cap
        return min(self.cap, self.base * self.factor**exponent)

    def delay(self, retry_number: int, previous: float, rng: random.Random) -> float:
        kind = self.kind
        if kind == "constant":
            return min(self.base, self.cap)
        if kind == "decorrelated":
            low = min(self.base, self.cap)
            high = min(self.cap, max(low, 3.0 * (previous or self.base)))
            return rng.uniform(low, high)
        ceiling = self.ceiling(retry_number)
        if kind == "full":
            return rng.uniform(0.0, ceiling)
        if kind == "equal":
            half = ceiling / 2.0
            return half + rng.uniform(0.0, half)
        return ceiling


def jittered_duration(
    base: float, cap: float, exponent: int, jitter: float, rng: random.Random
) -> float:
    """A breaker's open duration: ``base*2^exponent`` capped, then jittered *downwards*.

    Downward-only jitter keeps the documented maximum a true maximum while preserving the
    spread at saturation, so a fleet of processes does not probe in lockstep.
    """
    if base <= 0:
        return 0.0
    ceiling = cap if exponent > 64 else min(cap, base * (2.0**exponent))
    if jitter <= 0:
        return ceiling
    return ceiling * (1.0 - jitter * rng.random())
