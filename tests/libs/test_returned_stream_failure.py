"""An openai helper stream (``chat.completions.stream()``), whose events the stage observes
inside the library's own iterator, failing part-way: the stage ends with the library's
error, not as a stream the caller merely closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.trace import StatusCode

import ragsight
from ragsight import names
from ragsight.testing import Telemetry

MSGS: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Capital of France?"}]


def _broken_sse() -> bytes:
    """One chunk, then an error event: openai's stream raises ``APIError`` on reading it."""
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Pa"}}],
    }
    error = {"error": {"message": "overloaded", "type": "server_error"}}
    return f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n".encode()


def _handler(request: httpx2.Request) -> httpx2.Response:  # openai 3 is on httpx2
    return httpx2.Response(
        200, content=_broken_sse(), headers={"content-type": "text/event-stream"}
    )


def _failed_span(telemetry: Telemetry) -> Any:
    (span,) = [s for s in telemetry.spans if (s.attributes or {}).get(names.RAG_STAGE)]
    return span


def test_a_helper_stream_failing_part_way_ends_its_stage_with_the_error(
    telemetry: Telemetry,
) -> None:
    client = openai.OpenAI(
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handler)),
    )

    @ragsight.generation
    def answer() -> Any:
        return client.chat.completions.stream(model="gpt-4o-mini", messages=MSGS)

    with pytest.raises(openai.APIError), answer() as stream:
        for _ in stream:
            pass
    span = _failed_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "openai.APIError"


def test_an_async_helper_stream_failing_part_way_ends_its_stage_with_the_error(
    telemetry: Telemetry,
) -> None:
    client = openai.AsyncOpenAI(
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_handler)),
    )

    @ragsight.generation
    def answer() -> Any:
        return client.chat.completions.stream(model="gpt-4o-mini", messages=MSGS)

    async def consume() -> None:
        async with answer() as stream:
            async for _ in stream:
                pass

    with pytest.raises(openai.APIError):
        asyncio.run(consume())
    span = _failed_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "openai.APIError"
