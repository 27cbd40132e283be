"""Metric points, read through the SDK's in-memory reader."""

from __future__ import annotations

import asyncio

import pytest

import ragsight
from ragsight import names
from ragsight._core import metrics as _metrics


def attrs(point) -> dict:  # type: ignore[no-untyped-def]
    return dict(point.attributes)


def test_stage_duration_histogram_has_stage_operation_and_explicit_buckets(otel):
    @ragsight.retrieval(data_source="kb")
    def search(q: str) -> list[str]:
        return []

    search("a")
    search("b")
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert attrs(point) == {names.RAG_STAGE: "retrieval", names.RAG_OPERATION_NAME: "search"}
    assert point.count == 2
    assert tuple(point.explicit_bounds) == names.STAGE_DURATION_BUCKETS


def test_failed_calls_carry_error_type_so_error_rate_is_computable(otel):
    @ragsight.instrument
    def flaky(fail: bool) -> None:
        if fail:
            raise ConnectionError("down")

    flaky(False)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            flaky(True)
    by_error = {
        attrs(p).get(names.ERROR_TYPE): p.count
        for p in otel.points(names.RAG_OPERATION_DURATION.name)
    }
    assert by_error == {None: 1, "ConnectionError": 3}


def test_cancelled_calls_are_labelled_cancelled(otel):
    @ragsight.instrument
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert attrs(point)[names.ERROR_TYPE] == names.ERROR_TYPE_CANCELLED


def test_inference_duration_uses_spec_attributes_and_buckets(otel):
    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer(q: str) -> str:
        return "a"

    answer("q")
    (point,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_DURATION.name)
    assert attrs(point) == {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "openai",
        names.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    }
    assert tuple(point.explicit_bounds) == names.GEN_AI_DURATION_BUCKETS


class Usage:
    prompt_tokens = 120
    completion_tokens = 30


class Choice:
    finish_reason = "stop"


class ChatCompletion:
    id = "chatcmpl-1"
    model = "gpt-4o-mini-2024-07-18"
    usage = Usage()
    choices = (Choice(),)


