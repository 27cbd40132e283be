"""fake_clock() drives breakers and budgets that already ran on the real clock."""

from __future__ import annotations

import pytest

import ragsight
from ragsight.resilience_testing import fake_clock


class Unavailable(Exception):
    status_code = 503


def trip(breaker: ragsight.CircuitBreaker) -> None:
    def boom() -> None:
        raise Unavailable()

    with pytest.raises(Unavailable):
        breaker.call(boom)


@pytest.mark.parametrize("start", [None, 0.0, 1_000.0, 1e9])
def test_an_open_period_begun_on_the_real_clock_goes_on_under_the_fake_one(
    start: float | None,
) -> None:
    breaker = ragsight.CircuitBreaker(
        "swap-open", consecutive_failures=1, open_duration=30.0, open_jitter=0.0
    )
    trip(breaker)
    with fake_clock(start=start) as clock:
        left = breaker.snapshot().seconds_until_probe
        assert left is not None
        assert 0.0 < left <= 30.0
        clock.advance(30.0)
        assert breaker.snapshot().seconds_until_probe == 0.0
        breaker.call(lambda: None)  # the probe is admitted
        assert breaker.state in ("half_open", "closed")


@pytest.mark.parametrize("start", [None, 0.0, 1e9])
def test_the_window_keeps_rolling_under_the_fake_clock(start: float | None) -> None:
    breaker = ragsight.CircuitBreaker(
        "swap-window", consecutive_failures=0, window=60.0, minimum_calls=1000
    )
    trip(breaker)
    breaker.call(lambda: None)
    with fake_clock(start=start) as clock:
        assert breaker.snapshot().window_calls == 2
        clock.advance(61.0)
        assert breaker.snapshot().window_calls == 0  # aged out, not frozen
        breaker.call(lambda: None)
        assert breaker.snapshot().window_calls == 1


def test_leaving_the_fake_clock_does_not_jump_either() -> None:
    breaker = ragsight.CircuitBreaker(
        "swap-back", consecutive_failures=1, open_duration=30.0, open_jitter=0.0
    )
    with fake_clock(start=0.0) as clock:
        trip(breaker)
        clock.advance(10.0)
    left = breaker.snapshot().seconds_until_probe
    assert left is not None
    assert 0.0 < left <= 20.0
