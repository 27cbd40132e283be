"""Retrying a block of code: ``for attempt in policy.retrying(): with attempt: ...``."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ragsight._resilience import clock as _clock
from ragsight._resilience.retry import scope as _scope
from ragsight._resilience.retry.schedule import AttemptRun, BoundPolicy


class Attempt:
    """One try of a retried block; a context manager that swallows a retryable failure."""

    __slots__ = ("_run", "_token", "number")

    def __init__(self, run: Attempts, number: int) -> None:
        self._run = run
        self.number = number
        self._token: contextvars.Token[bool] | None = None

    def __enter__(self) -> Attempt:
        self._token = _scope.in_retry.set(True)  # retries inside the block don't multiply
        return self

    def __exit__(self, et: Any, exc: BaseException | None, tb: Any) -> bool:
        if self._token is not None:
            _scope.in_retry.reset(self._token)
            self._token = None
        return self._run._finish(exc)


class Attempts:
    """Iterator of :class:`Attempt` s for one block; per-run state lives here."""

    __slots__ = ("_bound", "_delay", "_done", "_nested", "_run")

    def __init__(self, bound: BoundPolicy) -> None:
        self._bound = bound
        self._run: AttemptRun | None = None
        self._delay: float | None = None
        self._done = False
        self._nested = False

    def _begin(self) -> AttemptRun:
        """Start a run; inside another retry scope it is a single attempt (as decorators are)."""
        self._run = AttemptRun(self._bound, self._bound.now())
        self._nested = self._bound.nested()
        return self._run

    def _finish(self, exc: BaseException | None) -> bool:
        run = self._run
        assert run is not None
        if self._nested:  # the outer scope owns retries and their accounting
            self._done = True
            return False
        if exc is None:
            self._done = True
            run.finished()
            return False
        if not isinstance(exc, Exception):
            self._done = True
            return False  # cancellation and interrupts propagate at once
        self._delay = run.next_delay(exc)
        self._done = self._delay is None
        return not self._done

    def __iter__(self) -> Iterator[Attempt]:
        run = self._begin()
        yielded = False
        while not self._done:
            if self._delay is not None:
                _clock.sleep(self._bound.policy.clock, self._delay)
                self._delay = None
            elif yielded:
                return  # the block neither failed nor succeeded: e.g. a `continue`
            yielded = True
            yield Attempt(self, run.attempt)

    async def __aiter__(self) -> AsyncIterator[Attempt]:
        run = self._begin()
        yielded = False
        while not self._done:
            if self._delay is not None:
                await _clock.asleep(self._bound.policy.clock, self._delay)
                self._delay = None
            elif yielded:
                return
            yielded = True
            yield Attempt(self, run.attempt)
