"""Every LLM-client row of docs/readers.md, with the objects the openai and anthropic
clients themselves build from real wire payloads (tests/support/llm_wire.py), sync and
async: usage in and out, time to first chunk, finish reasons, response model and id,
provider and captured output; and the caller gets the object the client returned.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import jsonschema
import llm_wire as wire
import openai
import pytest
import wire_clients
from openai.lib.streaming.chat import AsyncChatCompletionStream, ChatCompletionStream
from openai.lib.streaming.responses import AsyncResponseStream, ResponseStream

import ragsight
import ragsight.testing
from ragsight import names

MSGS = [{"role": "user", "content": "Capital of France?"}]


@dataclass(frozen=True)
class Expect:
    input_tokens: int
    output_tokens: int | None
    finish_reasons: list[str] | None
    model: str
    response_id: str | None
    provider: str
    first_chunk: bool  # streamed through the returned object: time to first chunk
    dimension: int | None = None


CHAT = Expect(12, 3, ["stop"], wire.CHAT_MODEL, "chatcmpl-AbC1", "openai", False)
CHAT_STREAM = Expect(9, 2, ["stop"], wire.CHAT_MODEL, "chatcmpl-Str1", "openai", True)
RESPONSES = Expect(21, 4, ["completed"], "gpt-4.1-2025-04-14", wire.RESPONSE["id"], "openai", False)
RESPONSES_STREAM = Expect(**{**RESPONSES.__dict__, "first_chunk": True})
EMBED = Expect(5, None, None, wire.EMBED_MODEL, None, "openai", False, dimension=6)
CLAUDE = Expect(14, 4, ["end_turn"], wire.CLAUDE_MODEL, wire.MESSAGE["id"], "anthropic", False)
CLAUDE_STREAM = Expect(
    17, 6, ["max_tokens"], wire.CLAUDE_MODEL, wire.MESSAGE["id"], "anthropic", True
)


def _text_of_chat(result: Any) -> str:
    return result.choices[0].message.content


# ---- sync cases: (call the client, consume what the stage returned -> the caller's text)
def _chat_stream(stream: Any) -> str:
    assert isinstance(stream, openai.Stream)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _manager_events(manager: Any) -> str:
    with manager as stream:
        assert isinstance(stream, ChatCompletionStream)
        return "".join(e.delta for e in stream if e.type == "content.delta")


def _manager_final(manager: Any) -> str:
    with manager as stream:
        return stream.get_final_completion().choices[0].message.content


def _responses_events(stream: Any) -> str:
    assert isinstance(stream, openai.Stream)
    return "".join(e.delta for e in stream if e.type == "response.output_text.delta")


def _responses_manager(manager: Any) -> str:
    with manager as stream:
        assert isinstance(stream, ResponseStream)
        return "".join(e.delta for e in stream if e.type == "response.output_text.delta")


def _responses_manager_final(manager: Any) -> str:
    with manager as stream:
        return stream.get_final_response().output_text


def _claude_events(stream: Any) -> str:
    assert isinstance(stream, anthropic.Stream)
    return "".join(e.delta.text for e in stream if e.type == "content_block_delta")


def _claude_manager(manager: Any) -> str:
    with manager as stream:
        assert isinstance(stream, anthropic.lib.streaming.MessageStream)
        return "".join(stream.text_stream)


def _raw(raw: Any) -> str:
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse)
    assert raw.http_response.status_code == 200
    return _text_of_chat(raw.parse())


def _raw_stream(raw: Any) -> str:
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse)
    assert raw.parse() is raw.parse()  # cached, as the client caches it
    return _chat_stream(raw.parse())


def _streaming_response(manager: Any) -> str:
    with manager as response:
        assert isinstance(response, openai._response.APIResponse)
        return _text_of_chat(response.parse())


def _streaming_response_stream(manager: Any) -> str:
    with manager as response:
        return _chat_stream(response.parse())


# Each call, made on (an openai client, an anthropic client), and what it records: the same
# call runs on the sync clients (SYNC) and on the async ones (ASYNC).
CALLS: dict[str, tuple[Callable[[Any, Any], Any], Expect]] = {
    "chat.completions.create": (
        lambda o, a: o.chat.completions.create(model="m", messages=MSGS),
        CHAT,
    ),
    "chat.completions.create(stream=True)": (
        lambda o, a: o.chat.completions.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        ),
        CHAT_STREAM,
    ),
    "chat.completions.stream() iterated": (
        lambda o, a: o.chat.completions.stream(
            model="m", messages=MSGS, stream_options={"include_usage": True}
        ),
        CHAT_STREAM,
    ),
    "chat.completions.stream() get_final_completion": (
        lambda o, a: o.chat.completions.stream(
            model="m", messages=MSGS, stream_options={"include_usage": True}
        ),
        CHAT_STREAM,  # observed inside the library stream
    ),
    "responses.create": (
        lambda o, a: o.responses.create(model="m", input="Capital of France?"),
        RESPONSES,
    ),
    "responses.create(stream=True)": (
        lambda o, a: o.responses.create(model="m", input="Capital of France?", stream=True),
        RESPONSES_STREAM,
    ),
    "responses.stream() iterated": (
        lambda o, a: o.responses.stream(model="m", input="Capital of France?"),
        RESPONSES_STREAM,
    ),
    "responses.stream() get_final_response": (
        lambda o, a: o.responses.stream(model="m", input="Capital of France?"),
        RESPONSES_STREAM,
    ),
    "chat.completions.with_raw_response": (
        lambda o, a: o.chat.completions.with_raw_response.create(model="m", messages=MSGS),
        CHAT,
    ),
    "chat.completions.with_raw_response(stream=True)": (
        lambda o, a: o.chat.completions.with_raw_response.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        ),
        CHAT_STREAM,
    ),
    "chat.completions.with_streaming_response": (
        lambda o, a: o.chat.completions.with_streaming_response.create(model="m", messages=MSGS),
        CHAT,
    ),
    "chat.completions.with_streaming_response(stream=True)": (
        lambda o, a: o.chat.completions.with_streaming_response.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        ),
        CHAT_STREAM,
    ),
    "anthropic messages.create": (
        lambda o, a: a.messages.create(model="c", max_tokens=64, messages=MSGS),
        CLAUDE,
    ),
    "anthropic messages.create(stream=True)": (
        lambda o, a: a.messages.create(model="c", max_tokens=64, messages=MSGS, stream=True),
        CLAUDE_STREAM,
    ),
    "anthropic messages.stream() text_stream": (
        lambda o, a: a.messages.stream(model="c", max_tokens=64, messages=MSGS),
        CLAUDE_STREAM,  # text_stream too
    ),
    "anthropic messages.with_raw_response": (
        lambda o, a: a.messages.with_raw_response.create(model="c", max_tokens=64, messages=MSGS),
        CLAUDE,
    ),
}


# how the caller consumes what the sync call returned
SYNC: dict[str, Callable[[Any], str]] = {
    "chat.completions.create": _text_of_chat,
    "chat.completions.create(stream=True)": _chat_stream,
    "chat.completions.stream() iterated": _manager_events,
    "chat.completions.stream() get_final_completion": _manager_final,
    "responses.create": lambda r: r.output_text,
    "responses.create(stream=True)": _responses_events,
    "responses.stream() iterated": _responses_manager,
    "responses.stream() get_final_response": _responses_manager_final,
    "chat.completions.with_raw_response": _raw,
    "chat.completions.with_raw_response(stream=True)": _raw_stream,
    "chat.completions.with_streaming_response": _streaming_response,
    "chat.completions.with_streaming_response(stream=True)": _streaming_response_stream,
    "anthropic messages.create": lambda m: m.content[0].text,
    "anthropic messages.create(stream=True)": _claude_events,
    "anthropic messages.stream() text_stream": _claude_manager,
    "anthropic messages.with_raw_response": lambda raw: raw.parse().content[0].text,
}


def _attrs(telemetry: ragsight.testing.Telemetry) -> dict[str, Any]:
    (span,) = telemetry.spans
    return dict(span.attributes)


def _check(attrs: dict[str, Any], expect: Expect) -> None:
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == expect.input_tokens
    assert attrs.get(names.GEN_AI_USAGE_OUTPUT_TOKENS) == expect.output_tokens
    reasons = attrs.get(names.GEN_AI_RESPONSE_FINISH_REASONS)
    assert (list(reasons) if reasons is not None else None) == expect.finish_reasons
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == expect.model
    assert attrs.get(names.GEN_AI_RESPONSE_ID) == expect.response_id
    assert attrs[names.GEN_AI_PROVIDER_NAME] == expect.provider
    assert (names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attrs) is expect.first_chunk
    assert attrs.get(names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT) == expect.dimension


def _output_text(attrs: dict[str, Any]) -> str:
    messages = json.loads(attrs[names.GEN_AI_OUTPUT_MESSAGES])
    return "".join(p["content"] for m in messages for p in m["parts"] if p["type"] == "text")


def _run_sync(case: str, capture: bool | None) -> tuple[str, dict[str, Any]]:
    """What the caller read from the sync call of ``case``, and the stage's attributes."""
    call, _ = CALLS[case]
    openai_client, anthropic_client = wire_clients.openai_client(), wire_clients.anthropic_client()

    @ragsight.generation(capture=capture)
    def answer() -> Any:
        return call(openai_client, anthropic_client)

    with ragsight.testing.capture_telemetry() as telemetry:
        text = SYNC[case](answer())
    return text, _attrs(telemetry)


