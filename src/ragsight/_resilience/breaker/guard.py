"""The breaker's call path: the wrappers ``@breaker``, ``call``/``acall`` and streams use,
and the :class:`Permit` of the low-level admission API.

The closed-state success path is inlined in the sync and async wrappers: one attribute read
to admit, two clock reads, and under the lock three integer updates on the current window
bucket. Anything else (a slow call, a new bucket, a result predicate, a failure, another
state, changed defaults) takes the general path through the breaker.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ragsight import names as n
from ragsight._core import policy as _policy
from ragsight._core.callables import NOT_PULLED, Ended, Opened, QuietStream
from ragsight._resilience import clock as _clock
from ragsight._resilience.breaker.records import Probe, Ticket
from ragsight._resilience.errors import CircuitOpenError

if TYPE_CHECKING:
    from ragsight._resilience.breaker.facade import CircuitBreaker


def make_sync(b: CircuitBreaker, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The decorator's wrapper of a plain function."""
    machine = b._machine
    window = machine.window
    lock = machine.lock
    judge = b._judge
    settings = b._settings  # refreshed in place when the defaults change
    coroutine = types.CoroutineType

    def guarded(*args: Any, **kw: Any) -> Any:
        if settings.generation != _policy.generation:
            b._follow_defaults()
        t = machine.ticket
        ticket: Ticket = t
        if t < 0:
            try:
                ticket = b._admit()
            except CircuitOpenError:
                if b._fallback is None:
                    raise
                return b._fallback(*args, **kw)
        now = b._nowf or _clock.now
        start = now()
        try:
            result = fn(*args, **kw)
        except BaseException as exc:
            b._on_error(ticket, start, now(), exc)
            raise
        if type(result) is coroutine:  # a plain def returning a coroutine (lambda, factory)
            return await_outcome(b, ticket, start, result)
        end = now()
        if end - start < window.slow_duration and judge.record_result is None:
            with lock:
                if ticket == machine.ticket and end < window.bucket_end:
                    window.cur_calls += 1
                    window.consec = 0
                    machine.n_success += 1
                    return result
        b._on_result(ticket, start, end, result)
        return result

    return guarded


async def await_outcome(b: CircuitBreaker, ticket: Ticket, start: float, awaitable: Any) -> Any:
    """Report a sync callable's coroutine when it completes, not when it is created:
    otherwise every failure inside it would count as an instant success."""
    now = b._nowf or _clock.now
    try:
        result = await awaitable
    except BaseException as exc:
        b._on_error(ticket, start, now(), exc)
        raise
    b._on_result(ticket, start, now(), result)
    return result


