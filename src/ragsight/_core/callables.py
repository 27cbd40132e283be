"""One decorator mechanism for every resilience primitive and every kind of callable.

A guard (breaker, retry policy) supplies a wrapper per callable kind; this module picks the
right one once, at decoration time. Sync and async wrappers are closures the guard builds
with its success path inlined: a ``wrapt.FunctionWrapper`` costs about 0.6 us per call on
CPython 3.11 (4-5x a closure), more than the whole breaker check, so it is not used here.
Closures are plain functions, so they bind as methods, carry ``functools.wraps`` metadata
and keep ``inspect.iscoroutinefunction``/``isgeneratorfunction``/``isasyncgenfunction``
true (the core's stage decorator relies on those to pick its own wrapper).

Composition with the core stage decorators: when the target already carries a stage
(``__ragsight_stage__`` with ``rewrap(inner)``), the guard wraps the undecorated function and
the stage is re-applied outside it. Every breaker and retry event then happens while the
stage's span is current, whichever order the user stacked the decorators in.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


class Guard(Protocol):
    """What a resilience primitive implements to be applied by :func:`decorate`."""

    def _make_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]: ...

    def _make_async(self, fn: Callable[..., Any]) -> Callable[..., Any]: ...

    def _wrap_gen(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Generator[Any, Any, Any]: ...

    def _wrap_agen(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> AsyncGenerator[Any, Any]: ...


def kind_of(fn: Callable[..., Any]) -> str:
    """``"async"``, ``"agen"``, ``"gen"`` or ``"sync"``, looking through partials/wrappers."""
    target: Any = fn
    if inspect.isasyncgenfunction(target):
        return "agen"
    if inspect.iscoroutinefunction(target):
        return "async"
    if inspect.isgeneratorfunction(target):
        return "gen"
    call = getattr(target, "__call__", None)  # noqa: B004 - callable objects with async __call__
    if call is not None and not inspect.isfunction(target) and not inspect.ismethod(target):
        if inspect.isasyncgenfunction(call):
            return "agen"
        if inspect.iscoroutinefunction(call):
            return "async"
        if inspect.isgeneratorfunction(call):
            return "gen"
    return "sync"


def _gen_wrapper(guard: Guard, fn: Callable[..., Any]) -> Callable[..., Any]:
    impl = guard._wrap_gen

    def wrapper(*args: Any, **kw: Any) -> Generator[Any, Any, Any]:
        return (yield from impl(fn, None, args, kw))

    return wrapper


def _agen_wrapper(guard: Guard, fn: Callable[..., Any]) -> Callable[..., Any]:
    impl = guard._wrap_agen

    async def wrapper(*args: Any, **kw: Any) -> AsyncGenerator[Any, Any]:
        # ``yield from`` does not exist for async generators: forward by hand.
        inner = impl(fn, None, args, kw)
        try:
            item = await inner.__anext__()
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    raise
                except BaseException as thrown:
                    item = await inner.athrow(thrown)
                else:
                    item = await inner.asend(sent)
        except StopAsyncIteration:
            return
        finally:
            await inner.aclose()

    return wrapper


def decorate(fn: F, guard: Guard) -> F:
    """Wrap ``fn`` with ``guard``, keeping any stage decoration outermost."""
    stage = getattr(fn, "__ragsight_stage__", None)
    inner = getattr(fn, "__wrapped__", None)
    if (
        stage is not None
        and inner is not None
        and hasattr(stage, "rewrap")
        # a proxy that forwards attribute reads would show the stage on the inner function
        # too; only unwrap the layer that owns it
        and getattr(inner, "__ragsight_stage__", None) is not stage
    ):
        guarded = decorate(inner, guard)
        rewrapped: F = stage.rewrap(guarded)
        return rewrapped
    kind = kind_of(fn)
    if kind == "async":
        wrapper = guard._make_async(fn)
    elif kind == "gen":
        wrapper = _gen_wrapper(guard, fn)
    elif kind == "agen":
        wrapper = _agen_wrapper(guard, fn)
    else:
        wrapper = guard._make_sync(fn)
    try:
        functools.update_wrapper(wrapper, fn)
    except (AttributeError, TypeError):  # callables without a __dict__ or a name
        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return cast(F, wrapper)


def relay(it: Generator[Any, Any, Any], item: Any) -> Generator[Any, Any, Any]:
    """Yield ``item``, then the rest of ``it``, forwarding send/throw exactly as ``yield from``.

    Guards need their own code around a stream's first item (admission, time to first
    item, retrying before it), so they pull that item themselves and delegate the rest
    here with ``yield from``; ``close()`` still reaches them as GeneratorExit there.
    """
    while True:
        try:
            sent = yield item
        except GeneratorExit:
            raise
        except BaseException as thrown:
            try:
                item = it.throw(thrown)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                item = it.send(sent) if sent is not None else next(it)
            except StopIteration as stop:
                return stop.value
