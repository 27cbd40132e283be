"""ragsight: observability-first OpenTelemetry instrumentation for RAG pipelines.

Importing ragsight loads only the OpenTelemetry API and wrapt; the SDK and exporters are
imported by :func:`configure` alone, so a library can instrument itself with ragsight
without forcing an SDK on its users.
"""

from __future__ import annotations  # noqa: I001 - imports are grouped by owning area

from ragsight import names
from ragsight._version import __version__

# --- core instrumentation (stages, context managers, evaluation) ----------------------
from ragsight._core.engine import StageCall
from ragsight._core.evaluation import record_evaluation
from ragsight._core.scopes import CacheLookup, cache, current_stage, stage
from ragsight._core.stages import (
    embedding,
    generation,
    instrument,
    pipeline,
    rerank,
    retrieval,
    tool,
)

# --- end core --------------------------------------------------------------------------

# --- resilience (circuit breaker, retry, batch processing) -----------------------------
from ragsight import instrumentation
from ragsight._resilience import telemetry as _resilience_telemetry
from ragsight._resilience.batch import (
    BatchResult,
    FailedDocument,
    ProcessedDocument,
    SkippedDocument,
    aprocess_documents,
    process_documents,
)
from ragsight._resilience.breaker import (
    BreakerSnapshot,
    CircuitBreaker,
    Permit,
    StateChange,
    get_breaker,
)
from ragsight._resilience.budget import RetryBudget
from ragsight._resilience.errors import CircuitOpenError, ResilienceError, RetryError
from ragsight._resilience.retry import RetryPolicy, deadline, retry

# --- end resilience --------------------------------------------------------------------

# --- configuration and setup -----------------------------------------------------------
from ragsight._export.health import dropped_counts
from ragsight._config.settings import ConfigError, Settings
from ragsight._export.setup import configure, shutdown
# --- end setup -------------------------------------------------------------------------

# The OpenTelemetry hooks of breakers and retries, installed on purpose (importing the
# telemetry module attaches nothing); ragsight.instrumentation replaces them.
_resilience_telemetry.install()

__all__ = [
    "__version__",
    "names",
    # core
    "CacheLookup",
    "StageCall",
    "cache",
    "current_stage",
    "embedding",
    "generation",
    "instrument",
    "pipeline",
    "record_evaluation",
    "rerank",
    "retrieval",
    "stage",
    "tool",
    # end core
    # resilience
    "BatchResult",
    "BreakerSnapshot",
    "CircuitBreaker",
    "CircuitOpenError",
    "FailedDocument",
    "Permit",
    "ProcessedDocument",
    "ResilienceError",
    "RetryBudget",
    "RetryError",
    "RetryPolicy",
    "SkippedDocument",
    "StateChange",
    "aprocess_documents",
    "deadline",
    "get_breaker",
    "instrumentation",
    "process_documents",
    "retry",
    # end resilience
    # setup
    "ConfigError",
    "Settings",
    "configure",
    "dropped_counts",
    "shutdown",
    # end setup
]
