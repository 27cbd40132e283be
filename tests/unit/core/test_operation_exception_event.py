"""gen_ai.client.operation.exception: a failed GenAI client operation is one Logs-API event
at WARN, parented to the failed span, with the redacted exception.* of its span event
(semantic-conventions-genai docs/gen-ai/gen-ai-exceptions.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ragsight
from ragsight import names
from ragsight._core import events as _events
from ragsight._core import semconv as _semconv
from ragsight.testing import capture_telemetry

EVENT = names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION


class QuotaExceeded(Exception):
    pass


def _fails(decorator: Callable[[Any], Any]) -> Callable[[str], Any]:
    @decorator
    def call(q: str) -> Any:
        raise QuotaExceeded("rate limit for key sk-proj-abcdefghijklmnopqrstuvwx")

    return call  # type: ignore[no-any-return]


CLIENT_STAGES = {
    "chat gpt-4o-mini": ragsight.generation(provider="openai", model="gpt-4o-mini"),
    "embeddings text-embedding-3-small": ragsight.embedding(model="text-embedding-3-small"),
    "retrieval kb-main": ragsight.retrieval(data_source="kb-main"),
    "rerank rerank-v3.5": ragsight.rerank(model="rerank-v3.5"),
}


@pytest.mark.parametrize("span_name", sorted(CLIENT_STAGES))
def test_a_failed_client_operation_emits_the_event_parented_to_its_span(span_name: str) -> None:
    call = _fails(CLIENT_STAGES[span_name])
    with capture_telemetry() as telemetry:
        with pytest.raises(QuotaExceeded):
            call("q")
        event = telemetry.log_event(EVENT)
        span = telemetry.span(span_name)
    assert event.parented_to(span)
    assert event.severity == "WARN"
    assert event.attributes[names.EXCEPTION_TYPE] == f"{__name__}.QuotaExceeded"
    assert set(event.attributes) == {
        names.EXCEPTION_TYPE,
        names.EXCEPTION_MESSAGE,
        names.EXCEPTION_STACKTRACE,
    }


def test_the_event_carries_the_same_redacted_text_as_the_span_exception_event() -> None:
    call = _fails(CLIENT_STAGES["chat gpt-4o-mini"])
    with capture_telemetry() as telemetry:
        with pytest.raises(QuotaExceeded):
            call("q")
        event = telemetry.log_event(EVENT)
        (span_event,) = [e for e in telemetry.events if e.name == names.EVENT_EXCEPTION]
    for key in (names.EXCEPTION_TYPE, names.EXCEPTION_MESSAGE, names.EXCEPTION_STACKTRACE):
        assert event.attributes[key] == span_event.attributes[key]
    assert "sk-proj-abcdefghijklmnopqrstuvwx" not in event.attributes[names.EXCEPTION_MESSAGE]
    assert "sk-proj-abcdefghijklmnopqrstuvwx" not in event.attributes[names.EXCEPTION_STACKTRACE]


def test_the_event_is_not_mirrored_as_a_second_span_event() -> None:
    assert _events.span_events() == names.SPAN_EVENTS_MIRROR  # the default mirrors others
    call = _fails(CLIENT_STAGES["chat gpt-4o-mini"])
    with capture_telemetry() as telemetry:
        with pytest.raises(QuotaExceeded):
            call("q")
        span_event_names = [e.name for e in telemetry.events]
    assert span_event_names == [names.EVENT_EXCEPTION]


@pytest.mark.parametrize("mode", names.SEMCONV_MODES)
def test_both_conventions_modes_emit_it(mode: str) -> None:
    call = _fails(CLIENT_STAGES["chat gpt-4o-mini"])
    _semconv.set_mode(mode)
    try:
        with capture_telemetry() as telemetry:
            with pytest.raises(QuotaExceeded):
                call("q")
            assert [e.name for e in telemetry.log_events] == [EVENT]
    finally:
        _semconv.reset_for_tests()


def test_a_failed_stage_that_is_not_a_client_operation_emits_no_event() -> None:
    with capture_telemetry() as telemetry:
        for decorator in (ragsight.pipeline("answer"), ragsight.tool("lookup")):
            with pytest.raises(QuotaExceeded):
                _fails(decorator)("q")
        assert telemetry.log_events == []


def test_a_successful_call_emits_no_event() -> None:
    @ragsight.generation(model="m")
    def answer(q: str) -> str:
        return "ok"

    with capture_telemetry() as telemetry:
        answer("q")
        assert telemetry.log_events == []


def test_a_cancelled_call_is_not_an_exception_event() -> None:
    @ragsight.generation(model="m")
    async def answer(q: str) -> str:
        raise asyncio.CancelledError

    with capture_telemetry() as telemetry:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(answer("q"))
        assert telemetry.log_events == []


def test_a_stream_failing_midway_emits_the_event_once() -> None:
    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[str]:
        yield "a"
        raise TimeoutError("stream broke")

    with capture_telemetry() as telemetry:
        with pytest.raises(TimeoutError):
            list(stream("q"))
        event = telemetry.log_event(EVENT)
        assert event.parented_to(telemetry.span("chat m"))
    assert event.attributes[names.EXCEPTION_TYPE] == "TimeoutError"
