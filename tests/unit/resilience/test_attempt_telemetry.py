"""Each attempt of a retried stage is its own operation; backoff waits are not latency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

import ragsight
from ragsight import names as n
from ragsight.resilience_testing import no_wait
from ragsight.testing import Telemetry, capture_telemetry


class Unavailable(Exception):
    status_code = 503


def failing_twice() -> tuple[Callable[[str], str], list[int]]:
    calls: list[int] = []

    def answer(question: str) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Unavailable()
        return "answer"

    return answer, calls


def stage_over_retry(fn: Callable[[str], str]) -> Callable[[str], str]:
    wrapped: Callable[[str], str] = ragsight.generation(model="m")(
        ragsight.retry(attempts=3, budget=False)(fn)
    )
    return wrapped


def retry_over_stage(fn: Callable[[str], str]) -> Callable[[str], str]:
    wrapped: Callable[[str], str] = ragsight.retry(attempts=3, budget=False)(
        ragsight.generation(model="m")(fn)
    )
    return wrapped


ORDERS = [stage_over_retry, retry_over_stage]


def failed_type(t: Telemetry) -> str:
    """The ``error.type`` ragsight gives an ``Unavailable`` (read off its first attempt)."""
    _, attempts = roots_and_children(t)
    value = dict(attempts[0].attributes or {})[n.ERROR_TYPE]
    assert isinstance(value, str)
    assert value.endswith("Unavailable")
    return value


def roots_and_children(t: Telemetry) -> tuple[ReadableSpan, list[ReadableSpan]]:
    [root] = [s for s in t.spans if s.parent is None]
    children = [s for s in t.spans if s.parent is not None]
    assert all(c.parent is not None and c.parent.span_id == root.context.span_id for c in children)
    children.sort(key=lambda s: s.start_time or 0)
    return root, children


@pytest.mark.parametrize("order", ORDERS)
def test_each_attempt_is_a_child_span_of_the_logical_stage_span(order: Any) -> None:
    fn, _ = failing_twice()
    with capture_telemetry() as t, no_wait():
        assert order(fn)("q") == "answer"
    root, attempts = roots_and_children(t)
    assert [a.name for a in attempts] == [root.name] * 3
    assert [dict(a.attributes or {})[n.RETRY_ATTEMPT] for a in attempts] == [1, 2, 3]
    failed = failed_type(t)
    assert [dict(a.attributes or {}).get(n.ERROR_TYPE) for a in attempts] == [
        failed,
        failed,
        None,
    ]
    assert dict(root.attributes or {})[n.RETRY_ATTEMPT] == 3


@pytest.mark.parametrize("order", ORDERS)
def test_backoff_waits_are_events_of_the_logical_span_between_the_attempts(order: Any) -> None:
    fn, _ = failing_twice()
    with capture_telemetry() as t, no_wait():
        order(fn)("q")
    root, attempts = roots_and_children(t)
    waits = [e for e in root.events if e.name == n.EVENT_RETRY_SCHEDULED]
    assert len(waits) == 2
    for wait, before, after in zip(waits, attempts, attempts[1:], strict=False):
        assert before.end_time is not None
        assert after.start_time is not None
        assert before.end_time <= wait.timestamp <= after.start_time
    assert all(e.name != n.EVENT_RETRY_SCHEDULED for a in attempts for e in a.events)


@pytest.mark.parametrize("order", ORDERS)
def test_operation_duration_metrics_count_one_sample_per_attempt(order: Any) -> None:
    fn, _ = failing_twice()
    with capture_telemetry() as t, no_wait():
        order(fn)("q")
        assert t.histogram_count(n.GEN_AI_CLIENT_INFERENCE_DURATION.name) == 3
        assert t.histogram_count(n.RAG_OPERATION_DURATION.name) == 3
        failed = t.histogram_count(
            n.GEN_AI_CLIENT_INFERENCE_DURATION.name, **{n.ERROR_TYPE: failed_type(t)}
        )
        assert failed == 2


def test_async_stage_over_retry_shows_each_attempt() -> None:
    calls: list[int] = []

    @ragsight.generation(model="m")
    @ragsight.retry(attempts=3, budget=False)
    async def answer(question: str) -> str:
        calls.append(1)
        if len(calls) < 2:
            raise Unavailable()
        return "answer"

    with capture_telemetry() as t, no_wait():
        assert asyncio.run(answer("q")) == "answer"
        assert t.histogram_count(n.GEN_AI_CLIENT_INFERENCE_DURATION.name) == 2
    _, attempts = roots_and_children(t)
    assert len(attempts) == 2


def test_a_call_that_succeeds_at_once_keeps_a_single_span_and_sample() -> None:
    @ragsight.generation(model="m")
    @ragsight.retry(attempts=3, budget=False)
    def answer(question: str) -> str:
        return "answer"

    with capture_telemetry() as t:
        answer("q")
        assert t.histogram_count(n.GEN_AI_CLIENT_INFERENCE_DURATION.name) == 1
    assert len(t.spans) == 1


def test_a_retried_helper_inside_a_pipeline_does_not_split_the_pipeline() -> None:
    fn, _ = failing_twice()
    helper = ragsight.retry(attempts=3, budget=False)(fn)

    @ragsight.pipeline
    def run(question: str) -> str:
        return helper(question)

    with capture_telemetry() as t, no_wait():
        run("q")
        assert t.histogram_count(n.RAG_OPERATION_DURATION.name) == 1
    assert len(t.spans) == 1  # the pipeline is not the helper's stage: no attempt spans


def test_a_retried_stage_that_gives_up_records_every_attempt_as_failed() -> None:
    @ragsight.generation(model="m")
    @ragsight.retry(attempts=3, budget=False)
    def answer(question: str) -> str:
        raise Unavailable()

    with capture_telemetry() as t, no_wait(), pytest.raises(Unavailable):
        answer("q")
    with no_wait():
        assert (
            t.histogram_count(
                n.GEN_AI_CLIENT_INFERENCE_DURATION.name, **{n.ERROR_TYPE: failed_type(t)}
            )
            == 3
        )
    root, attempts = roots_and_children(t)
    assert len(attempts) == 3
    assert any(e.name == n.EVENT_RETRY_GAVE_UP for e in root.events)
