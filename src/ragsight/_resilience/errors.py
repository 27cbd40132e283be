"""Exceptions raised by ragsight's resilience primitives (one base, so callers can catch all)."""

from __future__ import annotations

from typing import Any


class ResilienceError(Exception):
    """Base of every error a breaker, retry policy or budget raises on its own account."""

    __module__ = "ragsight"  # the public name, in reprs, pickles and error.type


class CircuitOpenError(ResilienceError):
    """A breaker refused a call: the dependency is considered unhealthy.

    Carries what a caller needs to decide what to do next: which breaker, in which state,
    how many seconds until it admits a probe (None when forced open, i.e. unknown), and the
    error type that last counted as a failure.
    """

    __module__ = "ragsight"  # the public name, in reprs, pickles and error.type

    def __init__(
        self,
        name: str,
        state: str,
        retry_after: float | None,
        last_failure_type: str | None = None,
    ) -> None:
        self.name = name
        self.state = state
        self.retry_after = retry_after
        self.last_failure_type = last_failure_type
        wait = "unknown" if retry_after is None else f"{retry_after:.3g}s"
        super().__init__(
            f"circuit breaker {name!r} is {state}; next probe in {wait}"
            + (f" (last failure: {last_failure_type})" if last_failure_type else "")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # ``args`` holds only the message: without this, pickling (process pools, task
        # queues) and copy.copy fail with a missing-argument TypeError.
        args = (self.name, self.state, self.retry_after, self.last_failure_type)
        return (type(self), args, self.__dict__)


class RetryError(ResilienceError):
    """A retry policy gave up on a *result* (``retry_on_result``), so there is no exception.

    When attempts fail with exceptions the last exception is re-raised unchanged instead,
    so ``except SomeClientError`` keeps working around a retried call.
    """

    __module__ = "ragsight"  # the public name, in reprs, pickles and error.type

    def __init__(self, name: str, attempts: int, stop_reason: str, last_result: Any) -> None:
        self.name = name
        self.attempts = attempts
        self.stop_reason = stop_reason
        self.last_result = last_result
        super().__init__(
            f"retry policy {name!r} gave up after {attempts} attempt(s): {stop_reason}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.name, self.attempts, self.stop_reason, self.last_result)
        return (type(self), args, self.__dict__)
