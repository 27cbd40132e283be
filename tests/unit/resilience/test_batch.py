"""Resilient batch processing: nothing lost, every failure reported, concurrency bounded."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragsight import (
    CircuitBreaker,
    CircuitOpenError,
    RetryPolicy,
    aprocess_documents,
    process_documents,
)
from ragsight import names as n
from ragsight._resilience import telemetry as rt
from ragsight.resilience_testing import FakeClock, fake_clock


class Transient(ConnectionError):
    pass


class BadDocument(ValueError):
    pass


def handler_failing_on_multiples_of_7(doc: int) -> int:
    if doc % 7 == 0:
        raise BadDocument(f"cannot parse {doc}")
    return doc * 10


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_document_is_accounted_for_and_every_failure_reported(concurrency: int) -> None:
    docs = list(range(100))
    result = process_documents(docs, handler_failing_on_multiples_of_7, concurrency=concurrency)
    bad = [d for d in docs if d % 7 == 0]
    assert result.total == 100
    assert (result.success_count, result.failure_count, result.skipped_count) == (85, 15, 0)
    assert [f.index for f in result.failed] == bad
    assert [f.document for f in result.failed] == bad
    assert all(isinstance(f.error, BadDocument) for f in result.failed)
    assert result.failed[1].message == "cannot parse 7"
    assert result.failed[1].error_type.endswith("BadDocument")
    assert result.results == [d * 10 for d in docs if d % 7]
    assert not result.ok


def test_async_batch_accounts_for_every_document() -> None:
    async def handler(doc: int) -> int:
        await asyncio.sleep(0)
        return handler_failing_on_multiples_of_7(doc)

    result = asyncio.run(aprocess_documents(range(50), handler, concurrency=5))
    assert (result.total, result.success_count, result.failure_count) == (50, 42, 8)
    assert [f.index for f in result.failed] == [0, 7, 14, 21, 28, 35, 42, 49]


def test_retry_recovers_transient_failures_per_document() -> None:
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(doc: int) -> int:
        with lock:
            attempts[doc] = attempts.get(doc, 0) + 1
            first = attempts[doc] == 1
        if first and doc % 2 == 0:
            raise Transient()
        return doc

    policy = RetryPolicy(name="batch-retry", clock=FakeClock(), budget=False)
    result = process_documents(range(20), flaky, retry=policy, concurrency=4)
    assert (result.success_count, result.failure_count) == (20, 0)
    assert sum(attempts.values()) == 30


def test_documents_are_skipped_not_failed_once_the_breaker_opens_mid_batch() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("batch-cb", clock=clock, consecutive_failures=3)
    calls: list[int] = []

    def dependency_goes_down_at_10(doc: int) -> int:
        calls.append(doc)
        if doc >= 10:
            raise Transient(f"down for {doc}")
        return doc

    result = process_documents(
        range(30), dependency_goes_down_at_10, breaker=breaker, concurrency=1
    )
    assert result.success_count == 10
    assert [f.document for f in result.failed] == [10, 11, 12]
    assert [s.document for s in result.skipped] == list(range(13, 30))
    assert all(isinstance(s.error, CircuitOpenError) for s in result.skipped)
    assert calls == list(range(13))  # skipped documents never reached the dependency
    assert result.success_count + result.failure_count + result.skipped_count == result.total


def test_async_batch_reports_skips_when_the_breaker_opens() -> None:
    breaker = CircuitBreaker("abatch-cb", clock=FakeClock(), consecutive_failures=2)

    async def down(doc: int) -> None:
        raise Transient()

    result = asyncio.run(aprocess_documents(range(10), down, breaker=breaker, concurrency=1))
    assert (result.failure_count, result.skipped_count) == (2, 8)


def test_sync_concurrency_is_bounded_and_reached() -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(3)

    def handler(doc: int) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        barrier.wait(timeout=10)  # all three workers are inside together
        with lock:
            in_flight -= 1
        return doc

    result = process_documents(range(30), handler, concurrency=3)
    assert result.success_count == 30
    assert peak == 3


def test_async_concurrency_is_bounded_and_reached() -> None:
    async def scenario() -> tuple[int, int]:
        in_flight = 0
        peak = 0

        async def handler(doc: int) -> int:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(3):
                await asyncio.sleep(0)
            in_flight -= 1
            return doc

        result = await aprocess_documents(range(40), handler, concurrency=4)
        return result.success_count, peak

    assert asyncio.run(scenario()) == (40, 4)


def test_lazy_and_async_iterables_are_consumed() -> None:
    def lazy() -> Iterator[int]:
        yield from range(5)

    async def alazy() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    assert process_documents(lazy(), lambda d: d).results == [0, 1, 2, 3, 4]
    result = asyncio.run(aprocess_documents(alazy(), lambda d: d, concurrency=2))
    assert result.results == [0, 1, 2, 3, 4]


def test_interrupts_stop_the_batch_and_propagate() -> None:
    def handler(doc: int) -> int:
        if doc == 3:
            raise KeyboardInterrupt
        return doc

    with pytest.raises(KeyboardInterrupt):
        process_documents(range(10), handler, concurrency=1)


def test_cancelling_an_async_batch_cancels_in_flight_documents() -> None:
    cancelled: list[int] = []

    async def scenario() -> None:
        started = asyncio.Event()

        async def handler(doc: int) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(doc)
                raise

        task = asyncio.ensure_future(aprocess_documents(range(10), handler, concurrency=2))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert sorted(cancelled) == [0, 1]


def test_elapsed_is_measured_on_the_monotonic_clock() -> None:
    with fake_clock() as clock:
        result = process_documents(range(3), lambda d: clock.advance(2.0), concurrency=1)
    assert result.elapsed == pytest.approx(6.0)


def test_results_can_be_dropped_for_huge_batches() -> None:
    result = process_documents(range(3), lambda d: "x" * 10, keep_results=False)
    assert result.results == [None, None, None]
    assert result.success_count == 3


def test_coroutine_handlers_are_refused_by_the_sync_processor() -> None:
    async def handler(doc: int) -> None:
        return None

    with pytest.raises(TypeError, match="aprocess_documents"):
        process_documents([1], handler)


def test_batch_outcomes_are_counted_and_failures_land_on_the_current_span() -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with rt.use_providers(meters), tracer_provider.get_tracer("t").start_as_current_span("job"):
        process_documents(range(14), handler_failing_on_multiples_of_7, name="ingest")
    counts: dict[str, Any] = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == n.BATCH_DOCUMENTS.name:
                    for p in m.data.data_points:
                        attrs = dict(p.attributes or {})
                        if attrs[n.RESILIENCE_NAME] == "ingest":
                            counts[str(attrs[n.BATCH_OUTCOME])] = p.value
    assert counts == {"succeeded": 12, "failed": 2}
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert (span.attributes[n.BATCH_SIZE], span.attributes[n.BATCH_FAILED]) == (14, 2)
    assert [e.name for e in span.events] == [n.EVENT_BATCH_ITEM_FAILED] * 2
    meters.shutdown()
    tracer_provider.shutdown()


def test_ctrl_c_while_waiting_stops_the_batch_and_leaves_no_worker_running() -> None:
    processed: list[int] = []

    def handler(doc: int) -> int:
        if doc == 0:
            os.kill(os.getpid(), signal.SIGINT)  # lands in the main thread, not in this worker
        processed.append(doc)
        return doc

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            process_documents(iter(range(1_000_000)), handler, concurrency=4)
    finally:
        signal.signal(signal.SIGINT, previous)
    alive = [t.name for t in threading.enumerate() if t.name.startswith("ragsight-batch")]
    assert alive == []  # the workers were told to stop and joined, not left to finish the batch
    assert len(processed) < 1_000_000


def test_a_sync_handler_returning_a_coroutine_is_refused_not_counted_as_success() -> None:
    async def embed(doc: int) -> int:
        return doc

    with pytest.raises(TypeError, match="aprocess_documents"):
        process_documents(range(10), lambda doc: embed(doc), concurrency=2)


def test_dropping_results_also_releases_the_succeeded_documents() -> None:
    class Doc:
        pass

    refs: list[weakref.ref[Doc]] = []

    def produce() -> Iterator[Doc]:
        for _ in range(50):
            doc = Doc()
            refs.append(weakref.ref(doc))
            yield doc

    result = process_documents(produce(), lambda d: d, concurrency=2, keep_results=False)
    gc.collect()
    assert result.success_count == 50
    assert [r for r in refs if r() is not None] == []  # nothing of the input is retained
    assert sorted(p.index for p in result.succeeded) == list(range(50))
