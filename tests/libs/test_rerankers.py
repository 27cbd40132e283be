"""Rerank readers on responses the Cohere client itself parsed (docs/readers.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import cohere
import httpx
import pytest

import ragsight
from ragsight import names
from ragsight.testing import Telemetry

_DOCUMENTS = ["Paris is in France.", "Berlin is in Germany.", "The capital of France is Paris."]
_RERANKED = {
    "id": "rr-1",
    "results": [{"index": 2, "relevance_score": 0.98}, {"index": 0, "relevance_score": 0.61}],
    "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
}


def _client() -> cohere.ClientV2:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v2/rerank"
        return httpx.Response(200, json=_RERANKED)

    transport = httpx.MockTransport(answer)
    return cohere.ClientV2(
        api_key="test-key",
        base_url="http://cohere.test",
        httpx_client=httpx.Client(transport=transport),
    )


def _rerank(client: cohere.ClientV2, capture: bool = False) -> Any:
    @ragsight.rerank(model="rerank-v3.5", top_n=2, capture=capture)
    def rerank(query: str, documents: list[str]) -> Any:
        return client.rerank(model="rerank-v3.5", query=query, documents=documents, top_n=2)

    return rerank("capital of France", _DOCUMENTS)


def test_cohere_rerank_counts_the_documents_it_returned(telemetry: Telemetry) -> None:
    response = _rerank(_client())
    assert isinstance(response, cohere.V2RerankResponse)
    attrs = telemetry.span("rerank rerank-v3.5").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert attrs[names.RAG_RETRIEVAL_TOP_SCORE] == pytest.approx(0.98)


def test_cohere_rerank_is_attributed_to_cohere(telemetry: Telemetry) -> None:
    _rerank(_client())
    assert telemetry.span("rerank rerank-v3.5").attributes[names.GEN_AI_PROVIDER_NAME] == "cohere"


def test_cohere_rerank_captures_each_result_under_its_input_index(telemetry: Telemetry) -> None:
    _rerank(_client(), capture=True)
    documents = telemetry.span("rerank rerank-v3.5").attributes[names.GEN_AI_RETRIEVAL_DOCUMENTS]
    assert isinstance(documents, str)
    documents = json.loads(documents)
    assert [(d["id"], d["score"]) for d in documents] == [("2", 0.98), ("0", 0.61)]


def test_cohere_async_rerank_reads_the_same_fields(telemetry: Telemetry) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_RERANKED)

    client = cohere.AsyncClientV2(
        api_key="test-key",
        base_url="http://cohere.test",
        httpx_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )

    @ragsight.rerank(model="rerank-v3.5", top_n=2, capture=True)
    async def rerank(query: str, documents: list[str]) -> Any:
        return await client.rerank(model="rerank-v3.5", query=query, documents=documents, top_n=2)

    response = asyncio.run(rerank("capital of France", _DOCUMENTS))
    assert isinstance(response, cohere.V2RerankResponse)
    attrs = telemetry.span("rerank rerank-v3.5").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert attrs[names.GEN_AI_PROVIDER_NAME] == "cohere"
    documents = attrs[names.GEN_AI_RETRIEVAL_DOCUMENTS]
    assert isinstance(documents, str)
    assert [d["id"] for d in json.loads(documents)] == ["2", "0"]
