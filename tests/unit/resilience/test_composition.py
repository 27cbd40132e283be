"""Breaker/retry on top of stage decorators: their events land on the stage's span."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import ragsight
from ragsight import CircuitBreaker, CircuitOpenError, RetryPolicy
from ragsight import names as n
from ragsight.resilience_testing import FakeClock
from ragsight.testing import capture_telemetry


class Transient(ConnectionError):
    pass


# ------------------------------------------------------------------ the contract, faked --
class FakeStage:
    """The core contract: ``__ragsight_stage__.rewrap(inner)`` re-applies the stage."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def rewrap(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def staged(*args: Any, **kwargs: Any) -> Any:
            self.log.append("stage:enter")
            try:
                return inner(*args, **kwargs)
            finally:
                self.log.append("stage:exit")

        staged.__ragsight_stage__ = self  # type: ignore[attr-defined]
        staged.__wrapped__ = inner  # type: ignore[attr-defined]
        return staged


def test_guards_applied_over_a_stage_are_moved_inside_it() -> None:
    log: list[str] = []
    stage = FakeStage(log)

    def raw() -> str:
        log.append("raw")
        return "ok"

    staged = stage.rewrap(raw)
    breaker = CircuitBreaker("fake-stage", clock=FakeClock(), listeners=())
    guarded = breaker(staged)
    assert getattr(guarded, "__ragsight_stage__", None) is stage
    assert guarded() == "ok"
    assert log == ["stage:enter", "raw", "stage:exit"]  # one stage, breaker inside it
    assert breaker.snapshot().calls["success"] == 1


# ------------------------------------------------------------------ with the real core --
def test_breaker_events_land_on_the_retrieval_span_whatever_the_order() -> None:
    breaker = CircuitBreaker("kb-breaker", clock=FakeClock(), consecutive_failures=1)

    @breaker
    @ragsight.retrieval(data_source="kb-main")
    def search(query: str) -> list[str]:
        raise Transient()

    with capture_telemetry() as t:
        with pytest.raises(Transient):
            search("q")
        with pytest.raises(CircuitOpenError):
            search("q")
    first, second = t.spans
    assert [e.name for e in first.events if e.name.startswith("resilience")] == [
        n.EVENT_CB_STATE_CHANGED
    ]
    assert [e.name for e in second.events if e.name.startswith("resilience")] == [
        n.EVENT_CB_CALL_REJECTED
    ]


def test_retry_over_a_stage_keeps_one_logical_stage_span_with_all_retry_events() -> None:
    failures = [Transient(), Transient()]

    @RetryPolicy(name="kb-retry", clock=FakeClock(), budget=False)
    @ragsight.retrieval(data_source="kb-main")
    def search(query: str) -> list[str]:
        if failures:
            raise failures.pop()
        return ["doc"]

    with capture_telemetry() as t:
        assert search("q") == ["doc"]
    [span] = [s for s in t.spans if s.parent is None]  # the attempts are its children
    scheduled = [e for e in span.events if e.name == n.EVENT_RETRY_SCHEDULED]
    assert [dict(e.attributes or {})[n.RETRY_ATTEMPT] for e in scheduled] == [1, 2]
    assert span.attributes is not None
    assert span.attributes[n.RETRY_ATTEMPT] == 3


def test_stage_outermost_also_receives_the_events() -> None:
    breaker = CircuitBreaker("kb-outer", clock=FakeClock(), consecutive_failures=1)

    @ragsight.retrieval(data_source="kb-main")
    @breaker
    async def search(query: str) -> list[str]:
        raise Transient()

    async def scenario() -> None:
        with pytest.raises(Transient):
            await search("q")

    with capture_telemetry() as t:
        asyncio.run(scenario())
    [span] = t.spans
    assert n.EVENT_CB_STATE_CHANGED in [e.name for e in span.events]


def test_capture_telemetry_also_captures_resilience_metrics() -> None:
    with capture_telemetry() as t:
        breaker = CircuitBreaker("captured-cb", clock=FakeClock())
        breaker.call(lambda: None)
        points = [
            p
            for p in t.metric_points(n.CB_CALLS.name)
            if p.attributes.get(n.RESILIENCE_NAME) == "captured-cb"
            and p.attributes.get(n.CB_OUTCOME) == "success"
        ]
    assert [p.value for p in points] == [1]


def test_decorated_functions_keep_their_kind_for_other_decorators() -> None:
    import inspect

    breaker = CircuitBreaker("kinds", clock=FakeClock())
    policy = RetryPolicy(name="kinds", clock=FakeClock())

    async def coro() -> None:
        return None

    def gen() -> Any:
        yield 1

    async def agen() -> Any:
        yield 1

    for guard in (breaker, policy):
        assert inspect.iscoroutinefunction(guard(coro))
        assert inspect.isgeneratorfunction(guard(gen))
        assert inspect.isasyncgenfunction(guard(agen))
        assert guard(coro).__wrapped__ is coro


def test_policy_call_on_a_stage_function_keeps_one_logical_stage_span_with_the_retry_events() -> (
    None
):
    failures = [Transient()]

    @ragsight.retrieval(data_source="kb-main")
    def search(query: str) -> list[str]:
        if failures:
            raise failures.pop()
        return ["doc"]

    policy = RetryPolicy(name="kb-call", clock=FakeClock(), budget=False)
    with capture_telemetry() as t:
        assert policy.call(search, "q") == ["doc"]
    # the retry ran inside the stage, not around two stage spans: one root, two attempts
    [span] = [s for s in t.spans if s.parent is None]
    assert len(t.spans) == 3
    assert [e.name for e in span.events if e.name == n.EVENT_RETRY_SCHEDULED] == [
        n.EVENT_RETRY_SCHEDULED
    ]
