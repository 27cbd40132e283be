"""Retry with backoff: an immutable policy, per-call state, and the traps of RAG code handled.

* The policy is a frozen object and every call keeps its own attempt counter in local
  variables, so one policy is safe across threads and tasks (tenacity#93 corrupts counters).
* Only ``Exception``s are ever caught: ``CancelledError`` and ``KeyboardInterrupt``
  propagate at once, including from inside a backoff sleep (tenacity#529).
* A deadline bounds the whole call; a sleep that would end past it is never started, and a
  server's Retry-After longer than the deadline (or ``max_retry_after``) gives up at once.
* A retry budget per dependency caps retries at a share of calls (``_budget``).
* Nested retry scopes don't multiply: an inner policy runs a single attempt while an outer
  one is active (a ``contextvars`` flag), and says so once.
* Generators are retried only until their first item: tokens a caller has seen are never
  replayed. ``idempotent=False`` retries only failures that prove nothing was processed.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import types
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from ragsight._core import policy as _policy
from ragsight._core import safety as _safety
from ragsight._core.callables import (
    Ended,
    Opened,
    QuietStream,
    acall_through,
    call_through,
    decorate,
)
from ragsight._resilience import backoff as _backoff
from ragsight._resilience import budget as _budget
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience.errors import CircuitOpenError, RetryError

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("ragsight.resilience")

_in_retry: contextvars.ContextVar[bool] = contextvars.ContextVar("ragsight_in_retry", default=False)
# An absolute monotonic time set by ``deadline()``: every retry inside gives up before it.
_request_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ragsight_request_deadline", default=None
)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Bound every retry inside the block by one request deadline (a tighter outer one wins).

    Read only when a retry is being decided, so it costs nothing on the success path.
    Yields the absolute monotonic deadline.
    """
    if seconds <= 0:
        raise ValueError("deadline must be > 0")
    at = _clock.now() + seconds
    outer = _request_deadline.get()
    if outer is not None:
        at = min(at, outer)
    token = _request_deadline.set(at)
    try:
        yield at
    finally:
        _request_deadline.reset(token)


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A retry about to sleep; handed to telemetry hooks."""

    name: str
    attempt: int  # the attempt that failed (1-based)
    delay: float
    delay_source: str
    reason: str
    error_type: str | None


@dataclass(frozen=True, slots=True)
class GaveUp:
    name: str
    attempts: int
    stop_reason: str
    elapsed: float
    error_type: str | None


# Hooks installed by the telemetry layer; called outside any lock.
scheduled_hooks: list[Callable[[RetryScheduled], None]] = []
gave_up_hooks: list[Callable[[GaveUp], None]] = []
succeeded_hooks: list[Callable[[str, int], None]] = []  # (name, attempts) after retries
nested_hooks: list[Callable[[str], None]] = []

_nested_warned: set[str] = set()
# Set by ragsight.resilience_testing.no_wait(attempts=...): caps every policy's attempts.
testing_attempts: int | None = None


def _call_hooks(hooks: list[Callable[..., None]], *args: Any) -> None:
    for hook in hooks:
        try:
            hook(*args)
        except Exception as err:  # telemetry must never break the retried call
            _safety.report_internal_error("resilience.telemetry", err)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """What to retry, how often, how long to wait, and when to stop.

    Unset fields come from ``ragsight._core.policy.RetryDefaults`` when the policy is created.
    ``on`` selects retryable failures (exception types or a predicate; default: connection
    errors, timeouts, HTTP 408/409/429/5xx and ``x-should-retry``). ``name`` identifies the
    dependency: budgets and metrics are per name (default: the decorated function's name).
    """

    name: str | None = None
    attempts: int = field(default=None)  # type: ignore[assignment]
    deadline: float = field(default=None)  # type: ignore[assignment]
    backoff: _backoff.Backoff = field(default=None)  # type: ignore[assignment]
    on: _classify.ExceptionTypes | Callable[[BaseException], bool] | None = None
    retry_on_result: Callable[[Any], bool] | None = None
    idempotent: bool = True
    budget: bool | _budget.RetryBudget = True
    max_retry_after: float = field(default=None)  # type: ignore[assignment]
    throttle_floor: float = 1.0
    nested: Literal["single", "multiply"] = "single"
    clock: _clock.Clock | None = None
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        d = _policy.get_resilience_defaults().retry
        set_ = object.__setattr__
        if self.attempts is None:
            set_(self, "attempts", d.attempts)
        if self.deadline is None:
            set_(self, "deadline", d.deadline)
        if self.backoff is None:
            kind = cast(_backoff.JitterKind, d.jitter)
            set_(self, "backoff", _backoff.Backoff(kind, d.base_delay, d.max_delay))
        if self.max_retry_after is None:
            set_(self, "max_retry_after", d.max_retry_after)
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.deadline <= 0:
            raise ValueError("deadline must be > 0")
        if self.nested not in ("single", "multiply"):
            raise ValueError("nested must be 'single' or 'multiply'")
        set_(self, "_retryable", _classify.matcher(self.on) or _classify.is_transient)

    @classmethod
    def from_seed(
        cls,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        exponential_factor: float = 2.0,
        *,
        jitter: _backoff.JitterKind = "full",
        **kwargs: Any,
    ) -> RetryPolicy:
        """The original pattern's signature: ``max_retries`` retries *after* the first call."""
        return cls(
            attempts=max_retries + 1,
            backoff=_backoff.Backoff(jitter, base_delay, max_delay, exponential_factor),
            **kwargs,
        )

    # ---------------------------------------------------------------- decoration --
    def __call__(self, fn: F) -> F:
        return decorate(fn, _RetryGuard(self, self.name or _qualname(fn)))

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` under this policy once (the decorator's own wrapper, built per call).

        A generator function is retried until its first item, as the decorator does, and a
        stage-decorated one keeps its stage outside."""
        return call_through(_RetryGuard(self, self.name or _qualname(fn)), fn, args, kwargs)

    async def acall(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Await ``fn`` under this policy; a plain function is retried as one (its result
        awaited only if it is awaitable)."""
        guard = _RetryGuard(self, self.name or _qualname(fn))
        return await acall_through(guard, fn, args, kwargs)

    def retrying(self, name: str | None = None) -> Attempts:
        """Retry a block: ``for attempt in policy.retrying(): with attempt: ...``.

        Also ``async for`` (sleeps on the event loop). The block is re-run while the policy
        allows; the give-up re-raises the last exception out of the ``with``.
        """
        return Attempts(_RetryGuard(self, name or self.name or "attempts"))

    def describe(self) -> dict[str, Any]:
        """A plain description, for asserting composition in tests (Polly.Testing parity)."""
        return {
            "name": self.name,
            "attempts": self.attempts,
            "deadline": self.deadline,
            "backoff": self.backoff,
            "idempotent": self.idempotent,
            "budget": bool(self.budget),
            "max_retry_after": self.max_retry_after,
            "nested": self.nested,
        }


def _qualname(fn: Callable[..., Any]) -> str:
    """The dependency name when none is given: a code location, never a ``repr``.

    The name keys the retry budget and labels metrics, so it must not carry a partial's
    arguments or an object's address (one budget and one time series per call otherwise).
    """
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    return str(name or type(target).__qualname__)


@dataclass(slots=True)
class _Stop:
    reason: str


@dataclass(slots=True)
class _Go:
    delay: float
    source: str
    reason: str


class _RetryGuard:
    """A policy bound to a dependency name: the four wrappers ``_wrap.decorate`` expects."""

    __slots__ = ("_budget", "_enforce", "_nowf", "name", "policy")

    def __init__(self, policy: RetryPolicy, name: str) -> None:
        self.policy = policy
        self.name = name
        if isinstance(policy.budget, _budget.RetryBudget):
            self._budget = policy.budget
        else:
            clock = policy.clock
            self._budget = _budget.get_budget(name, lambda nm: _budget.RetryBudget(nm, clock=clock))
        self._enforce = policy.budget is not False
        self._nowf = policy.clock.monotonic if policy.clock is not None else None

    def _now(self) -> float:
        f = self._nowf
        return f() if f is not None else _clock.now()

    # ---------------------------------------------------------------- decisions --
    def _decide(
        self, attempt: int, exc: BaseException | None, start: float, previous: float
    ) -> _Stop | _Go:
        p = self.policy
        now = self._now()
        elapsed = now - start
        remaining = p.deadline - elapsed
        request_deadline = _request_deadline.get()
        if request_deadline is not None:
            # the request deadline is on the process clock; a policy clock is for tests
            remaining = min(remaining, request_deadline - _clock.now())
        hint: float | None = None
        throttled = False
        reason = "result"
        max_attempts = p.attempts if testing_attempts is None else min(p.attempts, testing_attempts)
        if exc is not None:
            if isinstance(exc, CircuitOpenError):
                wait = exc.retry_after
                if wait is None or attempt >= max_attempts or wait > remaining:
                    return _Stop("circuit_open")
                if self._enforce and not self._budget.try_spend(now):
                    return _Stop("budget_exhausted")
                return _Go(wait, "retry_after", "exception")
            if not p._retryable(exc):  # type: ignore[attr-defined]
                return _Stop("non_retryable")
            if not p.idempotent and not _classify.provably_not_processed(exc):
                return _Stop("not_idempotent")
            hint = _classify.retry_after(exc)
            throttled = _classify.is_throttle(exc)
            reason = "throttled" if throttled else ("timeout" if _is_timeout(exc) else "exception")
        if attempt >= max_attempts:
            return _Stop("attempts_exhausted")
        if hint is not None and (hint > p.max_retry_after or hint > remaining):
            return _Stop("retry_after_exceeds_deadline")
        rng = p.rng or _backoff.shared_rng()
        delay = p.backoff.delay(attempt, previous, rng)
        source = "backoff"
        if hint is not None and hint >= delay:
            delay, source = hint, "retry_after"
        elif throttled and hint is None:
            delay = max(delay, min(p.throttle_floor, p.backoff.cap))
        if delay > remaining:
            return _Stop("deadline")
        # AWS SDK weighting: a timeout retry costs twice (the dependency may still be working)
        cost = 2.0 if reason == "timeout" else 1.0
        if self._enforce and not self._budget.try_spend(now, cost):
            return _Stop("budget_exhausted")
        return _Go(delay, source, reason)

    def _give_up(self, attempts: int, stop: str, start: float, exc: BaseException | None) -> None:
        outcome = "failed_no_retry" if attempts == 1 else "failed_after_retry"
        now = self._now()
        self._budget.record(now, outcome)
        etype = _classify.error_type(exc) if exc is not None else None
        _call_hooks(gave_up_hooks, GaveUp(self.name, attempts, stop, now - start, etype))

    def _schedule(self, attempt: int, go: _Go, exc: BaseException | None) -> None:
        etype = _classify.error_type(exc) if exc is not None else None
        event = RetryScheduled(self.name, attempt, go.delay, go.source, go.reason, etype)
        _call_hooks(scheduled_hooks, event)

    def _succeeded_after(self, attempts: int) -> None:
        self._budget.record(self._now(), "success_after_retry")
        _call_hooks(succeeded_hooks, self.name, attempts)

    def _bad_result(self, result: Any) -> bool:
        pred = self.policy.retry_on_result
        if pred is None:
            return False
        try:
            return bool(pred(result))
        except Exception as err:  # a broken predicate must not turn success into failure
            _safety.report_internal_error("resilience.retry.retry_on_result", err)
            return False

    def _nested(self) -> None:
        if self.name not in _nested_warned:
            _nested_warned.add(self.name)
            logger.warning(
                "ragsight: retry policy %r runs inside another retry scope; it makes a single "
                "attempt so retries don't multiply (pass nested='multiply' to opt out)",
                self.name,
            )
        _call_hooks(nested_hooks, self.name)

    # ---------------------------------------------------------------- decorator fast paths --
    def _make_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's sync wrapper: first-attempt success inlined (scope flag, one clock
        read, one short lock on the dependency's counters); everything else is general."""
        g = self
        budget = self._budget
        lock = budget._lock
        single = self.policy.nested == "single"
        has_result_check = self.policy.retry_on_result is not None
        in_retry = _in_retry
        coroutine = types.CoroutineType

        def guarded(*args: Any, **kw: Any) -> Any:
            if single and in_retry.get():
                g._nested()
                return fn(*args, **kw)
            token = in_retry.set(True)
            try:
                start = (g._nowf or _clock.now)()
                try:
                    result = fn(*args, **kw)
                except Exception as exc:
                    return g._retry_sync(fn, args, kw, start, exc, None)
                if type(result) is coroutine:  # a plain def returning a coroutine
                    return g._await_first(fn, args, kw, start, result)
                if has_result_check and g._bad_result(result):
                    return g._retry_sync(fn, args, kw, start, None, result)
                with lock:
                    if start < budget._bucket_end:
                        budget._cur_calls += 1
                        budget._n_first += 1
                        return result
                budget.record(start, "success_first_attempt")
                return result
            finally:
                in_retry.reset(token)

        return guarded

    def _make_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        g = self
        budget = self._budget
        lock = budget._lock
        single = self.policy.nested == "single"
        has_result_check = self.policy.retry_on_result is not None
        in_retry = _in_retry

        async def guarded(*args: Any, **kw: Any) -> Any:
            if single and in_retry.get():
                g._nested()
                return await fn(*args, **kw)
            token = in_retry.set(True)
            try:
                start = (g._nowf or _clock.now)()
                try:
                    result = await fn(*args, **kw)
                except Exception as exc:
                    return await g._retry_async(fn, args, kw, start, exc, None)
                if has_result_check and g._bad_result(result):
                    return await g._retry_async(fn, args, kw, start, None, result)
                with lock:
                    if start < budget._bucket_end:
                        budget._cur_calls += 1
                        budget._n_first += 1
                        return result
                budget.record(start, "success_first_attempt")
                return result
            finally:
                in_retry.reset(token)

        return guarded

    # ---------------------------------------------------------------- sync --
    def _retry_sync(
        self,
        wrapped: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        start: float,
        exc: BaseException | None,
        result: Any,
    ) -> Any:
        attempt = 1
        previous = 0.0
        while True:
            decision = self._decide(attempt, exc, start, previous)
            if isinstance(decision, _Stop):
                self._give_up(attempt, decision.reason, start, exc)
                if exc is not None:
                    raise exc
                raise RetryError(self.name, attempt, decision.reason, result)
            self._schedule(attempt, decision, exc)
            _clock.sleep(self.policy.clock, decision.delay)
            previous = decision.delay
            attempt += 1
            try:
                result = wrapped(*args, **kw)
            except Exception as err:
                exc = err
                continue
            exc = None
            if not self._bad_result(result):
                self._succeeded_after(attempt)
                return result

    async def _await_first(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        start: float,
        first: Any,
    ) -> Any:
        """A sync callable returned a coroutine: its failures surface only when awaited, so
        the retries happen here (each new attempt calls ``fn`` again for a fresh one)."""
        token = _in_retry.set(True)
        try:
            try:
                result = await first
            except Exception as exc:
                return await self._retry_async(fn, args, kw, start, exc, None)
            if self._bad_result(result):
                return await self._retry_async(fn, args, kw, start, None, result)
            self._budget.record(start, "success_first_attempt")
            return result
        finally:
            _in_retry.reset(token)

    # ---------------------------------------------------------------- async --
    async def _retry_async(
        self,
        wrapped: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        start: float,
        exc: BaseException | None,
        result: Any,
    ) -> Any:
        attempt = 1
        previous = 0.0
        while True:
            decision = self._decide(attempt, exc, start, previous)
            if isinstance(decision, _Stop):
                self._give_up(attempt, decision.reason, start, exc)
                if exc is not None:
                    raise exc
                raise RetryError(self.name, attempt, decision.reason, result)
            self._schedule(attempt, decision, exc)
            await _clock.asleep(self.policy.clock, decision.delay)  # CancelledError propagates
            previous = decision.delay
            attempt += 1
            try:
                result = await wrapped(*args, **kw)
            except Exception as err:
                exc = err
                continue
            exc = None
            if not self._bad_result(result):
                self._succeeded_after(attempt)
                return result

    # ---------------------------------------------------------------- generators --
    def _first_item_sync(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> tuple[Any, Any, int, float] | None:
        """Open the stream and get its first item, retrying; None when it is empty."""
        start = self._now()
        attempt = 1
        previous = 0.0
        nested = _in_retry.get() and self.policy.nested == "single"
        if nested:
            self._nested()
        while True:
            # The scope flag is set only while *we* run the producer: a generator shares its
            # consumer's context, so a flag left set across ``yield`` would leak into it.
            token = _in_retry.set(True)
            try:
                it = wrapped(*args, **kw)
                try:
                    return it, next(it), attempt, start
                except StopIteration:
                    self._budget.record(start, "success_first_attempt")
                    return None
            except Exception as exc:
                if nested:
                    raise
                decision = self._decide(attempt, exc, start, previous)
                if isinstance(decision, _Stop):
                    self._give_up(attempt, decision.reason, start, exc)
                    raise
                self._schedule(attempt, decision, exc)
            finally:
                _in_retry.reset(token)
            _clock.sleep(self.policy.clock, decision.delay)
            previous = decision.delay
            attempt += 1

    def _open_stream(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        opened = self._first_item_sync(wrapped, args, kw)
        if opened is None:
            return Ended()
        it, item, attempts, start = opened
        return it, item, _RetriedStream(self, attempts, start)

    def _finish_stream(self, attempts: int, start: float, exc: BaseException | None) -> None:
        if exc is not None:
            self._give_up(attempts, "stream_started", start, exc)
        elif attempts == 1:
            self._budget.record(start, "success_first_attempt")
        else:
            self._succeeded_after(attempts)

    async def _open_astream(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        start = self._now()
        attempt = 1
        previous = 0.0
        nested = _in_retry.get() and self.policy.nested == "single"
        if nested:
            self._nested()
        while True:
            token = _in_retry.set(True)
            try:
                it = wrapped(*args, **kw)
                try:
                    item = await it.__anext__()
                except StopAsyncIteration:
                    self._budget.record(start, "success_first_attempt")
                    return Ended()
                return it, item, _RetriedStream(self, attempt, start)
            except Exception as exc:
                if nested:
                    raise
                decision = self._decide(attempt, exc, start, previous)
                if isinstance(decision, _Stop):
                    self._give_up(attempt, decision.reason, start, exc)
                    raise
                self._schedule(attempt, decision, exc)
            finally:
                _in_retry.reset(token)
            await _clock.asleep(self.policy.clock, decision.delay)
            previous = decision.delay
            attempt += 1


class _RetriedStream(QuietStream):
    """A stream past its first item: no more retries; its end is reported once."""

    __slots__ = ("_attempts", "_guard", "_start")

    def __init__(self, guard: _RetryGuard, attempts: int, start: float) -> None:
        self._guard = guard
        self._attempts = attempts
        self._start = start

    def end(self, error: BaseException | None, closed: bool) -> None:
        if error is None or isinstance(error, Exception):
            self._guard._finish_stream(self._attempts, self._start, error)


def retry(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    attempts: int | None = None,
    max_retries: int | None = None,
    deadline: float | None = None,
    on: _classify.ExceptionTypes | Callable[[BaseException], bool] | None = None,
    jitter: _backoff.JitterKind | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    exponential_factor: float | None = None,
    retry_on_result: Callable[[Any], bool] | None = None,
    idempotent: bool = True,
    budget: bool | _budget.RetryBudget = True,
    max_retry_after: float | None = None,
    nested: Literal["single", "multiply"] = "single",
    policy: RetryPolicy | None = None,
    clock: _clock.Clock | None = None,
    rng: random.Random | None = None,
) -> Any:
    """Retry decorator, bare (``@retry``) or configured (``@retry(attempts=5, on=...)``).

    ``max_retries``/``base_delay``/``max_delay``/``exponential_factor`` express the original
    pattern's signature; ``attempts`` (total, including the first) is the native form.
    """
    if policy is None:
        if attempts is not None and max_retries is not None:
            raise ValueError("pass attempts (total) or max_retries (after the first), not both")
        d = _policy.get_resilience_defaults().retry
        backoff = _backoff.Backoff(
            jitter or d.jitter,  # type: ignore[arg-type]
            d.base_delay if base_delay is None else base_delay,
            d.max_delay if max_delay is None else max_delay,
            2.0 if exponential_factor is None else exponential_factor,
        )
        policy = RetryPolicy(
            name=name,
            attempts=attempts if max_retries is None else max_retries + 1,  # type: ignore[arg-type]
            deadline=deadline,  # type: ignore[arg-type]
            backoff=backoff,
            on=on,
            retry_on_result=retry_on_result,
            idempotent=idempotent,
            budget=budget,
            max_retry_after=max_retry_after,  # type: ignore[arg-type]
            nested=nested,
            clock=clock,
            rng=rng,
        )
    if fn is not None:
        return policy(fn)
    return policy


def reset_nested_warnings() -> None:
    _nested_warned.clear()


class Attempt:
    """One try of a retried block; a context manager that swallows a retryable failure."""

    __slots__ = ("_run", "_token", "number")

    def __init__(self, run: Attempts, number: int) -> None:
        self._run = run
        self.number = number
        self._token: contextvars.Token[bool] | None = None

    def __enter__(self) -> Attempt:
        self._token = _in_retry.set(True)  # retries inside the block don't multiply
        return self

    def __exit__(self, et: Any, exc: BaseException | None, tb: Any) -> bool:
        if self._token is not None:
            _in_retry.reset(self._token)
            self._token = None
        return self._run._finish(self.number, exc)


class Attempts:
    """Iterator of :class:`Attempt` s for one block; per-run state lives here."""

    __slots__ = ("_delay", "_done", "_guard", "_nested", "_previous", "_start")

    def __init__(self, guard: _RetryGuard) -> None:
        self._guard = guard
        self._start: float | None = None
        self._delay: float | None = None
        self._previous = 0.0
        self._done = False
        self._nested = False

    def _begin(self) -> None:
        """Start a run; inside another retry scope it is a single attempt (as decorators are)."""
        g = self._guard
        self._start = g._now()
        self._nested = g.policy.nested == "single" and _in_retry.get()
        if self._nested:
            g._nested()

    def _finish(self, number: int, exc: BaseException | None) -> bool:
        g = self._guard
        assert self._start is not None
        if self._nested:  # the outer scope owns retries and their accounting
            self._done = True
            return False
        if exc is None:
            self._done = True
            if number == 1:
                g._budget.record(self._start, "success_first_attempt")
            else:
                g._succeeded_after(number)
            return False
        if not isinstance(exc, Exception):
            self._done = True
            return False  # cancellation and interrupts propagate at once
        decision = g._decide(number, exc, self._start, self._previous)
        if isinstance(decision, _Stop):
            self._done = True
            g._give_up(number, decision.reason, self._start, exc)
            return False
        g._schedule(number, decision, exc)
        self._delay = decision.delay
        return True

    def __iter__(self) -> Iterator[Attempt]:
        number = 0
        self._begin()
        while not self._done:
            if self._delay is not None:
                _clock.sleep(self._guard.policy.clock, self._delay)
                self._previous, self._delay = self._delay, None
            elif number:
                return  # the block neither failed nor succeeded: e.g. a `continue`
            number += 1
            yield Attempt(self, number)

    async def __aiter__(self) -> AsyncIterator[Attempt]:
        number = 0
        self._begin()
        while not self._done:
            if self._delay is not None:
                await _clock.asleep(self._guard.policy.clock, self._delay)
                self._previous, self._delay = self._delay, None
            elif number:
                return
            number += 1
            yield Attempt(self, number)
