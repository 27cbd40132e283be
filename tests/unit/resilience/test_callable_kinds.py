"""Every callable kind gets the same behaviour: fallbacks for streams, user predicates contained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import ragsight
from ragsight.resilience_testing import FakeClock, no_wait
from ragsight.testing import capture_telemetry


class Unavailable(Exception):
    status_code = 503


def opened(**kw: Any) -> ragsight.CircuitBreaker:
    breaker = ragsight.CircuitBreaker("kinds-" + str(len(kw)), clock=FakeClock(), **kw)
    breaker.force_state("open")
    return breaker


def cached_items(*_: Any) -> Iterator[str]:
    yield "cached"


async def acached_items(*_: Any) -> AsyncIterator[str]:
    yield "cached"


def test_an_open_breaker_answers_a_generator_with_its_fallback() -> None:
    @opened(fallback=cached_items)
    def stream(q: str) -> Iterator[str]:
        yield "live"

    assert list(stream("q")) == ["cached"]


@pytest.mark.parametrize("fallback", [acached_items, cached_items, lambda *_: ["cached"]])
def test_an_open_breaker_answers_an_async_generator_with_its_fallback(fallback: Any) -> None:
    @opened(fallback=fallback)
    async def stream(q: str) -> AsyncIterator[str]:
        yield "live"

    async def consume() -> list[str]:
        return [item async for item in stream("q")]

    assert asyncio.run(consume()) == ["cached"]


def test_breaker_call_of_a_generator_function_uses_the_fallback() -> None:
    breaker = opened(fallback=cached_items)

    def stream() -> Iterator[str]:
        yield "live"

    assert list(breaker.call(stream)) == ["cached"]


def broken_predicate(exc: BaseException) -> bool:
    raise RuntimeError("bug in the user's predicate")


def raise_unavailable() -> None:
    raise Unavailable()


def errors_of(t: Any, component: str) -> int:
    return int(t.internal_errors().get(component, 0))


def test_a_retry_predicate_that_raises_leaves_the_callers_exception_and_counts_the_call() -> None:
    policy = ragsight.RetryPolicy(name="kinds-on", on=broken_predicate, budget=False)
    with capture_telemetry() as t, no_wait():
        before = errors_of(t, "resilience.retry.on")
        with pytest.raises(Unavailable):
            policy.call(raise_unavailable)
        assert errors_of(t, "resilience.retry.on") == before + 1
        calls = t.counter_value("resilience.retry.calls", **{"resilience.name": "kinds-on"})
        assert calls == 1


@pytest.mark.parametrize("option", ["ignore_exceptions", "record_exceptions"])
def test_a_breaker_predicate_that_raises_leaves_the_callers_exception_and_counts(
    option: str,
) -> None:
    breaker = ragsight.CircuitBreaker(
        "kinds-" + option, clock=FakeClock(), **{option: broken_predicate}
    )
    with capture_telemetry() as t:
        before = errors_of(t, f"resilience.breaker.{option}")
        with pytest.raises(Unavailable):
            breaker.call(raise_unavailable)
        assert errors_of(t, f"resilience.breaker.{option}") == before + 1
    counts = breaker.snapshot().calls
    assert counts["failure"] == 1  # the default classification decided: a 503 counts
    assert breaker.snapshot().probes_in_flight == 0


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_raising_breaker_predicate_is_contained_for_every_callable_kind(kind: str) -> None:
    breaker = ragsight.CircuitBreaker(
        "kinds-any-" + kind, clock=FakeClock(), record_exceptions=broken_predicate
    )
    fn: Callable[[], Any]
    if kind == "sync":
        fn = breaker(raise_unavailable)
        with pytest.raises(Unavailable):
            fn()
    else:

        async def araise() -> None:
            raise Unavailable()

        with pytest.raises(Unavailable):
            asyncio.run(breaker(araise)())
    assert breaker.snapshot().calls["failure"] == 1
