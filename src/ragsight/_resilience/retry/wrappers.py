"""The decorator's wrappers of a retry policy, one per execution model.

Sync and async wrappers inline the first-attempt success (the scope flag, one clock read,
one short lock on the dependency's counters); everything after a failure goes through the
schedule. Generators are retried only until their first item: items a caller has seen are
never replayed, so past it the stream is relayed as it is and its end is reported once.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from time import perf_counter
from typing import Any

from ragsight._core.attempts import AttemptLog
from ragsight._core.callables import Ended, Opened, QuietStream
from ragsight._core.current import CURRENT
from ragsight._resilience import clock as _clock
from ragsight._resilience.retry import scope as _scope
from ragsight._resilience.retry.schedule import (
    FIRST,
    AttemptRun,
    BoundPolicy,
    retry_async,
    retry_sync,
)


class RetryWrappers:
    """What ``_core.callables.decorate`` needs of a policy bound to a dependency.

    ``stage_plan`` is set when a stage runs right outside these wrappers (either decorator
    order): a retried call running inside that very stage shows each attempt as its own
    operation of it (:mod:`ragsight._core.attempts`).
    """

    __slots__ = ("bound", "stage_plan")

    def __init__(self, bound: BoundPolicy) -> None:
        self.bound = bound
        self.stage_plan: Any = None

    def _make_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        bound = self.bound
        budget = bound.budget
        lock = budget._lock
        single = bound.policy.nested == "single"
        has_result_check = bound.policy.retry_on_result is not None
        in_retry = _scope.in_retry
        coroutine = types.CoroutineType
        wrappers = self

        def guarded(*args: Any, **kw: Any) -> Any:
            if single and in_retry.get():
                _scope.warn_nested(bound.name)
                return fn(*args, **kw)
            token = in_retry.set(True)
            try:
                start = (bound.monotonic or _clock.now)()
                try:
                    result = fn(*args, **kw)
                except Exception as exc:
                    return _retry_sync(wrappers, fn, args, kw, start, exc, None)
                if type(result) is coroutine:  # a plain def returning a coroutine
                    return _await_first(wrappers, fn, args, kw, start, result)
                if has_result_check and bound.bad_result(result):
                    return _retry_sync(wrappers, fn, args, kw, start, None, result)
                with lock:
                    if start < budget._bucket_end:
                        budget._cur_calls += 1
                        budget._n_first += 1
                        return result
                budget.record(start, FIRST)
                return result
            finally:
                in_retry.reset(token)

        return guarded

    def _make_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        bound = self.bound
        budget = bound.budget
        lock = budget._lock
        single = bound.policy.nested == "single"
        has_result_check = bound.policy.retry_on_result is not None
        in_retry = _scope.in_retry
        wrappers = self

        async def guarded(*args: Any, **kw: Any) -> Any:
            if single and in_retry.get():
                _scope.warn_nested(bound.name)
                return await fn(*args, **kw)
            token = in_retry.set(True)
            try:
                start = (bound.monotonic or _clock.now)()
                try:
                    result = await fn(*args, **kw)
                except Exception as exc:
                    return await _retry_async(wrappers, fn, args, kw, start, exc, None)
                if has_result_check and bound.bad_result(result):
                    return await _retry_async(wrappers, fn, args, kw, start, None, result)
                with lock:
                    if start < budget._bucket_end:
                        budget._cur_calls += 1
                        budget._n_first += 1
                        return result
                budget.record(start, FIRST)
                return result
            finally:
                in_retry.reset(token)

        return guarded

    def _open_stream(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        """Open the stream and get its first item, retrying."""
        bound = self.bound
        run = AttemptRun(bound, bound.now())
        nested = bound.nested()
        while True:
            # The scope flag is set only while *we* run the producer: a generator shares its
            # consumer's context, so a flag left set across ``yield`` would leak into it.
            token = _scope.in_retry.set(True)
            try:
                it = fn(*args, **kw)
                try:
                    return it, next(it), _RetriedStream(run)
                except StopIteration as stop:
                    run.finished()
                    return Ended(stop.value)
            except Exception as exc:
                delay = None if nested else run.next_delay(exc)
                if delay is None:
                    raise
            finally:
                _scope.in_retry.reset(token)
            _clock.sleep(bound.policy.clock, delay)

    async def _open_astream(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        bound = self.bound
        run = AttemptRun(bound, bound.now())
        nested = bound.nested()
        while True:
            token = _scope.in_retry.set(True)
            try:
                it = fn(*args, **kw)
                try:
                    return it, await it.__anext__(), _RetriedStream(run)
                except StopAsyncIteration:
                    run.finished()
                    return Ended()
            except Exception as exc:
                delay = None if nested else run.next_delay(exc)
                if delay is None:
                    raise
            finally:
                _scope.in_retry.reset(token)
            await _clock.asleep(bound.policy.clock, delay)


class _RetriedStream(QuietStream):
    """A stream past its first item: no more retries; its end is reported once."""

    __slots__ = ("_run",)

    def __init__(self, run: AttemptRun) -> None:
        self._run = run

    def end(self, error: BaseException | None, closed: bool) -> None:
        if error is None or isinstance(error, Exception):
            self._run.finished(error)


def _attempt_log(
    wrappers: RetryWrappers, failed_at: float, exc: BaseException | None
) -> AttemptLog | None:
    """The stage right outside, told its first attempt failed and is retried."""
    plan = wrappers.stage_plan
    if plan is None:
        return None
    stage = CURRENT.get()
    if stage is None or stage._plan is not plan:
        return None
    return stage.retried(failed_at, exc)


def _retry_sync(
    wrappers: RetryWrappers,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    start: float,
    exc: BaseException | None,
    result: Any,
) -> Any:
    failed_at = perf_counter()
    run = AttemptRun(wrappers.bound, start)
    delay = run.retry_or_raise(exc, result)
    return retry_sync(run, fn, args, kw, delay, _attempt_log(wrappers, failed_at, exc))


async def _retry_async(
    wrappers: RetryWrappers,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    start: float,
    exc: BaseException | None,
    result: Any,
) -> Any:
    failed_at = perf_counter()
    run = AttemptRun(wrappers.bound, start)
    delay = run.retry_or_raise(exc, result)
    return await retry_async(run, fn, args, kw, delay, _attempt_log(wrappers, failed_at, exc))


async def _await_first(
    wrappers: RetryWrappers,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    start: float,
    first: Any,
) -> Any:
    """A sync callable returned a coroutine: its failures surface only when awaited, so the
    retries happen here (each new attempt calls ``fn`` again for a fresh one)."""
    bound = wrappers.bound
    token = _scope.in_retry.set(True)
    try:
        try:
            result = await first
        except Exception as exc:
            return await _retry_async(wrappers, fn, args, kw, start, exc, None)
        if bound.bad_result(result):
            return await _retry_async(wrappers, fn, args, kw, start, None, result)
        bound.budget.record(start, FIRST)
        return result
    finally:
        _scope.in_retry.reset(token)