def test_token_usage_is_read_from_openai_style_responses(otel):
    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer(q: str) -> ChatCompletion:
        return ChatCompletion()

    answer("q")
    (tokens_in,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS.name)
    (tokens_out,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS.name)
    assert (tokens_in.value, tokens_out.value) == (120, 30)
    span = otel.span("chat gpt-4o-mini")
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert span.attributes[names.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_anthropic_style_usage_dicts_are_read(otel):
    @ragsight.generation(provider="anthropic", model="claude")
    def answer() -> dict:
        return {"usage": {"input_tokens": 7, "output_tokens": 3}, "stop_reason": "end_turn"}

    answer()
    span = otel.span("chat claude")
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


def test_retrieval_documents_and_top_score_are_recorded(otel):
    class Doc:
        def __init__(self, score: float) -> None:
            self.score = score

    @ragsight.retrieval(data_source="kb")
    def search() -> list[Doc]:
        return [Doc(0.2), Doc(0.9), Doc(0.4)]

    search()
    (docs,) = otel.points(names.RAG_RETRIEVAL_DOCUMENTS.name)
    (score,) = otel.points(names.RAG_RETRIEVAL_SCORE.name)
    assert docs.sum == 3
    assert score.sum == pytest.approx(0.9)
    span = otel.span("retrieval kb")
    assert span.attributes[names.RAG_RETRIEVAL_MEAN_SCORE] == pytest.approx(0.5)


def test_langchain_style_pairs_and_result_containers_are_read(otel):
    @ragsight.retrieval(data_source="pairs", score="similarity")  # a bare pair's number
    def pairs() -> list[tuple[str, float]]:  # is store-defined until declared
        return [("doc", 0.7), ("doc2", 0.6)]

    @ragsight.rerank(model="cohere")
    def ranked() -> dict:
        return {"results": [{"relevance_score": 0.95}]}

    pairs()
    ranked()
    assert otel.span("retrieval pairs").attributes[names.RAG_RETRIEVAL_TOP_SCORE] == 0.7
    rerank = otel.span("rerank cohere").attributes
    assert rerank[names.RAG_RETRIEVAL_TOP_SCORE] == 0.95
    assert rerank[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 1


def test_embedding_dimension_is_read(otel):
    @ragsight.embedding(provider="openai", model="text-embedding-3-small")
    def embed(texts: list[str]) -> list[list[float]]:
        return [[0.0] * 8 for _ in texts]

    embed(["a", "b"])
    span = otel.span("embeddings text-embedding-3-small")
    assert span.attributes[names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8


def test_user_extract_hook_supplies_documents_and_span_attributes(otel):
    @ragsight.retrieval(
        data_source="custom",
        extract=lambda r: {"scores": r["s"], "documents": r["d"], "db.collection.name": "c"},
    )
    def search() -> dict:
        return {"s": [0.1, 0.6], "d": ["x", "y", "z"]}

    search()
    span = otel.span("retrieval custom").attributes
    assert span[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert span[names.RAG_RETRIEVAL_TOP_SCORE] == 0.6
    assert span["db.collection.name"] == "c"


def test_cache_block_counts_hits_misses_and_errors(otel):
    for hit in (True, False, True):
        with ragsight.cache("answers") as c:
            c.hit() if hit else c.miss()
    with pytest.raises(OSError), ragsight.cache("answers"):
        raise OSError("redis down")
    counts = {
        attrs(p)[names.RAG_CACHE_RESULT]: p.value
        for p in otel.points(names.RAG_CACHE_REQUESTS.name)
    }
    assert counts == {"hit": 2, "miss": 1, "error": 1}
    spans = [s for s in otel.spans() if s.name == "cache answers"]
    assert [s.attributes[names.RAG_CACHE_RESULT] for s in spans] == ["hit", "miss", "hit", "error"]


def test_async_cache_block(otel):
    async def main() -> None:
        async with ragsight.cache("emb") as c:
            c.miss()

    asyncio.run(main())
    (point,) = otel.points(names.RAG_CACHE_REQUESTS.name)
    assert attrs(point) == {names.RAG_CACHE_NAME: "emb", names.RAG_CACHE_RESULT: "miss"}


def test_drained_values_appear_in_the_same_collection(otel):
    """Calls are bookkept in a deque and drained by an observable callback on the same
    meter; the SDK runs callbacks before reading synchronous storage, so one collect()
    already holds every call made before it."""

    @ragsight.instrument
    def step() -> None:
        pass

    for _ in range(5):
        step()
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 5
    step()
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 6


def test_metrics_stay_exact_when_traces_are_sampled_out(otel):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from ragsight._core import runtime as _runtime

    previous = _runtime.override(TracerProvider(sampler=ALWAYS_OFF), otel.meter_provider)
    try:

        @ragsight.instrument
        def step() -> None:
            pass

        for _ in range(7):
            step()
    finally:
        _runtime.restore(previous)
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 7


def test_pending_bookkeeping_stays_bounded_without_collection(otel, monkeypatch):
    monkeypatch.setattr(_metrics, "SOFT_LIMIT", 8)
    monkeypatch.setattr(_metrics, "HARD_LIMIT", 16)
    from ragsight._core import engine as _engine

    monkeypatch.setattr(_engine, "SOFT_LIMIT", 8)
    drains: list[int] = []
    monkeypatch.setattr(_metrics._drainer, "request", lambda inst: drains.append(1))

    @ragsight.instrument
    def step() -> None:
        pass

    from ragsight._core import runtime as _runtime

    rt = _runtime.get()
    assert rt is not None
    for _ in range(100):
        step()
        assert len(rt.pending) <= 16
    assert drains  # the background drain was asked for past the soft limit
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 100  # and nothing was lost


def test_background_drainer_empties_the_queue(otel):
    from ragsight._core import runtime as _runtime

    rt = _runtime.get()
    assert rt is not None
    assert rt.instruments is not None
    plan = ragsight.instrument(lambda: None).__ragsight_stage__.plan
    for _ in range(10):
        rt.pending.append((plan, 0.001, None, None, None))
    done = __import__("threading").Event()
    original = rt.instruments.drain

    def drain(limit=None):  # type: ignore[no-untyped-def]
        original(limit)
        done.set()

    rt.instruments.drain = drain  # type: ignore[method-assign]
    _metrics._drainer.request(rt.instruments)
    assert done.wait(10)
    assert len(rt.pending) == 0


def test_sampled_spans_leave_exemplars_with_their_trace_id(otel):
    @ragsight.instrument
    def step() -> None:
        pass

    step()
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    span = otel.span("step")
    assert [e.trace_id for e in point.exemplars] == [span.context.trace_id]


def test_metric_attributes_never_exceed_the_spec_allow_lists(otel):
    @ragsight.retrieval(data_source="kb", top_k=3, attributes={"user.id": "u-123"})
    def search(query: str) -> list[dict]:
        return [{"score": 0.5, "id": "doc-1"}]

    @ragsight.generation(provider="p", model="m")
    def answer(query: str) -> ChatCompletion:
        return ChatCompletion()

    search("secret question")
    answer("secret question")
    ragsight.record_evaluation("relevance", 0.5, label="pass")
    with ragsight.cache("c") as c:
        c.hit()
    allowed = {spec.name: set(spec.attributes) for spec in names.METRICS}
    data = otel.reader.get_metrics_data()
    seen = 0
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    seen += 1
                    assert set(dp.attributes) <= allowed[metric.name], metric.name
    assert seen >= 7


def test_flush_metrics_records_pending_calls_without_a_collection(otel):
    from ragsight._core import runtime as _runtime

    @ragsight.instrument
    def step() -> None:
        pass

    step()
    rt = _runtime.get()
    assert rt is not None
    assert len(rt.pending) == 1
    _runtime.flush_metrics()
    assert len(rt.pending) == 0
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 1


def test_a_collection_drains_only_the_calls_pending_when_it_started(otel, monkeypatch):
    """Producers that keep up with the drain must not keep a collection running forever
    (the SDK fails the whole collection with MetricsTimeoutError after its deadline)."""
    from ragsight._core import runtime as _runtime

    @ragsight.instrument
    def step() -> None:
        pass

    rt = _runtime.get()
    assert rt is not None
    assert rt.instruments is not None
    for _ in range(10):
        step()
    original = rt.instruments.record
    produced = [0]

    def record_while_others_call(item):  # type: ignore[no-untyped-def]
        original(item)
        if produced[0] < 1000:  # a concurrent caller adds one call per drained call
            produced[0] += 1
            step()

    monkeypatch.setattr(rt.instruments, "record", record_while_others_call)
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == 10
    assert len(rt.pending) == 10  # the calls made meanwhile wait for the next collection


def test_concurrent_collection_neither_loses_nor_double_counts_calls(otel):
    import threading

    @ragsight.retrieval
    def search() -> list[dict[str, float]]:
        return [{"score": 0.5}]

    threads, per_thread = 4, 3000
    stop = threading.Event()
    collections: list[int] = []
    failures: list[BaseException] = []

    def collect() -> None:
        while not stop.is_set():
            try:
                points = otel.points(names.RAG_OPERATION_DURATION.name)
                collections.append(sum(p.count for p in points))
            except BaseException as exc:
                failures.append(exc)

    def call() -> None:
        for _ in range(per_thread):
            search()

    reader = threading.Thread(target=collect)
    reader.start()
    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    reader.join()
    assert failures == []
    assert collections == sorted(collections)  # cumulative: never goes back
    (point,) = otel.points(names.RAG_OPERATION_DURATION.name)
    assert point.count == threads * per_thread
    (documents,) = otel.points(names.RAG_RETRIEVAL_DOCUMENTS.name)
    assert documents.count == threads * per_thread


class _Clock:
    """Stands in for the engine's perf_counter: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_streamed_generation_records_time_to_first_chunk(otel, monkeypatch):
    from ragsight._core import engine as _engine

    clock = _Clock()
    monkeypatch.setattr(_engine, "perf_counter", clock)

    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def stream(q: str):  # type: ignore[no-untyped-def]
        clock.now += 0.5  # waiting for the first token
        yield "Hel"
        clock.now += 1.5
        yield "lo"

    for _chunk in stream("q"):
        clock.now += 10.0  # the consumer's time is not the model's
    span = otel.span("chat gpt-4o-mini")
    assert span.attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == 0.5
    (point,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name)
    assert attrs(point) == {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "openai",
        names.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    }
    assert point.count == 1
    assert point.sum == 0.5
    assert tuple(point.explicit_bounds) == names.GEN_AI_DURATION_BUCKETS


def test_async_streamed_generation_failing_after_a_chunk_keeps_its_first_chunk_time(
    otel, monkeypatch
):
    from ragsight._core import engine as _engine

    clock = _Clock()
    monkeypatch.setattr(_engine, "perf_counter", clock)

    @ragsight.generation(model="m")
    async def stream(q: str):  # type: ignore[no-untyped-def]
        clock.now += 0.25
        yield "a"
        raise TimeoutError("stream broke")

    async def consume() -> None:
        async for _chunk in stream("q"):
            pass

    with pytest.raises(TimeoutError):
        asyncio.run(consume())
    assert otel.span("chat m").attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == 0.25
    (point,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name)
    assert point.sum == 0.25
    # the conventions give time_to_first_chunk no error.type (client-inference.md): the
    # first chunk arrived; the failure is on the duration and the span
    assert names.ERROR_TYPE not in attrs(point)
    (duration,) = otel.points(names.GEN_AI_CLIENT_INFERENCE_DURATION.name)
    assert attrs(duration)[names.ERROR_TYPE] == "TimeoutError"


@pytest.mark.parametrize("mode", names.SEMCONV_MODES)
def test_time_to_first_chunk_of_a_stream_failing_later_has_no_error_type_in_either_mode(mode):
    from ragsight._core import semconv as _semconv
    from ragsight.testing import capture_telemetry

    spec = {
        names.SEMCONV_LATEST: names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
        names.SEMCONV_V1_41: names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    }[mode]

    @ragsight.generation(provider="openai", model="m")
    def stream(q: str):  # type: ignore[no-untyped-def]
        yield "a"
        raise TimeoutError("stream broke")

    _semconv.set_mode(mode)
    try:
        with capture_telemetry() as telemetry:
            with pytest.raises(TimeoutError):
                list(stream("q"))
            points = telemetry.metric_points(spec.name)
    finally:
        _semconv.reset_for_tests()
    assert [dict(p.attributes) for p in points] == [
        {
            names.GEN_AI_OPERATION_NAME: "chat",
            names.GEN_AI_PROVIDER_NAME: "openai",
            names.GEN_AI_REQUEST_MODEL: "m",
        }
    ]
    assert names.ERROR_TYPE not in spec.attributes


def test_time_to_first_chunk_is_only_for_streamed_generation(otel):
    @ragsight.generation(model="m")
    def answer(q: str) -> str:
        return "whole answer"

    @ragsight.retrieval
    def search(q: str):  # type: ignore[no-untyped-def]
        yield {"score": 0.5}

    answer("q")
    list(search("q"))
    assert otel.points(names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name) == []
    assert all(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in s.attributes for s in otel.spans())


def test_every_stage_metric_stays_exact_under_a_parent_based_zero_ratio_sampler(otel):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from ragsight._core import runtime as _runtime

    sampler = ParentBased(TraceIdRatioBased(0))
    previous = _runtime.override(TracerProvider(sampler=sampler), otel.meter_provider)
    try:

        @ragsight.retrieval(data_source="kb")
        def search() -> list[dict[str, float]]:
            return [{"score": 0.5}, {"score": 0.7}]

        @ragsight.pipeline
        def answer() -> None:
            search()

        for _ in range(9):
            answer()
    finally:
        _runtime.restore(previous)
    durations = otel.points(names.RAG_OPERATION_DURATION.name)
    assert sorted(p.count for p in durations) == [9, 9]
    (documents,) = otel.points(names.RAG_RETRIEVAL_DOCUMENTS.name)
    assert (documents.count, documents.sum) == (9, 18)
    (scores,) = otel.points(names.RAG_RETRIEVAL_SCORE.name)
    assert scores.count == 9
    assert all(not p.exemplars for p in durations)  # nothing sampled, nothing to link
