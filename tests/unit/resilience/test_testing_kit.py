"""The public test kit: fake clock, no-wait switch, seeded jitter, forced states."""

from __future__ import annotations

import asyncio
import time

import pytest

import ragsight
from ragsight import resilience_testing as kit


class Transient(ConnectionError):
    pass


# Created at import time, before any test installs a fake clock.
IMPORT_TIME_BREAKER = ragsight.CircuitBreaker(
    "kit-import-time", consecutive_failures=1, open_duration=30.0, open_jitter=0.0
)


def test_fake_clock_drives_breakers_created_before_it_was_installed() -> None:
    IMPORT_TIME_BREAKER.reset()
    with kit.fake_clock() as clock:
        with pytest.raises(Transient):
            IMPORT_TIME_BREAKER.call(_raise)
        with pytest.raises(ragsight.CircuitOpenError):
            IMPORT_TIME_BREAKER.call(lambda: None)
        clock.advance(30.0)
        IMPORT_TIME_BREAKER.call(lambda: None)  # a probe, 30 s later, in no time
        assert IMPORT_TIME_BREAKER.state == "half_open"
    IMPORT_TIME_BREAKER.reset()


def _raise() -> None:
    raise Transient()


def test_fake_clock_sleeps_advance_time_instantly_for_sync_and_async() -> None:
    with kit.fake_clock(start=0.0) as clock:
        policy = ragsight.RetryPolicy(name="kit-sleeps", attempts=3, budget=False)
        with pytest.raises(Transient):
            policy.call(_raise)

        async def araise() -> None:
            raise Transient()

        with pytest.raises(Transient):
            asyncio.run(policy.acall(araise))
    assert len(clock.sleeps) == 4
    assert clock.monotonic() == pytest.approx(sum(clock.sleeps))


def test_fake_clock_cannot_go_back() -> None:
    with pytest.raises(ValueError, match="back"):
        kit.FakeClock().advance(-1.0)


def test_no_wait_skips_real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(_: float) -> None:
        raise AssertionError("slept for real")

    monkeypatch.setattr(time, "sleep", forbidden)
    policy = ragsight.RetryPolicy(name="kit-no-wait", attempts=3, budget=False)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Transient()
        return "ok"

    with kit.no_wait():
        assert policy.call(flaky) == "ok"
    assert len(calls) == 3


def test_no_wait_switch_is_restored_on_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with kit.no_wait():
        pass
    policy = ragsight.RetryPolicy(name="kit-restored", attempts=2, budget=False)
    with pytest.raises(Transient):
        policy.call(_raise)
    assert len(slept) == 1


def test_seeded_jitter_makes_delays_reproducible() -> None:
    def delays() -> list[float]:
        with kit.fake_clock() as clock, kit.seeded_jitter(42):
            policy = ragsight.RetryPolicy(name="kit-seeded", attempts=5, budget=False)
            with pytest.raises(Transient):
                policy.call(_raise)
            return clock.sleeps

    first = delays()
    assert first == delays()
    assert len(set(first)) == 4


def test_force_state_puts_a_breaker_in_any_state() -> None:
    breaker = ragsight.CircuitBreaker("kit-force", clock=kit.FakeClock())
    for state in ragsight.names.CB_STATES:
        kit.force_state(breaker, state)
        assert breaker.state == state


def test_no_wait_can_cap_attempts_for_every_policy() -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise Transient()

    policy = ragsight.RetryPolicy(name="kit-cap", attempts=5, budget=False)
    with kit.no_wait(attempts=1), pytest.raises(Transient):
        policy.call(always)
    assert len(calls) == 1
    with kit.no_wait(), pytest.raises(Transient):
        policy.call(always)
    assert len(calls) == 6
