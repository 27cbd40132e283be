"""Retry with backoff: an immutable policy and the ``retry`` decorator.

* The policy is immutable and every call keeps its own attempt state, so one policy is
  safe across threads and tasks.
* Only ``Exception``s are ever caught: ``CancelledError`` and ``KeyboardInterrupt``
  propagate at once, including from inside a backoff sleep (tenacity#529).
* A deadline bounds the whole call; a sleep that would end past it is never started, and a
  server's Retry-After longer than the deadline (or ``max_retry_after``) gives up at once.
* A retry budget per dependency caps retries at a share of calls (``RetryBudget``).
* Nested retry scopes don't multiply (``scope``); generators are retried only until their
  first item. ``idempotent=False`` retries only failures that prove nothing was processed.
* Defaults bind late (``config``): what is not given follows ``configure()``, even for a
  policy created at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from ragsight._core.callables import acall_through, call_through, decorate
from ragsight._core.policy import JitterKind, RetryConfig
from ragsight._resilience import backoff as _backoff
from ragsight._resilience import budget as _budget
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience.retry.block import Attempts
from ragsight._resilience.retry.config import NESTED_MODES, THROTTLE_FLOOR, LateBoundRetryConfig
from ragsight._resilience.retry.schedule import BoundPolicy
from ragsight._resilience.retry.wrappers import RetryWrappers

F = TypeVar("F", bound=Callable[..., Any])
Retryable = _classify.ExceptionTypes | Callable[[BaseException], bool] | None


class RetryPolicy:
    """What to retry, how often, how long to wait, and when to stop.

    Args:
        name: the dependency; budgets and metrics are per name (default: the decorated
            function's qualified name).
        attempts, deadline, max_retry_after: total attempts (the first included), seconds
            for the whole call, the longest server Retry-After honoured.
        jitter, base_delay, max_delay, exponential_factor: the backoff schedule; or
            ``backoff`` (a ``Backoff``) for the whole schedule at once.
        on: retryable failures (exception types or a predicate; default: connection
            errors, timeouts, HTTP 408/409/429/5xx and ``x-should-retry``).
        retry_on_result: a predicate; a result it accepts is retried like a failure.
        idempotent: False retries only failures that prove nothing was processed.
        budget: True (the shared budget of ``name``), False (none) or a ``RetryBudget``.
        throttle_floor: the least wait (seconds) after a throttle without Retry-After.
        nested: ``"single"`` (inside another retry scope: one attempt) or ``"multiply"``.
        wait_for_probe: a call an open circuit breaker rejected (``CircuitOpenError``) is
            given to the caller at once by default (fail fast). True waits for the breaker's
            half-open probe instead, once per attempt, and only when the wait fits both
            ``max_delay`` and what is left of the deadline.
        clock, rng: for tests (a fake clock, a seeded RNG).

    Every setting of ``retry.*`` not given here follows the configured defaults at the time
    a retry is decided, also for a policy created before ``configure()`` ("defaults bind
    late"); ``config`` shows the settings in force.

    Raises:
        LimitError (a ValueError): a setting outside the limit of its ``retry.*`` key (the
            same limits, so anything ``configure()`` accepts a policy accepts).
        ValueError: ``backoff`` together with one of its parts.
    """

    __slots__ = (
        "_retryable",
        "_settings",
        "budget",
        "clock",
        "idempotent",
        "name",
        "nested",
        "on",
        "retry_on_result",
        "rng",
        "throttle_floor",
        "wait_for_probe",
    )

    name: str | None
    on: Retryable
    retry_on_result: Callable[[Any], bool] | None
    idempotent: bool
    budget: bool | _budget.RetryBudget
    throttle_floor: float
    nested: Literal["single", "multiply"]
    wait_for_probe: bool
    clock: _clock.Clock | None
    rng: random.Random | None
    _settings: LateBoundRetryConfig
    _retryable: Callable[[BaseException], bool]

    def __init__(
        self,
        name: str | None = None,
        attempts: int | None = None,
        deadline: float | None = None,
        backoff: _backoff.Backoff | None = None,
        on: Retryable = None,
        retry_on_result: Callable[[Any], bool] | None = None,
        idempotent: bool = True,
        budget: bool | _budget.RetryBudget = True,
        max_retry_after: float | None = None,
        throttle_floor: float = 1.0,
        nested: Literal["single", "multiply"] = "single",
        clock: _clock.Clock | None = None,
        rng: random.Random | None = None,
        *,
        jitter: JitterKind | None = None,
        base_delay: float | None = None,
        max_delay: float | None = None,
        exponential_factor: float | None = None,
        wait_for_probe: bool = False,
    ) -> None:
        parts = (jitter, base_delay, max_delay, exponential_factor)
        if backoff is not None and any(p is not None for p in parts):
            raise ValueError(
                "pass backoff or jitter/base_delay/max_delay/exponential_factor, not both"
            )
        settings = LateBoundRetryConfig(
            {
                "attempts": attempts,
                "deadline": deadline,
                "max_retry_after": max_retry_after,
                "jitter": jitter,
                "base_delay": base_delay,
                "max_delay": max_delay,
            },
            backoff,
            exponential_factor,
        )
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "on", on)
        set_(self, "retry_on_result", retry_on_result)
        set_(self, "idempotent", idempotent)
        set_(self, "budget", budget)
        set_(self, "throttle_floor", THROTTLE_FLOOR.check(throttle_floor, "throttle_floor"))
        set_(self, "nested", NESTED_MODES.check(nested, "nested"))
        set_(self, "wait_for_probe", bool(wait_for_probe))
        set_(self, "clock", clock)
        set_(self, "rng", rng)
        set_(self, "_settings", settings)
        set_(self, "_retryable", _classify.matcher(on) or _classify.is_transient)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        return f"RetryPolicy(name={self.name!r}, {self.config!r}, backoff={self.backoff!r})"

    # ---------------------------------------------------------------- settings --
    @property
    def config(self) -> RetryConfig:
        """The settings in force now: explicit arguments over the configured defaults."""
        return self._settings.current()[0]

    @property
    def attempts(self) -> int:
        return self.config.attempts

    @property
    def deadline(self) -> float:
        return self.config.deadline

    @property
    def max_retry_after(self) -> float:
        return self.config.max_retry_after

    @property
    def backoff(self) -> _backoff.Backoff:
        return self._settings.current()[1]

    @classmethod
    def from_seed(
        cls,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        exponential_factor: float = 2.0,
        *,
        jitter: JitterKind = "full",
        **kwargs: Any,
    ) -> RetryPolicy:
        """The original pattern's signature: ``max_retries`` retries *after* the first call."""
        return cls(
            attempts=max_retries + 1,
            jitter=jitter,
            base_delay=base_delay,
            max_delay=max_delay,
            exponential_factor=exponential_factor,
            **kwargs,
        )

    # ---------------------------------------------------------------- decoration --
    def _bind(self, name: str) -> BoundPolicy:
        return BoundPolicy(self, name)

    def __call__(self, fn: F) -> F:
        return decorate(fn, RetryWrappers(self._bind(self.name or dependency_name(fn))))

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` under this policy once (the decorator's own wrapper, built per call).

        A generator function is retried until its first item, as the decorator does, and a
        stage-decorated one keeps its stage outside."""
        wrappers = RetryWrappers(self._bind(self.name or dependency_name(fn)))
        return call_through(wrappers, fn, args, kwargs)

    async def acall(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Await ``fn`` under this policy; a plain function is retried as one (its result
        awaited only if it is awaitable)."""
        wrappers = RetryWrappers(self._bind(self.name or dependency_name(fn)))
        return await acall_through(wrappers, fn, args, kwargs)

    def retrying(self, name: str | None = None) -> Attempts:
        """Retry a block: ``for attempt in policy.retrying(): with attempt: ...``.

        Also ``async for`` (sleeps on the event loop). The block is re-run while the policy
        allows; the give-up re-raises the last exception out of the ``with``.
        """
        return Attempts(self._bind(name or self.name or "attempts"))

    def describe(self) -> dict[str, Any]:
        """A plain description, for asserting composition in tests (Polly.Testing parity)."""
        config, backoff = self._settings.current()
        return {
            "name": self.name,
            "attempts": config.attempts,
            "deadline": config.deadline,
            "backoff": backoff,
            "idempotent": self.idempotent,
            "budget": bool(self.budget),
            "max_retry_after": config.max_retry_after,
            "nested": self.nested,
            "wait_for_probe": self.wait_for_probe,
        }


def dependency_name(fn: Callable[..., Any]) -> str:
    """The dependency name when none is given: a code location, never a ``repr``.

    The name keys the retry budget and labels metrics, so it must not carry a partial's
    arguments or an object's address (one budget and one time series per call otherwise),
    and two different callables must not share it by accident: a function is named by its
    qualified name; a lambda (every one is ``<lambda>``) by its module, qualified name and
    first line, ``app.jobs.<locals>.<lambda>@42``, stable across calls and processes. Pass
    ``name=`` to choose the name (and share a budget on purpose).
    """
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not name:
        return str(type(target).__qualname__)
    name = str(name)
    if name.endswith("<lambda>"):
        code = getattr(target, "__code__", None)
        module = getattr(target, "__module__", None)
        prefix = f"{module}." if module else ""
        line = f"@{code.co_firstlineno}" if code is not None else ""
        return f"{prefix}{name}{line}"
    return name


def retry(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    attempts: int | None = None,
    max_retries: int | None = None,
    deadline: float | None = None,
    on: Retryable = None,
    jitter: JitterKind | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    exponential_factor: float | None = None,
    retry_on_result: Callable[[Any], bool] | None = None,
    idempotent: bool = True,
    budget: bool | _budget.RetryBudget = True,
    max_retry_after: float | None = None,
    nested: Literal["single", "multiply"] = "single",
    wait_for_probe: bool = False,
    policy: RetryPolicy | None = None,
    clock: _clock.Clock | None = None,
    rng: random.Random | None = None,
) -> Any:
    """Retry decorator, bare (``@retry``) or configured (``@retry(attempts=5, on=...)``).

    ``max_retries`` (retries after the first call) is the original pattern's form of
    ``attempts`` (total, the first included). The other arguments are those of
    :class:`RetryPolicy`; what is not given follows the configured defaults, late.

    Raises:
        ValueError: both ``attempts`` and ``max_retries``; a setting outside its limit.
    """
    if policy is None:
        if attempts is not None and max_retries is not None:
            raise ValueError("pass attempts (total) or max_retries (after the first), not both")
        policy = RetryPolicy(
            name=name,
            attempts=attempts if max_retries is None else max_retries + 1,
            deadline=deadline,
            on=on,
            retry_on_result=retry_on_result,
            idempotent=idempotent,
            budget=budget,
            max_retry_after=max_retry_after,
            nested=nested,
            clock=clock,
            rng=rng,
            jitter=jitter,
            wait_for_probe=wait_for_probe,
            base_delay=base_delay,
            max_delay=max_delay,
            exponential_factor=exponential_factor,
        )
    if fn is not None:
        return policy(fn)
    return policy
