"""What ragsight emits in each conventions mode, checked against the official
opentelemetry-semantic-conventions package (pinned in the dev extras).

tests/unit/core/test_conformance_semconv_package.py checks the names ``names.CONVENTIONS``
claims from the core package. This file checks what a pipeline of every stage kind really
emits, per mode (``semconv=latest`` and ``semconv=v1.41.0``): every ``gen_ai.*`` attribute,
metric and metric attribute, and every enum value (operation, provider, token type,
``error.type``'s ``_OTHER``).

- v1.41.0 pins a core release, so everything it emits must be in the package, and nothing
  it emits may be one the package marks removed or replaced (names the package marks as
  moved to semantic-conventions-genai are fine: that is every gen_ai.* name today).
- latest may emit names the core package never had; each must then have a conformance row
  citing where it is defined instead (the genai repository, util-genai or ragsight).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as metrics
from opentelemetry.semconv.attributes import error_attributes

import ragsight
from ragsight import names
from ragsight.testing import capture_telemetry


def _constants(module: ModuleType) -> dict[str, str]:
    """Each string constant's value -> its docstring (the package documents deprecations
    in the string literal that follows the constant)."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, str] = {}
    body = tree.body
    for statement, following in zip(body, [*body[1:], None], strict=True):
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)):
            continue
        value = statement.value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            continue
        doc = ""
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = following.value.value
        found[value.value] = doc.strip()
    return found


PACKAGE_ATTRIBUTES = _constants(attributes)
PACKAGE_METRICS = _constants(metrics)


def _values(enum: type[Enum]) -> set[str]:
    return {str(member.value) for member in enum}


def _deprecation(doc: str) -> str:
    return next((line for line in doc.splitlines() if line.startswith("Deprecated:")), "")


# --------------------------------------------------------------------- the pipeline --
@dataclass
class Emitted:
    span_attributes: set[str] = field(default_factory=set)
    metric_names: set[str] = field(default_factory=set)
    metric_attributes: set[str] = field(default_factory=set)
    values: dict[str, set[Any]] = field(default_factory=dict)  # attribute -> values seen

    def add(self, key: str, value: Any) -> None:
        self.values.setdefault(key, set()).add(value if not isinstance(value, list) else None)


def _completion(model: str) -> Any:
    return SimpleNamespace(
        id="chatcmpl-1",
        model=model,
        usage=SimpleNamespace(prompt_tokens=12, completion_tokens=4, total_tokens=16),
        choices=[
            SimpleNamespace(
                finish_reason="stop", message=SimpleNamespace(role="assistant", content="Paris")
            )
        ],
    )


@ragsight.retrieval(data_source="kb-main", top_k=2)
def search(query: str) -> list[dict[str, Any]]:
    return [{"id": "d1", "score": 0.9}, {"id": "d2", "score": 0.6}]


@ragsight.embedding(provider="openai", model="text-embedding-3-small")
def embed(text: str) -> Any:
    return SimpleNamespace(
        model="text-embedding-3-small",
        data=[SimpleNamespace(embedding=[0.1, 0.2, 0.3])],
        usage=SimpleNamespace(prompt_tokens=3, total_tokens=3),
    )


@ragsight.rerank(provider="cohere", model="rerank-v3.5", top_n=1)
def rerank(query: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return documents[:1]


@ragsight.generation(provider="openai", model="gpt-4o-mini")
def answer(messages: list[dict[str, str]], temperature: float = 0.2, max_tokens: int = 64) -> Any:
    return _completion("gpt-4o-mini-2024-07-18")


@ragsight.generation(provider="openai", model="gpt-4o-mini")
def stream_answer(messages: list[dict[str, str]], stream: bool = True) -> Iterator[Any]:
    yield SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(content="Pa"))])
    yield SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(content="ris"))])


@ragsight.generation(provider="anthropic", model="claude-sonnet-4")
def failing_answer(messages: list[dict[str, str]]) -> Any:
    raise TimeoutError("upstream timed out")


@ragsight.tool("lookup")
def lookup(key: str) -> str:
    return "value"


@ragsight.pipeline("answer_question")
async def pipeline(question: str) -> str:
    documents = rerank(question, search(question))
    embed(question)
    messages = [{"role": "user", "content": question}]
    answer(messages, temperature=0.2, max_tokens=64)
    list(stream_answer(messages, stream=True))
    lookup("k")
    with contextlib.suppress(TimeoutError):
        failing_answer(messages)
    ragsight.record_evaluation("answer_relevance", 0.9, label="relevant")
    return str(documents)


