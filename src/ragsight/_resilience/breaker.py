"""The circuit breaker: a time-bucketed sliding window, bounded half-open probes, no lock held
around user code.

Design points, each answering a failure seen in a peer (research/resilience_anchors.md):

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
  (Polly#218): every transition starts a new *epoch*, and tickets carry theirs.
* Time is monotonic and injectable (``_clock``); open durations back off and are jittered.
* Per-call outcomes are plain integers read by observable instruments at collection time;
  listeners and telemetry run after the lock is released, contained by ``_safety``.
"""

from __future__ import annotations

import collections
import contextvars
import inspect
import random
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ragsight import names as n
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
from ragsight._core.policy import BreakerConfig
from ragsight._resilience import backoff as _backoff
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience.errors import CircuitOpenError

F = TypeVar("F", bound=Callable[..., Any])

CLOSED = n.CB_STATE_CLOSED
OPEN = n.CB_STATE_OPEN
HALF_OPEN = n.CB_STATE_HALF_OPEN
FORCED_OPEN = n.CB_STATE_FORCED_OPEN
DISABLED = n.CB_STATE_DISABLED
METRICS_ONLY = n.CB_STATE_METRICS_ONLY

PROFILES: dict[str, float] = {"llm": 30.0, "embedding": 10.0, "vector_store": 2.0, "reranker": 2.0}

Classifier = Callable[[BaseException], _classify.Verdict]


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition, as handed to listeners and to telemetry (after the lock is released)."""

    name: str
    from_state: str
    to_state: str
    reason: str
    failure_rate: float
    slow_call_rate: float
    window_calls: int
    consecutive_failures: int
    open_for_s: float | None = None
    error_type: str | None = None
    retry_after_s: float | None = None
    outage_s: float | None = None  # set when an outage ends (open -> ... -> closed)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused call; ``first`` is True once per open period (only that one is logged)."""

    name: str
    state: str
    retry_after_s: float | None
    first: bool
    last_failure_type: str | None


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent read of a breaker for dashboards, health endpoints and tests."""

    name: str
    state: str
    failure_rate: float
    slow_call_rate: float
    window_calls: int
    window_failures: int
    window_slow_calls: int
    consecutive_failures: int
    seconds_until_probe: float | None
    probes_in_flight: int
    calls: dict[str, int]


class _Probe:
    """A half-open permit; identity matters (reclaimed probes must not report later).

    ``reclaimed`` is set when the breaker gave up on the probe and counted it as a failure:
    its late report must then not be counted a second time.
    """

    __slots__ = ("epoch", "reclaimed", "start")

    def __init__(self, epoch: int, start: float) -> None:
        self.epoch = epoch
        self.start = start
        self.reclaimed = False


Ticket = int | _Probe | None  # int: admitted in a closed-ish epoch; None: not recorded


def _reclaimed(ticket: Ticket) -> bool:
    """A probe already counted as a failure when it was reclaimed (its report is not counted)."""
    return isinstance(ticket, _Probe) and ticket.reclaimed


_registry_lock = threading.Lock()
_registry: dict[str, CircuitBreaker] = {}
_live: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()

# Hooks the telemetry layer installs; called after the breaker lock is released.
change_hooks: list[Callable[[CircuitBreaker, StateChange], None]] = []
reject_hooks: list[Callable[[CircuitBreaker, Rejection], None]] = []
probe_hooks: list[Callable[[CircuitBreaker], None]] = []
created_hooks: list[Callable[[CircuitBreaker], None]] = []


# Outcome counts of collected breakers, per name: the exported counters are sums over
# breakers of one name and must never go down when one of them is garbage-collected.
_retired_lock = threading.Lock()
_retired: dict[str, dict[str, int]] = {}
# __del__ may run inside any allocation, even one made while _retired_lock is held by the
# same thread: it only appends here (atomic, lock-free); readers fold it under the lock.
_retired_pending: collections.deque[tuple[str, dict[str, int]]] = collections.deque()


def live_breakers() -> list[CircuitBreaker]:
    """Every breaker still referenced somewhere (read by the observable instruments)."""
    return list(_live)


def forget_retired() -> None:
    """Start a new cumulative stream (new meter provider): earlier breakers' totals go."""
    with _retired_lock:
        _retired.clear()
        _retired_pending.clear()


