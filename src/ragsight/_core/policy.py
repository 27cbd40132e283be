"""Process-wide policies that configure() sets and the hot path reads.

They live apart from both the instrumentation and the configuration code so each side
depends on this small module only: the engine reads the current policy with one global
load per call, and configure() swaps in a new frozen object atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


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
    # where captured content goes: span attributes, a span event (names.EVENT_RAG_CONTENT),
    # or both (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT SPAN_ONLY / EVENT_ONLY /
    # SPAN_AND_EVENT)
    capture_to: Literal["span", "event", "span_and_event"] = "span"


@dataclass(frozen=True)
class BreakerDefaults:
    """Defaults for every CircuitBreaker created without explicit values (research 7.1)."""

    failure_rate_threshold: float = 0.5
    slow_call_rate_threshold: float = 1.0
    slow_call_duration: float = 60.0
    minimum_calls: int = 20
    consecutive_failures: int = 5
    window: float = 60.0
    open_duration: float = 30.0
    max_open_duration: float = 300.0
    half_open_probes: int = 1
    probe_successes_to_close: int = 2
    probe_timeout: float = 60.0


@dataclass(frozen=True)
class RetryDefaults:
    """Defaults for every retry policy created without explicit values (research 7.2)."""

    attempts: int = 3
    deadline: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: str = "full"
    budget_ratio: float = 0.1
    budget_min_per_second: float = 1.0
    max_retry_after: float = 60.0


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


def get_resilience_defaults() -> ResilienceDefaults:
    return _resilience


def set_resilience_defaults(defaults: ResilienceDefaults) -> None:
    global _resilience
    _resilience = defaults
