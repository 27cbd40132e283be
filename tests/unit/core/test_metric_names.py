"""GenAI metric names per conventions mode: latest by default, v1.41.0 when pinned, never both.

The latest conventions split ``gen_ai.client.operation.duration`` by operation (inference,
embeddings), renamed time to first chunk, replaced ``gen_ai.client.token.usage`` by usage
counters and per-operation token histograms, and added tool and workflow durations
(``names.CONVENTIONS`` cites the file each name comes from).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import ragsight
from ragsight import names


class Usage:
    prompt_tokens = 120
    completion_tokens = 30


class ChatCompletion:
    model = "gpt-4o-mini-2024-07-18"
    usage = Usage()


class EmbeddingsUsage:
    prompt_tokens = 7
    total_tokens = 7


class EmbeddingsResponse:
    model = "text-embedding-3-small"
    data = ({"embedding": [0.1, 0.2, 0.3]},)
    usage = EmbeddingsUsage()


def run_sample_pipeline() -> None:
    """Every kind of stage once: a workflow with embeddings, retrieval, rerank, a tool, a
    plain and a streamed generation."""

    @ragsight.embedding(provider="openai", model="text-embedding-3-small")
    def embed(text: str) -> EmbeddingsResponse:
        return EmbeddingsResponse()

    @ragsight.retrieval(data_source="kb", top_k=2)
    def search(text: str) -> list[dict[str, Any]]:
        return [{"id": "a", "score": 0.9}, {"id": "b", "score": 0.5}]

    @ragsight.rerank(model="cross-encoder", top_n=1)
    def rerank(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return docs[:1]

    @ragsight.tool
    def lookup_weather(city: str) -> str:
        return "sunny"

    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer(text: str) -> ChatCompletion:
        return ChatCompletion()

    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer_stream(text: str) -> Iterator[str]:
        ragsight.current_stage().set_usage(input_tokens=50, output_tokens=2)
        yield "a"
        yield "b"

    @ragsight.pipeline
    def handle(question: str) -> str:
        embed(question)
        rerank(search(question))
        lookup_weather("Paris")
        answer(question)
        return "".join(answer_stream(question))

    handle("q")


def metric_names(otel: Any) -> set[str]:
    data = otel.reader.get_metrics_data()
    return {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def genai_names(mode: str) -> set[str]:
    return {spec.name for spec in names.GENAI_METRICS_BY_MODE[mode]}


def test_the_default_mode_emits_every_latest_genai_metric_and_no_v1_41_one(otel):
    run_sample_pipeline()
    emitted = {m for m in metric_names(otel) if m.startswith("gen_ai.")}
    assert emitted == genai_names(names.SEMCONV_LATEST)


def test_the_v1_41_mode_emits_the_v1_41_genai_metrics_only(otel_v1_41):
    run_sample_pipeline()
    emitted = {m for m in metric_names(otel_v1_41) if m.startswith("gen_ai.")}
    assert emitted == genai_names(names.SEMCONV_V1_41)


def test_the_modes_share_only_the_client_operation_duration():
    shared = genai_names(names.SEMCONV_LATEST) & genai_names(names.SEMCONV_V1_41)
    assert shared == {names.GEN_AI_CLIENT_OPERATION_DURATION.name}


def test_latest_client_operation_duration_is_left_to_retrieval_and_rerank(otel):
    run_sample_pipeline()
    points = otel.points(names.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert {p.attributes[names.GEN_AI_OPERATION_NAME] for p in points} == {
        names.OP_RETRIEVAL,
        names.OP_RERANK,
    }


def test_latest_inference_duration_carries_provider_and_response_model(otel):
    run_sample_pipeline()
    points = otel.points(names.GEN_AI_CLIENT_INFERENCE_DURATION.name)
    assert {p.attributes[names.GEN_AI_PROVIDER_NAME] for p in points} == {"openai"}
    assert {p.attributes.get(names.GEN_AI_RESPONSE_MODEL) for p in points} == {
        "gpt-4o-mini-2024-07-18",
        None,  # the streamed answer's chunks name no model
    }
    assert all(tuple(p.explicit_bounds) == names.GEN_AI_DURATION_BUCKETS for p in points)


def test_latest_usage_counters_sum_tokens_under_the_unknown_modality(otel):
    run_sample_pipeline()
    inputs = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS.name)
    outputs = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS.name)
    assert sum(p.value for p in inputs) == 170  # one series per response model
    assert sum(p.value for p in outputs) == 32
    for point in inputs + outputs:
        assert point.attributes[names.GEN_AI_TOKEN_MODALITY] == names.TOKEN_MODALITY_UNKNOWN
        assert names.GEN_AI_TOKEN_TYPE not in point.attributes


def test_a_failed_inference_adds_zero_tokens_to_the_usage_counters(otel):
    @ragsight.generation(provider="openai", model="m")
    def answer(text: str) -> str:
        raise TimeoutError("no answer")

    with pytest.raises(TimeoutError):
        answer("q")
    (tokens_in,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS.name)
    assert tokens_in.value == 0
    assert otel.points(names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS.name) == []


def test_latest_per_operation_token_histograms_use_the_token_buckets(otel):
    run_sample_pipeline()
    (inputs,) = [
        p
        for p in otel.points(names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS.name)
        if p.attributes.get(names.GEN_AI_RESPONSE_MODEL) is not None
    ]
    assert (inputs.count, inputs.sum) == (1, 120)
    assert tuple(inputs.explicit_bounds) == names.GEN_AI_TOKEN_BUCKETS


def test_latest_embeddings_have_their_own_duration_and_input_tokens(otel):
    run_sample_pipeline()
    (duration,) = otel.points(names.GEN_AI_CLIENT_EMBEDDINGS_DURATION.name)
    assert duration.attributes[names.GEN_AI_OPERATION_NAME] == names.OP_EMBEDDINGS
    (tokens,) = otel.points(names.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS.name)
    assert tokens.sum == 7


def test_latest_tool_and_workflow_durations_name_their_tool_and_workflow(otel):
    run_sample_pipeline()
    (tool,) = otel.points(names.GEN_AI_EXECUTE_TOOL_DURATION.name)
    assert dict(tool.attributes) == {names.GEN_AI_TOOL_NAME: "lookup_weather"}
    (workflow,) = otel.points(names.GEN_AI_INVOKE_WORKFLOW_DURATION.name)
    assert dict(workflow.attributes) == {names.GEN_AI_WORKFLOW_NAME: "handle"}
    assert tuple(workflow.explicit_bounds) == names.GEN_AI_WORKFLOW_DURATION_BUCKETS


def test_a_failed_tool_duration_carries_its_error_type(otel):
    @ragsight.tool
    def broken() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        broken()
    (point,) = otel.points(names.GEN_AI_EXECUTE_TOOL_DURATION.name)
    assert point.attributes[names.ERROR_TYPE] == "KeyError"


def test_v1_41_token_usage_keeps_the_token_type(otel_v1_41):
    run_sample_pipeline()
    sums = {
        (p.attributes[names.GEN_AI_OPERATION_NAME], p.attributes[names.GEN_AI_TOKEN_TYPE]): p.sum
        for p in otel_v1_41.points(names.GEN_AI_CLIENT_TOKEN_USAGE.name)
        if p.attributes.get(names.GEN_AI_RESPONSE_MODEL) is not None
    }
    assert sums == {
        (names.OP_CHAT, names.TOKEN_TYPE_INPUT): 120,
        (names.OP_CHAT, names.TOKEN_TYPE_OUTPUT): 30,
        (names.OP_EMBEDDINGS, names.TOKEN_TYPE_INPUT): 7,
    }


@pytest.mark.parametrize("fixture", ["otel", "otel_v1_41"])
def test_every_emitted_metric_keeps_to_its_spec_unit_and_attributes(
    request: pytest.FixtureRequest, fixture: str
):
    otel = request.getfixturevalue(fixture)
    run_sample_pipeline()
    specs = {spec.name: spec for spec in names.METRICS}
    data = otel.reader.get_metrics_data()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                spec = specs[metric.name]
                assert metric.unit == spec.unit, metric.name
                for point in metric.data.data_points:
                    assert set(point.attributes) <= set(spec.attributes), metric.name


# ---- the conformance table agrees with what each mode emits ------------------------------
def _rows() -> dict[str, names.Convention]:
    return {c.name: c for c in names.CONVENTIONS if c.kind == "metric"}


@pytest.mark.parametrize("spec", names.METRICS, ids=lambda s: s.name)
def test_every_genai_metric_has_a_conformance_row(spec: names.MetricSpec):
    if spec.name.startswith("gen_ai."):
        assert spec.name in _rows()


@pytest.mark.parametrize(
    ("mode", "column"), [(names.SEMCONV_LATEST, "latest"), (names.SEMCONV_V1_41, "v1_41")]
)
def test_the_conformance_table_says_what_each_mode_emits(mode: str, column: str):
    emitted = genai_names(mode)
    for name, row in _rows().items():
        cell: str = getattr(row, column)
        if name in emitted:
            assert cell.startswith(names.SAME), (name, column, cell)
        else:
            assert not cell.startswith(names.SAME), (name, column, cell)
            if not cell.startswith("-"):  # the name this mode emits instead
                assert cell.split(" ")[0] in emitted, (name, column, cell)


class _OpenAIClient:
    """Claims to be openai's client type, with the base URL the real one exposes."""

    __module__ = "openai._client"
    base_url = "https://api.openai.com/v1/"


