"""Side by side with OpenTelemetry's own GenAI instrumentation helper, opentelemetry-util-genai.

The same operations (a chat completion and an embeddings call through the real openai
client over an httpx mock, a retrieval, a tool call and a workflow) are recorded once
through util-genai's ``TelemetryHandler``, told what an instrumentation of that call would
tell it, and once through ragsight's stage decorators. Both are captured with in-memory
exporters and compared: span name and kind, the span's attribute keys, and per metric its
unit, instrument type and attribute keys. ragsight's own ``rag.*`` names are left out of
the comparison (util-genai has no RAG namespace; tests/unit/core checks them).

Every difference must be listed in ``ALLOWED`` with its reason, and every listed
difference must still occur, so the list is exactly what differs today.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.genai.handler import TelemetryHandler

import ragsight
from ragsight import names
from ragsight._core import semconv as _semconv
from ragsight.testing import capture_telemetry

UTIL_GENAI = "1.3b0"
CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
SERVER = "api.openai.com"  # what an instrumentation reads from the client's base URL

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
EMBEDDINGS = {
    "object": "list",
    "model": "text-embedding-3-small",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
    "usage": {"prompt_tokens": 4, "total_tokens": 4},
}


def _chunks() -> bytes:
    """A streamed chat completion with usage in its last chunk (stream_options)."""
    base = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": COMPLETION["model"],
    }
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Par"}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "is"}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}},
    ]
    return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()


def _client() -> openai.OpenAI:
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content or b"{}").get("stream"):
            return httpx.Response(
                200, content=_chunks(), headers={"content-type": "text/event-stream"}
            )
        body = EMBEDDINGS if request.url.path.endswith("/embeddings") else COMPLETION
        return httpx.Response(200, json=body)

    return openai.OpenAI(
        api_key="sk-test",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )


# ----------------------------------------------------------------- util-genai's side --
def _util_chat(handler: TelemetryHandler) -> None:
    client = _client()
    with handler.inference(
        "openai", request_model=CHAT_MODEL, server_address=SERVER, server_port=443
    ) as invocation:
        invocation.temperature = 0.2
        invocation.max_tokens = 50
        response = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "Capital of France?"}],
            temperature=0.2,
            max_tokens=50,
        )
        invocation.response_model_name = response.model
        invocation.response_id = response.id
        invocation.finish_reasons = [c.finish_reason for c in response.choices]
        assert response.usage is not None
        invocation.input_tokens = response.usage.prompt_tokens
        invocation.output_tokens = response.usage.completion_tokens


def _util_chat_stream(handler: TelemetryHandler) -> None:
    client = _client()
    with handler.inference(
        "openai", request_model=CHAT_MODEL, server_address=SERVER, server_port=443
    ) as invocation:
        stream = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "Capital of France?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            invocation.record_stream_chunk()
            invocation.response_model_name = chunk.model
            invocation.response_id = chunk.id
            if chunk.usage is not None:
                invocation.input_tokens = chunk.usage.prompt_tokens
                invocation.output_tokens = chunk.usage.completion_tokens
        invocation.finish_reasons = ["stop"]


def _util_embeddings(handler: TelemetryHandler) -> None:
    client = _client()
    with handler.embedding(
        "openai", request_model=EMBEDDING_MODEL, server_address=SERVER, server_port=443
    ) as invocation:
        response = client.embeddings.create(model=EMBEDDING_MODEL, input="Paris")
        invocation.response_model_name = response.model
        invocation.input_tokens = response.usage.prompt_tokens
        invocation.dimension_count = len(response.data[0].embedding)


def _util_retrieval(handler: TelemetryHandler) -> None:
    with handler.retrieval(data_source_id="kb-main") as invocation:
        invocation.top_k = 2


def _util_tool(handler: TelemetryHandler) -> None:
    with handler.tool("lookup"):
        pass


def _util_workflow(handler: TelemetryHandler) -> None:
    with handler.workflow("answer_question"):
        pass


# ------------------------------------------------------------------- ragsight's side --
@ragsight.generation(provider="openai", model=CHAT_MODEL)
def chat(client: openai.OpenAI, question: str, *, temperature: float, max_tokens: int) -> Any:
    return client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": question}],
        temperature=temperature,
        max_tokens=max_tokens,
    )


@ragsight.generation(provider="openai", model=CHAT_MODEL)
def chat_stream(client: openai.OpenAI, question: str) -> Any:
    return client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
    )


def _consume_chat_stream() -> None:
    for _chunk in chat_stream(_client(), "Capital of France?"):
        pass


@ragsight.embedding(provider="openai", model=EMBEDDING_MODEL)
def embed(client: openai.OpenAI, text: str) -> Any:
    return client.embeddings.create(model=EMBEDDING_MODEL, input=text)


@ragsight.retrieval(data_source="kb-main", top_k=2)
def search(query: str) -> list[dict[str, Any]]:
    return [{"id": "d1", "score": 0.9}, {"id": "d2", "score": 0.7}]


@ragsight.tool("lookup")
def lookup(key: str) -> str:
    return "value"


@ragsight.pipeline("answer_question")
def answer_question() -> str:
    return "Paris"


@dataclass(frozen=True)
class Operation:
    util: Callable[[TelemetryHandler], None]
    ragsight: Callable[[], Any]


OPERATIONS = {
    "chat": Operation(
        _util_chat, lambda: chat(_client(), "Capital of France?", temperature=0.2, max_tokens=50)
    ),
    "chat_stream": Operation(_util_chat_stream, _consume_chat_stream),
    "embeddings": Operation(_util_embeddings, lambda: embed(_client(), "Paris")),
    "retrieval": Operation(_util_retrieval, lambda: search("capital of France")),
    "execute_tool": Operation(_util_tool, lambda: lookup("k")),
    "invoke_workflow": Operation(_util_workflow, answer_question),
}


# ----------------------------------------------------------------------- comparison --
@dataclass(frozen=True)
class Shape:
    """What is compared: names, kinds and key sets, never values or timings."""

    span: tuple[str, str]
    span_attributes: frozenset[str]
    metrics: dict[str, tuple[str, str, frozenset[str]]]  # name -> unit, type, keys


def _compared(key: str) -> bool:
    """ragsight's own namespaces (util-genai has no counterpart) are left out: a process-wide
    instrument such as the retry budget's gauge reports whatever ran before in the session."""
    return not key.startswith(("rag.", "ragsight.", "resilience."))


