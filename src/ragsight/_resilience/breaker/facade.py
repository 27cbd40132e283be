"""The circuit breaker: a time-bucketed sliding window, bounded half-open probes, no lock held
around user code.

Design points, each answering a failure seen in a peer:

* One ``threading.Lock`` guards only O(1) bookkeeping; the guarded call runs outside it, so
  eight threads can be inside the function at once (pybreaker serialises them). No
  ``asyncio.Lock``: the same breaker is safe from threads and from any number of event loops.
* Failure *rate* over a 60 s window of 5 s buckets once ``minimum_calls`` calls were seen,
  and a consecutive-failures rule below that, so low-traffic LLM calls still trip and old
  failures age out (fabfuel#22).
* Half-open hands out at most ``half_open_probes`` permits; everyone else is rejected at once
  (aiobreaker/purgatory admit the herd). A probe that never reports is reclaimed after
  ``probe_timeout`` (resilience4j#935); an ignored or cancelled probe just releases its permit
  (Polly#1979). Calls admitted in an earlier state are counted but never cause a transition
  (Polly#218).
* Time is monotonic and injectable (``clock``); open durations back off and are jittered.
* Per-call outcomes are plain integers read by observable instruments at collection time;
  listeners and telemetry run after the lock is released, contained by ``_safety``.

:class:`CircuitBreaker` is the facade over the units that do the work: its settings
(:mod:`.config`), the sliding window (:mod:`.window`), the state machine (:mod:`.states`),
outcome classification (:mod:`.judge`) and the call path (:mod:`.guard`).
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ragsight import names as n
from ragsight._core import policy as _policy
from ragsight._core import safety as _safety
from ragsight._core.callables import Ended, Opened, acall_through, call_through, decorate
from ragsight._core.policy import BreakerConfig
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience.breaker import guard as _guard
from ragsight._resilience.breaker import registry as _registry
from ragsight._resilience.breaker.config import LateBoundConfig
from ragsight._resilience.breaker.judge import BadResult, Classifier, OutcomeJudge
from ragsight._resilience.breaker.records import (
    CLOSED,
    BreakerSnapshot,
    Probe,
    Rejection,
    StateChange,
    Ticket,
)
from ragsight._resilience.breaker.states import StateMachine
from ragsight._resilience.errors import CircuitOpenError

F = TypeVar("F", bound=Callable[..., Any])


class SharedBreakerStore(Protocol):
    """What ``shared=`` takes (``ragsight.RedisState``): it reads the breaker's window from
    its own thread and calls ``_fleet_open()`` when the fleet trips."""

    def attach_breaker(self, breaker: CircuitBreaker) -> object: ...


class CircuitBreaker:
    """A circuit breaker for one dependency (vector store, embedding API, LLM, reranker).

    Use it as ``@breaker`` on def / async def / generator / async generator functions,
    ``breaker.call(fn, ...)``, ``await breaker.acall(fn, ...)``, ``with breaker:``,
    ``async with breaker:``, or the permit API.

    Settings (checked by :class:`BreakerConfig`, the same limits the ``breaker.*``
    configuration keys use) bind late: an argument given here stays fixed; every one left
    ``None`` follows the configured defaults, including a later ``configure()``, however
    early the breaker was created. :attr:`config` shows the settings in force.
    ``fallback`` (called with the call's arguments) answers rejected calls of the decorator
    and ``call``/``acall`` forms instead of raising :class:`CircuitOpenError`.
    ``shared`` (a :class:`ragsight.RedisState`) adds the fleet's view: the breaker also
    opens when the fleet trips; its call path never waits on the store.

    Raises:
        ValueError: an unknown ``profile`` or initial ``state``; ``LimitError`` (a
            ValueError) for a setting outside its limit.
    """

    __slots__ = (
        "__weakref__",
        "_clock",
        "_cm_stack",
        "_fallback",
        "_judge",
        "_listeners",
        "_lock",
        "_machine",
        "_nowf",
        "_settings",
        "_shared",
        "name",
    )

    def __init__(
        self,
        name: str,
        *,
        failure_rate_threshold: float | None = None,
        slow_call_rate_threshold: float | None = None,
        slow_call_duration: float | None = None,
        minimum_calls: int | None = None,
        consecutive_failures: int | None = None,
        window: float | None = None,
        buckets: int | None = None,
        open_duration: float | None = None,
        max_open_duration: float | None = None,
        open_jitter: float | None = None,
        half_open_probes: int | None = None,
        probe_successes_to_close: int | None = None,
        probe_timeout: float | None = None,
        record_exceptions: _classify.ExceptionTypes | Callable[[BaseException], bool] = (),
        ignore_exceptions: _classify.ExceptionTypes | Callable[[BaseException], bool] = (),
        record_result: Callable[[Any], bool] | None = None,
        classifier: Classifier | None = None,
        honor_retry_after: bool = True,
        profile: str | None = None,
        state: str = CLOSED,
        clock: _clock.Clock | None = None,
        rng: random.Random | None = None,
        listeners: tuple[Callable[[StateChange], None], ...] = (),
        fallback: Callable[..., Any] | None = None,
        shared: SharedBreakerStore | None = None,
    ) -> None:
        self.name = name
        self._settings = LateBoundConfig.from_arguments(
            profile,
            failure_rate_threshold=failure_rate_threshold,
            slow_call_rate_threshold=slow_call_rate_threshold,
            slow_call_duration=slow_call_duration,
            minimum_calls=minimum_calls,
            consecutive_failures=consecutive_failures,
            window=window,
            buckets=buckets,
            open_duration=open_duration,
            max_open_duration=max_open_duration,
            open_jitter=open_jitter,
            half_open_probes=half_open_probes,
            probe_successes_to_close=probe_successes_to_close,
            probe_timeout=probe_timeout,
        )
        self._judge = OutcomeJudge(
            record_exceptions, ignore_exceptions, record_result, classifier, honor_retry_after
        )
        self._machine = StateMachine(name, self._settings.config, rng)
        self._lock = self._machine.lock
        self._clock = clock
        self._nowf: Callable[[], float] | None = clock.monotonic if clock is not None else None
        self._listeners: list[Callable[[StateChange], None]] = list(listeners)
        self._fallback = fallback
        self._cm_stack: contextvars.ContextVar[tuple[_guard.Permit, ...]] = contextvars.ContextVar(
            f"ragsight_breaker_{name}", default=()
        )
        _registry.live.add(self)
        for hook in _registry.created_hooks:
            try:
                hook(self)
            except Exception as err:  # telemetry must not break construction
                _safety.report_internal_error("resilience.telemetry", err)
        if state != CLOSED:
            self.force_state(state)
        # last: the store's thread may read this breaker as soon as it is attached
        self._shared = shared.attach_breaker(self) if shared is not None else None

    def __del__(self) -> None:
        try:
            counts = self._machine.outcome_totals()
            if any(counts.values()):
                _registry.retired_pending.append((self.name, counts))
        except Exception:  # a half-built breaker (its __init__ raised) has no counts
            pass

    # ---------------------------------------------------------------- reading --
    @property
    def state(self) -> str:
        """The current state (one of ``ragsight.names.CB_STATES``)."""
        return self._machine.state

    @property
    def counts(self) -> dict[str, int]:
        """Outcome totals since creation, by outcome (``ragsight.names.CB_OUTCOMES``)."""
        with self._lock:
            return self._machine.outcome_totals()

    @property
    def config(self) -> BreakerConfig:
        """The settings this breaker runs with now: its explicit arguments over the
        configured defaults (which it follows when ``configure()`` changes them)."""
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        return self._settings.config

    def snapshot(self) -> BreakerSnapshot:
        """A consistent read of the state, the window and the outcome totals."""
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        return self._machine.snapshot(self._time())

    def add_listener(self, listener: Callable[[StateChange], None]) -> None:
        """Call ``listener`` with every :class:`StateChange` (after the lock is released)."""
        self._listeners.append(listener)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._machine.state}>"

    def _time(self) -> float:
        f = self._nowf
        return f() if f is not None else _clock.now()

    def _follow_defaults(self) -> None:
        """The configured defaults changed since this breaker resolved its settings."""
        with self._lock:
            if self._settings.refresh():
                self._machine.apply(self._settings.config)

    # ---------------------------------------------------------------- state --
    def force_state(self, state: str) -> None:
        """Move to ``state`` now (reason ``manual``): maintenance, shadow mode, tests.

        ``open`` starts a normal open period (base duration); ``closed`` clears the window
        and the backoff; ``half_open`` admits probes immediately.

        Raises:
            ValueError: ``state`` is not one of ``ragsight.names.CB_STATES``.
        """
        if state not in n.CB_STATES:
            raise ValueError(f"unknown breaker state {state!r}; expected one of {n.CB_STATES}")
        self._publish(self._machine.force(state, self._time()))

    def _fleet_open(self) -> None:
        """Called by a shared store's thread when the fleet's view trips."""
        change = self._machine.fleet_open(self._time())
        if change is not None:
            self._publish(change)

    def reset(self) -> None:
        """Close the breaker and forget the window and the open-duration backoff."""
        self.force_state(CLOSED)

    # ---------------------------------------------------------------- admission --
    def _admit(self) -> Ticket:
        """The slow admission path (any state but closed/metrics-only); may raise."""
        ticket, change, rejection = self._machine.admit(self._time())
        if change is not None:
            self._publish(change)
        if rejection is None:
            if isinstance(ticket, Probe):  # a half-open probe was granted
                for hook in _registry.probe_hooks:
                    try:
                        hook(self)
                    except Exception as err:  # telemetry must not break admission
                        _safety.report_internal_error("resilience.telemetry", err)
            return ticket
        self._publish_rejection(rejection)
        raise CircuitOpenError(
            self.name, rejection.state, rejection.retry_after_s, rejection.last_failure_type
        )

    def try_acquire(self) -> _guard.Permit | None:
        """A permit, or None when the breaker refuses the call (counted as rejected)."""
        try:
            return self.acquire()
        except CircuitOpenError:
            return None

    def acquire(self) -> _guard.Permit:
        """A permit; report the call's outcome on it exactly once.

        Raises:
            CircuitOpenError: the breaker refuses the call.
        """
        return _guard.Permit(self, _guard.admission(self), self._time())

    # ---------------------------------------------------------------- outcomes --
    def _on_success(self, ticket: Ticket, start: float, end: float) -> None:
        change = self._machine.record_success(ticket, start, end)
        if change is not None:
            self._publish(change)

    def _on_error(self, ticket: Ticket, start: float, end: float, exc: BaseException) -> None:
        verdict = self._judge.verdict(exc)
        if verdict is None:
            self._machine.record_ignored(ticket, "cancelled")
        elif verdict == "ignore":
            self._machine.record_ignored(ticket, "ignored")
        elif verdict == "success":
            self._on_success(ticket, start, end)
        else:
            self._on_failure(ticket, start, end, exc)

    def _on_failure(self, ticket: Ticket, start: float, end: float, exc: BaseException) -> None:
        error_type = _classify.error_type(exc)
        hint = self._judge.retry_after(exc)
        change = self._machine.record_failure(ticket, start, end, error_type, hint)
        if change is not None:
            self._publish(change)

    def _on_ignore(self, ticket: Ticket, outcome: str) -> None:
        self._machine.record_ignored(ticket, outcome)

    def _on_result(self, ticket: Ticket, start: float, end: float, result: Any) -> None:
        """Success path with an optional result predicate (``record_result``)."""
        if self._judge.bad_result(result):
            self._on_failure(ticket, start, end, BadResult(result))
        else:
            self._on_success(ticket, start, end)

    # ---------------------------------------------------------------- publication --
    def _publish(self, change: StateChange) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception as err:  # a listener must not break the call
                _safety.report_internal_error("resilience.breaker.listener", err)
        for hook in _registry.change_hooks:
            try:
                hook(self, change)
            except Exception as err:
                _safety.report_internal_error("resilience.telemetry", err)

    def _publish_rejection(self, rejection: Rejection) -> None:
        for hook in _registry.reject_hooks:
            try:
                hook(self, rejection)
            except Exception as err:
                _safety.report_internal_error("resilience.telemetry", err)

    # ---------------------------------------------------------------- call forms --
    def __call__(self, fn: F) -> F:
        """Decorate ``fn`` (def, async def, generator or async generator)."""
        return decorate(fn, self)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` through the breaker once (the decorator's own wrapper, built per call).

        A generator function gets the stream wrapper (judged while it is consumed, not when
        the generator object is created) and a stage-decorated one keeps its stage outside.

        Raises:
            CircuitOpenError: the breaker refuses the call and there is no ``fallback``.
        """
        return call_through(self, fn, args, kwargs)

    async def acall(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Await ``fn`` through the breaker; a plain function is run (and judged) as one, so a
        sync call is not mistaken for a failing coroutine.

        Raises:
            CircuitOpenError: the breaker refuses the call and there is no ``fallback``.
        """
        return await acall_through(self, fn, args, kwargs)

    # the callables.WrapperProvider protocol
    def _make_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return _guard.make_sync(self, fn)

    def _make_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return _guard.make_async(self, fn)

    def _open_stream(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        return _guard.open_stream(self, fn, args, kw)

    async def _open_astream(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        return await _guard.open_astream(self, fn, args, kw)

    # ---------------------------------------------------------------- context managers --
    def __enter__(self) -> _guard.Permit:
        permit = self.acquire()
        self._cm_stack.set((*self._cm_stack.get(), permit))
        return permit

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        stack = self._cm_stack.get()
        if not stack:
            return
        permit = stack[-1]
        self._cm_stack.set(stack[:-1])
        if exc is None:
            permit.success()
        else:
            permit.failure(exc)

    async def __aenter__(self) -> _guard.Permit:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)
        return None


def get_breaker(name: str, **config: Any) -> CircuitBreaker:
    """The process-wide breaker for ``name``, created on first use with ``config``.

    Later calls return the same object; passing a *different* configuration for an existing
    name is an error rather than a silent surprise.

    Raises:
        ValueError: ``config`` differs from the one the breaker was created with, or is
            invalid (as ``CircuitBreaker(name, **config)`` would raise).
    """
    with _registry.registry_lock:
        entry = _registry.registry.get(name)
        if entry is None:
            breaker = CircuitBreaker(name, **config)
            _registry.registry[name] = (breaker, dict(config))
            return breaker
        breaker, created_with = entry
        if config and config != created_with:
            raise ValueError(
                f"breaker {name!r} already exists with a different configuration; "
                "configure it once and call get_breaker(name) elsewhere"
            )
        return breaker


def clear_registry() -> None:
    """Forget registered breakers (tests)."""
    with _registry.registry_lock:
        _registry.registry.clear()
    _registry.forget_retired()
