"""The settings of a shared store, each checked by one :class:`Limit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ragsight._core.limits import Limit, LimitError

SECONDS: Final = Limit(float, minimum=0.0, exclusive_min=True, unit="seconds")
COUNT: Final = Limit(int, minimum=1)
OPTIONAL_COUNT: Final = Limit(int, minimum=0, note="0: the breaker's minimum_calls")


@dataclass(frozen=True, slots=True)
class SharedConfig:
    """How a replica takes part in the fleet's view.

    ``publish_interval``: seconds between two exchanges with Redis (one pipelined round trip
    for every attached breaker and budget). ``timeout``: the whole exchange's budget
    (connecting, the handshake's and the script's replies): an exchange not answered in full
    within it (a slow server, or one trickling its reply) fails as Redis being too slow.
    ``stale_after``: a replica's report (and the fleet's view a replica holds) older than
    this is ignored. ``quorum``: replicas whose own window qualifies that
    the fleet needs before it trips. ``replica_minimum_calls``: calls a replica's window must
    hold before it votes (0: the breaker's own ``minimum_calls``). ``reconnect_max``: while
    Redis is unreachable the store tries again after ``publish_interval``, doubling (with
    jitter) up to this many seconds, so a fleet does not hammer a server that is coming
    back; shared mode resumes at most this long (plus one exchange) after Redis answers.

    Raises:
        LimitError (a ValueError): a setting outside its limit, or ``stale_after`` not above
            ``publish_interval + timeout``.
    """

    publish_interval: float = 0.1
    timeout: float = 0.25
    stale_after: float = 2.0
    quorum: int = 1
    replica_minimum_calls: int = 0
    reconnect_max: float = 1.0

    def __post_init__(self) -> None:
        for field in ("publish_interval", "timeout", "stale_after", "reconnect_max"):
            object.__setattr__(self, field, SECONDS.check(getattr(self, field), field))
        COUNT.check(self.quorum, "quorum")
        OPTIONAL_COUNT.check(self.replica_minimum_calls, "replica_minimum_calls")
        if self.stale_after <= self.publish_interval + self.timeout:
            # else a reply within timeout ages the view past stale_after (local mode with no
            # failed exchange to log) and a replica's report expires between two exchanges
            raise LimitError(
                f"stale_after={self.stale_after}: must be above publish_interval + timeout "
                f"({self.publish_interval} + {self.timeout}); raise stale_after or lower "
                f"timeout"
            )