@pytest.mark.parametrize("case", list(SYNC))
def test_sync_shape_is_read_and_returned_unchanged(case):
    text, attrs = _run_sync(case, capture=None)
    assert text == "Paris"  # what the caller got behaves as the client's own
    _check(attrs, CALLS[case][1])


@pytest.mark.parametrize("case", list(SYNC))
def test_sync_shape_captures_the_generated_text(case):
    _, attrs = _run_sync(case, capture=True)
    assert _output_text(attrs) == "Paris"


def test_embeddings_response_gives_prompt_tokens_model_and_dimension(telemetry):
    client = wire_clients.openai_client()

    @ragsight.embedding
    def embed() -> Any:
        return client.embeddings.create(model="e", input="Paris")

    response = embed()
    assert isinstance(response, openai.types.CreateEmbeddingResponse)
    assert response.data[0].embedding == wire.EMBEDDING_VECTOR  # decoded from base64
    _check(_attrs(telemetry), EMBED)


def test_raw_embeddings_response_gives_the_dimension_too(telemetry):
    client = wire_clients.openai_client()

    @ragsight.embedding
    def embed() -> Any:
        return client.embeddings.with_raw_response.create(model="e", input=["a", "b"])

    assert len(embed().parse().data) == 2
    _check(_attrs(telemetry), Expect(**{**EMBED.__dict__, "input_tokens": 10}))


