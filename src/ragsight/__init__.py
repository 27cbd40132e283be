"""ragsight: observability-first OpenTelemetry instrumentation for RAG pipelines.

Importing ragsight loads only the OpenTelemetry API and wrapt; the SDK and exporters are
imported by :func:`configure` alone, so a library can instrument itself with ragsight
without forcing an SDK on its users.
"""

from __future__ import annotations  # noqa: I001 - imports are grouped by owning area

from ragsight import names
from ragsight._version import __version__

# --- core instrumentation (stages, context managers, evaluation) ----------------------
from ragsight._engine import StageCall
from ragsight._evaluation import record_evaluation
from ragsight._scopes import CacheLookup, cache, current_stage, stage
from ragsight._stages import (
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
from ragsight import _resilience_telemetry  # noqa: F401 - attaches the OTel hooks
from ragsight._batch import (
    BatchResult,
    FailedDocument,
    ProcessedDocument,
    SkippedDocument,
    aprocess_documents,
    process_documents,
)
from ragsight._breaker import BreakerSnapshot, CircuitBreaker, Permit, StateChange, get_breaker
from ragsight._budget import RetryBudget
from ragsight._resilience_errors import CircuitOpenError, ResilienceError, RetryError
from ragsight._retry import RetryPolicy, deadline, retry

# --- end resilience --------------------------------------------------------------------

# --- configuration and setup -----------------------------------------------------------
from ragsight._export_health import dropped_counts
from ragsight._settings import ConfigError, Settings
from ragsight._setup import configure, shutdown
# --- end setup -------------------------------------------------------------------------

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