@pytest.mark.parametrize("fixture", ["otel", "otel_v1_41"])
def test_genai_metrics_carry_the_server_the_client_points_at(
    request: pytest.FixtureRequest, fixture: str
):
    otel = request.getfixturevalue(fixture)

    @ragsight.generation(model="gpt-4o-mini")
    def answer(text: str, client: Any) -> ChatCompletion:
        return ChatCompletion()

    answer("q", client=_OpenAIClient())
    duration = (
        names.GEN_AI_CLIENT_INFERENCE_DURATION
        if fixture == "otel"
        else names.GEN_AI_CLIENT_OPERATION_DURATION
    )
    (point,) = otel.points(duration.name)
    assert point.attributes[names.SERVER_ADDRESS] == "api.openai.com"
    assert point.attributes[names.SERVER_PORT] == 443
    assert point.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"


def test_past_the_series_cap_the_server_is_left_off_the_metrics(otel):
    @ragsight.generation()
    def answer(model: str, client: Any) -> str:
        return "a"

    for i in range(80):
        answer(model=f"m-{i}", client=_OpenAIClient())
    points = otel.points(names.GEN_AI_CLIENT_INFERENCE_DURATION.name)
    folded = [p for p in points if p.attributes.get(names.GEN_AI_REQUEST_MODEL) == "_OTHER"]
    assert folded
    assert all(names.SERVER_PORT not in p.attributes for p in folded)
