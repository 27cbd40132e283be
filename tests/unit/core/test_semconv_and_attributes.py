"""Span names, kinds and attributes per the GenAI conventions, in both modes."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind

import ragsight
from ragsight import names
from ragsight._core import semconv as _semconv


@pytest.mark.parametrize(
    ("decorator", "span_name", "kind", "operation"),
    [
        (
            ragsight.retrieval(data_source="kb-main"),
            "retrieval kb-main",
            SpanKind.CLIENT,
            "retrieval",
        ),
        (ragsight.embedding(model="te3"), "embeddings te3", SpanKind.CLIENT, "embeddings"),
        (ragsight.generation(model="gpt"), "chat gpt", SpanKind.CLIENT, "chat"),
        (
            ragsight.generation(model="gpt", operation="text_completion"),
            "text_completion gpt",
            SpanKind.CLIENT,
            "text_completion",
        ),
        (ragsight.rerank(model="ce"), "rerank ce", SpanKind.CLIENT, "rerank"),
        (ragsight.rerank(model="ce", local=True), "rerank ce", SpanKind.INTERNAL, "rerank"),
        (ragsight.pipeline("qa"), "invoke_workflow qa", SpanKind.INTERNAL, "invoke_workflow"),
        (ragsight.tool("web"), "execute_tool web", SpanKind.INTERNAL, "execute_tool"),
    ],
)
def test_span_names_kinds_and_operation(otel, decorator, span_name, kind, operation):
    decorator(lambda: None)()
    span = otel.span(span_name)
    assert span.kind is kind
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == operation


def test_sampling_relevant_attributes_are_set_at_span_start(otel):
    seen = {}

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    from ragsight._core import runtime as _runtime

    class Recording(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                          links=None, trace_state=None):  # fmt: skip
            seen.update(attributes or {})
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "recording"

    previous = _runtime.override(TracerProvider(sampler=Recording()), None)
    try:
        ragsight.generation(provider="openai", model="gpt")(lambda: None)()
    finally:
        _runtime.restore(previous)
    assert seen[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert seen[names.GEN_AI_REQUEST_MODEL] == "gpt"
    assert seen[names.GEN_AI_OPERATION_NAME] == "chat"


@pytest.mark.parametrize(
    ("mode", "key", "other"),
    [
        (names.SEMCONV_LATEST, names.GEN_AI_RETRIEVAL_TOP_K, names.GEN_AI_REQUEST_TOP_K),
        (names.SEMCONV_V1_41, names.GEN_AI_REQUEST_TOP_K, names.GEN_AI_RETRIEVAL_TOP_K),
    ],
)
def test_retrieval_top_k_has_the_name_and_type_of_each_mode(otel, mode, key, other):
    _semconv.set_mode(mode)
    ragsight.retrieval(data_source="kb", top_k=5)(lambda: [])()
    retrieval = otel.span("retrieval kb").attributes
    assert retrieval[key] == 5
    assert type(retrieval[key]) is (int if mode == names.SEMCONV_LATEST else float)
    assert other not in retrieval


def test_a_retrieval_decorated_before_the_mode_is_pinned_follows_the_pin(otel):
    search = ragsight.retrieval(data_source="kb", top_k=5)(lambda: [])  # at import time
    _semconv.set_mode(names.SEMCONV_V1_41)  # then configure(semconv="v1.41.0")
    search()
    retrieval = otel.span("retrieval kb").attributes
    assert retrieval[names.GEN_AI_REQUEST_TOP_K] == 5.0
    assert names.GEN_AI_RETRIEVAL_TOP_K not in retrieval


@pytest.mark.parametrize("mode", names.SEMCONV_MODES)
def test_the_workflow_name_is_the_registry_one_in_every_mode(otel, mode):
    _semconv.set_mode(mode)
    ragsight.pipeline("qa")(lambda: None)()
    pipeline = otel.span("invoke_workflow qa").attributes
    assert pipeline[names.GEN_AI_WORKFLOW_NAME] == "qa"
    assert "gen_ai.agent.name" not in pipeline  # invoke_agent's attribute, not a workflow's


def test_user_attributes_are_added_to_the_span(otel):
    ragsight.instrument("step", attributes={"db.collection.name": "faq"})(lambda: None)()
    assert otel.span("step").attributes["db.collection.name"] == "faq"


DOCS = [{"text": "confidential passage", "score": 0.2}] * 3


class _Reranker:
    @ragsight.rerank
    def by_method(self, query: str, documents: list) -> list:
        return documents[:1]

    @ragsight.rerank
    @classmethod
    def by_classmethod(cls, query: str, docs: list) -> list:
        return docs[:1]

    @ragsight.rerank
    @staticmethod
    def by_staticmethod(query: str, passages: list) -> list:
        return passages[:1]


@ragsight.rerank
def _by_keyword_only(query: str, **kwargs: list) -> list:
    return kwargs["candidates"][:1]


@ragsight.rerank
def _first_list_argument(query: str, items: list, top_n: int = 1) -> list:
    return items[:top_n]


@pytest.mark.parametrize(
    "call",
    [
        lambda: _Reranker().by_method("q", DOCS),
        lambda: _Reranker().by_method("q", documents=DOCS),
        lambda: _Reranker.by_method(_Reranker(), "q", DOCS),
        lambda: _Reranker().by_classmethod("q", DOCS),
        lambda: _Reranker.by_classmethod("q", docs=DOCS),
        lambda: _Reranker().by_staticmethod("q", DOCS),
        lambda: _by_keyword_only("q", candidates=DOCS),
        lambda: _first_list_argument("q", DOCS),
    ],
    ids=["method", "keyword", "via-class", "classmethod", "cls-kw", "static", "kwargs", "list"],
)
def test_rerank_candidate_count_is_read_from_the_documents_argument(otel, call):
    call()
    (span,) = otel.spans()
    assert span.attributes[names.RAG_RERANK_CANDIDATE_COUNT] == 3


def test_rerank_candidate_count_of_streaming_and_async_reranks(otel):
    @ragsight.rerank
    def stream(query: str, documents: list):  # type: ignore[no-untyped-def]
        yield from documents

    @ragsight.rerank
    async def remote(query: str, documents: list) -> list:
        return documents

    list(stream("q", DOCS[:2]))
    asyncio.run(remote("q", DOCS[:1]))
    counts = sorted(s.attributes[names.RAG_RERANK_CANDIDATE_COUNT] for s in otel.spans())
    assert counts == [1, 2]


def test_rerank_candidate_count_never_captures_the_documents(otel):
    _Reranker().by_method("q", DOCS)
    (span,) = otel.spans()
    assert all("confidential" not in str(v) for v in span.attributes.values())


def test_rerank_without_a_document_list_sets_no_candidate_count(otel):
    @ragsight.rerank
    def opaque(handle: str) -> list:
        return []

    opaque("h")
    (span,) = otel.spans()
    assert names.RAG_RERANK_CANDIDATE_COUNT not in span.attributes


def test_a_decorated_partial_is_named_after_its_function(otel):
    import functools

    def search_index(index: str, q: str) -> list:
        return []

    ragsight.instrument(functools.partial(search_index, "faq"))("q")
    (span,) = otel.spans()
    assert span.attributes[names.RAG_OPERATION_NAME] == "search_index"