def _shape(spans: list[ReadableSpan], data: Any) -> Shape:
    (span,) = spans
    metrics: dict[str, tuple[str, str, frozenset[str]]] = {}
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not _compared(metric.name):
                    continue
                keys = frozenset(
                    k for point in metric.data.data_points for k in point.attributes or {}
                )
                metrics[metric.name] = (metric.unit, type(metric.data).__name__, keys)
    return Shape(
        (span.name, span.kind.name),
        frozenset(k for k in span.attributes or {} if _compared(k)),
        metrics,
    )


def _util_shape(operation: Operation) -> Shape:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    try:
        operation.util(TelemetryHandler(tracer_provider, meter_provider))
        return _shape(list(exporter.get_finished_spans()), reader.get_metrics_data())
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()


def _ragsight_shape(operation: Operation) -> Shape:
    with capture_telemetry() as telemetry:
        operation.ragsight()
        return _shape(telemetry.spans, telemetry._reader.get_metrics_data())


def differences(util: Shape, ours: Shape) -> set[str]:
    """Each difference as one readable line (the keys of ``ALLOWED``)."""
    found: set[str] = set()
    if util.span != ours.span:
        found.add(f"span {util.span} vs {ours.span}")
    found |= {f"span attribute {k} only in util-genai" for k in util.span_attributes}
    found -= {f"span attribute {k} only in util-genai" for k in ours.span_attributes}
    found |= {
        f"span attribute {k} only in ragsight" for k in ours.span_attributes - util.span_attributes
    }
    for name in util.metrics.keys() - ours.metrics.keys():
        found.add(f"metric {name} only in util-genai")
    for name in ours.metrics.keys() - util.metrics.keys():
        found.add(f"metric {name} only in ragsight")
    for name in util.metrics.keys() & ours.metrics.keys():
        (u_unit, u_type, u_keys), (o_unit, o_type, o_keys) = util.metrics[name], ours.metrics[name]
        if (u_unit, u_type) != (o_unit, o_type):
            found.add(f"metric {name} is {u_unit}/{u_type} vs {o_unit}/{o_type}")
        found |= {f"metric {name} attribute {k} only in util-genai" for k in u_keys - o_keys}
        found |= {f"metric {name} attribute {k} only in ragsight" for k in o_keys - u_keys}
    return found


# --------------------------------------------------------- the justified differences --
_LATEST_INFERENCE = (
    "util-genai 1.3b0 still records the v1.41.0 inference metrics; ragsight's default "
    "(semconv=latest) records their replacements from semantic-conventions-genai "
    "(client-inference.md, token-metrics.yaml, migration guide #374/#521); semconv=v1.41.0 "
    "records the same names as util-genai"
)
_LATEST_EMBEDDINGS = (
    "util-genai 1.3b0 records embeddings under gen_ai.client.operation.duration and "
    "gen_ai.client.token.usage; ragsight's default records the genai repository's "
    "embeddings metrics (client-embeddings.md); semconv=v1.41.0 matches util-genai"
)
_V1_41_TOP_K = (
    "semconv=v1.41.0 pins that release's gen_ai.request.top_k (v1.41.0 defines no "
    "gen_ai.retrieval.top_k); util-genai 1.3b0 and ragsight's latest use gen_ai.retrieval.top_k"
)
_NEW_SINCE_V1_41 = (
    "the metric is newer than v1.41.0 (migration guide #201/#322, #126/#341): semconv=v1.41.0 "
    "records only that release's metrics; util-genai 1.3b0 records it unconditionally"
)