# ---- async: the same rows on the async clients --------------------------------------
async def _achat_stream(stream: Any) -> str:
    assert isinstance(stream, openai.AsyncStream)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _amanager_events(manager: Any) -> str:
    async with manager as stream:
        assert isinstance(stream, AsyncChatCompletionStream)
        return "".join([e.delta async for e in stream if e.type == "content.delta"])


async def _amanager_final(manager: Any) -> str:
    async with manager as stream:
        return (await stream.get_final_completion()).choices[0].message.content


async def _aresponses_manager(manager: Any) -> str:
    async with manager as stream:
        assert isinstance(stream, AsyncResponseStream)
        return "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])


async def _araw_message(raw: Any) -> str:
    assert isinstance(raw, anthropic._response.AsyncAPIResponse)
    return (await raw.parse()).content[0].text


async def _aresponses_manager_final(manager: Any) -> str:
    async with manager as stream:
        return (await stream.get_final_response()).output_text


async def _aresponses_events(stream: Any) -> str:
    assert isinstance(stream, openai.AsyncStream)
    return "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])


async def _aclaude_events(stream: Any) -> str:
    assert isinstance(stream, anthropic.AsyncStream)
    return "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])


async def _aclaude_manager(manager: Any) -> str:
    async with manager as stream:
        return "".join([t async for t in stream.text_stream])


