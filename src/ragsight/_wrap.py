"""One decorator mechanism for every resilience primitive and every kind of callable.

A guard (breaker, retry policy) supplies four wrappers, one per callable kind; this module
picks the right one once, at decoration time, and builds a single ``wrapt`` proxy so that
methods, ``functools.wraps`` metadata and ``inspect`` checks keep working.

Composition with the core stage decorators: when the target already carries a stage
(``__ragsight_stage__`` with ``rewrap(inner)``), the guard wraps the undecorated function and
the stage is re-applied outside it. Every breaker and retry event then happens while the
stage's span is current, whichever order the user stacked the decorators in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import wrapt

F = TypeVar("F", bound=Callable[..., Any])

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class Guard(Protocol):
    """The four wrapper shapes a resilience primitive implements (wrapt's signature)."""

    def _wrap_sync(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any: ...

    def _wrap_async(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any: ...

    def _wrap_gen(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any: ...

    def _wrap_agen(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any: ...


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


def wrapper_for(guard: Guard, kind: str) -> Wrapper:
    if kind == "async":
        return guard._wrap_async
    if kind == "agen":
        return guard._wrap_agen
    if kind == "gen":
        return guard._wrap_gen
    return guard._wrap_sync


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
    proxy: Any = wrapt.FunctionWrapper(fn, wrapper_for(guard, kind_of(fn)))
    return cast(F, proxy)
