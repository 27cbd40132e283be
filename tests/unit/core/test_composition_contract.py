"""The stage/resilience contract, from the core's side.

A guard stacked on a stage-decorated function unwraps it (``fn.__wrapped__``), guards the
inner function, and re-applies the stage outside with ``fn.__ragsight_stage__.rewrap``:
the guard then runs while the stage span is current, whatever the stacking order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

import ragsight
from ragsight import names


def current_span_name() -> str:
    return trace.get_current_span().name  # type: ignore[attr-defined,no-any-return]


def guard_like_resilience(fn: Any, seen: list[str]) -> Any:
    """What the resilience decorators do when they find a stage underneath."""

    def guard(inner: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(inner):

            @functools.wraps(inner)
            async def aguarded(*args: Any, **kw: Any) -> Any:
                seen.append(current_span_name())
                return await inner(*args, **kw)

            return aguarded

        @functools.wraps(inner)
        def guarded(*args: Any, **kw: Any) -> Any:
            seen.append(current_span_name())
            return inner(*args, **kw)

        return guarded

    return fn.__ragsight_stage__.rewrap(guard(fn.__wrapped__))


def test_guard_on_top_of_a_sync_stage_runs_inside_the_stage_span(otel):
    seen: list[str] = []

    @ragsight.retrieval(data_source="kb")
    def search(q: str) -> list[str]:
        return [q]

    composed = guard_like_resilience(search, seen)
    assert composed("x") == ["x"]
    assert seen == ["retrieval kb"]
    assert [s.name for s in otel.spans()] == ["retrieval kb"]
    assert composed.__ragsight_stage__.spec == search.__ragsight_stage__.spec


def test_guard_on_top_of_an_async_stage_runs_inside_the_stage_span(otel):
    seen: list[str] = []

    @ragsight.generation(model="m")
    async def answer(q: str) -> str:
        return q

    composed = guard_like_resilience(answer, seen)
    assert asyncio.iscoroutinefunction(composed)
    assert asyncio.run(composed("y")) == "y"
    assert seen == ["chat m"]


class _Store:
    def __init__(self) -> None:
        self.calls = 0

    @ragsight.retrieval(data_source="kb")
    def search(self, q: str) -> list[str]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("transient")
        return [q]

    @ragsight.retrieval(data_source="kb2")
    @classmethod
    def lookup(cls, q: str) -> list[str]:
        return [q]


def test_stage_methods_reached_through_an_instance_or_class_expose_their_binding(otel):
    store = _Store()
    for bound in (store.search, _Store.lookup, store.lookup):
        binding = bound.__ragsight_stage__
        assert binding.spec.stage == "retrieval"
    seen: list[str] = []
    composed = guard_like_resilience(_Store.lookup, seen)
    assert composed("x") == ["x"]
    assert seen == ["retrieval kb2"]


def test_retry_applied_later_to_a_bound_stage_method_records_on_the_stage_span(otel):
    from ragsight.resilience_testing import no_wait

    store = _Store()
    guarded = ragsight.retry(attempts=2, on=ConnectionError)(store.search)
    with no_wait():
        assert guarded("x") == ["x"]
    (span,) = [s for s in otel.spans() if s.parent is None]  # and one child per attempt
    assert span.name == "retrieval kb"
    assert names.EVENT_RETRY_SCHEDULED in [e.name for e in span.events]
