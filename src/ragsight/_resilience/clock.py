"""The one source of time and waiting for every resilience decision.

Breakers and retries read a monotonic clock only: wall-clock steps (NTP, DST, a user
changing ``TZ``) must never open, close or stall a breaker (aiobreaker mixes ``utcnow`` and
``now`` and reports five-hour waits). The clock is a module-level indirection so that a
test can swap in a fake one for objects created at import time, and ``sleep``/``asleep``
live next to it because a fake clock has to advance time instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What resilience code needs from time: a monotonic reading and two ways to wait."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic`` and real sleeps (asyncio's is cancellable)."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        # Even a zero wait yields to the loop, so a cancellation pending on this task
        # is delivered here rather than after another attempt.
        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()

# The process-wide clock used by every object created without an explicit ``clock=``.
# ``now`` is kept as a separate global so the hot path pays one global load and one call.
_current: Clock = SYSTEM_CLOCK
now = time.monotonic
_no_wait = False


def current() -> Clock:
    return _current


# Told the offset (new reading - old reading) whenever the process clock is swapped: an
# object that keeps absolute times from the old clock (open-until, window buckets) moves
# them by the offset, so it goes on from where it was instead of jumping or freezing.
rebase_hooks: list[Callable[[float], None]] = []


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process-wide clock; returns the previous one (to restore).

    Everything that runs on the process clock is rebased onto the new one (see
    ``rebase_hooks``): a breaker half-way through its open period is still half-way.
    """
    global _current, now
    previous = _current
    offset = clock.monotonic() - previous.monotonic()
    _current = clock
    now = time.monotonic if clock is SYSTEM_CLOCK else clock.monotonic
    if offset:
        for hook in tuple(rebase_hooks):
            hook(offset)
    return previous


def rebase_ring(rings: tuple[list[int], ...], head: int, width: float, offset: float) -> int:
    """Move a time-bucketed ring by ``offset`` seconds (to the nearest bucket): each
    bucket keeps its age; returns the new head bucket (the caller sets its end time)."""
    if head < 0:
        return head
    steps = round(offset / width)
    new_head = head + steps
    size = len(rings[0])
    for ring in rings:
        old = list(ring)
        for age in range(size):
            ring[(new_head - age) % size] = old[(head - age) % size]
    return new_head


def set_no_wait(enabled: bool) -> bool:
    """Turn every resilience wait into an immediate return; returns the previous flag."""
    global _no_wait
    previous = _no_wait
    _no_wait = enabled
    return previous


def sleep(clock: Clock | None, seconds: float) -> None:
    """Wait ``seconds`` on ``clock`` (or the process clock), unless waits are disabled."""
    if _no_wait:
        return
    (clock or _current).sleep(seconds)


async def asleep(clock: Clock | None, seconds: float) -> None:
    if _no_wait:
        await asyncio.sleep(0)
        return
    await (clock or _current).asleep(seconds)
