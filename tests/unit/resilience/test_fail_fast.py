"""A call into an open breaker reaches the caller (or the fallback) at once, whatever wraps it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ragsight
from ragsight.resilience_testing import FakeClock


class Unavailable(Exception):
    status_code = 503


def open_breaker(clock: FakeClock, **kw: Any) -> ragsight.CircuitBreaker:
    breaker = ragsight.CircuitBreaker(
        "ff-" + str(id(clock)), clock=clock, consecutive_failures=1, open_jitter=0.0, **kw
    )
    breaker.force_state("open")
    return breaker


def test_retry_decorator_over_an_open_breaker_raises_at_once_without_sleeping() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=30.0)

    @ragsight.retry(clock=clock, budget=False)
    @breaker
    def ask() -> str:
        return "answer"

    with pytest.raises(ragsight.CircuitOpenError):
        ask()
    assert clock.sleeps == []


def test_policy_call_through_breaker_call_raises_at_once_without_sleeping() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=5.0)  # even a short open period
    policy = ragsight.RetryPolicy(name="ff-call", clock=clock, budget=False)
    with pytest.raises(ragsight.CircuitOpenError):
        policy.call(breaker.call, lambda: "answer")
    assert clock.sleeps == []


def test_async_retry_over_an_open_breaker_raises_at_once_without_sleeping() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=30.0)

    @ragsight.retry(clock=clock, budget=False)
    @breaker
    async def ask() -> str:
        return "answer"

    with pytest.raises(ragsight.CircuitOpenError):
        asyncio.run(ask())
    assert clock.sleeps == []


def test_a_breaker_opening_mid_retry_ends_the_retries_at_once() -> None:
    clock = FakeClock()
    breaker = ragsight.CircuitBreaker(
        "ff-mid", clock=clock, consecutive_failures=2, open_duration=30.0, open_jitter=0.0
    )
    calls: list[int] = []

    @ragsight.retry(attempts=10, clock=clock, budget=False)
    @breaker
    def ask() -> str:
        calls.append(1)
        raise Unavailable()

    with pytest.raises(ragsight.CircuitOpenError):
        ask()
    assert len(calls) == 2  # the third attempt was rejected and not waited on
    assert len(clock.sleeps) == 2  # the backoffs after the two real failures only


def test_an_open_breakers_fallback_answers_under_retry_at_once() -> None:
    clock = FakeClock()
    breaker = ragsight.CircuitBreaker(
        "ff-fallback", clock=clock, fallback=lambda *a: "cached", open_jitter=0.0
    )
    breaker.force_state("open")

    @ragsight.retry(clock=clock, budget=False)
    @breaker
    def ask() -> str:
        return "answer"

    assert ask() == "cached"
    assert clock.sleeps == []


def test_waiting_for_the_probe_is_opt_in_and_bounded_by_max_delay() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=30.0)
    policy = ragsight.RetryPolicy(
        name="ff-wait", clock=clock, budget=False, wait_for_probe=True, max_delay=5.0
    )
    with pytest.raises(ragsight.CircuitOpenError):
        policy.call(breaker.call, lambda: "answer")
    assert clock.sleeps == []  # 30 s to the probe > the retry's 5 s max delay


def test_waiting_for_the_probe_is_bounded_by_the_deadline() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=8.0)
    policy = ragsight.RetryPolicy(
        name="ff-deadline", clock=clock, budget=False, wait_for_probe=True, max_delay=60.0,
        deadline=5.0,
    )  # fmt: skip
    with pytest.raises(ragsight.CircuitOpenError):
        policy.call(breaker.call, lambda: "answer")
    assert clock.sleeps == []


def test_waiting_for_the_probe_when_it_fits_reaches_the_probe() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, open_duration=4.0)
    policy = ragsight.RetryPolicy(
        name="ff-fits", clock=clock, budget=False, wait_for_probe=True, max_delay=5.0
    )
    assert policy.call(breaker.call, lambda: "answer") == "answer"
    assert clock.sleeps == [pytest.approx(4.0)]
