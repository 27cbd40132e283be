"""Captured content is the data that was really there (issue 9): models and dataclasses
as their fields, token counts as numbers, secrets hidden by name and by shape, and
``gen_ai.input.messages`` only from the messages actually sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import ragsight
from ragsight import names
from ragsight._core import content as _content
from ragsight._core.policy import ContentPolicy
from ragsight.testing import Telemetry, capture_telemetry

REDACTED = _content.REDACTED


class _Model:
    """What pydantic v2 models expose to ragsight (openai's ChatCompletion is one)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def model_dump(self) -> dict[str, Any]:
        return self._data


COMPLETION = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}


def _captured(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with capture_telemetry() as telemetry:
        fn(*args, **kwargs)
    return _attributes(telemetry)


def _attributes(telemetry: Telemetry) -> dict[str, Any]:
    (span,) = telemetry.spans
    return dict(span.attributes or {})


@ragsight.generation(capture=True)
def _returns(value: Any) -> Any:
    return value


def test_a_model_result_is_captured_as_its_model_dump_data() -> None:
    output = json.loads(_captured(_returns, _Model(COMPLETION))[names.RAG_OUTPUT])
    assert output["choices"][0]["message"] == {"role": "assistant", "content": "Paris"}


def test_nested_dataclasses_are_captured_as_their_fields() -> None:
    @dataclass
    class Message:
        role: str
        content: str

    @dataclass
    class Choice:
        message: Message
        finish_reason: str

    @dataclass
    class Completion:
        choices: list[Choice]

    result = Completion([Choice(Message("assistant", "Paris"), "stop")])
    output = json.loads(_captured(_returns, result)[names.RAG_OUTPUT])
    assert output == {
        "choices": [{"message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}]
    }


def test_token_counts_in_results_are_numbers_not_redacted() -> None:
    output = json.loads(_captured(_returns, _Model(COMPLETION))[names.RAG_OUTPUT])
    assert output["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


def test_token_count_arguments_are_numbers_not_redacted() -> None:
    @ragsight.generation(capture=True)
    def chat(prompt: str, max_tokens: int, maxTokens: int, token_count: int) -> str:
        return "ok"

    captured = json.loads(_captured(chat, "hi", 256, 128, 7)[names.RAG_INPUT])
    assert captured == {"prompt": "hi", "max_tokens": 256, "maxTokens": 128, "token_count": 7}


@pytest.mark.parametrize("name", ["pin", "password", "otp", "access_token", "session_id"])
def test_numbers_under_secret_names_are_redacted(name: str) -> None:
    red = _content.redactor(ContentPolicy(capture=True))
    assert red.value({name: 12345678}) == {name: REDACTED}


def test_secret_named_keys_are_redacted_at_any_depth() -> None:
    red = _content.redactor(ContentPolicy(capture=True))
    value = {"config": {"apiKey": "abc123", "headers": {"Authorization": "xyz"}, "db": "main"}}
    assert red.value(value) == {
        "config": {"apiKey": REDACTED, "headers": {"Authorization": REDACTED}, "db": "main"}
    }


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU",
        "AKIA" + "ABCDEFGHIJKLMNOP",
    ],
)
def test_secret_shaped_values_under_ordinary_names_are_redacted(secret: str) -> None:
    red = _content.redactor(ContentPolicy(capture=True))
    found = red.value({"note": f"use {secret} here", "items": [secret]})
    assert secret not in json.dumps(found)
    assert found["note"] == f"use {REDACTED} here"


def test_input_messages_are_the_messages_argument_sent() -> None:
    @ragsight.generation(capture=True)
    def chat(messages: list[dict[str, str]]) -> str:
        return "Paris"

    sent = [
        {"role": "system", "content": "Answer from the context."},
        {"role": "user", "content": "Context: ...\nQuestion: capital of France?"},
    ]
    captured = json.loads(_captured(chat, sent)[names.GEN_AI_INPUT_MESSAGES])
    assert captured == [
        {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in sent
    ]


def test_a_long_conversation_keeps_its_system_prompt_and_latest_turns() -> None:
    # the latest user turn is the question being answered: it must survive the item bound
    @ragsight.generation(capture=True)
    def chat(messages: list[dict[str, str]]) -> str:
        return "Paris"

    history = [
        {"role": "user" if i % 2 else "assistant", "content": f"turn {i}"} for i in range(40)
    ]
    sent = [{"role": "system", "content": "Answer from the context."}, *history]
    captured = json.loads(_captured(chat, sent)[names.GEN_AI_INPUT_MESSAGES])
    contents = [m["parts"][0]["content"] for m in captured]
    assert len(captured) == _content._MAX_ITEMS
    assert contents[0] == "Answer from the context."
    assert contents[-1] == "turn 39"
    assert contents[1:] == [f"turn {i}" for i in range(40 - (_content._MAX_ITEMS - 1), 40)]


def test_a_question_argument_is_not_taken_for_the_messages_sent() -> None:
    @ragsight.generation(capture=True)
    def answer(question: str) -> str:
        # the prompt really sent wraps the question in instructions and context
        return "Paris"

    captured = _captured(answer, "capital of France?")
    assert names.GEN_AI_INPUT_MESSAGES not in captured
    assert json.loads(captured[names.RAG_INPUT]) == {"question": "capital of France?"}


def test_a_prompt_argument_is_the_one_user_message_sent() -> None:
    @ragsight.generation(capture=True)
    def complete(prompt: str) -> str:
        return "Paris"

    captured = json.loads(_captured(complete, "capital of France?")[names.GEN_AI_INPUT_MESSAGES])
    assert captured == [
        {"role": "user", "parts": [{"type": "text", "content": "capital of France?"}]}
    ]