_TTFC_AT_THE_END = (
    "ragsight records time_to_first_chunk with the call's other metrics when the stream "
    "ends, so the response model (recommended) is known; util-genai records it at the first "
    "chunk"
)

ALLOWED: dict[tuple[str, str], dict[str, str]] = {
    (names.SEMCONV_LATEST, "chat"): {
        "metric gen_ai.client.operation.duration only in util-genai": _LATEST_INFERENCE,
        "metric gen_ai.client.token.usage only in util-genai": _LATEST_INFERENCE,
        **{
            f"metric {spec.name} only in ragsight": _LATEST_INFERENCE
            for spec in (
                names.GEN_AI_CLIENT_INFERENCE_DURATION,
                names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
            )
        },
    },
    (names.SEMCONV_V1_41, "chat"): {},
    (names.SEMCONV_LATEST, "chat_stream"): {
        "metric gen_ai.client.operation.duration only in util-genai": _LATEST_INFERENCE,
        "metric gen_ai.client.token.usage only in util-genai": _LATEST_INFERENCE,
        "metric gen_ai.client.operation.time_to_first_chunk only in util-genai": (
            _LATEST_INFERENCE
        ),
        "metric gen_ai.client.operation.time_per_output_chunk only in util-genai": (
            _LATEST_INFERENCE
        ),
        **{
            f"metric {spec.name} only in ragsight": _LATEST_INFERENCE
            for spec in (
                names.GEN_AI_CLIENT_INFERENCE_DURATION,
                names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
                names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
                names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
            )
        },
    },
    (names.SEMCONV_V1_41, "chat_stream"): {
        f"metric {names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name} attribute "
        f"{names.GEN_AI_RESPONSE_MODEL} only in ragsight": _TTFC_AT_THE_END,
    },
    (names.SEMCONV_LATEST, "embeddings"): {
        "metric gen_ai.client.operation.duration only in util-genai": _LATEST_EMBEDDINGS,
        "metric gen_ai.client.token.usage only in util-genai": _LATEST_EMBEDDINGS,
        f"metric {names.GEN_AI_CLIENT_EMBEDDINGS_DURATION.name} only in ragsight": (
            _LATEST_EMBEDDINGS
        ),
        f"metric {names.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS.name} only in ragsight": (
            _LATEST_EMBEDDINGS
        ),
    },
    (names.SEMCONV_V1_41, "embeddings"): {},
    (names.SEMCONV_LATEST, "retrieval"): {},
    (names.SEMCONV_V1_41, "retrieval"): {
        f"span attribute {names.GEN_AI_REQUEST_TOP_K} only in ragsight": _V1_41_TOP_K,
        "span attribute gen_ai.retrieval.top_k only in util-genai": _V1_41_TOP_K,
    },
    (names.SEMCONV_LATEST, "execute_tool"): {},
    (names.SEMCONV_V1_41, "execute_tool"): {
        f"metric {names.GEN_AI_EXECUTE_TOOL_DURATION.name} only in util-genai": _NEW_SINCE_V1_41,
    },
    (names.SEMCONV_LATEST, "invoke_workflow"): {},
    (names.SEMCONV_V1_41, "invoke_workflow"): {
        f"metric {names.GEN_AI_INVOKE_WORKFLOW_DURATION.name} only in util-genai": (
            _NEW_SINCE_V1_41
        ),
    },
}


@pytest.fixture(params=names.SEMCONV_MODES)
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    _semconv.set_mode(request.param)  # as configure(semconv=...) does, before any instrument
    try:
        yield request.param
    finally:
        _semconv.reset_for_tests()


def test_the_compared_util_genai_is_the_pinned_release() -> None:
    assert importlib.metadata.version("opentelemetry-util-genai") == UTIL_GENAI


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_ragsight_differs_from_util_genai_only_as_listed(operation: str, mode: str) -> None:
    found = differences(_util_shape(OPERATIONS[operation]), _ragsight_shape(OPERATIONS[operation]))
    allowed = ALLOWED[(mode, operation)]
    assert sorted(found - allowed.keys()) == [], "unlisted differences"
    assert sorted(allowed.keys() - found) == [], "listed differences that no longer occur"
