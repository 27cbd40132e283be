"""A breaker's settings: explicit arguments over the configured defaults, bound late."""

from __future__ import annotations

from typing import Any

from ragsight._core import policy as _policy

PROFILES: dict[str, float] = {"llm": 30.0, "embedding": 10.0, "vector_store": 2.0, "reranker": 2.0}
"""``slow_call_duration`` (seconds) per kind of dependency, for ``CircuitBreaker(profile=...)``."""


class LateBoundConfig:
    """A breaker's settings: those given explicitly stay fixed, the rest follow the
    configured defaults (``configure()``), however early the breaker was created.

    ``generation`` is the defaults' generation ``config`` was resolved from; the call path
    compares it with ``_policy.generation`` (one integer compare) and re-resolves on change.

    Raises:
        LimitError (a ValueError): an explicit setting outside its limit, at construction.
    """

    __slots__ = ("config", "explicit", "generation")

    def __init__(self, explicit: dict[str, Any]) -> None:
        self.explicit = explicit
        self.generation = _policy.generation
        # checks the explicit values now: CircuitBreaker(window=0) fails where it is written
        self.config = _policy.get_resilience_defaults().breaker.replace(**explicit)

    @classmethod
    def from_arguments(cls, profile: str | None, **arguments: Any) -> LateBoundConfig:
        """From a breaker's keyword arguments (None: not given); ``profile`` sets
        ``slow_call_duration`` unless that is given too."""
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
        explicit = {k: v for k, v in arguments.items() if v is not None}
        if profile is not None:
            explicit.setdefault("slow_call_duration", PROFILES[profile])
        return cls(explicit)

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
