"""ragsight: observability-first OpenTelemetry instrumentation for RAG pipelines.

Importing ragsight loads only the OpenTelemetry API and wrapt; the SDK and exporters are
imported by :func:`configure` alone, so a library can instrument itself with ragsight
without forcing an SDK on its users.
"""

from __future__ import annotations

from ragsight import names
from ragsight._version import __version__

# --- core instrumentation (stages, context managers, evaluation) ----------------------
# --- end core --------------------------------------------------------------------------

# --- resilience (circuit breaker, retry, batch processing) -----------------------------
# --- end resilience --------------------------------------------------------------------

# --- configuration and setup -----------------------------------------------------------
from ragsight._export_health import dropped_counts  # noqa: I001 - one block per area
from ragsight._settings import ConfigError, Settings
from ragsight._setup import configure, shutdown
# --- end setup -------------------------------------------------------------------------

__all__ = [
    "__version__",
    "names",
    # core
    # end core
    # resilience
    # end resilience
    # setup
    "ConfigError",
    "Settings",
    "configure",
    "dropped_counts",
    "shutdown",
    # end setup
]