def make_async(b: CircuitBreaker, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The decorator's wrapper of a coroutine function."""
    machine = b._machine
    window = machine.window
    lock = machine.lock
    judge = b._judge
    settings = b._settings  # refreshed in place when the defaults change

    async def guarded(*args: Any, **kw: Any) -> Any:
        if settings.generation != _policy.generation:
            b._follow_defaults()
        t = machine.ticket
        ticket: Ticket = t
        if t < 0:
            try:
                ticket = b._admit()
            except CircuitOpenError:
                if b._fallback is None:
                    raise
                value = b._fallback(*args, **kw)
                return await value if inspect.isawaitable(value) else value
        now = b._nowf or _clock.now
        start = now()
        try:
            result = await fn(*args, **kw)
        except BaseException as exc:
            b._on_error(ticket, start, now(), exc)
            raise
        end = now()
        if end - start < window.slow_duration and judge.record_result is None:
            with lock:
                if ticket == machine.ticket and end < window.bucket_end:
                    window.cur_calls += 1
                    window.consec = 0
                    machine.n_success += 1
                    return result
        b._on_result(ticket, start, end, result)
        return result

    return guarded


def open_stream(
    b: CircuitBreaker, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
) -> Opened | Ended:
    """Admission at the first ``next()``; slowness is time to first item. A rejected
    stream with a ``fallback`` relays the fallback's items instead."""
    try:
        ticket = admission(b)
    except CircuitOpenError:
        if b._fallback is None:
            raise
        return iter(b._fallback(*args, **kw)), NOT_PULLED, FALLBACK_STREAM
    now = b._nowf or _clock.now
    start = now()
    it = wrapped(*args, **kw)
    try:
        item = next(it)
    except StopIteration as stop:  # the stream ended before its first item
        b._on_success(ticket, start, now())
        return Ended(stop.value)
    except BaseException as exc:
        b._on_error(ticket, start, now(), exc)
        raise
    return it, item, JudgedStream(b, ticket, start, now())


async def open_astream(
    b: CircuitBreaker, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
) -> Opened | Ended:
    """The async counterpart of :func:`open_stream` (the fallback may be an async
    generator function, a coroutine function or return any iterable)."""
    try:
        ticket = admission(b)
    except CircuitOpenError:
        if b._fallback is None:
            raise
        return await _async_fallback(b._fallback(*args, **kw)), NOT_PULLED, FALLBACK_STREAM
    now = b._nowf or _clock.now
    start = now()
    it = wrapped(*args, **kw)
    try:
        item = await it.__anext__()
    except StopAsyncIteration:
        b._on_success(ticket, start, now())
        return Ended()
    except BaseException as exc:
        b._on_error(ticket, start, now(), exc)
        raise
    return it, item, JudgedStream(b, ticket, start, now())


class _FallbackStream(QuietStream):
    """A fallback's stream: the breaker rejected the call, so nothing is counted."""

    __slots__ = ()

    def end(self, error: BaseException | None, closed: bool) -> None:
        return None


FALLBACK_STREAM = _FallbackStream()


async def _async_fallback(value: Any) -> Any:
    """An async iterator over what a fallback returned (awaited first if awaitable)."""
    if inspect.isawaitable(value):
        value = await value
    if hasattr(value, "__anext__"):
        return value
    if hasattr(value, "__aiter__"):
        return value.__aiter__()
    return _aiterate(value)


async def _aiterate(values: Any) -> Any:
    for value in values:
        yield value


def admission(b: CircuitBreaker) -> Ticket:
    """A ticket for one call, or :class:`CircuitOpenError`."""
    if b._settings.generation != _policy.generation:
        b._follow_defaults()
    t = b._machine.ticket
    return t if t >= 0 else b._admit()


class JudgedStream(QuietStream):
    """A stream past its first item: its outcome is judged on time to first item."""

    __slots__ = ("_breaker", "_first_at", "_start", "_ticket")

    def __init__(self, breaker: CircuitBreaker, ticket: Ticket, start: float, first_at: float):
        self._breaker = breaker
        self._ticket = ticket
        self._start = start
        self._first_at = first_at

    def end(self, error: BaseException | None, closed: bool) -> None:
        if error is None:
            self._breaker._on_success(self._ticket, self._start, self._first_at)
        else:
            self._breaker._on_error(self._ticket, self._start, self._first_at, error)


class Permit:
    """The low-level admission API for instrumentation wrappers (resilience4j parity).

    Obtain one from :meth:`CircuitBreaker.try_acquire` / :meth:`CircuitBreaker.acquire`, run the
    operation, then report exactly once. Reporting twice is ignored, so ``finally`` blocks can
    call :meth:`ignore` defensively. Durations default to the time since acquisition.
    """

    __slots__ = ("_breaker", "_done", "_start", "_ticket")

    def __init__(self, breaker: CircuitBreaker, ticket: Ticket, start: float) -> None:
        self._breaker = breaker
        self._ticket = ticket
        self._start = start
        self._done = False

    @property
    def is_probe(self) -> bool:
        """Whether this permit is one of the half-open state's probes."""
        return isinstance(self._ticket, Probe)

    def _finish(self) -> tuple[float, bool]:
        first = not self._done
        self._done = True
        return self._breaker._time(), first

    def success(self, duration: float | None = None) -> None:
        """Report a success (``duration`` seconds; default: since acquisition)."""
        end, first = self._finish()
        if first:
            start = self._start if duration is None else end - duration
            self._breaker._on_success(self._ticket, start, end)

    def failure(self, exc: BaseException, duration: float | None = None) -> None:
        """Report ``exc``; the breaker's classifier still decides how it counts."""
        end, first = self._finish()
        if first:
            start = self._start if duration is None else end - duration
            self._breaker._on_error(self._ticket, start, end, exc)

    def ignore(self) -> None:
        """Release the permit without counting the call either way."""
        _end, first = self._finish()
        if first:
            self._breaker._on_ignore(self._ticket, n.CB_OUTCOMES[4])
