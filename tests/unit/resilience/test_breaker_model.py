"""Stateful property test: the breaker against a ten-line model of its rules."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ragsight import CircuitBreaker, CircuitOpenError
from ragsight.resilience_testing import FakeClock

BASE, CAP, TRIP, CLOSE_AFTER, WINDOW = 10.0, 40.0, 3, 2, 60.0


class Failure(Exception):
    pass


class Caller(Exception):
    status_code = 404  # a caller error: ignored by the default classifier


class BreakerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.breaker = CircuitBreaker(
            "model",
            clock=self.clock,
            consecutive_failures=TRIP,
            window=WINDOW,
            minimum_calls=10**9,
            open_duration=BASE,
            max_open_duration=CAP,
            open_jitter=0.0,
            probe_successes_to_close=CLOSE_AFTER,
            half_open_probes=1,
            probe_timeout=1e9,
        )
        self.state = "closed"
        self.run: list[float] = []  # end times of the consecutive failures
        self.open_until = 0.0
        self.reopens = 0
        self.probe_ok = 0

    # ---------------------------------------------------------------- the model --
    @property
    def consec(self) -> int:
        """Consecutive failures that ended inside the window (older ones age out)."""
        now = self.clock.monotonic()
        return sum(1 for end in self.run if end > now - WINDOW)

    def _open(self) -> None:
        self.state = "open"
        self.open_until = self.clock.monotonic() + min(CAP, BASE * 2**self.reopens)
        self.probe_ok = 0

    def _expect(self, outcome: str) -> bool:
        """Apply ``outcome`` to the model; returns whether the call is admitted."""
        if self.state == "open" and self.clock.monotonic() >= self.open_until:
            self.state, self.probe_ok = "half_open", 0
        if self.state in ("open", "forced_open"):
            return False
        if self.state == "closed":
            if outcome == "success":
                self.run = []
            elif outcome == "failure":
                self.run.append(self.clock.monotonic())
                if self.consec >= TRIP:
                    self._open()
            return True
        # half-open: this call is the probe
        if outcome == "failure":
            self.reopens += 1
            self._open()
        elif outcome == "success":
            self.probe_ok += 1
            if self.probe_ok >= CLOSE_AFTER:
                self.state, self.run, self.reopens = "closed", [], 0
        return True

    # ---------------------------------------------------------------- rules --
    @rule(outcome=st.sampled_from(["success", "failure", "ignored", "cancelled"]))
    def call(self, outcome: str) -> None:
        admitted = self._expect(outcome)
        ran: list[bool] = []

        def fn() -> None:
            ran.append(True)
            if outcome == "failure":
                raise Failure()
            if outcome == "ignored":
                raise Caller()
            if outcome == "cancelled":
                raise asyncio.CancelledError()

        try:
            self.breaker.call(fn)
        except CircuitOpenError:
            assert not admitted, "rejected a call the model admits"
            assert not ran
            return
        except (Failure, Caller, asyncio.CancelledError):
            pass
        assert admitted, "admitted a call the model rejects"

    @rule(seconds=st.floats(min_value=0.0, max_value=50.0))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(target_state=st.sampled_from(["closed", "open", "forced_open"]))
    def force(self, target_state: str) -> None:
        self.breaker.force_state(target_state)
        if target_state == "closed":
            self.state, self.run, self.reopens = "closed", [], 0
        elif target_state == "open":
            self._open()
        else:
            self.state = "forced_open"

    @precondition(lambda self: self.state == "closed")
    @invariant()
    def consecutive_failures_match(self) -> None:
        assert self.breaker.snapshot().consecutive_failures == self.consec

    @invariant()
    def state_matches(self) -> None:
        # The breaker moves open -> half_open lazily, on the next admission attempt.
        assert self.breaker.state == self.state

    @invariant()
    def no_probe_leaks(self) -> None:
        assert self.breaker.snapshot().probes_in_flight == 0


TestBreakerModel = BreakerModel.TestCase
TestBreakerModel.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)


def test_model_is_not_vacuous() -> None:
    """The model really walks through every state (guards against an always-closed run)."""
    machine = BreakerModel()
    for _ in range(3):
        machine.call("failure")
    assert machine.state == machine.breaker.state == "open"
    machine.wait(10.0)
    machine.call("success")
    assert machine.breaker.state == "half_open"
    machine.call("failure")
    assert machine.breaker.state == "open"
    machine.state = "closed"  # a wrong model must be caught by the invariant
    with pytest.raises(AssertionError):
        machine.state_matches()