async def _araw_stream(raw: Any) -> str:
    return await _achat_stream(raw.parse())


async def _astreaming_response(manager: Any) -> str:
    async with manager as response:
        assert isinstance(response, openai._response.AsyncAPIResponse)
        return _text_of_chat(await response.parse())


async def _astreaming_response_stream(manager: Any) -> str:
    async with manager as response:
        return await _achat_stream(await response.parse())


async def _same(value: Any) -> Any:
    return value


def _plain(read: Callable[[Any], str]) -> Callable[[Any], Awaitable[str]]:
    return lambda result: _same(read(result))


# (the call awaited inside the stage, or a manager returned unawaited; how the caller
# consumes what it returned)
ASYNC: dict[str, tuple[bool, Callable[[Any], Awaitable[str]]]] = {
    "chat.completions.create": (True, _plain(_text_of_chat)),
    "chat.completions.create(stream=True)": (True, _achat_stream),
    "chat.completions.stream() iterated": (False, _amanager_events),
    "chat.completions.stream() get_final_completion": (False, _amanager_final),
    "responses.create": (True, _plain(lambda r: r.output_text)),
    "responses.create(stream=True)": (True, _aresponses_events),
    "responses.stream() get_final_response": (False, _aresponses_manager_final),
    "anthropic messages.with_raw_response": (True, _araw_message),
    "responses.stream() iterated": (False, _aresponses_manager),
    "chat.completions.with_raw_response(stream=True)": (True, _araw_stream),
    "chat.completions.with_streaming_response": (False, _astreaming_response),
    "chat.completions.with_streaming_response(stream=True)": (False, _astreaming_response_stream),
    "anthropic messages.create": (True, _plain(lambda m: m.content[0].text)),
    "anthropic messages.create(stream=True)": (True, _aclaude_events),
    "anthropic messages.stream() text_stream": (False, _aclaude_manager),
}


def _run_async(case: str, capture: bool) -> tuple[str, dict[str, Any]]:
    """What the caller read from the async call of ``case``, and the stage's attributes."""
    call, _ = CALLS[case]
    awaited, consume = ASYNC[case]

    async def main() -> str:
        openai_client = wire_clients.async_openai_client()
        anthropic_client = wire_clients.async_anthropic_client()

        @ragsight.generation(capture=capture)
        async def answer() -> Any:
            made = call(openai_client, anthropic_client)
            return await made if awaited else made

        return await consume(await answer())

    with ragsight.testing.capture_telemetry() as telemetry:
        text = asyncio.run(main())
        return text, _attrs(telemetry)


@pytest.mark.parametrize("case", list(ASYNC))
def test_async_shape_is_read_and_returned_unchanged(case):
    text, attrs = _run_async(case, capture=False)
    assert text == "Paris"
    _check(attrs, CALLS[case][1])


@pytest.mark.parametrize("case", list(ASYNC))
def test_async_shape_captures_the_generated_text(case):
    _, attrs = _run_async(case, capture=True)
    assert _output_text(attrs) == "Paris"


def test_async_embeddings_response_is_read(telemetry):
    async def main() -> None:
        client = wire_clients.async_openai_client()

        @ragsight.embedding
        async def embed() -> Any:
            return await client.embeddings.create(model="e", input="Paris")

        assert len((await embed()).data[0].embedding) == 6

    asyncio.run(main())
    _check(_attrs(telemetry), EMBED)


# ---- the messages really sent, read from the request a returned object carries --------
SENT = [
    {"role": "system", "content": "Answer from the context only."},
    {"role": "user", "content": "Context: Paris is the capital of France.\nQ: capital?"},
]


