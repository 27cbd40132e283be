"""The consecutive-failures rule: N failures in a row, all inside the window, at any traffic."""

from __future__ import annotations

from typing import Any

import pytest

import ragsight
from ragsight.resilience_testing import FakeClock


class Unavailable(Exception):
    status_code = 503


def fail(breaker: ragsight.CircuitBreaker) -> None:
    def boom() -> None:
        raise Unavailable()

    with pytest.raises(Unavailable):
        breaker.call(boom)


def make(clock: FakeClock, **kw: Any) -> ragsight.CircuitBreaker:
    kw.setdefault("window", 60.0)
    kw.setdefault("minimum_calls", 10)
    kw.setdefault("failure_rate_threshold", 0.9)
    return ragsight.CircuitBreaker("consec-" + str(id(clock)), clock=clock, **kw)


@pytest.mark.parametrize("earlier_successes", [0, 9, 10, 50])
def test_consecutive_failures_trip_at_any_traffic_level(earlier_successes: int) -> None:
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=4)
    for _ in range(earlier_successes):
        breaker.call(lambda: None)
    for _ in range(3):
        fail(breaker)
    assert breaker.state == "closed"
    fail(breaker)
    assert breaker.state == "open"
    assert breaker.snapshot().consecutive_failures == 4


def test_consecutive_failures_older_than_the_window_age_out() -> None:
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=4)
    for _ in range(4):
        fail(breaker)
        clock.advance(3600.0)  # an hour apart: each has left the 60 s window
    fail(breaker)
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 1


def test_a_run_partly_outside_the_window_counts_only_its_recent_failures() -> None:
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=3)
    fail(breaker)
    fail(breaker)
    clock.advance(61.0)  # those two left the window
    fail(breaker)
    fail(breaker)
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 2
    fail(breaker)
    assert breaker.state == "open"


def test_a_success_ends_the_run() -> None:
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=3)
    fail(breaker)
    fail(breaker)
    breaker.call(lambda: None)
    fail(breaker)
    fail(breaker)
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 2


def test_zero_disables_the_consecutive_rule_whatever_the_run() -> None:
    clock = FakeClock()
    breaker = make(clock, consecutive_failures=0, minimum_calls=1000)
    for _ in range(50):
        fail(breaker)
    assert breaker.state == "closed"
