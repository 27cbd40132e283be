"""Process-wide policies that configure() sets and the hot path reads.

They live apart from both the instrumentation and the configuration code so each side
depends on this small module only: the engine reads the current policy with one global
load per call, and configure() swaps in a new frozen object atomically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from ragsight._core.limits import Limit, check_all


@dataclass(frozen=True)
class ContentPolicy:
    """What content (arguments, queries, documents, outputs) may reach span attributes.

    Off by default: content is captured only when the user opts in, through
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` or ragsight's own switch. When on,
    every value is redacted and then truncated before it is set on a span; arguments whose
    names look like secrets are never captured at all.
    """

    capture: bool = False
    max_length: int = 1024
    redact_patterns: tuple[str, ...] = ()  # extra regexes, added to the defaults
    redact_hook: Callable[[str], str] | None = None  # runs after the patterns
    secret_argument_names: tuple[str, ...] = ()  # extra names, added to the defaults
    # where captured content goes: span attributes, a Logs-API event (content.content_event:
    # the details event of inference and retrieval stages, rag.content otherwise), or both
    # (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT SPAN_ONLY / EVENT_ONLY /
    # SPAN_AND_EVENT)
    capture_to: Literal["span", "event", "span_and_event"] = "span"


_SECONDS = "seconds"
_RATE = Limit(float, minimum=0.0, maximum=1.0, exclusive_min=True)
# at least a millisecond: below, clocks cannot tell the buckets apart (window=1e-320
# divided by the bucket count underflows to 0); large values mean "never" and stay valid
_DURATION = Limit(float, minimum=0.001, unit=_SECONDS)
_AT_LEAST_ONE = Limit(int, minimum=1)

BREAKER_LIMITS: Final[Mapping[str, Limit]] = MappingProxyType(
    {
        "failure_rate_threshold": _RATE,
        "slow_call_rate_threshold": _RATE,
        "slow_call_duration": _DURATION,
        "minimum_calls": _AT_LEAST_ONE,
        # the window keeps the end time of each failure of the run (a deque of this length:
        # 10**30 overflowed it) and three lists of ``buckets`` counts per breaker (10**8
        # buckets took 2.4 GB and half a minute to build)
        "consecutive_failures": Limit(
            int, minimum=0, maximum=1_000_000, note="0 disables the consecutive rule"
        ),
        "window": _DURATION,
        "buckets": Limit(int, minimum=1, maximum=1000),
        "open_duration": _DURATION,
        "max_open_duration": _DURATION,
        "open_jitter": Limit(float, minimum=0.0, maximum=1.0),
        "half_open_probes": _AT_LEAST_ONE,
        "probe_successes_to_close": _AT_LEAST_ONE,
        "probe_timeout": _DURATION,
    }
)
"""What every circuit-breaker setting accepts: the breaker and the ``breaker.*`` keys both
check with these, so a value passes configuration exactly when a breaker accepts it."""


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """The settings of a circuit breaker, checked against :data:`BREAKER_LIMITS` when built.

    ``configure()`` installs one as the defaults (``breaker.*`` keys); each
    ``CircuitBreaker`` resolves its own from those defaults and its explicit arguments.
    ``open_duration`` backs off (doubling per re-open, jittered downwards by up to
    ``open_jitter``) up to ``max_open_duration``; a maximum below the base means no backoff.

    Raises:
        LimitError (a ValueError): a field outside its limit; the message says what is
            allowed.
    """

    failure_rate_threshold: float = 0.5
    slow_call_rate_threshold: float = 1.0
    slow_call_duration: float = 60.0
    minimum_calls: int = 20
    consecutive_failures: int = 5
    window: float = 60.0
    buckets: int = 12
    open_duration: float = 30.0
    max_open_duration: float = 300.0
    open_jitter: float = 0.2
    half_open_probes: int = 1
    probe_successes_to_close: int = 2
    probe_timeout: float = 60.0

    def __post_init__(self) -> None:
        for name, value in check_all(BREAKER_LIMITS, _fields_of(self)).items():
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> BreakerConfig:
        """A copy with ``changes`` applied (checked like any BreakerConfig)."""
        unknown = set(changes) - set(BREAKER_LIMITS)
        if unknown:
            raise TypeError(f"unknown breaker settings: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


BreakerDefaults = BreakerConfig
"""The configured defaults of every breaker are a :class:`BreakerConfig`."""


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


JitterKind = Literal["full", "equal", "decorrelated", "constant", "exponential"]
"""The backoff schedules (``ragsight._resilience.backoff.Backoff`` documents each one)."""
JITTER_KINDS: Final[tuple[str, ...]] = get_args(JitterKind)

_NON_NEGATIVE = Limit(float, minimum=0.0, maximum=1e6)
_DELAY = Limit(float, minimum=0.0, maximum=24 * 3600.0, unit=_SECONDS)  # sleep() overflows

RETRY_LIMITS: Final[Mapping[str, Limit]] = MappingProxyType(
    {
        "attempts": Limit(int, minimum=1, note="the first call included"),
        "deadline": _DURATION,
        "base_delay": _DELAY,
        "max_delay": Limit(
            float, minimum=0.0, maximum=24 * 3600.0, unit=_SECONDS, note="caps every delay"
        ),
        "jitter": Limit(str, choices=JITTER_KINDS),
        "budget_ratio": _NON_NEGATIVE,
        "budget_min_per_second": _NON_NEGATIVE,
        "max_retry_after": _DELAY,
    }
)
"""What every retry setting accepts: ``RetryPolicy``/``retry()``/``RetryBudget`` and the
``retry.*`` keys all check with these, so a value passes configuration exactly when a retry
accepts it."""


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """The settings of a retry policy and its budget, checked against :data:`RETRY_LIMITS`.

    ``configure()`` installs one as the defaults (``retry.*`` keys); each ``RetryPolicy``
    and ``RetryBudget`` resolves its own from those defaults and its explicit arguments.
    ``max_delay`` caps every delay, so a ``base_delay`` above it means every wait is
    ``max_delay``.

    Raises:
        LimitError (a ValueError): a field outside its limit; the message says what is
            allowed.
    """

    attempts: int = 3
    deadline: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: JitterKind = "full"
    budget_ratio: float = 0.1
    budget_min_per_second: float = 1.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        for name, value in check_all(RETRY_LIMITS, _fields_of(self)).items():
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> RetryConfig:
        """A copy with ``changes`` applied (checked like any RetryConfig)."""
        unknown = set(changes) - set(RETRY_LIMITS)
        if unknown:
            raise TypeError(f"unknown retry settings: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


RetryDefaults = RetryConfig
"""The configured defaults of every retry policy are a :class:`RetryConfig`."""


@dataclass(frozen=True)
class ResilienceDefaults:
    breaker: BreakerDefaults = field(default_factory=BreakerDefaults)
    retry: RetryDefaults = field(default_factory=RetryDefaults)


# The policy in force until configure() sets one. The core tells "never set" from "set to
# the defaults" by identity: only while this very object is current does the
# OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT environment variable apply.
DEFAULT_CONTENT_POLICY = ContentPolicy()
_content = DEFAULT_CONTENT_POLICY
_resilience = ResilienceDefaults()


def get_content_policy() -> ContentPolicy:
    return _content


def set_content_policy(policy: ContentPolicy) -> None:
    global _content
    _content = policy


# Bumped by every set_resilience_defaults(): components that resolved settings from the
# defaults compare it with the one they saw, one integer compare, and re-resolve when it moved.
generation = 0


def get_resilience_defaults() -> ResilienceDefaults:
    return _resilience


def set_resilience_defaults(defaults: ResilienceDefaults) -> None:
    global _resilience, generation
    _resilience = defaults
    generation += 1
