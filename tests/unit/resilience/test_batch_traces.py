"""One trace per batch, bounded per-document structure, and no outcome lost to a failing input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

import ragsight
from ragsight import names as n
from ragsight._resilience.batch import DOCUMENT_SPANS
from ragsight.testing import capture_telemetry


def handle(doc: int) -> int:
    if doc % 7 == 3:
        raise ValueError(doc)
    return doc * 2


def test_a_batch_is_one_trace_under_one_batch_span() -> None:
    @ragsight.embedding(model="e")
    def embed(doc: int) -> int:
        return doc

    with capture_telemetry() as t:
        ragsight.process_documents(range(41), embed, name="ingest")
    [root] = [s for s in t.spans if s.parent is None]
    assert root.name == f"{n.SPAN_BATCH} ingest"
    assert {s.context.trace_id for s in t.spans} == {root.context.trace_id}
    attrs = dict(root.attributes or {})
    assert attrs[n.BATCH_SIZE] == 41


def test_each_document_up_to_the_limit_has_its_own_span_with_its_outcome() -> None:
    with capture_telemetry() as t:
        ragsight.process_documents(range(10), handle, name="docs", concurrency=3)
    documents = [s for s in t.spans if s.name == n.SPAN_BATCH_DOCUMENT]
    outcomes = {dict(s.attributes or {})[n.BATCH_DOCUMENT_INDEX]: s for s in documents}
    assert sorted(outcomes) == list(range(10))
    assert dict(outcomes[3].attributes or {})[n.BATCH_OUTCOME] == "failed"
    assert dict(outcomes[4].attributes or {})[n.BATCH_OUTCOME] == "succeeded"


@pytest.mark.parametrize("size", [DOCUMENT_SPANS + 1, 5 * DOCUMENT_SPANS])
def test_document_spans_stop_at_the_limit_and_the_batch_span_says_how_many(size: int) -> None:
    with capture_telemetry() as t:
        result = ragsight.process_documents(range(size), handle, name="big")
    documents = [s for s in t.spans if s.name == n.SPAN_BATCH_DOCUMENT]
    assert len(documents) == DOCUMENT_SPANS
    [root] = [s for s in t.spans if s.parent is None]
    assert dict(root.attributes or {})[n.BATCH_DOCUMENT_SPANS] == DOCUMENT_SPANS
    assert result.total == size


def rows_then_oserror() -> Iterator[int]:
    yield from range(5)
    raise OSError("disk gone")


@pytest.mark.parametrize("concurrency", [1, 2, 8])
def test_an_input_that_raises_midway_carries_every_outcome_reached(concurrency: int) -> None:
    with pytest.raises(ragsight.BatchInputError) as info:
        ragsight.process_documents(rows_then_oserror(), handle, concurrency=concurrency)
    result = info.value.result
    assert result.total == 5
    assert sorted(p.index for p in result.succeeded) == [0, 1, 2, 4]
    assert [f.index for f in result.failed] == [3]
    assert isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_an_async_batch_whose_input_raises_carries_every_outcome(concurrency: int) -> None:
    async def ahandle(doc: int) -> int:
        return handle(doc)

    with pytest.raises(ragsight.BatchInputError) as info:
        asyncio.run(
            ragsight.aprocess_documents(rows_then_oserror(), ahandle, concurrency=concurrency)
        )
    assert info.value.result.total == 5
    assert len(info.value.result.succeeded) + len(info.value.result.failed) == 5


def test_an_async_iterable_that_raises_carries_every_outcome() -> None:
    async def rows() -> AsyncIterator[int]:
        for i in range(4):
            yield i
        raise OSError("stream cut")

    with pytest.raises(ragsight.BatchInputError) as info:
        asyncio.run(ragsight.aprocess_documents(rows(), handle, concurrency=2))
    assert info.value.result.total == 4
    assert isinstance(info.value.error, OSError)


def test_the_batch_span_of_a_failed_input_is_an_error_with_the_counts() -> None:
    with capture_telemetry() as t, pytest.raises(ragsight.BatchInputError):
        ragsight.process_documents(rows_then_oserror(), handle, name="cut")
    [root] = [s for s in t.spans if s.parent is None]
    assert dict(root.attributes or {})[n.BATCH_SIZE] == 5
    assert root.status.status_code.name == "ERROR"
