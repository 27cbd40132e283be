"""Test kit for code that uses ragsight's breakers and retries.

* :class:`FakeClock` - a monotonic clock whose sleeps (sync and asyncio) advance time
  instantly, so a test can walk through a 30 s open period or a 20 s backoff in microseconds;
  :func:`fake_clock` installs one process-wide (objects created at import time follow it).
* :func:`no_wait` - resilience waits return at once (stamina's ``set_testing`` parity).
* :func:`seeded_jitter` - deterministic jitter for backoff and open durations.
* :func:`force_state` - put a breaker in any state (same as ``breaker.force_state``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ragsight._resilience import backoff as _backoff
from ragsight._resilience import clock as _clock
from ragsight._resilience import retry as _retry
from ragsight._resilience.breaker import CircuitBreaker

__all__ = ["FakeClock", "fake_clock", "force_state", "no_wait", "seeded_jitter"]


class FakeClock:
    """A manual monotonic clock. ``sleep``/``asleep`` advance it and record the wait.

    ``start`` (seconds) is its first reading; by default the process clock's reading now,
    so the fake time continues the real one.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = _clock.now() if start is None else start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        # Still a real suspension point: cancellation and other tasks get their turn.
        await asyncio.sleep(0)


@contextmanager
def fake_clock(start: float | None = None) -> Iterator[FakeClock]:
    """Install a :class:`FakeClock` as the process clock for the duration of the block.

    Breakers and retry budgets that already ran on the process clock go on from where they
    were, whatever ``start`` is (their times are rebased onto the fake clock on entry, and
    back onto the real one on exit): an open period half over stays half over and the
    window keeps rolling. ``start`` defaults to the process clock's reading.
    """
    clock = FakeClock(start)
    previous = _clock.install(clock)
    try:
        yield clock
    finally:
        _clock.install(previous)


@contextmanager
def no_wait(attempts: int | None = None) -> Iterator[None]:
    """Make every retry backoff return immediately inside the block.

    ``attempts`` additionally caps every policy's attempts (``1`` = never retry), as
    stamina's ``set_testing(True, attempts=...)`` does.
    """
    if attempts is not None and attempts < 1:
        raise ValueError("attempts must be >= 1")
    previous = _clock.set_no_wait(True)
    previous_attempts = _retry.set_testing_attempts(attempts)
    try:
        yield
    finally:
        _clock.set_no_wait(previous)
        _retry.set_testing_attempts(previous_attempts)


@contextmanager
def seeded_jitter(seed: int = 0) -> Iterator[random.Random]:
    """Use a seeded RNG for every jitter drawn without an explicit ``rng=``."""
    rng = random.Random(seed)
    previous = _backoff.install_rng(rng)
    try:
        yield rng
    finally:
        _backoff.install_rng(previous)


def force_state(breaker: CircuitBreaker, state: str) -> None:
    """Put ``breaker`` in ``state`` (``closed``, ``open``, ``half_open``) now, as
    :meth:`CircuitBreaker.force_state` does; raises ``ValueError`` for another state."""
    breaker.force_state(state)
