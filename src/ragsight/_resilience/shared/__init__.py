"""Breaker state and retry budgets shared across replicas through Redis (opt-in).

``CircuitBreaker(..., shared=RedisState(url))`` and ``RetryBudget(..., shared=...)`` attach
to one :class:`RedisState`; a background thread publishes each replica's window aggregates
and reads the other replicas' in one pipelined round trip per tick; each replica decides
from them (:mod:`.fleet`). The call path never waits on Redis. redis-py
(``ragsight[redis]``) is imported only when a store first connects.
"""

from ragsight._resilience.shared.backends import FleetBackend, RedisBackend
from ragsight._resilience.shared.config import SharedConfig
from ragsight._resilience.shared.store import RedisState, live_stores

__all__ = ["FleetBackend", "RedisBackend", "RedisState", "SharedConfig", "live_stores"]
