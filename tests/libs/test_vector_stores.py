"""Retrieval readers on results the vector stores produced (docs/readers.md)."""

from __future__ import annotations

import gc
import weakref

import chromadb
import faiss
import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from qdrant_client import QdrantClient
from qdrant_client.models import Distance, PointStruct, VectorParams

import ragsight
from ragsight import names


def _collection(space: str | None) -> chromadb.Collection:
    client = chromadb.EphemeralClient()
    meta = {"hnsw:space": space} if space else None
    col = client.get_or_create_collection(f"docs-{space}-{id(client)}", metadata=meta)
    col.add(ids=["a", "b", "c"], embeddings=[[1, 0], [0, 1], [1, 1]], documents=["A", "B", "C"])
    return col


def test_chroma_query_result_counts_every_document_and_records_distances(telemetry):
    col = _collection(None)

    @ragsight.retrieval
    def search() -> object:
        return col.query(query_embeddings=[[1.0, 0.1]], n_results=2)

    search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "distance"
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs
    assert telemetry.histogram_count("rag.retrieval.score") == 0
    assert telemetry.histogram_count("rag.retrieval.distance") == 1


def test_chroma_cosine_collection_passed_in_converts_distances_to_similarity(telemetry):
    col = _collection("cosine")
    result = col.query(query_embeddings=[[1.0, 0.0]], n_results=1)

    @ragsight.retrieval
    def search(collection: chromadb.Collection) -> object:
        return collection.query(query_embeddings=[[1.0, 0.0]], n_results=1)

    search(col)
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_TOP_SCORE] == pytest.approx(1 - result["distances"][0][0])
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "similarity"


def test_chroma_get_result_counts_flat_ids(telemetry):
    col = _collection(None)

    @ragsight.retrieval
    def fetch() -> object:
        return col.get()

    fetch()
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3


def test_faiss_search_arrays_count_found_neighbours_as_distances(telemetry):
    index = faiss.IndexFlatL2(2)
    index.add(np.array([[0, 0], [1, 1], [5, 5]], dtype="float32"))

    @ragsight.retrieval
    def search() -> object:
        return index.search(np.array([[0.1, 0.0]], dtype="float32"), 5)  # 2 of 5 are -1

    search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert attrs[names.RAG_RETRIEVAL_DISTANCE_BEST] == pytest.approx(0.01, rel=1e-4)


def test_numpy_float32_scores_are_read(telemetry):
    scores = np.array([0.9, 0.4], dtype=np.float32)

    @ragsight.retrieval
    def search() -> object:
        return [{"id": "a", "score": scores[0]}, {"id": "b", "score": scores[1]}]

    search()
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_TOP_SCORE] == pytest.approx(
        0.9
    )


def test_qdrant_scored_points_dot_product_scores_are_unbounded(telemetry):
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=VectorParams(size=2, distance=Distance.DOT))
    client.upsert("c", [PointStruct(id=i, vector=[i, i]) for i in range(1, 4)])

    @ragsight.retrieval
    def search() -> object:
        return client.query_points("c", query=[1.0, 1.0], limit=2).points

    search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert attrs[names.RAG_RETRIEVAL_UNBOUNDED_TOP] == pytest.approx(6.0)
    assert telemetry.histogram_count("rag.retrieval.score") == 0


def test_langchain_document_score_pairs_are_store_defined_until_declared(telemetry):
    pairs = [(Document(page_content="x"), 0.8), (Document(page_content="y"), 0.3)]

    @ragsight.retrieval
    def search() -> object:
        return pairs  # similarity_search_with_score: chroma's are distances

    @ragsight.retrieval(data_source="declared", score="similarity")
    def declared() -> object:
        return pairs

    search()
    declared()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "unbounded"
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs
    assert telemetry.span("retrieval declared").attributes[
        names.RAG_RETRIEVAL_TOP_SCORE
    ] == pytest.approx(0.8)


def test_llamaindex_nodes_with_score(telemetry):
    @ragsight.retrieval
    def search() -> object:
        return [NodeWithScore(node=TextNode(text="t"), score=0.7)]

    search()
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_TOP_SCORE] == 0.7


def test_declared_bm25_scores_never_reach_the_similarity_histogram(telemetry):
    @ragsight.retrieval(score="unbounded")
    def search() -> object:
        return [{"score": 0.5}]

    search()
    assert telemetry.histogram_count("rag.retrieval.score") == 0
    assert telemetry.histogram_count("rag.retrieval.score.unbounded") == 1


def test_returned_documents_are_not_kept_after_the_call(telemetry):
    class Doc:
        def __init__(self) -> None:
            self.score = 0.5

    doc = Doc()
    ref = weakref.ref(doc)

    @ragsight.retrieval
    def search(found: Doc) -> object:
        return [found]

    search(doc)
    del doc
    gc.collect()
    assert ref() is None  # before any metric collection
