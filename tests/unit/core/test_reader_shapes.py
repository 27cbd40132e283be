"""Retrieval shapes whose numbers no name explains, and one result list per query:
read for what they safely say (docs/readers.md), never as a wrong count or a wrong 0..1
similarity."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from typing import Any

import pytest

import ragsight
from ragsight import names


@pytest.fixture
def rows() -> sqlite3.Connection:
    """A table queried the way a pgvector search is (``SELECT id, embedding <=> q``):
    each row is a plain tuple of an id and a cosine distance, closest first."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE hits (id INTEGER, distance REAL)")
    db.executemany("INSERT INTO hits VALUES (?, ?)", [(1, 0.12), (2, 0.3), (3, 0.45)])
    return db


def test_id_and_distance_rows_are_never_recorded_as_similarities(otel, rows):
    @ragsight.retrieval(data_source="pg")
    def search() -> list[Any]:
        return rows.execute("SELECT id, distance FROM hits ORDER BY distance").fetchall()

    assert search()[0] == (1, 0.12)
    attrs = otel.span("retrieval pg").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "unbounded"
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs


def test_id_and_distance_rows_declared_as_distances_are_distances(otel, rows):
    @ragsight.retrieval(data_source="pg", score="distance")
    def search() -> list[Any]:
        return rows.execute("SELECT id, distance FROM hits ORDER BY distance").fetchall()

    search()
    attrs = otel.span("retrieval pg").attributes
    assert attrs[names.RAG_RETRIEVAL_DISTANCE_BEST] == pytest.approx(0.12)
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs


Hit = namedtuple("Hit", "id distance")


def test_named_tuple_rows_are_read_by_their_field_names(otel):
    @ragsight.retrieval(data_source="rows")
    def search() -> list[Hit]:
        return [Hit("a", 0.1), Hit("b", 0.4)]  # a distance field is not a score

    search()
    attrs = otel.span("retrieval rows").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs
    assert names.RAG_RETRIEVAL_SCORE_KIND not in attrs


Scored = namedtuple("Scored", "id score")


def test_named_tuple_score_field_is_a_score(otel):
    @ragsight.retrieval(data_source="rows")
    def search() -> list[Scored]:
        return [Scored("a", 0.8), Scored("b", 0.4)]

    search()
    assert otel.span("retrieval rows").attributes[names.RAG_RETRIEVAL_TOP_SCORE] == 0.8


def test_hit_lists_per_query_vector_count_every_hit(otel):
    @ragsight.retrieval(data_source="milvus")
    def search() -> list[list[dict[str, Any]]]:  # pymilvus MilvusClient.search(): per query
        return [[{"id": 1, "score": 0.9}, {"id": 2, "score": 0.7}], [{"id": 3, "score": 0.5}]]

    search()
    attrs = otel.span("retrieval milvus").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert attrs[names.RAG_RETRIEVAL_TOP_SCORE] == 0.9


def test_a_list_of_vectors_is_not_counted_as_documents(otel):
    @ragsight.retrieval(data_source="vectors")
    def search() -> list[list[float]]:
        return [[0.1, 0.2, 0.3]]

    search()
    assert names.RAG_RETRIEVAL_DOCUMENTS_COUNT not in otel.span("retrieval vectors").attributes


def _search_response(*scores: float) -> dict[str, Any]:
    """An elasticsearch/opensearch ``search()`` body: the hits sit in ``hits.hits``,
    ``total`` counts every match, not the ones returned."""
    hits = [{"_id": str(i), "_score": s, "_source": {}} for i, s in enumerate(scores)]
    return {"took": 2, "hits": {"total": {"value": 120, "relation": "eq"}, "hits": hits}}


def test_search_hits_are_counted_as_returned(otel):
    @ragsight.retrieval(data_source="es")
    def search() -> dict[str, Any]:
        return _search_response(7.3, 0.8)

    search()
    assert otel.span("retrieval es").attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2


def test_search_hit_scores_are_never_taken_for_similarities(otel):
    @ragsight.retrieval(data_source="es")
    def search() -> dict[str, Any]:
        return _search_response(0.9, 0.4)  # BM25 scores that happen to lie in 0..1

    search()
    attrs = otel.span("retrieval es").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "unbounded"
    assert attrs[names.RAG_RETRIEVAL_UNBOUNDED_TOP] == 0.9
    assert names.RAG_RETRIEVAL_TOP_SCORE not in attrs