@pytest.fixture
def emitted(mode: str, content_on: None) -> Emitted:
    with capture_telemetry() as telemetry:
        asyncio.run(pipeline("capital of France?"))
        out = Emitted()
        records: list[dict[str, Any]] = [dict(s.attributes or {}) for s in telemetry.spans]
        records += [dict(e.attributes) for e in telemetry.log_events]
        for record in records:
            for key, value in record.items():
                if key.startswith("gen_ai."):
                    out.span_attributes.add(key)
                out.add(key, value)
        for point in telemetry.collect():
            if point.name.startswith("gen_ai."):
                out.metric_names.add(point.name)
                out.metric_attributes |= {k for k in point.attributes if k.startswith("gen_ai.")}
            for key, value in point.attributes.items():
                out.add(key, value)
    return out


def test_the_pipeline_exercises_every_stage_kind(emitted: Emitted) -> None:
    operations = emitted.values[names.GEN_AI_OPERATION_NAME]
    assert {
        names.OP_RETRIEVAL,
        names.OP_EMBEDDINGS,
        names.OP_RERANK,
        names.OP_CHAT,
        names.OP_EXECUTE_TOOL,
        names.OP_INVOKE_WORKFLOW,
    } <= operations


# ---------------------------------------------------------------------- v1.41.0 --
@pytest.mark.parametrize("mode", [names.SEMCONV_V1_41], indirect=True)
def test_every_gen_ai_attribute_emitted_in_v1_41_is_in_the_package(emitted: Emitted) -> None:
    names_ = emitted.span_attributes | emitted.metric_attributes
    assert sorted(names_ - PACKAGE_ATTRIBUTES.keys()) == []


@pytest.mark.parametrize("mode", [names.SEMCONV_V1_41], indirect=True)
def test_every_gen_ai_metric_emitted_in_v1_41_is_in_the_package(emitted: Emitted) -> None:
    assert sorted(emitted.metric_names - PACKAGE_METRICS.keys()) == []


# ------------------------------------------------------------------- both modes --
def test_no_emitted_name_is_removed_or_replaced_in_the_package(emitted: Emitted) -> None:
    known = {**PACKAGE_ATTRIBUTES, **PACKAGE_METRICS}
    emitted_names = emitted.span_attributes | emitted.metric_attributes | emitted.metric_names
    stale = {
        name: _deprecation(known[name])
        for name in emitted_names & known.keys()
        if _deprecation(known[name]) and "Moved to" not in _deprecation(known[name])
    }
    assert stale == {}


def test_names_absent_from_the_package_cite_where_they_are_defined(emitted: Emitted) -> None:
    rows = {c.name: c for c in names.CONVENTIONS}
    absent = (emitted.span_attributes | emitted.metric_attributes) - PACKAGE_ATTRIBUTES.keys()
    absent |= emitted.metric_names - PACKAGE_METRICS.keys()
    uncited = sorted(
        name
        for name in absent
        if name not in rows
        or names.SRC_CORE in rows[name].defined_in
        or not any(
            source in rows[name].defined_in
            for source in ("semantic-conventions-genai", names.SRC_UTIL_GENAI, names.SRC_RAGSIGHT)
        )
    )
    assert uncited == []


def test_emitted_operations_are_package_values_or_listed_custom_values(emitted: Emitted) -> None:
    custom = {
        c.name
        for c in names.CONVENTIONS
        if c.kind == "operation" and names.SRC_CORE not in c.defined_in
    }
    operations = emitted.values[names.GEN_AI_OPERATION_NAME]
    assert operations - _values(attributes.GenAiOperationNameValues) == custom & operations
    assert custom & operations == {names.OP_RERANK}


def test_emitted_providers_are_package_values(emitted: Emitted) -> None:
    providers = emitted.values[names.GEN_AI_PROVIDER_NAME]
    assert providers == {"openai", "anthropic", "cohere"}
    assert providers <= _values(attributes.GenAiProviderNameValues)


def test_error_type_other_is_the_package_value(emitted: Emitted) -> None:
    assert error_attributes.ErrorTypeValues.OTHER.value == names.ERROR_TYPE_OTHER
    assert "TimeoutError" in emitted.values[names.ERROR_TYPE]


@pytest.mark.parametrize("mode", [names.SEMCONV_V1_41], indirect=True)
def test_token_types_on_v1_41_usage_points_are_package_values(emitted: Emitted) -> None:
    token_types = emitted.values[names.GEN_AI_TOKEN_TYPE]
    assert token_types == {names.TOKEN_TYPE_INPUT, names.TOKEN_TYPE_OUTPUT}
    assert token_types <= _values(attributes.GenAiTokenTypeValues)


@pytest.mark.parametrize("mode", [names.SEMCONV_LATEST], indirect=True)
def test_latest_usage_points_carry_no_v1_41_token_type(emitted: Emitted) -> None:
    assert names.GEN_AI_TOKEN_TYPE not in emitted.values


def test_every_well_known_provider_is_a_package_value() -> None:
    assert set(names.PROVIDERS) <= _values(attributes.GenAiProviderNameValues)
