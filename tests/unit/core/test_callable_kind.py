"""One classifier of execution model: every wrapper of a callable keeps its calling convention,
and the stage decorator, the breaker and the retry all see the same one."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import wrapt

import ragsight
from ragsight._core.callables import CallableKind, callable_kind


def sync_fn(x: int = 1) -> int:
    return x


async def async_fn(x: int = 1) -> int:
    return x


def gen_fn(x: int = 1) -> Iterator[int]:
    yield x


async def agen_fn(x: int = 1) -> AsyncIterator[int]:
    yield x


BASES: dict[CallableKind, Callable[..., Any]] = {
    CallableKind.SYNC: sync_fn,
    CallableKind.ASYNC: async_fn,
    CallableKind.GEN: gen_fn,
    CallableKind.AGEN: agen_fn,
}


def _callable_object(fn: Callable[..., Any]) -> Any:
    """An instance whose ``__call__`` is ``fn`` (an LLM client, a runnable)."""
    return type("Client", (), {"__call__": _method(fn)})()


def _method(fn: Callable[..., Any]) -> Any:
    kind = callable_kind(fn)
    if kind is CallableKind.ASYNC:

        async def call(self: Any, x: int = 1) -> Any:
            return await fn(x)

        return call
    if kind is CallableKind.GEN:

        def gcall(self: Any, x: int = 1) -> Any:
            yield from fn(x)

        return gcall
    if kind is CallableKind.AGEN:

        async def acall(self: Any, x: int = 1) -> Any:
            async for item in fn(x):
                yield item

        return acall

    def scall(self: Any, x: int = 1) -> Any:
        return fn(x)

    return scall


@wrapt.decorator
def _passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


class _Holder:
    pass


def _bound(fn: Callable[..., Any]) -> Any:
    holder = _Holder()
    _Holder.m = _method(fn)
    return holder.m


WRAPPERS: dict[str, Callable[[Callable[..., Any]], Any]] = {
    "plain": lambda fn: fn,
    "staticmethod": staticmethod,
    "classmethod": classmethod,
    "partial": lambda fn: functools.partial(fn, 2),
    "partial of partial": lambda fn: functools.partial(functools.partial(fn), 2),
    "wrapt decorator": _passthrough,
    "callable object": _callable_object,
    "partial of callable object": lambda fn: functools.partial(_callable_object(fn), 2),
    "bound method": _bound,
    "stage-decorated": lambda fn: ragsight.instrument(fn),
    "breaker-decorated": lambda fn: ragsight.CircuitBreaker("kind-table")(fn),
    "retry-decorated": lambda fn: ragsight.retry(attempts=1)(fn),
    "staticmethod of stage-decorated": lambda fn: staticmethod(ragsight.instrument(fn)),
}

CASES = [
    pytest.param(wrap, kind, id=f"{name}-{kind.value}")
    for name, wrap in WRAPPERS.items()
    for kind in CallableKind
]


@pytest.mark.parametrize(("wrap", "kind"), CASES)
def test_every_wrapper_keeps_the_execution_model_of_what_it_wraps(
    wrap: Callable[[Callable[..., Any]], Any], kind: CallableKind
) -> None:
    assert callable_kind(wrap(BASES[kind])) is kind


DECORATORS: dict[str, Callable[[Any], Any]] = {
    "stage": ragsight.instrument,
    "breaker": lambda fn: ragsight.CircuitBreaker("kind-agreement")(fn),
    "retry": lambda fn: ragsight.retry(attempts=1)(fn),
}


@pytest.mark.parametrize("decorator", list(DECORATORS.values()), ids=list(DECORATORS))
@pytest.mark.parametrize(("wrap", "kind"), CASES)
def test_every_decorator_keeps_the_execution_model_it_was_given(
    decorator: Callable[[Any], Any], wrap: Callable[[Callable[..., Any]], Any], kind: CallableKind
) -> None:
    assert callable_kind(decorator(wrap(BASES[kind]))) is kind


def test_a_class_is_sync_even_when_its_instances_are_awaitable_callables() -> None:
    class Client:
        async def __call__(self) -> int:
            return 1

    assert callable_kind(Client) is CallableKind.SYNC
    assert callable_kind(Client()) is CallableKind.ASYNC


def test_breaker_on_a_staticmethod_of_an_async_function_is_a_coroutine_function() -> None:
    guarded = ragsight.CircuitBreaker("static-async")(staticmethod(async_fn))

    assert inspect.iscoroutinefunction(guarded)
    assert asyncio.run(guarded(3)) == 3


def test_retry_on_a_staticmethod_of_an_async_function_is_a_coroutine_function() -> None:
    guarded = ragsight.retry(attempts=1)(staticmethod(async_fn))

    assert inspect.iscoroutinefunction(guarded)
    assert asyncio.run(guarded(3)) == 3


def test_breaker_on_a_staticmethod_of_an_async_generator_streams() -> None:
    guarded = ragsight.CircuitBreaker("static-agen")(staticmethod(agen_fn))

    async def consume() -> list[int]:
        return [item async for item in guarded(4)]

    assert inspect.isasyncgenfunction(guarded)
    assert asyncio.run(consume()) == [4]
