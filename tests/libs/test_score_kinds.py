"""Score kinds detected from the real stores behind a retrieval (docs/readers.md, "Score
kinds"): only scores known to be 0..1 similarities reach ``rag.retrieval.score``."""

from __future__ import annotations

from collections.abc import Callable

import chromadb
import faiss
import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore
from qdrant_client import QdrantClient
from qdrant_client.models import Distance, PointStruct, VectorParams

import ragsight
from ragsight import names

# (qdrant distance, kind recorded, the attribute that holds the best score)
QDRANT = [
    (Distance.COSINE, "similarity", names.RAG_RETRIEVAL_TOP_SCORE),
    (Distance.DOT, "unbounded", names.RAG_RETRIEVAL_UNBOUNDED_TOP),
    (Distance.EUCLID, "distance", names.RAG_RETRIEVAL_DISTANCE_BEST),
    (Distance.MANHATTAN, "distance", names.RAG_RETRIEVAL_DISTANCE_BEST),
]


def _qdrant(distance: Distance) -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config=VectorParams(size=2, distance=distance))
    # small vectors: euclid and manhattan distances here lie in 0..1, as similarities would
    client.upsert(
        "docs", [PointStruct(id=1, vector=[0.6, 0.8]), PointStruct(id=2, vector=[0.8, 0.6])]
    )
    return client


def _best(kind: str, scores: list[float]) -> float:
    return min(scores) if kind == "distance" else max(scores)


@pytest.mark.parametrize(("distance", "kind", "attribute"), QDRANT)
def test_qdrant_collection_distance_decides_the_kind(telemetry, distance, kind, attribute):
    client = _qdrant(distance)

    @ragsight.retrieval
    def search() -> object:  # the client from the closure, the collection a constant
        return client.query_points("docs", query=[0.7, 0.7], limit=2).points

    points = search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == kind
    assert attrs[attribute] == pytest.approx(_best(kind, [p.score for p in points]))
    reached = telemetry.histogram_count("rag.retrieval.score") > 0
    assert reached is (kind == "similarity")


def test_qdrant_collection_named_by_keyword_argument(telemetry):
    client = _qdrant(Distance.EUCLID)

    @ragsight.retrieval
    def search(collection_name: str) -> object:
        return client.query_points(collection_name=collection_name, query=[0.7, 0.7]).points

    search(collection_name="docs")
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_SCORE_KIND] == "distance"


def test_qdrant_points_without_a_visible_collection_are_never_similarities(telemetry):
    points = _qdrant(Distance.EUCLID).query_points("docs", query=[0.7, 0.7]).points
    assert all(0.0 <= p.score <= 1.0 for p in points)  # they would pass for similarities

    @ragsight.retrieval
    def relay(found: list[object]) -> object:
        return found

    relay(points)
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "unbounded"
    assert telemetry.histogram_count("rag.retrieval.score") == 0


@pytest.mark.parametrize(
    ("space", "kind"),
    [(None, "distance"), ("l2", "distance"), ("ip", "distance"), ("cosine", "similarity")],
)
def test_chroma_collection_space_from_the_closure(telemetry, space, kind):
    client = chromadb.EphemeralClient()
    col = client.get_or_create_collection(
        f"kinds-{space}-{id(client)}", metadata={"hnsw:space": space} if space else None
    )
    col.add(ids=["a", "b"], embeddings=[[1, 0], [0.6, 0.8]])

    @ragsight.retrieval
    def search() -> object:
        return col.query(query_embeddings=[[1.0, 0.0]], n_results=2)

    search()
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_SCORE_KIND] == kind


@pytest.mark.parametrize(
    ("make", "kind"), [(faiss.IndexFlatL2, "distance"), (faiss.IndexFlatIP, "unbounded")]
)
def test_faiss_index_metric_type_decides_the_kind(telemetry, make: Callable[[int], object], kind):
    index = make(2)
    index.add(np.array([[1, 0], [0.6, 0.8]], dtype="float32"))

    @ragsight.retrieval
    def search() -> object:
        return index.search(np.array([[1.0, 0.0]], dtype="float32"), 2)

    distances, _ = search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == kind
    if kind == "unbounded":  # inner products: higher is better, not a distance
        assert attrs[names.RAG_RETRIEVAL_UNBOUNDED_TOP] == pytest.approx(float(distances.max()))
    else:
        assert attrs[names.RAG_RETRIEVAL_DISTANCE_BEST] == pytest.approx(float(distances.min()))


class _RelevanceStore(InMemoryVectorStore):
    """A LangChain store with a relevance function, as real stores define one."""

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda similarity: (similarity + 1.0) / 2.0


def _store() -> _RelevanceStore:
    store = _RelevanceStore(DeterministicFakeEmbedding(size=8))
    store.add_documents([Document(page_content=t) for t in ("alpha", "beta", "gamma")])
    return store


def test_langchain_relevance_scores_are_similarities(telemetry):
    store = _store()
    search = ragsight.retrieval(store.similarity_search_with_relevance_scores)

    found = search("alpha", k=2)
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "similarity"
    assert attrs[names.RAG_RETRIEVAL_TOP_SCORE] == pytest.approx(max(s for _, s in found))


def test_langchain_scores_of_similarity_search_with_score_are_store_defined(telemetry):
    store = _store()
    search = ragsight.retrieval(store.similarity_search_with_score)

    search("alpha", k=2)
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_SCORE_KIND] == "unbounded"
    assert telemetry.histogram_count("rag.retrieval.score") == 0


def test_a_store_metric_applies_to_the_store_shape_only(telemetry):
    client = chromadb.EphemeralClient()
    col = client.get_or_create_collection(f"own-{id(client)}", metadata={"hnsw:space": "cosine"})
    col.add(ids=["a", "b"], embeddings=[[1, 0], [0.6, 0.8]])

    @ragsight.retrieval
    def search() -> object:  # the function converts the distances itself
        found = col.query(query_embeddings=[[1.0, 0.0]], n_results=2)
        return [
            {"id": i, "score": 1.0 - d}
            for i, d in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    search()
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_SCORE_KIND] == "similarity"
    assert attrs[names.RAG_RETRIEVAL_TOP_SCORE] == pytest.approx(1.0)  # not 1 - (1 - d)
