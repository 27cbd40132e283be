"""The retry decision: after a failed attempt, wait how long, or stop and why.

:class:`BoundPolicy` is a policy bound to one dependency (its name, its budget, its
clock): it decides and reports each decision to the hooks. :class:`AttemptRun` is the
per-call state (attempt number, previous delay, start time), so one policy is safe across
threads and tasks (tenacity#93 corrupts shared counters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragsight._core import safety as _safety
from ragsight._core.attempts import AttemptLog
from ragsight._resilience import backoff as _backoff
from ragsight._resilience import budget as _budget
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience import hooks as _hooks
from ragsight._resilience.errors import CircuitOpenError, RetryError
from ragsight._resilience.retry import scope as _scope

if TYPE_CHECKING:
    from ragsight._resilience.retry.policy import RetryPolicy

FIRST = "success_first_attempt"


@dataclass(slots=True)
class Stop:
    reason: str


@dataclass(slots=True)
class Go:
    delay: float
    source: str
    reason: str


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__


class BoundPolicy:
    """A :class:`RetryPolicy` bound to dependency ``name``: its budget (the shared one of
    that name unless the policy brings its own), its clock, its decisions and reports."""

    __slots__ = ("budget", "enforce", "monotonic", "name", "policy")

    def __init__(self, policy: RetryPolicy, name: str) -> None:
        _scope.propagate_into_threads()
        self.policy = policy
        self.name = name
        given = policy.budget
        if isinstance(given, _budget.RetryBudget):
            self.budget = given
        else:
            clock = policy.clock
            self.budget = _budget.get_budget(name, lambda nm: _budget.RetryBudget(nm, clock=clock))
        self.enforce = given is not False
        # None: the process clock (the test kit can replace it)
        self.monotonic = policy.clock.monotonic if policy.clock is not None else None

    def now(self) -> float:
        f = self.monotonic
        return f() if f is not None else _clock.now()

    def nested(self) -> bool:
        """True (and reported) when this run is inside another retry scope and must make a
        single attempt."""
        if self.policy.nested == "single" and _scope.in_retry.get():
            _scope.warn_nested(self.name)
            return True
        return False

    def decide(
        self, attempt: int, exc: BaseException | None, start: float, previous: float
    ) -> Stop | Go:
        """After ``attempt`` failed with ``exc`` (or a result to retry on, ``exc`` None)."""
        p = self.policy
        config, backoff = p._settings.current()
        now = self.now()
        remaining = config.deadline - (now - start)
        request_deadline = _scope.request_deadline.get()
        if request_deadline is not None:
            # the request deadline is on the process clock; a policy clock is for tests
            remaining = min(remaining, request_deadline - _clock.now())
        hint: float | None = None
        throttled = False
        reason = "result"
        max_attempts = _scope.max_attempts(config.attempts)
        if exc is not None:
            if isinstance(exc, CircuitOpenError):
                # Fail fast: a rejection reaches the caller at once, unless the policy
                # asked to wait for the half-open probe, and then only within its own
                # longest delay and what is left of its deadline.
                wait = exc.retry_after
                if (
                    not p.wait_for_probe
                    or wait is None
                    or attempt >= max_attempts
                    or wait > min(remaining, backoff.cap)
                ):
                    return Stop("circuit_open")
                if self.enforce and not self.budget.try_spend(now):
                    return Stop("budget_exhausted")
                return Go(wait, "retry_after", "exception")
            if not self.retryable(exc):
                return Stop("non_retryable")
            if not p.idempotent and not _classify.provably_not_processed(exc):
                return Stop("not_idempotent")
            hint = _classify.retry_after(exc)
            throttled = _classify.is_throttle(exc)
            reason = "throttled" if throttled else ("timeout" if _is_timeout(exc) else "exception")
        if attempt >= max_attempts:
            return Stop("attempts_exhausted")
        if hint is not None and (hint > config.max_retry_after or hint > remaining):
            return Stop("retry_after_exceeds_deadline")
        delay = backoff.delay(attempt, previous, p.rng or _backoff.shared_rng())
        source = "backoff"
        if hint is not None and hint >= delay:
            delay, source = hint, "retry_after"
        elif throttled and hint is None:
            delay = max(delay, min(p.throttle_floor, backoff.cap))
        if delay > remaining:
            return Stop("deadline")
        # AWS SDK weighting: a timeout retry costs twice (the dependency may still be working)
        cost = 2.0 if reason == "timeout" else 1.0
        if self.enforce and not self.budget.try_spend(now, cost):
            return Stop("budget_exhausted")
        return Go(delay, source, reason)

    def retryable(self, exc: BaseException) -> bool:
        """The policy's ``on=`` says retry ``exc``; a predicate that raises says no (and is
        reported as an internal error): the caller sees its own exception, counted."""
        try:
            return bool(self.policy._retryable(exc))
        except Exception as err:  # user predicate
            _safety.report_internal_error("resilience.retry.on", err)
            return False

    # ------------------------------------------------------------------ reports --
    def give_up(self, attempts: int, stop: str, start: float, exc: BaseException | None) -> None:
        outcome = "failed_no_retry" if attempts == 1 else "failed_after_retry"
        now = self.now()
        self.budget.record(now, outcome)
        etype = _classify.error_type(exc) if exc is not None else None
        if stop == "budget_exhausted":
            _hooks.budget_exhausted.call(_hooks.BudgetExhausted(self.name, attempts))
        _hooks.retry_gave_up.call(_hooks.RetryGaveUp(self.name, attempts, stop, now - start, etype))

    def schedule(self, attempt: int, go: Go, exc: BaseException | None) -> None:
        etype = _classify.error_type(exc) if exc is not None else None
        event = _hooks.RetryScheduled(self.name, attempt, go.delay, go.source, go.reason, etype)
        _hooks.retry_scheduled.call(event)

    def succeeded(self, start: float, attempts: int) -> None:
        if attempts == 1:
            self.budget.record(start, FIRST)
            return
        self.budget.record(self.now(), "success_after_retry")
        _hooks.retry_succeeded.call(_hooks.RetrySucceeded(self.name, attempts))

    def bad_result(self, result: Any) -> bool:
        """``retry_on_result`` says retry; a predicate that raises says no (and is reported):
        a broken predicate must not turn a success into a failure."""
        pred: Callable[[Any], bool] | None = self.policy.retry_on_result
        if pred is None:
            return False
        try:
            return bool(pred(result))
        except Exception as err:
            _safety.report_internal_error("resilience.retry.retry_on_result", err)
            return False


class AttemptRun:
    """One call's way through the schedule: ``attempt`` is the number of the attempt that
    runs (or just ran); ``stop_reason`` is set once it gave up."""

    __slots__ = ("attempt", "bound", "previous", "start", "stop_reason")

    def __init__(self, bound: BoundPolicy, start: float) -> None:
        self.bound = bound
        self.start = start
        self.attempt = 1
        self.previous = 0.0
        self.stop_reason: str | None = None

    def next_delay(self, exc: BaseException | None) -> float | None:
        """The attempt failed: the wait before the next one, or None when the run gives up
        (already reported)."""
        bound = self.bound
        decision = bound.decide(self.attempt, exc, self.start, self.previous)
        if isinstance(decision, Stop):
            self.stop_reason = decision.reason
            bound.give_up(self.attempt, decision.reason, self.start, exc)
            return None
        bound.schedule(self.attempt, decision, exc)
        self.previous = decision.delay
        self.attempt += 1
        return decision.delay

    def retry_or_raise(self, exc: BaseException | None, result: Any) -> float:
        """:meth:`next_delay`, raising on give-up: ``exc`` itself, or :class:`RetryError`
        carrying the last ``result`` when a result was retried on."""
        delay = self.next_delay(exc)
        if delay is not None:
            return delay
        if exc is not None:
            raise exc
        raise RetryError(self.bound.name, self.attempt, str(self.stop_reason), result)

    def accept(self, result: Any) -> bool:
        """The attempt returned ``result``: True (success recorded) unless it is retried on."""
        if self.bound.bad_result(result):
            return False
        self.bound.succeeded(self.start, self.attempt)
        return True

    def finished(self, error: BaseException | None = None) -> None:
        """A stream past its first item ended: with ``error`` it gave up (no more retries)."""
        if error is not None:
            self.bound.give_up(self.attempt, "stream_started", self.start, error)
        else:
            self.bound.succeeded(self.start, self.attempt)


def retry_sync(
    run: AttemptRun,
    fn: Callable[..., Any],
    args: Any,
    kw: Any,
    delay: float,
    attempts: AttemptLog | None = None,
) -> Any:
    """Sleep ``delay`` and call again, until success or give-up (blocking sleeps).
    ``attempts``: the stage outside, which shows each attempt as its own operation."""
    clock = run.bound.policy.clock
    while True:
        _clock.sleep(clock, delay)
        exc: BaseException | None = None
        if attempts is not None:
            attempts.begin()
        try:
            result = fn(*args, **kw)
        except BaseException as err:
            if attempts is not None:
                attempts.end(err)
            if not isinstance(err, Exception):
                raise
            exc, result = err, None
        else:
            if attempts is not None:
                attempts.end(None)
            if run.accept(result):
                return result
        delay = run.retry_or_raise(exc, result)


async def retry_async(
    run: AttemptRun,
    fn: Callable[..., Any],
    args: Any,
    kw: Any,
    delay: float,
    attempts: AttemptLog | None = None,
) -> Any:
    """:func:`retry_sync` on the event loop (``CancelledError`` propagates from the sleep)."""
    clock = run.bound.policy.clock
    while True:
        await _clock.asleep(clock, delay)
        exc: BaseException | None = None
        if attempts is not None:
            attempts.begin()
        try:
            result = await fn(*args, **kw)
        except BaseException as err:
            if attempts is not None:
                attempts.end(err)
            if not isinstance(err, Exception):
                raise
            exc, result = err, None
        else:
            if attempts is not None:
                attempts.end(None)
            if run.accept(result):
                return result
        delay = run.retry_or_raise(exc, result)
