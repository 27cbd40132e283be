"""A retry policy's settings: explicit arguments over the configured defaults, bound late.

The rule (the same as the breaker's): a setting given to ``RetryPolicy``/``retry()``/
``RetryBudget`` stays fixed; every other one follows the ``retry.*`` defaults in force at
the time it is used, so a policy created at import time, before ``configure()``, runs with
the configured values. Settings are only read when a retry is being decided, so the success
path never looks at them; a decision compares one integer (the defaults' generation).
"""

from __future__ import annotations

from typing import Any, Final

from ragsight._core import policy as _policy
from ragsight._core.limits import Limit
from ragsight._core.policy import RetryConfig
from ragsight._resilience.backoff import EXPONENTIAL_FACTOR, Backoff

THROTTLE_FLOOR: Final = Limit(float, minimum=0.0, unit="seconds")
NESTED_MODES: Final = Limit(str, choices=("single", "multiply"))
DEFAULT_EXPONENTIAL_FACTOR: Final = 2.0


class LateBoundRetryConfig:
    """The explicit settings of one policy and the :class:`RetryConfig` they resolve to.

    ``backoff`` given explicitly fixes the whole schedule; otherwise it is built from the
    resolved ``jitter``/``base_delay``/``max_delay`` and ``exponential_factor``.

    Raises:
        LimitError (a ValueError): an explicit setting outside its limit, at construction.
        TypeError: an unknown setting name.
    """

    __slots__ = ("_resolved", "explicit", "explicit_backoff", "factor")

    def __init__(
        self,
        explicit: dict[str, Any],
        backoff: Backoff | None = None,
        exponential_factor: float | None = None,
    ) -> None:
        self.explicit = {k: v for k, v in explicit.items() if v is not None}
        self.explicit_backoff = backoff
        self.factor = (
            DEFAULT_EXPONENTIAL_FACTOR
            if exponential_factor is None
            else EXPONENTIAL_FACTOR.check(exponential_factor, "exponential_factor")
        )
        # resolved now, so RetryPolicy(attempts=0) fails where it is written
        self._resolved = self._resolve()

    def _resolve(self) -> tuple[int, RetryConfig, Backoff]:
        generation = _policy.generation
        config = _policy.get_resilience_defaults().retry.replace(**self.explicit)
        backoff = self.explicit_backoff or Backoff(
            config.jitter, config.base_delay, config.max_delay, self.factor
        )
        return generation, config, backoff

    def current(self) -> tuple[RetryConfig, Backoff]:
        """The settings in force now (re-resolved when ``configure()`` ran since)."""
        resolved = self._resolved
        if resolved[0] != _policy.generation:
            resolved = self._resolved = self._resolve()
        return resolved[1], resolved[2]
