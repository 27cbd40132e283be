"""Usage, streams and content from the openai and anthropic clients over an httpx mock."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx
import httpx2
import openai
import pytest
from openai import AsyncStream, Stream

import ragsight
from ragsight import names

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}


def _sse() -> bytes:
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Pa"}}]},
        {"choices": [{"index": 0, "delta": {"content": "ris"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}},
    ]
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    lines = [f"data: {json.dumps({**base, **c})}\n\n" for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def _handler(request: httpx.Request) -> httpx.Response:
    if b'"stream":true' in request.content.replace(b" ", b""):
        return httpx.Response(200, content=_sse(), headers={"content-type": "text/event-stream"})
    if request.url.path.endswith("/messages"):
        return httpx.Response(200, json=MESSAGE)
    if b"fail" in request.content:
        return httpx.Response(500, json={"error": {"message": "down"}})
    return httpx.Response(200, json=COMPLETION)


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "Paris"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 7, "output_tokens": 2},
}


def _openai() -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(_handler)),
    )


def _aopenai() -> openai.AsyncOpenAI:
    transport = httpx.MockTransport(_handler)
    return openai.AsyncOpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.AsyncClient(transport=transport)
    )


MSGS = [{"role": "user", "content": "Capital of France?"}]


def test_chat_completion_usage_and_finish_reasons(telemetry):
    client = _openai()

    @ragsight.generation
    def answer() -> object:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)

    answer()
    (span,) = [s for s in telemetry.spans if s.attributes.get(names.GEN_AI_USAGE_INPUT_TOKENS)]
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert list(span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]


def test_with_raw_response_is_read(telemetry):
    client = _openai()

    @ragsight.generation
    def answer() -> object:
        return client.chat.completions.with_raw_response.create(model="m", messages=MSGS)

    raw = answer()
    assert raw.parse().usage.prompt_tokens == 12
    assert any(s.attributes.get(names.GEN_AI_USAGE_INPUT_TOKENS) == 12 for s in telemetry.spans)


def test_stream_returned_from_plain_def_keeps_the_span_until_exhausted(telemetry):
    client = _openai()

    @ragsight.generation
    def answer() -> object:
        return client.chat.completions.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )

    stream = answer()
    assert isinstance(stream, Stream)
    assert telemetry.spans == []  # still open: nothing was generated yet
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Paris"
    (span,) = telemetry.spans
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert list(span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


def test_async_stream_returned_from_async_def(telemetry):
    asyncio.run(_consume_async_stream())
    (span,) = telemetry.spans
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert list(span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]


async def _consume_async_stream() -> None:
    client = _aopenai()

    @ragsight.generation
    async def answer() -> object:
        return await client.chat.completions.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )

    stream = await answer()
    assert isinstance(stream, AsyncStream)
    async with stream:
        async for _ in stream:
            pass


def test_stream_closed_early_ends_the_span(telemetry):
    client = _openai()

    @ragsight.generation
    def answer() -> object:
        return client.chat.completions.create(model="m", messages=MSGS, stream=True)

    stream = answer()
    next(iter(stream))
    stream.close()
    assert len(telemetry.spans) == 1


def test_error_type_is_the_qualified_class_name(telemetry):
    client = _openai()

    @ragsight.generation
    def answer() -> object:
        return client.chat.completions.create(model="fail", messages=MSGS)

    with pytest.raises(openai.InternalServerError):
        answer()
    (span,) = telemetry.spans
    assert span.attributes[names.ERROR_TYPE] == "openai.InternalServerError"


def test_anthropic_message_usage_and_stop_reason(telemetry):
    def handler(request: httpx2.Request) -> httpx2.Response:  # anthropic 2 is on httpx2
        return httpx2.Response(200, json=MESSAGE)

    transport = httpx2.MockTransport(handler)
    client = anthropic.Anthropic(
        api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport)
    )

    @ragsight.generation
    def answer() -> object:
        return client.messages.create(model="claude-x", max_tokens=10, messages=MSGS)

    answer()
    (span,) = telemetry.spans
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert list(span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]


CACHED_USAGE = {
    "input_tokens": 7,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 20,
    "output_tokens": 2,
}


def _anthropic(body: bytes, content_type: str) -> anthropic.Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def test_anthropic_input_tokens_include_the_cache_read_and_written(telemetry):
    # semantic-conventions-genai docs/gen-ai/anthropic.md: Anthropic's input_tokens exclude
    # cached tokens; gen_ai.usage.input_tokens = input + cache_read + cache_creation (MUST)
    client = _anthropic(json.dumps({**MESSAGE, "usage": CACHED_USAGE}).encode(), "application/json")

    @ragsight.generation
    def answer() -> object:
        return client.messages.create(model="claude-x", max_tokens=10, messages=MSGS)

    answer()
    (span,) = telemetry.spans
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 127
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    counter = names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS.name
    assert telemetry.counter_value(counter) == 127


def test_a_streamed_anthropic_message_counts_its_cached_input_tokens(telemetry):
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": CACHED_USAGE}
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "P"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    client = _anthropic(body, "text/event-stream")

    @ragsight.generation
    def answer() -> object:
        return client.messages.create(model="claude-x", max_tokens=10, messages=MSGS, stream=True)

    for _event in answer():
        pass
    (span,) = telemetry.spans
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 127
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 5


def test_captured_completion_keeps_token_counts_and_message_content(telemetry, monkeypatch):
    client = _openai()

    @ragsight.generation(capture=True)
    def answer(messages: list[dict[str, str]]) -> object:
        return client.chat.completions.create(model="m", messages=messages)

    answer(MSGS)
    dumped = json.dumps(dict(telemetry.spans[0].attributes)) + json.dumps(
        [dict(e.attributes or {}) for s in telemetry.spans for e in s.events]
    )
    assert "Capital of France?" in dumped
    assert '\\"prompt_tokens\\": 12' in dumped
    assert '\\"message\\": \\"dict\\"' not in dumped
