"""The breaker's state machine: transitions, open periods with backoff, half-open probes,
and the outcome bookkeeping that drives them.

Every method here takes the one ``threading.Lock`` for O(1) work only and returns what
happened (a :class:`StateChange`, a :class:`Rejection`); the breaker publishes those after
the lock is released. Calls admitted in an earlier state are counted but never cause a
transition: every transition starts a new *epoch*, and tickets carry theirs.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from ragsight import names as n
from ragsight._core.policy import BreakerConfig
from ragsight._resilience import backoff as _backoff
from ragsight._resilience.breaker.records import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    METRICS_ONLY,
    OPEN,
    BreakerSnapshot,
    Probe,
    Rejection,
    StateChange,
    Ticket,
    reclaimed,
)
from ragsight._resilience.breaker.window import SlidingWindow


class StateMachine:
    """The state of one breaker and the rules that move it."""

    __slots__ = (
        "config",
        "counts",
        "epoch",
        "last_error_type",
        "lock",
        "n_success",
        "name",
        "open_until",
        "outage_start",
        "probe_successes",
        "probes",
        "rejected_this_period",
        "reopens",
        "rng",
        "state",
        "ticket",
        "window",
    )

    def __init__(self, name: str, config: BreakerConfig, rng: random.Random | None) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.config = config
        self.window = SlidingWindow(
            config.window, config.buckets, config.slow_call_duration, config.consecutive_failures
        )
        self.rng = rng
        self.counts = dict.fromkeys(n.CB_OUTCOMES, 0)
        self.n_success = 0  # fast-path successes, folded into counts["success"] on read
        self.epoch = 0
        self.state = CLOSED
        # >= 0: the epoch tag every call admitted now carries; -1: admission must be decided
        self.ticket = 0
        self.open_until = 0.0
        self.outage_start: float | None = None
        self.reopens = 0
        self.probes: list[Probe] = []
        self.probe_successes = 0
        self.rejected_this_period = False
        self.last_error_type: str | None = None

    def apply(self, config: BreakerConfig) -> None:
        """Run with ``config`` from now on (lock held)."""
        self.config = config
        self.window.slow_duration = config.slow_call_duration
        self.window.reshape(config.window, config.buckets)
        self.window.limit_run(config.consecutive_failures)

    def outcome_totals(self) -> dict[str, int]:
        counts = dict(self.counts)
        counts["success"] += self.n_success
        return counts

    # ---------------------------------------------------------------- rules --
    def _trip_reason(self, now: float) -> str | None:
        """Why the breaker trips after a call that ended at ``now``, or None.

        The rules, in order: with at least ``minimum_calls`` calls in the window, the
        failure rate or the slow-call rate reaching its threshold; and, at any traffic
        level, ``consecutive_failures`` failures in a row (no success in between, the
        latest one just now) that all ended inside the window (0 disables this rule).
        """
        cfg = self.config
        window = self.window
        calls, fails, slow = window.totals()
        if calls >= cfg.minimum_calls:
            # Divide, don't multiply: 0.28 * 25 is 7.000000000000001 in floating point, but
            # 7 / 25 is exactly the double written 0.28 (division rounds correctly).
            if fails / calls >= cfg.failure_rate_threshold:
                return "failure_rate"
            if slow / calls >= cfg.slow_call_rate_threshold:
                return "slow_call_rate"
        limit = cfg.consecutive_failures
        if limit and window.consec >= limit and window.consecutive(now) >= limit:
            return "consecutive_failures"
        return None

    # ---------------------------------------------------------------- transitions --
    def _enter_state(self, state: str) -> None:
        self.state = state
        self.epoch += 1
        self.ticket = self.epoch * 2 if state in (CLOSED, METRICS_ONLY) else -1
        self.probes = []
        self.probe_successes = 0
        self.rejected_this_period = False

    def _change(self, old: str, new: str, reason: str, now: float, **extra: Any) -> StateChange:
        window = self.window
        fr, sr = window.rates()
        return StateChange(
            self.name, old, new, reason, fr, sr, window.totals()[0], self._consecutive(now),
            error_type=self.last_error_type, **extra,
        )  # fmt: skip

    def _consecutive(self, now: float) -> int:
        """The consecutive failures reported: aged by the window when the rule is on."""
        window = self.window
        return window.consecutive(now) if self.config.consecutive_failures else window.consec

    def _open(self, reason: str, now: float, hint: float | None) -> StateChange:
        """Go to OPEN. ``hint`` is a server Retry-After from the tripping error."""
        cfg = self.config
        cap = max(cfg.open_duration, cfg.max_open_duration)  # a lower maximum: no backoff
        rng = self.rng or _backoff.shared_rng()
        open_for = _backoff.jittered_duration(
            cfg.open_duration, cap, self.reopens, cfg.open_jitter, rng
        )
        if hint is not None and hint > open_for:  # the judge drops hints it does not honour
            open_for = min(hint, cap)
        change = self._change(
            self.state, OPEN, reason, now, open_for_s=open_for, retry_after_s=hint
        )
        if self.outage_start is None:
            self.outage_start = now
        self._enter_state(OPEN)
        self.open_until = now + open_for
        return change

    def _shadow_trip(self, reason: str, now: float) -> StateChange:
        """METRICS_ONLY: report the trip it would have taken, restart counting, never block."""
        change = self._change(METRICS_ONLY, METRICS_ONLY, reason, now)
        self.window.reset(now)
        self.epoch += 1
        self.ticket = self.epoch * 2
        return change

    def _trip_or_none(self, now: float, hint: float | None) -> StateChange | None:
        reason = self._trip_reason(now)
        if reason is None:
            return None
        if self.state == METRICS_ONLY:
            return self._shadow_trip(reason, now)
        return self._open(reason, now, hint)

    def _close(self, now: float, reason: str) -> StateChange:
        outage = None if self.outage_start is None else max(0.0, now - self.outage_start)
        change = self._change(self.state, CLOSED, reason, now, outage_s=outage)
        self.outage_start = None
        self.reopens = 0
        self.last_error_type = None
        self.window.reset(now)
        self._enter_state(CLOSED)
        return change

    def fleet_open(self, now: float) -> StateChange | None:
        """The fleet's shared view tripped: a closed breaker opens (reason ``fleet``); any
        other state already decides on its own evidence."""
        with self.lock:
            return self._open("fleet", now, None) if self.state == CLOSED else None

    def force(self, state: str, now: float) -> StateChange:
        """Move to ``state`` now (reason ``manual``)."""
        with self.lock:
            if state == CLOSED:
                return self._close(now, "manual")
            if state == OPEN:
                return self._open("manual", now, None)
            if state in (HALF_OPEN, FORCED_OPEN) and self.outage_start is None:
                self.outage_start = now
            if state in (DISABLED, METRICS_ONLY):
                self.outage_start = None
                self.window.reset(now)
            change = self._change(self.state, state, "manual", now)
            self._enter_state(state)
            return change

    # ---------------------------------------------------------------- admission --
    def admit(self, now: float) -> tuple[Ticket, StateChange | None, Rejection | None]:
        """Decide a call in any state (the slow path): a ticket, or a rejection."""
        change: StateChange | None = None
        with self.lock:
            state = self.state
            if state in (CLOSED, METRICS_ONLY):
                return self.ticket, None, None
            if state == DISABLED:
                return None, None, None
            if state == OPEN and now >= self.open_until:
                change = self._change(OPEN, HALF_OPEN, "open_elapsed", now)
                self._enter_state(HALF_OPEN)
                state = HALF_OPEN
            if state == HALF_OPEN:
                probes = self.probes
                if probes and now - probes[0].start >= self.config.probe_timeout:
                    # A probe that never reported: count it as a failure and re-open.
                    # (Never in the same call as open_elapsed: a fresh half-open has no probes.)
                    self.counts["failure"] += 1
                    probes[0].reclaimed = True
                    self.reopens += 1
                    change = self._open("probe_timeout", now, None)
                    state = OPEN
                elif len(probes) < self.config.half_open_probes:
                    probe = Probe(self.epoch, now)
                    probes.append(probe)
                    return probe, change, None
            return None, change, self._reject(state, now)

    def _reject(self, state: str, now: float) -> Rejection:
        self.counts["rejected"] += 1
        first = not self.rejected_this_period
        self.rejected_this_period = True
        # forced open: unknown; half-open: a probe is in flight, its outcome decides
        retry_after = max(0.0, self.open_until - now) if state == OPEN else None
        return Rejection(self.name, state, retry_after, first, self.last_error_type)

    # ---------------------------------------------------------------- outcomes --
    def record_success(self, ticket: Ticket, start: float, end: float) -> StateChange | None:
        window = self.window
        slow = end - start >= window.slow_duration
        with self.lock:
            if ticket == self.ticket:
                window.record(end, False, slow)
                if not slow:
                    self.n_success += 1
                    return None
                self.counts["slow_success"] += 1
                return self._trip_or_none(end, None)
            if not reclaimed(ticket):
                self.counts["slow_success" if slow else "success"] += 1
            return self._probe_done(ticket, end, "success")

    def record_failure(
        self, ticket: Ticket, start: float, end: float, error_type: str, hint: float | None
    ) -> StateChange | None:
        slow = end - start >= self.window.slow_duration
        with self.lock:
            if not reclaimed(ticket):
                self.counts["slow_failure" if slow else "failure"] += 1
            if ticket == self.ticket:
                self.last_error_type = error_type
                self.window.record(end, True, slow)
                return self._trip_or_none(end, hint)
            if isinstance(ticket, Probe) and ticket in self.probes:
                self.last_error_type = error_type
                return self._probe_done(ticket, end, "failure", hint)
            return None

    def record_ignored(self, ticket: Ticket, outcome: str) -> None:
        with self.lock:
            if not reclaimed(ticket):
                self.counts[outcome] += 1
            if isinstance(ticket, Probe) and ticket in self.probes:
                self.probes.remove(ticket)  # release the permit; no transition

    def _probe_done(
        self, ticket: Ticket, now: float, outcome: str, hint: float | None = None
    ) -> StateChange | None:
        """A probe reported. Stale tickets only counted, never transition."""
        if not isinstance(ticket, Probe) or ticket not in self.probes:
            return None
        self.probes.remove(ticket)
        if outcome == "failure":
            self.reopens += 1
            return self._open("probe_failed", now, hint)
        self.probe_successes += 1
        if self.probe_successes >= self.config.probe_successes_to_close:
            return self._close(now, "probe_succeeded")
        return None

    def rebase(self, offset: float) -> None:
        """The process clock was swapped (a test kit's fake clock): keep every absolute
        time at the same distance from now, so nothing jumps and the window still rolls."""
        with self.lock:
            self.window.rebase(offset)
            self.open_until += offset
            if self.outage_start is not None:
                self.outage_start += offset
            for probe in self.probes:
                probe.start += offset

    # ---------------------------------------------------------------- reading --
    def snapshot(self, now: float) -> BreakerSnapshot:
        window = self.window
        with self.lock:
            if now >= window.bucket_end:
                window.roll(now)
            fr, sr = window.rates()
            calls, fails, slow = window.totals()
            until: float | None
            if self.state == OPEN:
                until = max(0.0, self.open_until - now)
            elif self.state == HALF_OPEN:
                until = 0.0 if len(self.probes) < self.config.half_open_probes else None
            elif self.state == FORCED_OPEN:
                until = None
            else:
                until = 0.0
            return BreakerSnapshot(
                self.name, self.state, fr, sr, calls, fails, slow,
                self._consecutive(now), until, len(self.probes), self.outcome_totals(),
            )  # fmt: skip
