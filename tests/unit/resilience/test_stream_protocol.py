"""Guarded generators behave like the generator they wrap: send, throw, return, close."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

import ragsight

GUARDS: list[Callable[[], Any]] = [
    lambda: ragsight.CircuitBreaker("stream-protocol"),
    lambda: ragsight.retry(attempts=2),
]


def conversation(log: list[object]) -> Generator[int, str, list[object]]:
    try:
        log.append((yield 1))
        try:
            yield 2
        except ValueError:
            log.append("caught")
            yield 3
        return log
    finally:
        log.append("finally")


@pytest.mark.parametrize("guard", GUARDS, ids=["breaker", "retry"])
def test_send_throw_and_return_value_pass_through_the_guard(guard: Callable[[], Any]) -> None:
    log: list[object] = []
    stream = guard()(conversation)(log)
    assert next(stream) == 1
    assert stream.send("hello") == 2
    assert stream.throw(ValueError()) == 3
    with pytest.raises(StopIteration) as stop:
        next(stream)
    assert stop.value.value == ["hello", "caught", "finally"]


@pytest.mark.parametrize("guard", GUARDS, ids=["breaker", "retry"])
def test_closing_the_guarded_stream_closes_the_inner_one(guard: Callable[[], Any]) -> None:
    log: list[object] = []
    stream = guard()(conversation)(log)
    next(stream)
    stream.close()
    assert log == ["finally"]
