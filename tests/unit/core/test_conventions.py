"""The conventions a call reveals: provider, server, request parameters, models, span
names, the conventions mode with its schema_url, and the generated conformance table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ragsight
from ragsight import names
from ragsight._core import semconv as _semconv

DOCS = Path(__file__).resolve().parents[3] / "docs" / "conventions.md"


def _typed(module: str, name: str = "Obj", **fields: Any) -> Any:
    """An instance of a class that claims to live in ``module`` (an SDK's type)."""
    cls = type(name, (), {"__module__": module})
    obj = cls()
    for key, value in fields.items():
        setattr(obj, key, value)
    return obj


def _duration_points(otel: Any) -> list[Any]:
    return otel.points(names.GEN_AI_CLIENT_INFERENCE_DURATION.name)


# ---- mode and schema_url -------------------------------------------------------------------
def test_latest_is_the_default_mode():
    assert _semconv.mode() == names.SEMCONV_LATEST


@pytest.mark.parametrize("mode", names.SEMCONV_MODES)
def test_tracer_and_meter_scopes_carry_the_mode_schema_url(mode):
    from ragsight.testing import capture_telemetry

    _semconv.set_mode(mode)
    try:
        with capture_telemetry() as t:
            ragsight.generation(model="m")(lambda: "x")()
            span = t.span("chat m")
            scopes = {
                sm.scope.schema_url
                for rm in t._reader.get_metrics_data().resource_metrics
                for sm in rm.scope_metrics
            }
    finally:
        _semconv.reset_for_tests()
    assert span.instrumentation_scope.schema_url == names.SCHEMA_URLS[mode]
    assert scopes == {names.SCHEMA_URLS[mode]}


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="semconv mode"):
        _semconv.set_mode("v0.1.0")


def test_the_semconv_key_reads_its_environment_variable(tmp_path):
    from ragsight._config.validation import load_settings

    env = {"RAGSIGHT_SEMCONV": "v1.41.0"}
    assert load_settings(environ=env, cwd=tmp_path).semconv == names.SEMCONV_V1_41


_UNCONFIGURED_APP = """
import ragsight
from ragsight.testing import capture_telemetry

@ragsight.generation(provider="openai", model="m")
def answer(q):
    return "a"

with capture_telemetry() as telemetry:  # no configure(): the environment still decides
    answer("q")
    print(sorted({p.name for p in telemetry.collect() if p.name.startswith("gen_ai.")}))
    print(telemetry.spans[0].instrumentation_scope.schema_url)
"""


