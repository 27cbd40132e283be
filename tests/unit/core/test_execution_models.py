"""Every execution model: span lifetime covers the work, outcome recorded, value unchanged."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import ragsight
from ragsight import names

WORK = 0.02  # seconds of real work inside a stage; spans must be at least this long


def duration(span: object) -> float:
    return (span.end_time - span.start_time) / 1e9  # type: ignore[attr-defined]


def test_sync_function_returns_its_value_inside_one_span(otel):
    @ragsight.instrument
    def step(x: int) -> int:
        time.sleep(WORK)
        return x * 2

    assert step(21) == 42
    span = otel.span("step")
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[names.RAG_STAGE] == names.STAGE_GENERIC
    assert duration(span) >= WORK


def test_async_function_span_covers_the_awaited_work(otel):
    @ragsight.retrieval(data_source="kb")
    async def search(q: str) -> list[dict[str, float]]:
        await asyncio.sleep(WORK)
        return [{"score": 0.9}, {"score": 0.5}]

    assert asyncio.run(search("q")) == [{"score": 0.9}, {"score": 0.5}]
    span = otel.span("retrieval kb")
    assert duration(span) >= WORK
    assert span.attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2


def test_generator_span_covers_the_whole_iteration(otel):
    @ragsight.retrieval(data_source="stream")
    def docs() -> Iterator[dict[str, float]]:
        for s in (0.3, 0.8, 0.1):
            time.sleep(WORK)
            yield {"score": s}

    assert [d["score"] for d in docs()] == [0.3, 0.8, 0.1]
    span = otel.span("retrieval stream")
    assert duration(span) >= 3 * WORK
    assert span.attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert span.attributes[names.RAG_RETRIEVAL_TOP_SCORE] == 0.8


def test_generator_return_value_reaches_yield_from(otel):
    @ragsight.instrument
    def gen() -> Iterator[int]:
        yield 1
        return "done"  # type: ignore[misc]

    def outer():  # type: ignore[no-untyped-def]
        result = yield from gen()
        yield result

    assert list(outer()) == [1, "done"]


def test_generator_send_and_throw_are_forwarded(otel):
    @ragsight.instrument
    def echo() -> Iterator[object]:
        received = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "caught"

    g = echo()
    next(g)
    assert g.send("a") == "a"
    assert g.throw(KeyError()) == "caught"
    g.close()
    assert otel.span("echo").status.status_code is StatusCode.UNSET


def test_span_ends_when_generator_is_closed_early(otel):
    finalised = []

    @ragsight.instrument
    def numbers() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            finalised.append(True)

    for n in numbers():
        if n == 2:
            break
    span = otel.span("numbers")
    assert span.end_time is not None
    assert span.status.status_code is StatusCode.UNSET
    assert names.ERROR_TYPE not in span.attributes
    assert finalised == [True]


def test_async_generator_span_covers_iteration(otel):
    @ragsight.instrument
    async def ticks() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(WORK)
            yield i

    async def main() -> list[int]:
        return [i async for i in ticks()]

    assert asyncio.run(main()) == [0, 1, 2]
    assert duration(otel.span("ticks")) >= 3 * WORK


def test_span_ends_when_async_generator_is_closed_early(otel):
    @ragsight.instrument
    async def ticks() -> AsyncIterator[int]:
        for i in range(100):
            yield i

    async def main() -> None:
        gen = ticks()
        async for i in gen:
            if i == 1:
                break
        await gen.aclose()

    asyncio.run(main())
    span = otel.span("ticks")
    assert span.status.status_code is StatusCode.UNSET
    assert names.ERROR_TYPE not in span.attributes


def test_consumer_code_between_items_is_not_inside_the_generator_span(otel):
    @ragsight.instrument
    def produce() -> Iterator[int]:
        yield 1
        yield 2

    @ragsight.instrument
    def consume_item(i: int) -> int:
        return i

    for i in produce():
        consume_item(i)
    produce_span = otel.span("produce")
    for span in otel.spans():
        if span.name == "consume_item":
            assert span.parent is None or span.parent.span_id != produce_span.context.span_id


class Retriever:
    factor = 3

    @ragsight.instrument
    def method(self, x: int) -> int:
        return x * self.factor

    @ragsight.instrument
    @classmethod
    def cls_method_outer(cls, x: int) -> int:
        return x * cls.factor

    @classmethod
    @ragsight.instrument
    def cls_method_inner(cls, x: int) -> int:
        return x * cls.factor

    @ragsight.instrument
    @staticmethod
    def static(x: int) -> int:
        return x + 1


def test_methods_classmethods_and_staticmethods_are_bound_correctly(otel):
    r = Retriever()
    assert r.method(2) == 6
    assert Retriever.cls_method_outer(2) == 6
    assert r.cls_method_inner(2) == 6
    assert Retriever.static(2) == 3
    assert r.static(2) == 3
    assert sorted(s.name for s in otel.spans()) == sorted(
        [
            "Retriever.method",
            "Retriever.cls_method_outer",
            "Retriever.cls_method_inner",
            "Retriever.static",
            "Retriever.static",
        ]
    )


class Boom(Exception):
    pass


def test_exception_marks_error_and_the_same_object_propagates(otel):
    raised = Boom("bad thing")

    @ragsight.instrument
    def fail() -> None:
        raise raised

    with pytest.raises(Boom) as info:
        fail()
    assert info.value is raised
    span = otel.span("fail")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == f"{__name__}.Boom"
    assert [e.name for e in span.events] == ["exception"]


def test_error_type_is_the_qualified_class_name(otel):
    class Outer:
        class Inner(Exception):
            pass

    @ragsight.instrument
    def fail() -> None:
        raise Outer.Inner()

    with pytest.raises(Outer.Inner):
        fail()
    assert otel.span("fail").attributes[names.ERROR_TYPE].endswith("Outer.Inner")


def test_async_exception_marks_error(otel):
    @ragsight.generation(provider="openai", model="m")
    async def gen() -> str:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        asyncio.run(gen())
    span = otel.span("chat m")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "TimeoutError"


def test_exception_inside_generator_marks_error(otel):
    @ragsight.instrument
    def gen() -> Iterator[int]:
        yield 1
        raise ValueError("mid-stream")

    with pytest.raises(ValueError, match="mid-stream"):
        list(gen())
    assert otel.span("gen").status.status_code is StatusCode.ERROR


def test_keyboard_interrupt_is_not_an_error(otel):
    @ragsight.instrument
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    span = otel.span("interrupted")
    assert span.status.status_code is StatusCode.UNSET
    assert names.ERROR_TYPE not in span.attributes


def test_cancellation_ends_span_as_cancelled_and_propagates(otel):
    started = asyncio.Event

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
    assert started is asyncio.Event
    span = otel.span("slow")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[names.RAG_CANCELLED] is True
    assert span.attributes[names.ERROR_TYPE] == names.ERROR_TYPE_CANCELLED


def test_nested_stages_are_parent_and_child(otel):
    @ragsight.retrieval(data_source="kb")
    def search() -> list[str]:
        return ["a"]

    @ragsight.pipeline("answer")
    def handle() -> list[str]:
        return search()

    handle()
    parent = otel.span("invoke_workflow answer")
    child = otel.span("retrieval kb")
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id


def test_async_nested_stages_under_gather_share_the_parent(otel):
    @ragsight.embedding(model="e")
    async def embed(i: int) -> list[float]:
        await asyncio.sleep(0)
        return [0.0] * 4

    @ragsight.pipeline("p")
    async def handle() -> None:
        await asyncio.gather(embed(1), embed(2))

    asyncio.run(handle())
    parent = otel.span("invoke_workflow p")
    children = [s for s in otel.spans() if s.name == "embeddings e"]
    assert len(children) == 2
    assert all(c.parent.span_id == parent.context.span_id for c in children)


def test_thread_pool_children_are_parented_to_the_stage(otel):
    from concurrent.futures import ThreadPoolExecutor

    @ragsight.embedding(model="e")
    def embed(i: int) -> list[float]:
        return [float(i)]

    @ragsight.pipeline("fanout")
    def handle() -> list[list[float]]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(embed, range(2)))

    assert handle() == [[0.0], [1.0]]
    parent = otel.span("invoke_workflow fanout")
    children = [s for s in otel.spans() if s.name == "embeddings e"]
    assert len(children) == 2
    assert all(c.parent is not None for c in children)
    assert all(c.parent.span_id == parent.context.span_id for c in children)


def test_introspection_survives_decoration():
    async def fetch(query: str, k: int = 3) -> list[str]:
        """Fetch documents."""
        return []

    async def agen() -> AsyncIterator[int]:
        yield 1

    def gen() -> Iterator[int]:
        yield 1

    decorated = ragsight.retrieval(fetch)
    assert inspect.iscoroutinefunction(decorated)
    assert asyncio.iscoroutinefunction(decorated)
    assert inspect.signature(decorated) == inspect.signature(fetch)
    assert decorated.__name__ == "fetch"
    assert decorated.__doc__ == "Fetch documents."
    assert decorated.__wrapped__ is fetch
    assert functools.WRAPPER_ASSIGNMENTS  # the attributes wraps copies are all readable:
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        assert getattr(decorated, attr) == getattr(fetch, attr)
    assert inspect.isasyncgenfunction(ragsight.instrument(agen))
    assert inspect.isgeneratorfunction(ragsight.instrument(gen))


def test_bare_and_called_forms_are_equivalent(otel):
    def f() -> int:
        return 1

    ragsight.tool(f)()
    ragsight.tool()(f)()
    ragsight.tool("named")(f)()
    assert [s.name for s in otel.spans()] == [
        "execute_tool f",
        "execute_tool f",
        "execute_tool named",
    ]


def test_applying_the_same_stage_twice_is_a_no_op(otel):
    def f() -> int:
        return 1

    once = ragsight.instrument(f)
    assert ragsight.instrument(once) is once
    once()
    assert len(otel.spans()) == 1


def test_stage_wrapper_exposes_a_rewrap_binding_that_stays_off_the_function(otel):
    def f(x: int) -> int:
        return x

    decorated = ragsight.rerank(model="r")(f)
    binding = decorated.__ragsight_stage__
    assert not hasattr(f, "__ragsight_stage__")

    calls = []

    def guard(x: int) -> int:
        calls.append(x)
        return f(x)

    rewrapped = binding.rewrap(guard)
    assert rewrapped(5) == 5
    assert calls == [5]
    assert otel.span("rerank r").attributes[names.GEN_AI_OPERATION_NAME] == names.OP_RERANK


def test_current_stage_inside_a_generator_is_not_visible_to_its_consumer(otel):
    @ragsight.instrument
    def produce() -> Iterator[object]:
        yield ragsight.current_stage()

    for handle in produce():
        assert handle is not ragsight.current_stage()
        assert not ragsight.current_stage().span.is_recording()


def test_async_generator_cancelled_mid_iteration_is_recorded_as_cancelled(otel):
    @ragsight.instrument
    async def ticks() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def consume() -> None:
        async for _ in ticks():
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = otel.span("ticks")
    assert span.attributes[names.RAG_CANCELLED] is True
    assert span.status.status_code is StatusCode.UNSET


def test_async_methods_stay_coroutine_functions():
    class Client:
        @ragsight.generation(model="m")
        async def ask(self, q: str) -> str:
            return q

    assert inspect.iscoroutinefunction(Client.ask)
    assert inspect.iscoroutinefunction(Client().ask)
    assert asyncio.run(Client().ask("x")) == "x"


def test_exception_whose_str_raises_still_marks_the_span_error(otel):
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    @ragsight.instrument
    def fail() -> None:
        raise Unprintable()

    with pytest.raises(Unprintable):
        fail()
    span = otel.span("fail")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE].endswith("Unprintable")
    (event,) = span.events
    assert event.name == names.EVENT_EXCEPTION
    assert event.attributes[names.EXCEPTION_MESSAGE] == "<exception str() failed>"


class _AsyncClient:
    async def __call__(self, prompt: str) -> str:
        await asyncio.sleep(0)
        raise ConnectionError("provider down")


class _StreamingClient:
    async def __call__(self, prompt: str) -> AsyncIterator[str]:
        yield "chunk"


def test_callable_object_with_async_call_gets_a_span_covering_the_awaited_work(otel):
    client = ragsight.generation(_AsyncClient())
    with pytest.raises(ConnectionError):
        asyncio.run(client("q"))
    span = otel.span("chat")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "ConnectionError"


def test_callable_object_with_async_generator_call_is_a_streamed_stage(otel):
    client = ragsight.generation(_StreamingClient())

    async def consume() -> list[str]:
        return [chunk async for chunk in client("q")]

    assert asyncio.run(consume()) == ["chunk"]
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in otel.span("chat").attributes


def test_async_generator_consumed_by_another_task_keeps_its_creation_parent(otel, caplog):
    # the StreamingResponse shape: the endpoint builds the stream, the server's task
    # iterates it (openllmetry #3061: "Failed to detach context")
    @ragsight.generation(model="m")
    async def tokens() -> AsyncIterator[str]:
        yield "a"
        await asyncio.sleep(0)
        yield "b"

    @ragsight.pipeline("answer")
    async def endpoint() -> AsyncIterator[str]:
        return tokens()

    async def server() -> list[str]:
        stream = await endpoint()
        first = await stream.__anext__()

        async def rest() -> list[str]:
            return [first] + [chunk async for chunk in stream]

        return await asyncio.create_task(rest())

    with caplog.at_level("ERROR"):
        assert asyncio.run(server()) == ["a", "b"]
    assert "Failed to detach" not in caplog.text
    parent, child = otel.span("invoke_workflow answer"), otel.span("chat m")
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id


def test_sync_generator_created_in_one_thread_and_consumed_in_another(otel):
    import threading

    @ragsight.retrieval(data_source="kb")
    def search() -> Iterator[dict[str, float]]:
        yield {"score": 0.9}
        yield {"score": 0.1}

    @ragsight.pipeline("answer")
    def build() -> Iterator[dict[str, float]]:
        return search()

    stream = build()
    out: list[dict[str, float]] = []
    worker = threading.Thread(target=lambda: out.extend(stream))
    worker.start()
    worker.join()
    assert len(out) == 2
    span = otel.span("retrieval kb")
    assert span.parent is not None
    assert span.parent.span_id == otel.span("invoke_workflow answer").context.span_id
    assert span.attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
