"""Wire payloads of the OpenAI and Anthropic APIs, as their servers send them, for the
real-library tier: the clients parse these into their own objects (tests/libs).

Bodies follow the APIs' documented responses and server-sent event streams; numbers are
distinct per endpoint so a test reading the wrong one fails.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Iterable
from typing import Any

import httpx

CHAT_MODEL = "gpt-4o-mini-2024-07-18"
EMBED_MODEL = "text-embedding-3-small"
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-AbC1",
    "object": "chat.completion",
    "created": 1733011200,
    "model": CHAT_MODEL,
    "system_fingerprint": "fp_0ba0d124f1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
}


def sse(events: Iterable[dict[str, Any]], *, named: bool = False, done: bool = False) -> bytes:
    """A server-sent event body: ``data:`` lines (with ``event:`` names when ``named``,
    as the Responses and Anthropic APIs send them), and OpenAI chat's ``[DONE]``."""
    out = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(event)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def chat_chunks(*, usage: bool = True) -> list[dict[str, Any]]:
    """``chat.completions.create(stream=True, stream_options={"include_usage": True})``:
    the usage arrives in a last chunk whose ``choices`` is empty."""
    base = {
        "id": "chatcmpl-Str1",
        "object": "chat.completion.chunk",
        "created": 1733011200,
        "model": CHAT_MODEL,
        "system_fingerprint": "fp_0ba0d124f1",
    }
    none = {"usage": None} if usage else {}
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], **none},
        {"choices": [{"index": 0, "delta": {"content": "Pa"}, "finish_reason": None}], **none},
        {"choices": [{"index": 0, "delta": {"content": "ris"}, "finish_reason": None}], **none},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **none},
    ]
    if usage:
        chunks.append(
            {
                "choices": [],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            }
        )
    return [{**base, **c} for c in chunks]


RESPONSE: dict[str, Any] = {
    "id": "resp_67ccd2bed1ec8190",
    "object": "response",
    "created_at": 1733011200,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Paris", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 21,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 25,
    },
    "user": None,
    "metadata": {},
}


def response_events() -> list[dict[str, Any]]:
    """``responses.create(stream=True)``: typed events, the full response at the end."""
    created = {**RESPONSE, "status": "in_progress", "output": [], "usage": None}
    item = {k: v for k, v in RESPONSE["output"][0].items() if k != "content"}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "part": part,
        },
    ]
    for delta in ("Pa", "ris"):
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            }
        )
    events += [
        {
            "type": "response.output_text.done",
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "text": "Paris",
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "part": {**part, "text": "Paris"},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": RESPONSE["output"][0]},
        {"type": "response.completed", "response": RESPONSE},
    ]
    return [{**e, "sequence_number": n} for n, e in enumerate(events)]


EMBEDDING_VECTOR = [0.25, -0.5, 0.125, 1.0, 0.0, -0.75]


def embeddings(request: httpx.Request) -> dict[str, Any]:
    """``embeddings.create``: base64 floats when the client asked for them (the openai
    client asks by default and decodes them itself), else a JSON list."""
    body = json.loads(request.content)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    encoded = body.get("encoding_format") == "base64"
    packed = base64.b64encode(struct.pack(f"<{len(EMBEDDING_VECTOR)}f", *EMBEDDING_VECTOR))
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": packed.decode() if encoded else EMBEDDING_VECTOR,
        }
        for i in range(len(inputs))
    ]
    return {
        "object": "list",
        "data": data,
        "model": EMBED_MODEL,
        "usage": {"prompt_tokens": 5 * len(inputs), "total_tokens": 5 * len(inputs)},
    }


MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": CLAUDE_MODEL,
    "content": [{"type": "text", "text": "Paris"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 14,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}


def message_events() -> list[dict[str, Any]]:
    """``messages.create(stream=True)`` / ``messages.stream()``: input tokens arrive in
    ``message_start``, output tokens and the stop reason in ``message_delta``."""
    start = {
        **MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 17, "output_tokens": 1},
    }
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Pa"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ris"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"output_tokens": 6},
        },
        {"type": "message_stop"},
    ]


def openai_handler(request: httpx.Request) -> httpx.Response:
    """The OpenAI endpoints the tier drives; ``"model": "fail"`` answers 500."""
    body = json.loads(request.content) if request.content else {}
    if body.get("model") == "fail":
        return httpx.Response(500, json={"error": {"message": "The server had an error"}})
    stream = bool(body.get("stream"))
    path = request.url.path
    headers = {"content-type": "text/event-stream"}
    if path.endswith("/chat/completions"):
        if stream:
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return httpx.Response(
                200, content=sse(chat_chunks(usage=include), done=True), headers=headers
            )
        return httpx.Response(200, json=COMPLETION)
    if path.endswith("/responses"):
        if stream:
            return httpx.Response(200, content=sse(response_events(), named=True), headers=headers)
        return httpx.Response(200, json=RESPONSE)
    if path.endswith("/embeddings"):
        return httpx.Response(200, json=embeddings(request))
    return httpx.Response(404, json={"error": {"message": f"no route {path}"}})


def anthropic_handler(make: Callable[..., Any]) -> Callable[[Any], Any]:
    """The Anthropic messages endpoint, for an httpx-compatible module's ``Response``
    (``make``: anthropic 2 ships its own ``httpx2``)."""

    def handler(request: Any) -> Any:
        body = json.loads(request.content)
        if body.get("stream"):
            return make(
                200,
                content=sse(message_events(), named=True),
                headers={"content-type": "text/event-stream"},
            )
        return make(200, json=MESSAGE)

    return handler
