"""Time per output chunk: one point per chunk after the first of a streamed generation, the
time since the previous chunk (semantic-conventions-genai client-inference.md; v1.41.0's
gen_ai.client.operation.time_per_output_chunk in the pinned mode)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

import ragsight
from ragsight import names
from ragsight._core import engine as _engine
from ragsight._core import semconv as _semconv
from ragsight.testing import Telemetry, capture_telemetry

SPEC_BY_MODE = {
    names.SEMCONV_LATEST: names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    names.SEMCONV_V1_41: names.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
}


class _Clock:
    """Stands in for the engine's perf_counter: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr(_engine, "perf_counter", clock)
    return clock


@pytest.fixture(params=names.SEMCONV_MODES)
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    _semconv.set_mode(request.param)
    try:
        yield request.param
    finally:
        _semconv.reset_for_tests()


def _three_chunks(clock: _Clock) -> Iterator[str]:
    clock.now += 0.5
    yield "a"
    clock.now += 0.25
    yield "b"
    clock.now += 1.5
    yield "c"


def test_each_chunk_after_the_first_is_one_point_of_its_gap(clock: _Clock, mode: str) -> None:
    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def stream(q: str) -> Iterator[str]:
        yield from _three_chunks(clock)

    with capture_telemetry() as telemetry:
        assert list(stream("q")) == ["a", "b", "c"]
        (point,) = telemetry.metric_points(SPEC_BY_MODE[mode].name)
    assert point.count == 2
    assert point.sum == 1.75
    assert point.explicit_bounds == names.GEN_AI_DURATION_BUCKETS
    assert dict(point.attributes) == {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "openai",
        names.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    }


def test_each_mode_records_only_its_own_name(clock: _Clock, mode: str) -> None:
    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[str]:
        yield from _three_chunks(clock)

    with capture_telemetry() as telemetry:
        list(stream("q"))
        other = {m: s for m, s in SPEC_BY_MODE.items() if m != mode}
        assert [telemetry.metric_points(s.name) for s in other.values()] == [[]]


def test_the_time_the_consumer_holds_a_chunk_counts_toward_the_next_gap(clock: _Clock) -> None:
    # "from the end of the previous chunk to the end of the current chunk"
    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[str]:
        yield from _three_chunks(clock)

    with capture_telemetry() as telemetry:
        for _chunk in stream("q"):
            clock.now += 2.0
        (point,) = telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name)
    assert point.sum == 1.75 + 2 * 2.0


def test_an_async_stream_records_its_gaps(clock: _Clock) -> None:
    @ragsight.generation(model="m")
    async def stream(q: str) -> AsyncIterator[str]:
        for chunk in _three_chunks(clock):
            yield chunk

    async def consume() -> list[str]:
        return [chunk async for chunk in stream("q")]

    with capture_telemetry() as telemetry:
        asyncio.run(consume())
        (point,) = telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name)
    assert (point.count, point.sum) == (2, 1.75)


def test_a_stream_failing_after_two_chunks_keeps_its_gap_without_error_type(
    clock: _Clock,
) -> None:
    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[str]:
        clock.now += 0.5
        yield "a"
        clock.now += 0.25
        yield "b"
        raise TimeoutError("stream broke")

    with capture_telemetry() as telemetry:
        with pytest.raises(TimeoutError):
            list(stream("q"))
        (point,) = telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name)
    assert (point.count, point.sum) == (1, 0.25)
    assert names.ERROR_TYPE not in point.attributes


def _points_of(telemetry: Telemetry) -> list[object]:
    return list(telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name))


def test_a_single_chunk_stream_records_no_gap(clock: _Clock) -> None:
    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[str]:
        clock.now += 0.5
        yield "only"

    with capture_telemetry() as telemetry:
        list(stream("q"))
        assert _points_of(telemetry) == []
        assert telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name)


def test_a_returned_answer_is_not_a_stream_and_records_no_gap() -> None:
    @ragsight.generation(model="m")
    def answer(q: str) -> str:
        return "whole"

    with capture_telemetry() as telemetry:
        answer("q")
        assert _points_of(telemetry) == []


def test_a_streamed_retrieval_records_no_chunk_gaps(clock: _Clock) -> None:
    @ragsight.retrieval(data_source="kb")
    def search(q: str) -> Iterator[str]:
        yield from _three_chunks(clock)

    with capture_telemetry() as telemetry:
        list(search("q"))
        assert _points_of(telemetry) == []


def test_a_very_long_stream_keeps_the_point_count_and_sum_exact(
    clock: _Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "_MAX_CHUNK_GAPS", 4)
    gaps = [0.05, 0.05, 0.05, 0.05, 1.0, 3.0]  # past the bound: 1.0 and 3.0 merge to 2.0

    @ragsight.generation(model="m")
    def stream(q: str) -> Iterator[int]:
        yield 0
        for i, gap in enumerate(gaps, 1):
            clock.now += gap
            yield i

    with capture_telemetry() as telemetry:
        list(stream("q"))
        (point,) = telemetry.metric_points(names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name)
    assert point.count == 6
    assert point.sum == pytest.approx(sum(gaps))
    assert point.bucket_counts is not None
    bounds = names.GEN_AI_DURATION_BUCKETS
    assert point.bucket_counts[bounds.index(2.56)] == 2  # (1.28, 2.56]: the two merged gaps