def _sent_messages(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(attrs[names.GEN_AI_INPUT_MESSAGES])


def _as_messages(sent: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in sent]


@pytest.mark.parametrize("raw", [False, True], ids=["stream", "with_raw_response"])
def test_input_messages_are_the_request_a_returned_stream_sent(raw):
    client = wire_clients.openai_client()
    create = (
        client.chat.completions.with_raw_response.create if raw else client.chat.completions.create
    )

    @ragsight.generation(capture=True)
    def answer(question: str) -> Any:  # builds the prompt itself: the question is not it
        return create(model="m", messages=SENT, stream=True)

    with ragsight.testing.capture_telemetry() as telemetry:
        result = answer("capital?")
        _chat_stream(result.parse() if raw else result)
    assert _sent_messages(_attrs(telemetry)) == _as_messages(SENT)


def test_anthropic_system_prompt_sent_is_the_system_instructions():
    client = wire_clients.anthropic_client()

    @ragsight.generation(capture=True)
    def answer(question: str) -> Any:
        return client.messages.create(
            model="c", max_tokens=64, system="Be brief.", messages=MSGS, stream=True
        )

    with ragsight.testing.capture_telemetry() as telemetry:
        _claude_events(answer("capital?"))
    attrs = _attrs(telemetry)
    assert _sent_messages(attrs) == _as_messages(MSGS)
    assert json.loads(attrs[names.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."}
    ]


# ---- a stream that fails after its first chunks ends the stage with the client's error --
def _openai_failing_midway(request: httpx.Request) -> httpx.Response:
    error = {"error": {"message": "The server is overloaded", "type": "server_error"}}
    body = wire.sse(wire.chat_chunks(usage=False)[:2]) + wire.sse([error])
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def _anthropic_failing_midway(request: Any) -> Any:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    body = wire.sse([*wire.message_events()[:4], error], named=True)
    return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})


def test_openai_stream_failing_midway_records_the_error_and_the_first_chunk(telemetry):
    client = wire_clients.openai_client(_openai_failing_midway)

    @ragsight.generation
    def answer() -> Any:
        return client.chat.completions.create(model="m", messages=MSGS, stream=True)

    with pytest.raises(openai.APIError):
        for _ in answer():
            pass
    attrs = _attrs(telemetry)
    assert attrs[names.ERROR_TYPE] == "openai.APIError"
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attrs


def test_anthropic_stream_failing_midway_records_the_error_and_the_input_tokens(telemetry):
    client = wire_clients.anthropic_client(_anthropic_failing_midway)

    @ragsight.generation
    def answer() -> Any:
        return client.messages.stream(model="c", max_tokens=64, messages=MSGS)

    with pytest.raises(anthropic.APIStatusError), answer() as stream:
        "".join(stream.text_stream)
    attrs = _attrs(telemetry)
    assert attrs[names.ERROR_TYPE] == "anthropic.APIStatusError"
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attrs


# ---- what is captured from each real-client shape is valid GenAI message content ------
SCHEMAS = Path(__file__).parents[1] / "schemas" / "semantic-conventions-v1.41.0"
SCHEMA_OF = {
    names.GEN_AI_INPUT_MESSAGES: "gen-ai-input-messages.json",
    names.GEN_AI_OUTPUT_MESSAGES: "gen-ai-output-messages.json",
    names.GEN_AI_SYSTEM_INSTRUCTIONS: "gen-ai-system-instructions.json",
}


@pytest.mark.parametrize("case", list(SYNC))
def test_captured_messages_of_each_shape_match_the_conventions_schemas(case):
    call, _ = CALLS[case]
    consume = SYNC[case]
    openai_client, anthropic_client = wire_clients.openai_client(), wire_clients.anthropic_client()

    @ragsight.generation(capture=True)
    def answer(messages: list[dict[str, str]]) -> Any:
        return call(openai_client, anthropic_client)

    with ragsight.testing.capture_telemetry() as telemetry:
        consume(answer(MSGS))
    attrs = _attrs(telemetry)
    assert names.GEN_AI_INPUT_MESSAGES in attrs
    for attribute, file in SCHEMA_OF.items():
        if attribute in attrs:
            schema = json.loads((SCHEMAS / file).read_text())
            jsonschema.validate(json.loads(attrs[attribute]), schema)
