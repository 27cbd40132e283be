"""What a breaker hands out and reports: transitions, rejections, snapshots, probe tickets."""

from __future__ import annotations

from dataclasses import dataclass

from ragsight import names as n

CLOSED = n.CB_STATE_CLOSED
OPEN = n.CB_STATE_OPEN
HALF_OPEN = n.CB_STATE_HALF_OPEN
FORCED_OPEN = n.CB_STATE_FORCED_OPEN
DISABLED = n.CB_STATE_DISABLED
METRICS_ONLY = n.CB_STATE_METRICS_ONLY


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


class Probe:
    """A half-open permit; identity matters (reclaimed probes must not report later).

    ``reclaimed`` is set when the breaker gave up on the probe and counted it as a failure:
    its late report must then not be counted a second time.
    """

    __slots__ = ("epoch", "reclaimed", "start")

    def __init__(self, epoch: int, start: float) -> None:
        self.epoch = epoch
        self.start = start
        self.reclaimed = False


Ticket = int | Probe | None
"""What an admitted call carries: an int (the closed-ish epoch it was admitted in), a
:class:`Probe` (half-open), or None (disabled: not recorded)."""


def reclaimed(ticket: Ticket) -> bool:
    """A probe already counted as a failure when it was reclaimed (its report is not counted)."""
    return isinstance(ticket, Probe) and ticket.reclaimed