def _run_unconfigured(semconv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    return subprocess.run(
        [sys.executable, "-c", _UNCONFIGURED_APP],
        env={**env, names.SEMCONV_ENV: semconv},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_the_semconv_variable_applies_without_configure():
    out = _run_unconfigured(names.SEMCONV_V1_41).stdout.splitlines()
    assert out == [
        str([names.GEN_AI_CLIENT_OPERATION_DURATION.name]),
        names.SCHEMA_URLS[names.SEMCONV_V1_41],
    ]


def test_an_unknown_semconv_variable_without_configure_keeps_latest_and_says_so():
    result = _run_unconfigured("v1.40.0")
    assert result.stdout.splitlines()[1] == names.SCHEMA_URLS[names.SEMCONV_LATEST]
    assert names.SEMCONV_ENV in result.stderr
    assert "v1.40.0" in result.stderr


_MODE_SWITCH_APP = """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
trace.set_tracer_provider(TracerProvider())  # the application's own providers

import ragsight

@ragsight.generation(provider="openai", model="m")
def answer(q):
    return "a"

answer("before configure")  # recorded in latest, the mode in force then
ragsight.configure(semconv="v1.41.0")
answer("after configure")
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            if metric.name.startswith("gen_ai."):
                count = sum(getattr(p, "count", 0) for p in metric.data.data_points)
                print(sm.scope.schema_url, metric.name, count)
"""


def test_configure_switching_the_mode_switches_the_metrics_of_providers_already_in_use():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", _MODE_SWITCH_APP],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = set(result.stdout.splitlines())
    latest, pinned = names.SCHEMA_URLS[names.SEMCONV_LATEST], names.SCHEMA_URLS[names.SEMCONV_V1_41]
    # the call after configure() is a v1.41.0 one; the one before stays where it was
    assert f"{pinned} {names.GEN_AI_CLIENT_OPERATION_DURATION.name} 1" in lines
    assert f"{latest} {names.GEN_AI_CLIENT_INFERENCE_DURATION.name} 1" in lines


def test_the_semconv_key_reads_the_variable_the_core_reads():
    from ragsight._config.keys import BY_NAME

    assert names.SEMCONV_ENV in BY_NAME["semconv"].env


def test_the_semconv_key_refuses_an_unknown_mode(tmp_path):
    from ragsight import ConfigError
    from ragsight._config.validation import load_settings

    with pytest.raises(ConfigError, match="semconv"):
        load_settings(environ={"RAGSIGHT_SEMCONV": "gen_ai_latest_experimental"}, cwd=tmp_path)


# ---- span names ----------------------------------------------------------------------------
def test_a_generation_without_a_model_is_named_by_its_operation_only(otel):
    @ragsight.generation()
    def answer(question: str) -> str:
        return "a"

    answer("q")
    assert [s.name for s in otel.spans()] == ["chat"]


def test_a_model_keyword_argument_names_the_span_and_the_request_model(otel):
    @ragsight.generation()
    def answer(question: str, model: str) -> str:
        return "a"

    answer("q", model="gpt-4o")
    span = otel.span("chat gpt-4o")
    assert span.attributes[names.GEN_AI_REQUEST_MODEL] == "gpt-4o"


@pytest.mark.parametrize(
    ("decorator", "expected"),
    [
        (ragsight.embedding(), "embeddings"),
        (ragsight.rerank(), "rerank"),
        (ragsight.retrieval(), "retrieval"),
        (ragsight.generation(operation="text_completion"), "text_completion"),
    ],
)
def test_no_genai_span_is_named_after_the_function(otel, decorator, expected):
    def my_function_name() -> list[Any]:
        return []

    decorator(my_function_name)()
    assert [s.name for s in otel.spans()] == [expected]


# ---- provider ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "provider"),
    [
        ("openai.types.chat.chat_completion", "openai"),
        ("anthropic.types.message", "anthropic"),
        ("cohere.v2.types", "cohere"),
        ("mistralai.models", "mistral_ai"),
        ("google.genai.types", "gcp.gen_ai"),
    ],
)
def test_provider_is_inferred_from_the_response_type(otel, module, provider):
    ragsight.generation(model="m")(lambda: _typed(module))()
    assert otel.span("chat m").attributes[names.GEN_AI_PROVIDER_NAME] == provider


def test_provider_is_inferred_from_an_openai_shaped_mapping(otel):
    response = {"object": "chat.completion", "system_fingerprint": "fp_1", "choices": []}
    ragsight.generation(model="m")(lambda: response)()
    assert otel.span("chat m").attributes[names.GEN_AI_PROVIDER_NAME] == "openai"


@pytest.mark.parametrize(
    ("given", "emitted"),
    [("OpenAI", "openai"), ("Mistral AI", "mistral_ai"), ("AWS.Bedrock", "aws.bedrock")],
)
def test_a_declared_provider_takes_its_well_known_spelling(otel, given, emitted):
    ragsight.generation(model="m", provider=given)(lambda: "hi")()
    assert otel.span("chat m").attributes[names.GEN_AI_PROVIDER_NAME] == emitted


def test_a_declared_provider_the_conventions_do_not_list_is_kept_as_given(otel):
    ragsight.generation(model="m", provider="acme-llm")(lambda: "hi")()
    assert otel.span("chat m").attributes[names.GEN_AI_PROVIDER_NAME] == "acme-llm"


def test_a_plain_mapping_reveals_no_provider(otel):
    ragsight.generation(model="m")(lambda: {"text": "hi"})()
    assert names.GEN_AI_PROVIDER_NAME not in otel.span("chat m").attributes


def test_an_explicit_provider_wins_over_the_inferred_one(otel):
    ragsight.generation(model="m", provider="custom")(lambda: _typed("openai.types"))()
    assert otel.span("chat m").attributes[names.GEN_AI_PROVIDER_NAME] == "custom"


def test_provider_and_server_come_from_the_client_argument(otel):
    client = _typed("anthropic._client", "Anthropic", base_url="https://api.anthropic.com")

    @ragsight.generation(model="m")
    def answer(question: str, client: Any) -> str:
        return "a"

    answer("q", client=client)
    attributes = otel.span("chat m").attributes
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attributes[names.SERVER_ADDRESS] == "api.anthropic.com"
    assert attributes[names.SERVER_PORT] == 443


def test_an_azure_client_is_azure_not_openai(otel):
    client = _typed(
        "openai.lib.azure", "AzureOpenAI", base_url="https://me.openai.azure.com:8443/openai/"
    )

    @ragsight.generation(model="m")
    def answer(client: Any) -> str:
        return "a"

    answer(client=client)
    attributes = otel.span("chat m").attributes
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert attributes[names.SERVER_PORT] == 8443


def test_a_method_of_a_class_holding_a_client_reveals_it(otel):
    class Answerer:
        def __init__(self) -> None:
            self.client = _typed("cohere.client", "Client", base_url="http://localhost:9000")

        @ragsight.rerank(model="r")
        def rerank(self, documents: list[str]) -> list[str]:
            return documents

    Answerer().rerank(["a"])
    attributes = otel.span("rerank r").attributes
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "cohere"
    assert (attributes[names.SERVER_ADDRESS], attributes[names.SERVER_PORT]) == (
        "localhost",
        9000,
    )


def test_an_openai_compatible_client_pointed_at_another_host_is_that_provider():
    assert _semconv.provider_of_host("api.groq.com") == "groq"
    assert _semconv.provider_of_host("example.org") is None


def test_every_inferred_provider_is_a_well_known_value():
    inferred = {p for _, p in _semconv._PROVIDER_BY_MODULE} | {
        p for _, p in _semconv._PROVIDER_BY_HOST
    }
    assert inferred <= set(names.PROVIDERS)


# ---- request parameters and stream -----------------------------------------------------------
def test_request_parameters_come_from_keyword_arguments(otel):
    @ragsight.generation(model="m")
    def answer(question: str, **params: Any) -> str:
        return "a"

    answer("q", temperature=0.2, max_tokens=64, top_p=1, top_k=5, stop="END", seed=7, n=2)
    attributes = otel.span("chat m").attributes
    assert attributes[names.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attributes[names.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attributes[names.GEN_AI_REQUEST_TOP_P] == 1.0
    assert attributes[names.GEN_AI_REQUEST_TOP_K] == 5
    assert type(attributes[names.GEN_AI_REQUEST_TOP_K]) is int  # latest: an int (#217)
    assert list(attributes[names.GEN_AI_REQUEST_STOP_SEQUENCES]) == ["END"]
    assert attributes[names.GEN_AI_REQUEST_SEED] == 7
    assert attributes[names.GEN_AI_REQUEST_CHOICE_COUNT] == 2


def test_ill_typed_request_parameters_are_left_out(otel):
    @ragsight.generation(model="m")
    def answer(**params: Any) -> str:
        return "a"

    answer(temperature="hot", max_tokens=True, top_p=float("nan"), n=1)
    attributes = otel.span("chat m").attributes
    assert not any(key.startswith("gen_ai.request.") and key != names.GEN_AI_REQUEST_MODEL
                   for key in attributes)  # fmt: skip


def test_an_embedding_encoding_format_argument_is_the_request_encoding_formats(otel):
    @ragsight.embedding(model="e")
    def embed(text: str, encoding_format: str = "float") -> list[float]:
        return [0.1]

    embed("q", encoding_format="base64")
    assert list(otel.span("embeddings e").attributes[names.GEN_AI_REQUEST_ENCODING_FORMATS]) == [
        "base64"
    ]


def test_a_generation_encoding_format_argument_is_not_an_embeddings_format(otel):
    @ragsight.generation(model="m")
    def answer(question: str, encoding_format: str) -> str:
        return "a"

    answer("q", encoding_format="float")
    assert names.GEN_AI_REQUEST_ENCODING_FORMATS not in otel.span("chat m").attributes


def test_the_conformance_table_claims_no_attribute_ragsight_never_sets():
    # every name the table says a mode emits ("=") is set somewhere in ragsight's code
    import re

    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (Path(ragsight.__file__).parent).rglob("*.py")
        if path.name != "names.py"
    )
    constants = {
        value: key
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and value.startswith(("gen_ai.", "rag."))
    }
    never_set = sorted(
        row.name
        for row in names.CONVENTIONS
        if row.kind == "attribute"
        and (row.latest.startswith("=") or row.v1_41.startswith("="))
        and not re.search(rf"\bnames\.{constants.get(row.name, '-')}\b", source)
    )
    assert never_set == []


def test_a_retrieval_top_k_argument_is_not_a_sampling_parameter(otel):
    @ragsight.retrieval(data_source="kb")
    def search(query: str, top_k: int) -> list[Any]:
        return []

    search("q", top_k=3)
    assert names.GEN_AI_REQUEST_TOP_K not in otel.span("retrieval kb").attributes


def test_a_streamed_generation_says_so(otel):
    @ragsight.generation(model="m")
    def stream(question: str):
        yield "a"
        yield "b"

    assert list(stream("q")) == ["a", "b"]
    assert otel.span("chat m").attributes[names.GEN_AI_REQUEST_STREAM] is True


def test_a_generation_that_returns_a_stream_says_so(otel):
    # def answer(q): return client.chat.completions.create(..., stream=True): the function
    # is not a generator, its result is the stream (the stage lasts until it ends)
    @ragsight.generation(model="m")
    def answer(question: str):
        return iter(["a", "b"])

    assert list(answer("q")) == ["a", "b"]
    assert otel.span("chat m").attributes[names.GEN_AI_REQUEST_STREAM] is True


def test_an_async_generation_that_returns_a_stream_says_so(otel):
    import asyncio

    async def chunks():
        yield "a"
        yield "b"

    @ragsight.generation(model="m")
    async def answer(question: str):
        return chunks()

    async def consume() -> list[str]:
        return [chunk async for chunk in await answer("q")]

    assert asyncio.run(consume()) == ["a", "b"]
    assert otel.span("chat m").attributes[names.GEN_AI_REQUEST_STREAM] is True


def test_a_retrieval_that_returns_an_iterator_sets_no_stream_attribute(otel):
    @ragsight.retrieval(data_source="kb")
    def search(query: str):
        return iter([{"id": "d1", "score": 0.5}])

    list(search("q"))
    assert names.GEN_AI_REQUEST_STREAM not in otel.span("retrieval kb").attributes


def test_a_stream_keyword_argument_is_recorded(otel):
    @ragsight.generation(model="m")
    def answer(question: str, stream: bool = False) -> str:
        return "a"

    answer("q", stream=False)
    assert otel.span("chat m").attributes[names.GEN_AI_REQUEST_STREAM] is False


# ---- metrics -------------------------------------------------------------------------------
def test_metrics_carry_the_inferred_provider_and_the_response_model(otel):
    response = _typed("openai.types.chat", "ChatCompletion", model="gpt-4o-2024-08-06")
    response.usage = {"prompt_tokens": 3, "completion_tokens": 5}
    ragsight.generation(model="gpt-4o")(lambda: response)()
    (duration,) = _duration_points(otel)
    assert duration.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert duration.attributes[names.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    tokens = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS.name)
    assert {p.attributes[names.GEN_AI_RESPONSE_MODEL] for p in tokens} == {"gpt-4o-2024-08-06"}
    assert {p.attributes[names.GEN_AI_PROVIDER_NAME] for p in tokens} == {"openai"}


def test_metric_series_from_revealed_models_are_capped(otel):
    @ragsight.generation()
    def answer(model: str) -> str:
        return "a"

    for i in range(200):
        answer(model=f"m-{i}")
    models = {p.attributes.get(names.GEN_AI_REQUEST_MODEL) for p in _duration_points(otel)}
    assert len(models) <= 65
    assert names.VALUE_OTHER in models


# ---- the conformance table -----------------------------------------------------------------
def test_docs_conventions_is_generated_from_names():
    assert DOCS.read_text(encoding="utf-8") == names.conformance_markdown(), (
        "docs/conventions.md is stale: run `python -m ragsight.names > docs/conventions.md`"
    )


def test_every_emitted_gen_ai_name_has_a_conformance_row():
    emitted = {
        value
        for key, value in vars(names).items()
        if key.startswith("GEN_AI_") and isinstance(value, str) and value.startswith("gen_ai.")
    }
    rows = {c.name for c in names.CONVENTIONS}
    assert emitted <= rows, sorted(emitted - rows)
