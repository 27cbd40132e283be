"""Captured content validates against the GenAI conventions' JSON schemas (tests/schemas).

Content is captured through the public API (stage decorators, ragsight.testing) with
capture on, in each conventions mode, and every captured value is checked twice: against
the schema as published (which accepts any role, finish reason or part type through its
``anyOf ... string`` and generic branches), and strictly, where ragsight must use the
schema's own well-known values: roles from ``Role``, finish reasons from ``FinishReason``
and parts that are one of the named part types, never only the generic one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import ragsight
from ragsight import names
from ragsight.testing import capture_telemetry

SCHEMAS = Path(__file__).parents[2] / "schemas"
V1_41 = SCHEMAS / "semantic-conventions-v1.41.0"
GENAI = SCHEMAS / "semantic-conventions-genai"

SCHEMA_FILES = {
    names.GEN_AI_INPUT_MESSAGES: [V1_41 / "gen-ai-input-messages.json"],
    names.GEN_AI_OUTPUT_MESSAGES: [V1_41 / "gen-ai-output-messages.json"],
    names.GEN_AI_SYSTEM_INSTRUCTIONS: [
        V1_41 / "gen-ai-system-instructions.json",
        GENAI / "gen-ai-system-instructions.json",
    ],
    names.GEN_AI_RETRIEVAL_DOCUMENTS: [
        V1_41 / "gen-ai-retrieval-documents.json",
        GENAI / "gen-ai-retrieval-documents.json",
    ],
}
GENERIC_PARTS = {"GenericPart", "UnknownSystemInstructionPart"}
# Finish reasons outside the schema's FinishReason enum that ragsight passes through, each
# with its reason. The schema accepts any string there (anyOf FinishReason or string).
PASSED_THROUGH_FINISH_REASONS = {
    "end_turn": "Anthropic's stop_reason, kept as the provider reported it: the schema "
    "allows provider values and gen_ai.response.finish_reasons carries the same value",
}


def _schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _strict_problems(value: Any, schema: dict[str, Any]) -> list[str]:
    """Where ``value`` passes only through the schema's catch-all branches."""
    defs = schema.get("$defs", {})
    roles = set(defs.get("Role", {}).get("enum", ()))
    reasons = set(defs.get("FinishReason", {}).get("enum", ())) | set(PASSED_THROUGH_FINISH_REASONS)
    named_parts = [n for n in defs if n.endswith("Part") and n not in GENERIC_PARTS]

    def named_part(part: Any) -> bool:
        return any(
            jsonschema.Draft202012Validator({"$ref": f"#/$defs/{n}", "$defs": defs}).is_valid(part)
            for n in named_parts
        )

    problems: list[str] = []
    items = value if isinstance(value, list) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        if "role" in item and roles and item["role"] not in roles:
            problems.append(f"role {item['role']!r} is not one of {sorted(roles)}")
        if "finish_reason" in item and reasons and item["finish_reason"] not in reasons:
            problems.append(f"finish_reason {item['finish_reason']!r} not in {sorted(reasons)}")
        parts = item.get("parts") if "parts" in item else [item] if "type" in item else []
        for part in parts:
            if named_parts and not named_part(part):
                problems.append(f"part {part!r} matches only the generic part type")
    return problems


def _check(attribute: str, raw: Any) -> None:
    assert isinstance(raw, str), f"{attribute} is a JSON string on spans"
    value = json.loads(raw)
    for path in SCHEMA_FILES[attribute]:
        schema = _schema(path)
        jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
        assert _strict_problems(value, schema) == [], f"{path.name}: {value}"


@dataclass(frozen=True)
class Answer:  # an OpenAI chat completion's shape
    choices: list[Any]


@dataclass(frozen=True)
class Message:
    content: str | None


@dataclass(frozen=True)
class Choice:
    message: Message
    finish_reason: str


@ragsight.generation(provider="openai", model="gpt-4o-mini")
def chat(messages: list[dict[str, Any]], system: str | None = None) -> Any:
    return "Paris."


@ragsight.generation(provider="openai", model="gpt-4o-mini")
def chat_completion(messages: list[dict[str, Any]]) -> Answer:
    return Answer([Choice(Message("Paris."), "stop"), Choice(Message("It is Paris."), "length")])


@ragsight.generation(provider="anthropic", model="claude-sonnet-4")
def anthropic_tool_use(messages: list[dict[str, Any]], system: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [{"type": "text", "text": "Looking it up."}],
        "stop_reason": "end_turn",
    }


@ragsight.generation(provider="openai", model="gpt-4o-mini")
def ask(prompt: str) -> str:
    return "Paris."


CHAT_MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}]},
    {"role": "user", "content": "Well?"},
]
CALLS: dict[str, Callable[[], Any]] = {
    "messages and system instructions": lambda: chat(CHAT_MESSAGES, system="Be brief."),
    "an OpenAI-style completion": lambda: chat_completion(CHAT_MESSAGES),
    "Anthropic content blocks": lambda: anthropic_tool_use(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "tool_use", "name": "weather", "id": "t1", "input": {}},
                ],
            }
        ],
        system="Use tools.",
    ),
    "a single prompt": lambda: ask("Capital of France?"),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
@pytest.mark.usefixtures("content_on")
def test_captured_messages_match_the_conventions_schemas(call: str, mode: str) -> None:
    with capture_telemetry() as telemetry:
        CALLS[call]()
    (span,) = telemetry.spans
    attributes = dict(span.attributes or {})
    captured = [a for a in SCHEMA_FILES if a in attributes]
    assert names.GEN_AI_INPUT_MESSAGES in captured
    assert names.GEN_AI_OUTPUT_MESSAGES in captured
    for attribute in captured:
        _check(attribute, attributes[attribute])


@pytest.mark.usefixtures("content_on")
def test_system_instructions_are_captured_apart_and_match_the_schemas(mode: str) -> None:
    with capture_telemetry() as telemetry:
        chat(CHAT_MESSAGES, system="Be brief.")
    attributes = dict(telemetry.spans[0].attributes or {})
    _check(names.GEN_AI_SYSTEM_INSTRUCTIONS, attributes[names.GEN_AI_SYSTEM_INSTRUCTIONS])


RETRIEVERS: dict[str, Any] = {
    "scored dicts": [{"id": "d1", "text": "a", "score": 0.9}, {"id": "d2", "score": 0.4}],
    "LangChain-like objects": [
        type("Document", (), {"id": "d1", "page_content": "a", "metadata": {"score": 0.8}})()
    ],
}


@pytest.mark.parametrize("shape", list(RETRIEVERS), ids=list(RETRIEVERS))
@pytest.mark.usefixtures("content_on")
def test_captured_retrieval_documents_match_the_conventions_schemas(shape: str, mode: str) -> None:
    @ragsight.retrieval(data_source="kb-main", top_k=2)
    def search(query: str) -> Any:
        return RETRIEVERS[shape]

    with capture_telemetry() as telemetry:
        search("capital of France")
    attributes = dict(telemetry.spans[0].attributes or {})
    _check(names.GEN_AI_RETRIEVAL_DOCUMENTS, attributes[names.GEN_AI_RETRIEVAL_DOCUMENTS])


def test_the_strict_check_rejects_values_only_the_catch_all_branches_accept() -> None:
    schema = _schema(V1_41 / "gen-ai-output-messages.json")
    made_up = [{"role": "oracle", "parts": [{"type": "hunch"}], "finish_reason": "bored"}]
    jsonschema.validate(made_up, schema, cls=jsonschema.Draft202012Validator)
    assert len(_strict_problems(made_up, schema)) == 3
