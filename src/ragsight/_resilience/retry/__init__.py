"""Retry with backoff, in units with one job each: the policy and the ``retry`` decorator
(:mod:`.policy`), late-bound settings (:mod:`.config`), the decision and attempt loop
(:mod:`.schedule`), the decorator's wrappers (:mod:`.wrappers`), the block form
(:mod:`.block`) and the retry scope and request deadline (:mod:`.scope`)."""

from ragsight._resilience.hooks import RetryGaveUp, RetryScheduled
from ragsight._resilience.retry.block import Attempt, Attempts
from ragsight._resilience.retry.policy import RetryPolicy, dependency_name, retry
from ragsight._resilience.retry.scope import (
    deadline,
    reset_nested_warnings,
    set_testing_attempts,
)

__all__ = [
    "Attempt",
    "Attempts",
    "RetryGaveUp",
    "RetryPolicy",
    "RetryScheduled",
    "deadline",
    "dependency_name",
    "reset_nested_warnings",
    "retry",
    "set_testing_attempts",
]
