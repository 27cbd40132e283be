"""A stream that a plain decorated function returns and that raises while the caller reads
it: the stage ends failed with the stream's error, after the chunks read before it, and
the caller's context is current again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import ragsight
from ragsight import names


def _breaking() -> Iterator[str]:
    yield "a"
    raise TimeoutError("stream broke")


async def _abreaking() -> AsyncIterator[str]:
    yield "a"
    raise TimeoutError("stream broke")


@ragsight.generation(model="m")
def answer(q: str) -> Iterator[str]:
    return _breaking()


@ragsight.generation(model="m")
async def aanswer(q: str) -> AsyncIterator[str]:
    return _abreaking()


def test_a_returned_stream_that_raises_ends_its_stage_with_the_error(otel: Any) -> None:
    read: list[str] = []
    with pytest.raises(TimeoutError):
        read.extend(answer("q"))
    span = otel.span("chat m")
    assert read == ["a"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "TimeoutError"


def test_a_returned_async_stream_that_raises_ends_its_stage_with_the_error(otel: Any) -> None:
    read: list[str] = []

    async def consume() -> None:
        async for chunk in await aanswer("q"):
            read.append(chunk)

    with pytest.raises(TimeoutError):
        asyncio.run(consume())
    span = otel.span("chat m")
    assert read == ["a"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "TimeoutError"


def test_a_returned_stream_that_raises_gives_the_caller_its_context_back(otel: Any) -> None:
    stream = answer("q")
    next(stream)
    with pytest.raises(TimeoutError):
        next(stream)
    assert trace.get_current_span() is trace.INVALID_SPAN
