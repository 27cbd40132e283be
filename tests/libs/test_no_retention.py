"""No retention (issue 9, item 7): once a decorated call (and any stream it returned) is
over and the caller lets go, nothing ragsight keeps for metrics references the caller's
objects. Each reader path of docs/readers.md, with the libraries' own objects; checked
with weak references before any metric collection."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from typing import Any

import chromadb
import faiss
import numpy as np
import pytest
import wire_clients
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from qdrant_client import QdrantClient
from qdrant_client.models import Distance, PointStruct, VectorParams

import ragsight
import ragsight.testing

MSGS = [{"role": "user", "content": "Capital of France?"}]


# the same tests with capture off and on: nothing captured may hold a caller's object either
EITHER_CAPTURE = pytest.mark.parametrize(
    "capture", [False, True], ids=["capture off", "capture on"]
)


def _assert_released(refs: list[weakref.ref[Any]]) -> None:
    gc.collect()
    alive = [type(r()).__name__ for r in refs if r() is not None]
    assert alive == [], f"still referenced after the call: {alive}"


# ---- retrieval: each case returns (the stage's result, objects to watch)
def _qdrant_points() -> tuple[Any, list[Any]]:
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=VectorParams(size=2, distance=Distance.COSINE))
    client.upsert("c", [PointStruct(id=i, vector=[1.0, float(i)]) for i in range(3)])
    points = client.query_points("c", query=[1.0, 0.0], limit=3).points
    return points, list(points)


def _faiss_arrays() -> tuple[Any, list[Any]]:
    index = faiss.IndexFlatL2(2)
    index.add(np.array([[0, 0], [1, 1]], dtype="float32"))
    distances, ids = index.search(np.array([[0.1, 0.0]], dtype="float32"), 2)
    return (distances, ids), [distances, ids]


class _QueryResult(dict[str, Any]):
    """chromadb's QueryResult is a plain dict: a subclass, to hold a weak reference."""


def _chroma_result() -> tuple[Any, list[Any]]:
    client = chromadb.EphemeralClient()
    col = client.get_or_create_collection(f"retention-{id(client)}")
    col.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], documents=["A", "B"])
    result = _QueryResult(col.query(query_embeddings=[[1.0, 0.0]], n_results=2))
    return result, [result]


def _langchain_pairs() -> tuple[Any, list[Any]]:
    docs = [Document(page_content="x", id="1"), Document(page_content="y", id="2")]
    return [(docs[0], 0.9), (docs[1], 0.2)], docs


def _llama_nodes() -> tuple[Any, list[Any]]:
    nodes = [NodeWithScore(node=TextNode(text="t", id_="n1"), score=0.7)]
    return nodes, [nodes[0], nodes[0].node]


RETRIEVED: dict[str, Callable[[], tuple[Any, list[Any]]]] = {
    "qdrant ScoredPoint list": _qdrant_points,
    "faiss (distances, ids)": _faiss_arrays,
    "chromadb QueryResult": _chroma_result,
    "LangChain (Document, score) pairs": _langchain_pairs,
    "LlamaIndex NodeWithScore": _llama_nodes,
}


@EITHER_CAPTURE
@pytest.mark.parametrize("case", list(RETRIEVED))
def test_retrieved_documents_are_released_after_the_call(telemetry, case, capture):
    result, watched = RETRIEVED[case]()
    refs = [weakref.ref(o) for o in watched]

    @ragsight.retrieval(capture=capture)
    def search(found: Any) -> Any:
        return found

    search(result)
    del result, watched
    _assert_released(refs)
    assert telemetry.spans  # the call was recorded


# ---- usage: each case calls the client inside the stage and consumes what it returned,
#      handing out weak references to the client's objects it saw
def _completion(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.chat.completions.create(model="m", messages=MSGS)

    refs.append(weakref.ref(answer()))


def _stream(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.chat.completions.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )

    stream = answer()
    refs.append(weakref.ref(stream.__wrapped__))
    refs.extend(weakref.ref(chunk) for chunk in stream)


def _manager(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.chat.completions.stream(model="m", messages=MSGS)

    with answer() as stream:
        refs.append(weakref.ref(stream.__wrapped__))
        refs.append(weakref.ref(stream.get_final_completion()))


def _raw_stream(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.chat.completions.with_raw_response.create(
            model="m", messages=MSGS, stream=True
        )

    raw = answer()
    refs.append(weakref.ref(raw.__wrapped__))
    refs.extend(weakref.ref(chunk) for chunk in raw.parse())


def _raw(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.chat.completions.with_raw_response.create(model="m", messages=MSGS)

    raw = answer()
    refs += [weakref.ref(raw), weakref.ref(raw.parse())]


def _responses_stream(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.responses.stream(model="m", input="Capital?")

    with answer() as stream:
        refs.append(weakref.ref(stream.get_final_response()))


def _claude_stream(refs: list[Any], stage: Any) -> None:
    client = wire_clients.anthropic_client()

    @stage(ragsight.generation)
    def answer() -> Any:
        return client.messages.stream(model="c", max_tokens=64, messages=MSGS)

    with answer() as stream:
        refs.extend(weakref.ref(event) for event in stream)
        refs.append(weakref.ref(stream.get_final_message()))


def _embeddings(refs: list[Any], stage: Any) -> None:
    client = wire_clients.openai_client()

    @stage(ragsight.embedding)
    def embed() -> Any:
        return client.embeddings.create(model="e", input="x")

    refs.append(weakref.ref(embed()))


def _async_stream(refs: list[Any], stage: Any) -> None:
    client = wire_clients.async_openai_client()

    @stage(ragsight.generation)
    async def answer() -> Any:
        return await client.chat.completions.create(model="m", messages=MSGS, stream=True)

    async def main() -> None:
        stream = await answer()
        refs.append(weakref.ref(stream.__wrapped__))
        async for chunk in stream:
            refs.append(weakref.ref(chunk))

    asyncio.run(main())


USAGE: dict[str, Callable[[list[Any], Any], None]] = {
    "ChatCompletion": _completion,
    "returned Stream and its chunks": _stream,
    "chat.completions.stream() and its snapshot": _manager,
    "with_raw_response(stream=True)": _raw_stream,
    "with_raw_response": _raw,
    "responses.stream() final response": _responses_stream,
    "anthropic messages.stream() events and message": _claude_stream,
    "embeddings response": _embeddings,
    "returned AsyncStream and its chunks": _async_stream,
}


@EITHER_CAPTURE
@pytest.mark.parametrize("case", list(USAGE))
def test_llm_client_objects_are_released_after_the_call(telemetry, case, capture):
    refs: list[Any] = []

    def stage(decorator: Any) -> Any:
        return decorator(capture=capture)

    USAGE[case](refs, stage)
    assert len(telemetry.spans) == 1  # the call ended; no metric was collected yet
    _assert_released(refs)