def retired_counts() -> dict[str, dict[str, int]]:
    """Outcome totals left behind by collected breakers, by name (observable counters)."""
    with _retired_lock:
        while _retired_pending:
            name, counts = _retired_pending.popleft()
            acc = _retired.setdefault(name, dict.fromkeys(n.CB_OUTCOMES, 0))
            for outcome, count in counts.items():
                acc[outcome] += count
        return {name: dict(counts) for name, counts in _retired.items()}


class LateBoundConfig:
    """A breaker's settings: those given explicitly stay fixed, the rest follow the
    configured defaults (``configure()``), however early the breaker was created.

    ``generation`` is the defaults' generation ``config`` was resolved from; the call path
    compares it with ``_policy.generation`` (one integer compare) and re-resolves on change.
    """

    __slots__ = ("config", "explicit", "generation")

    def __init__(self, explicit: dict[str, Any]) -> None:
        self.explicit = explicit
        self.generation = _policy.generation
        # checks the explicit values now: CircuitBreaker(window=0) fails where it is written
        self.config = _policy.get_resilience_defaults().breaker.replace(**explicit)

    def refresh(self) -> bool:
        """Re-resolve from the current defaults; True when the resolved config changed."""
        generation = _policy.generation
        if generation == self.generation:
            return False
        config = _policy.get_resilience_defaults().breaker.replace(**self.explicit)
        self.generation = generation
        changed = config != self.config
        self.config = config
        return changed


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
        return isinstance(self._ticket, _Probe)

    def _finish(self) -> tuple[float, bool]:
        first = not self._done
        self._done = True
        return self._breaker._time(), first

    def success(self, duration: float | None = None) -> None:
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

    Raises:
        ValueError: an unknown ``profile`` or initial ``state``; ``LimitError`` (a
            ValueError) for a setting outside its limit.
    """

    __slots__ = (
        "__weakref__",
        "_bucket_end",
        "_calls",
        "_classifier",
        "_clock",
        "_cm_stack",
        "_consec",
        "_consec_max",
        "_cur_calls",
        "_cur_fails",
        "_cur_slow",
        "_epoch",
        "_fails",
        "_fallback",
        "_fr_threshold",
        "_head",
        "_honor_retry_after",
        "_ignore",
        "_last_error_type",
        "_listeners",
        "_lock",
        "_min_calls",
        "_n_buckets",
        "_n_success",
        "_nowf",
        "_open_base",
        "_open_jitter",
        "_open_max",
        "_open_until",
        "_outage_start",
        "_prev_calls",
        "_prev_fails",
        "_prev_slow",
        "_probe_successes",
        "_probe_timeout",
        "_probes",
        "_probes_max",
        "_record",
        "_record_result",
        "_rejected_this_period",
        "_reopens",
        "_rng",
        "_settings",
        "_slow_duration",
        "_slow_threshold",
        "_slows",
        "_state",
        "_succ_to_close",
        "_ticket",
        "_width",
        "counts",
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
    ) -> None:
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
        given = {
            "failure_rate_threshold": failure_rate_threshold,
            "slow_call_rate_threshold": slow_call_rate_threshold,
            "slow_call_duration": slow_call_duration,
            "minimum_calls": minimum_calls,
            "consecutive_failures": consecutive_failures,
            "window": window,
            "buckets": buckets,
            "open_duration": open_duration,
            "max_open_duration": max_open_duration,
            "open_jitter": open_jitter,
            "half_open_probes": half_open_probes,
            "probe_successes_to_close": probe_successes_to_close,
            "probe_timeout": probe_timeout,
        }
        if profile is not None and slow_call_duration is None:
            given["slow_call_duration"] = PROFILES[profile]
        self.name = name
        self._lock = threading.Lock()
        self._settings = LateBoundConfig({k: v for k, v in given.items() if v is not None})
        self._n_buckets = 0
        self._width = 0.0
        self._apply(self._settings.config)
        self._record = _classify.matcher(record_exceptions)
        self._ignore = _classify.matcher(ignore_exceptions)
        self._record_result = record_result
        self._classifier = classifier
        self._honor_retry_after = honor_retry_after
        self._clock = clock
        self._nowf: Callable[[], float] | None = clock.monotonic if clock is not None else None
        self._rng = rng
        self._listeners: list[Callable[[StateChange], None]] = list(listeners)
        self._fallback = fallback
        self._cm_stack: contextvars.ContextVar[tuple[Permit, ...]] = contextvars.ContextVar(
            f"ragsight_breaker_{name}", default=()
        )
        self.counts = dict.fromkeys(n.CB_OUTCOMES, 0)
        self._consec = 0
        self._n_success = 0
        self._epoch = 0
        self._state = CLOSED
        self._ticket = 0
        self._open_until = 0.0
        self._outage_start: float | None = None
        self._reopens = 0
        self._probes: list[_Probe] = []
        self._probe_successes = 0
        self._rejected_this_period = False
        self._last_error_type: str | None = None
        _live.add(self)
        for hook in created_hooks:
            try:
                hook(self)
            except Exception as err:  # telemetry must not break construction
                _safety.report_internal_error("resilience.telemetry", err)
        if state != CLOSED:
            self.force_state(state)

    def __del__(self) -> None:
        try:
            counts = dict(self.counts)
            counts["success"] += self._n_success
            if any(counts.values()):
                _retired_pending.append((self.name, counts))
        except Exception:  # a half-built breaker (its __init__ raised) has no counts
            pass

    # ---------------------------------------------------------------- time and config --
    def _apply(self, cfg: BreakerConfig) -> None:
        """Take the values of ``cfg`` (in __init__, or with the lock held)."""
        self._fr_threshold = cfg.failure_rate_threshold
        self._slow_threshold = cfg.slow_call_rate_threshold
        self._slow_duration = cfg.slow_call_duration
        self._min_calls = cfg.minimum_calls
        self._consec_max = cfg.consecutive_failures
        self._open_base = cfg.open_duration
        self._open_max = max(cfg.open_duration, cfg.max_open_duration)
        self._open_jitter = cfg.open_jitter
        self._probes_max = cfg.half_open_probes
        self._succ_to_close = cfg.probe_successes_to_close
        self._probe_timeout = cfg.probe_timeout
        width = cfg.window / cfg.buckets
        if cfg.buckets == self._n_buckets and width == self._width:
            return
        # A new window shape: start counting afresh (the old buckets do not map onto it).
        self._n_buckets = cfg.buckets
        self._width = width
        self._calls = [0] * cfg.buckets
        self._fails = [0] * cfg.buckets
        self._slows = [0] * cfg.buckets
        # Completed buckets live in the rings and are summed in ``_prev_*``; the current
        # bucket is plain scalars, so the success path touches no list.
        self._head = -1
        self._bucket_end = float("-inf")  # forces the next call through _roll
        self._cur_calls = self._cur_fails = self._cur_slow = 0
        self._prev_calls = self._prev_fails = self._prev_slow = 0

    def _follow_defaults(self) -> None:
        """The configured defaults changed since this breaker resolved its settings."""
        with self._lock:
            if self._settings.refresh():
                self._apply(self._settings.config)

    def _time(self) -> float:
        f = self._nowf
        return f() if f is not None else _clock.now()

    @property
    def state(self) -> str:
        return self._state

    @property
    def config(self) -> BreakerConfig:
        """The settings this breaker runs with now: its explicit arguments over the
        configured defaults (which it follows when ``configure()`` changes them)."""
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        return self._settings.config

    def add_listener(self, listener: Callable[[StateChange], None]) -> None:
        self._listeners.append(listener)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state}>"

    # ---------------------------------------------------------------- classification --
    def _verdict(self, exc: BaseException) -> _classify.Verdict | None:
        """None means "cancelled": a BaseException that is not an Exception never counts."""
        if not isinstance(exc, Exception):
            return None
        if self._classifier is not None:
            try:
                return self._classifier(exc)
            except Exception as err:  # user hook; fall back to the default
                _safety.report_internal_error("resilience.breaker.classifier", err)
        if self._ignore is not None and self._ignore(exc):
            return "ignore"
        if self._record is not None:
            return "failure" if self._record(exc) else "ignore"
        return _classify.breaker_verdict(exc)

    # ---------------------------------------------------------------- window --
    def _roll(self, now: float) -> None:
        """Move the window to ``now`` (lock held): close the current bucket into the ring and
        expire every bucket that left the window."""
        bucket = int(now // self._width)
        head = self._head
        if bucket <= head:  # same bucket (float edge) or a clock that went back: keep it
            return
        nb = self._n_buckets
        slot = head % nb
        self._calls[slot] = self._cur_calls
        self._fails[slot] = self._cur_fails
        self._slows[slot] = self._cur_slow
        self._prev_calls += self._cur_calls
        self._prev_fails += self._cur_fails
        self._prev_slow += self._cur_slow
        self._cur_calls = self._cur_fails = self._cur_slow = 0
        for step in range(1, min(bucket - head, nb) + 1):
            i = (head + step) % nb
            self._prev_calls -= self._calls[i]
            self._prev_fails -= self._fails[i]
            self._prev_slow -= self._slows[i]
            self._calls[i] = self._fails[i] = self._slows[i] = 0
        self._head = bucket
        self._bucket_end = (bucket + 1) * self._width

    def _reset_window(self, now: float) -> None:
        for i in range(self._n_buckets):
            self._calls[i] = self._fails[i] = self._slows[i] = 0
        self._cur_calls = self._cur_fails = self._cur_slow = 0
        self._prev_calls = self._prev_fails = self._prev_slow = 0
        self._consec = 0
        self._head = int(now // self._width)
        self._bucket_end = (self._head + 1) * self._width

    def _window(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window (lock held)."""
        return (
            self._prev_calls + self._cur_calls,
            self._prev_fails + self._cur_fails,
            self._prev_slow + self._cur_slow,
        )

    def _rates(self) -> tuple[float, float]:
        calls, fails, slow = self._window()
        if calls <= 0:
            return 0.0, 0.0
        return fails / calls, slow / calls

    def _trip_reason(self) -> str | None:
        calls, fails, slow = self._window()
        if calls >= self._min_calls:
            # Divide, don't multiply: 0.28 * 25 is 7.000000000000001 in floating point, but
            # 7 / 25 is exactly the double written 0.28 (division rounds correctly).
            if fails / calls >= self._fr_threshold:
                return "failure_rate"
            if slow / calls >= self._slow_threshold:
                return "slow_call_rate"
            return None
        if self._consec_max and self._consec >= self._consec_max:  # 0 disables the rule
            return "consecutive_failures"
        return None

    # ---------------------------------------------------------------- transitions --
    def _enter_state(self, state: str) -> None:
        self._state = state
        self._epoch += 1
        self._ticket = self._epoch * 2 if state in (CLOSED, METRICS_ONLY) else -1
        self._probes = []
        self._probe_successes = 0
        self._rejected_this_period = False

    def _change(self, old: str, new: str, reason: str, **extra: Any) -> StateChange:
        fr, sr = self._rates()
        return StateChange(
            self.name, old, new, reason, fr, sr, self._window()[0], self._consec,
            error_type=self._last_error_type, **extra,
        )  # fmt: skip

    def _open(self, reason: str, now: float, hint: float | None) -> StateChange:
        """Go to OPEN (lock held). ``hint`` is a server Retry-After from the tripping error."""
        old = self._state
        rng = self._rng or _backoff.shared_rng()
        open_for = _backoff.jittered_duration(
            self._open_base, self._open_max, self._reopens, self._open_jitter, rng
        )
        if hint is not None and self._honor_retry_after and hint > open_for:
            open_for = min(hint, self._open_max)
        change = self._change(old, OPEN, reason, open_for_s=open_for, retry_after_s=hint)
        if self._outage_start is None:
            self._outage_start = now
        self._enter_state(OPEN)
        self._open_until = now + open_for
        return change

    def _shadow_trip(self, reason: str, now: float) -> StateChange:
        """METRICS_ONLY: report the trip it would have taken, restart counting, never block."""
        change = self._change(METRICS_ONLY, METRICS_ONLY, reason)
        self._reset_window(now)
        self._epoch += 1
        self._ticket = self._epoch * 2
        return change

    def _trip_or_none(self, now: float, hint: float | None) -> StateChange | None:
        reason = self._trip_reason()
        if reason is None:
            return None
        if self._state == METRICS_ONLY:
            return self._shadow_trip(reason, now)
        return self._open(reason, now, hint)

    def _close(self, now: float, reason: str) -> StateChange:
        outage = None if self._outage_start is None else max(0.0, now - self._outage_start)
        change = self._change(self._state, CLOSED, reason, outage_s=outage)
        self._outage_start = None
        self._reopens = 0
        self._last_error_type = None
        self._reset_window(now)
        self._enter_state(CLOSED)
        return change

    def force_state(self, state: str) -> None:
        """Move to ``state`` now (reason ``manual``): maintenance, shadow mode, tests.

        ``open`` starts a normal open period (base duration); ``closed`` clears the window
        and the backoff; ``half_open`` admits probes immediately.
        """
        if state not in n.CB_STATES:
            raise ValueError(f"unknown breaker state {state!r}; expected one of {n.CB_STATES}")
        now = self._time()
        with self._lock:
            old = self._state
            if state == CLOSED:
                change = self._close(now, "manual")
            elif state == OPEN:
                change = self._open("manual", now, None)
            else:
                if state in (HALF_OPEN, FORCED_OPEN) and self._outage_start is None:
                    self._outage_start = now
                if state in (DISABLED, METRICS_ONLY):
                    self._outage_start = None
                    self._reset_window(now)
                change = self._change(old, state, "manual")
                self._enter_state(state)
        self._publish(change)

    def reset(self) -> None:
        """Close the breaker and forget the window and the open-duration backoff."""
        self.force_state(CLOSED)

    # ---------------------------------------------------------------- admission --
    def _admit(self) -> Ticket:
        """The slow admission path (any state but closed/metrics-only); may raise."""
        now = self._time()
        change: StateChange | None = None
        probe_granted = False
        with self._lock:
            state = self._state
            if state in (CLOSED, METRICS_ONLY):
                return self._ticket
            if state == DISABLED:
                return None
            if state == OPEN and now >= self._open_until:
                change = self._change(OPEN, HALF_OPEN, "open_elapsed")
                self._enter_state(HALF_OPEN)
                state = HALF_OPEN
            if state == HALF_OPEN:
                probes = self._probes
                if probes and now - probes[0].start >= self._probe_timeout:
                    # A probe that never reported: count it as a failure and re-open.
                    # (Never in the same call as open_elapsed: a fresh half-open has no probes.)
                    self.counts["failure"] += 1
                    probes[0].reclaimed = True
                    self._reopens += 1
                    change = self._open("probe_timeout", now, None)
                    state = OPEN
                elif len(probes) < self._probes_max:
                    probe = _Probe(self._epoch, now)
                    probes.append(probe)
                    probe_granted = True
            if not probe_granted:
                rejection = self._reject_locked(state, now)
        if change is not None:
            self._publish(change)
        if probe_granted:
            for hook in probe_hooks:
                try:
                    hook(self)
                except Exception as err:  # telemetry must not break admission
                    _safety.report_internal_error("resilience.telemetry", err)
            return probe
        self._publish_rejection(rejection)
        raise CircuitOpenError(
            self.name, rejection.state, rejection.retry_after_s, rejection.last_failure_type
        )

    def _reject_locked(self, state: str, now: float) -> Rejection:
        self.counts["rejected"] += 1
        first = not self._rejected_this_period
        self._rejected_this_period = True
        # forced open: unknown; half-open: a probe is in flight, its outcome decides
        retry_after = max(0.0, self._open_until - now) if state == OPEN else None
        return Rejection(self.name, state, retry_after, first, self._last_error_type)

    def try_acquire(self) -> Permit | None:
        """A permit, or None when the breaker refuses the call (counted as rejected)."""
        try:
            return self.acquire()
        except CircuitOpenError:
            return None

    def acquire(self) -> Permit:
        """A permit, or :class:`CircuitOpenError` when the breaker refuses the call."""
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        t = self._ticket
        ticket: Ticket = t if t >= 0 else self._admit()
        return Permit(self, ticket, self._time())

    # ---------------------------------------------------------------- recording --
    def _on_success(self, ticket: Ticket, start: float, end: float) -> None:
        slow = end - start >= self._slow_duration
        with self._lock:
            if ticket == self._ticket:
                if end >= self._bucket_end:
                    self._roll(end)
                self._cur_calls += 1
                self._consec = 0
                if not slow:
                    self._n_success += 1
                    return
                self.counts["slow_success"] += 1
                self._cur_slow += 1
                change = self._trip_or_none(end, None)
            else:
                if not _reclaimed(ticket):
                    self.counts["slow_success" if slow else "success"] += 1
                change = self._probe_done(ticket, end, "success")
        if change is not None:
            self._publish(change)

    def _on_error(self, ticket: Ticket, start: float, end: float, exc: BaseException) -> None:
        verdict = self._verdict(exc)
        if verdict is None:
            self._on_ignore(ticket, "cancelled")
            return
        if verdict == "ignore":
            self._on_ignore(ticket, "ignored")
            return
        if verdict == "success":
            self._on_success(ticket, start, end)
            return
        self._on_failure(ticket, start, end, exc)

    def _on_failure(self, ticket: Ticket, start: float, end: float, exc: BaseException) -> None:
        slow = end - start >= self._slow_duration
        etype = _classify.error_type(exc)
        hint = _classify.retry_after(exc) if self._honor_retry_after else None
        change: StateChange | None = None
        with self._lock:
            if not _reclaimed(ticket):
                self.counts["slow_failure" if slow else "failure"] += 1
            if ticket == self._ticket:
                self._last_error_type = etype
                if end >= self._bucket_end:
                    self._roll(end)
                self._cur_calls += 1
                self._cur_fails += 1
                self._consec += 1
                if slow:
                    self._cur_slow += 1
                change = self._trip_or_none(end, hint)
            elif isinstance(ticket, _Probe) and ticket in self._probes:
                self._last_error_type = etype
                change = self._probe_done(ticket, end, "failure", hint)
        if change is not None:
            self._publish(change)

    def _on_ignore(self, ticket: Ticket, outcome: str) -> None:
        with self._lock:
            if not _reclaimed(ticket):
                self.counts[outcome] += 1
            if isinstance(ticket, _Probe) and ticket in self._probes:
                self._probes.remove(ticket)  # release the permit; no transition

    def _on_result(self, ticket: Ticket, start: float, end: float, result: Any) -> None:
        """Success path with an optional result predicate (``record_result``)."""
        pred = self._record_result
        if pred is not None:
            try:
                bad = pred(result)
            except Exception as err:  # user hook
                _safety.report_internal_error("resilience.breaker.record_result", err)
                bad = False
            if bad:
                self._on_failure(ticket, start, end, _BadResult(result))
                return
        self._on_success(ticket, start, end)

    def _probe_done(
        self, ticket: Ticket, now: float, outcome: str, hint: float | None = None
    ) -> StateChange | None:
        """A probe reported (lock held). Stale tickets only counted, never transition."""
        if not isinstance(ticket, _Probe) or ticket not in self._probes:
            return None
        self._probes.remove(ticket)
        if outcome == "failure":
            self._reopens += 1
            return self._open("probe_failed", now, hint)
        self._probe_successes += 1
        if self._probe_successes >= self._succ_to_close:
            return self._close(now, "probe_succeeded")
        return None

    # ---------------------------------------------------------------- publication --
    def _publish(self, change: StateChange) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception as err:  # a listener must not break the call
                _safety.report_internal_error("resilience.breaker.listener", err)
        for hook in change_hooks:
            try:
                hook(self, change)
            except Exception as err:
                _safety.report_internal_error("resilience.telemetry", err)

    def _publish_rejection(self, rejection: Rejection) -> None:
        for hook in reject_hooks:
            try:
                hook(self, rejection)
            except Exception as err:
                _safety.report_internal_error("resilience.telemetry", err)

    # ---------------------------------------------------------------- snapshot --
    def snapshot(self) -> BreakerSnapshot:
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        now = self._time()
        with self._lock:
            if now >= self._bucket_end:
                self._roll(now)
            fr, sr = self._rates()
            calls, fails, slow = self._window()
            counts = dict(self.counts)
            counts["success"] += self._n_success
            until: float | None
            if self._state == OPEN:
                until = max(0.0, self._open_until - now)
            elif self._state == HALF_OPEN:
                until = 0.0 if len(self._probes) < self._probes_max else None
            elif self._state == FORCED_OPEN:
                until = None
            else:
                until = 0.0
            return BreakerSnapshot(
                self.name, self._state, fr, sr, calls, fails, slow,
                self._consec, until, len(self._probes), counts,
            )  # fmt: skip

    # ---------------------------------------------------------------- call forms --
    def __call__(self, fn: F) -> F:
        """Decorate ``fn`` (def, async def, generator or async generator)."""
        return decorate(fn, self)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` through the breaker once (the decorator's own wrapper, built per call).

        A generator function gets the stream wrapper (judged while it is consumed, not when
        the generator object is created) and a stage-decorated one keeps its stage outside.
        """
        return call_through(self, fn, args, kwargs)

    async def acall(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Await ``fn`` through the breaker; a plain function is run (and judged) as one, so a
        sync call is not mistaken for a failing coroutine."""
        return await acall_through(self, fn, args, kwargs)

    def _make_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's sync wrapper, with the closed-state success path inlined.

        That path is: one attribute read to admit, two clock reads, and under the lock
        three integer updates on the current window bucket. Anything else (a slow call, a
        new bucket, a result predicate, a failure, another state) takes the general path.
        """
        b = self
        lock = self._lock
        coroutine = types.CoroutineType

        def guarded(*args: Any, **kw: Any) -> Any:
            if b._settings.generation != _policy.generation:
                b._follow_defaults()
            t = b._ticket
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
                return b._await_outcome(ticket, start, result)
            end = now()
            if end - start < b._slow_duration and b._record_result is None:
                with lock:
                    if ticket == b._ticket and end < b._bucket_end:
                        b._cur_calls += 1
                        b._consec = 0
                        b._n_success += 1
                        return result
            b._on_result(ticket, start, end, result)
            return result

        return guarded

    async def _await_outcome(self, ticket: Ticket, start: float, awaitable: Any) -> Any:
        """Report a sync callable's coroutine when it completes, not when it is created:
        otherwise every failure inside it would count as an instant success."""
        now = self._nowf or _clock.now
        try:
            result = await awaitable
        except BaseException as exc:
            self._on_error(ticket, start, now(), exc)
            raise
        self._on_result(ticket, start, now(), result)
        return result

    def _make_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        b = self
        lock = self._lock

        async def guarded(*args: Any, **kw: Any) -> Any:
            if b._settings.generation != _policy.generation:
                b._follow_defaults()
            t = b._ticket
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
            if end - start < b._slow_duration and b._record_result is None:
                with lock:
                    if ticket == b._ticket and end < b._bucket_end:
                        b._cur_calls += 1
                        b._consec = 0
                        b._n_success += 1
                        return result
            b._on_result(ticket, start, end, result)
            return result

        return guarded

    def _open_stream(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        """Admission at the first ``next()``; slowness is time to first item."""
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        t = self._ticket
        ticket: Ticket = t if t >= 0 else self._admit()
        now = self._nowf or _clock.now
        start = now()
        it = wrapped(*args, **kw)
        try:
            item = next(it)
        except StopIteration as stop:  # the stream ended before its first item
            self._on_success(ticket, start, now())
            return Ended(stop.value)
        except BaseException as exc:
            self._on_error(ticket, start, now(), exc)
            raise
        return it, item, _JudgedStream(self, ticket, start, now())

    async def _open_astream(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Opened | Ended:
        if self._settings.generation != _policy.generation:
            self._follow_defaults()
        t = self._ticket
        ticket: Ticket = t if t >= 0 else self._admit()
        now = self._nowf or _clock.now
        start = now()
        it = wrapped(*args, **kw)
        try:
            item = await it.__anext__()
        except StopAsyncIteration:
            self._on_success(ticket, start, now())
            return Ended()
        except BaseException as exc:
            self._on_error(ticket, start, now(), exc)
            raise
        return it, item, _JudgedStream(self, ticket, start, now())

    # ---------------------------------------------------------------- context managers --
    def __enter__(self) -> Permit:
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

    async def __aenter__(self) -> Permit:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)
        return None


class _JudgedStream(QuietStream):
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


class _BadResult(Exception):
    """Stands in for a result that ``record_result`` judged a failure."""

    def __init__(self, result: Any) -> None:
        super().__init__("result judged a failure by record_result")
        self.result = result


def get_breaker(name: str, **config: Any) -> CircuitBreaker:
    """The process-wide breaker for ``name``, created on first use with ``config``.

    Later calls return the same object; passing a *different* configuration for an existing
    name is an error rather than a silent surprise.
    """
    with _registry_lock:
        breaker = _registry.get(name)
        if breaker is None:
            breaker = CircuitBreaker(name, **config)
            _registry[name] = breaker
            _registry_configs[name] = dict(config)
            return breaker
        if config and config != _registry_configs.get(name):
            raise ValueError(
                f"breaker {name!r} already exists with a different configuration; "
                "configure it once and call get_breaker(name) elsewhere"
            )
        return breaker


_registry_configs: dict[str, dict[str, Any]] = {}


def clear_registry() -> None:
    """Forget registered breakers (tests)."""
    with _registry_lock:
        _registry.clear()
        _registry_configs.clear()
    forget_retired()
