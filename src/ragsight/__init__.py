"""ragsight: observability-first OpenTelemetry instrumentation for RAG pipelines.

``import ragsight`` loads only the names contract; each area loads on first use of one of
its names (``ragsight.retrieval`` loads the core decorators and the OpenTelemetry API,
``ragsight.CircuitBreaker`` the resilience primitives, ``ragsight.configure`` the SDK and
exporters). A library can instrument itself with ragsight without forcing an SDK on its
users, and an application pays at import only for what it uses.

Every public object reports ``ragsight`` as its module, so reprs, pickles and ``error.type``
show the public name (``ragsight.CircuitOpenError``), not the private module defining it.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

from ragsight import names
from ragsight._version import __version__

# name -> defining private module, grouped by area; an area loads as a whole.
_AREAS: dict[str, dict[str, str]] = {
    "core": {
        "StageCall": "ragsight._core.engine",
        "record_evaluation": "ragsight._core.evaluation",
        "CacheLookup": "ragsight._core.scopes",
        "cache": "ragsight._core.scopes",
        "current_stage": "ragsight._core.scopes",
        "stage": "ragsight._core.scopes",
        "embedding": "ragsight._core.stages",
        "generation": "ragsight._core.stages",
        "instrument": "ragsight._core.stages",
        "pipeline": "ragsight._core.stages",
        "rerank": "ragsight._core.stages",
        "retrieval": "ragsight._core.stages",
        "tool": "ragsight._core.stages",
    },
    "resilience": {
        "BatchInputError": "ragsight._resilience.batch",
        "BatchResult": "ragsight._resilience.batch",
        "FailedDocument": "ragsight._resilience.batch",
        "ProcessedDocument": "ragsight._resilience.batch",
        "SkippedDocument": "ragsight._resilience.batch",
        "aprocess_documents": "ragsight._resilience.batch",
        "process_documents": "ragsight._resilience.batch",
        "BreakerSnapshot": "ragsight._resilience.breaker",
        "CircuitBreaker": "ragsight._resilience.breaker",
        "Permit": "ragsight._resilience.breaker",
        "StateChange": "ragsight._resilience.breaker",
        "get_breaker": "ragsight._resilience.breaker",
        "RetryBudget": "ragsight._resilience.budget",
        "RedisState": "ragsight._resilience.shared",
        "SharedConfig": "ragsight._resilience.shared",
        "CircuitOpenError": "ragsight._resilience.errors",
        "ResilienceError": "ragsight._resilience.errors",
        "RetryError": "ragsight._resilience.errors",
        "RetryPolicy": "ragsight._resilience.retry",
        "deadline": "ragsight._resilience.retry",
        "retry": "ragsight._resilience.retry",
    },
    "setup": {
        "dropped_counts": "ragsight._export.health",
        "ConfigError": "ragsight._config.settings",
        "Settings": "ragsight._config.settings",
        "configure": "ragsight._export.setup",
        "shutdown": "ragsight._export.setup",
    },
}
_AREA_OF: dict[str, str] = {name: area for area, table in _AREAS.items() for name in table}
_SUBMODULES = frozenset({"instrumentation", "testing", "resilience_testing", "cli"})


def _claim_public(value: Any, name: str, module: str) -> None:
    """Make ``value`` (a public class or function defined in a private module) report its
    public home: ``ragsight`` when it is ``ragsight.<name>``, else ``module``, the public
    submodule exporting it. Reprs, ``error.type`` and pickles then show the public name."""
    if not isinstance(value, (type, types.FunctionType)):
        return  # a type alias or a constant has no module of its own
    if value.__module__.startswith("ragsight._"):
        value.__module__ = __name__ if name in _AREA_OF else module


def _load_area(area: str) -> None:
    for name, module in _AREAS[area].items():
        value = getattr(importlib.import_module(module), name)
        _claim_public(value, name, __name__)
        globals()[name] = value
    if area == "resilience":
        # The OpenTelemetry hooks of breakers and retries, installed on purpose (importing
        # the telemetry module attaches nothing); ragsight.instrumentation replaces them.
        from ragsight._resilience import telemetry

        telemetry.install()


def __getattr__(name: str) -> Any:
    area = _AREA_OF.get(name)
    if area is not None:
        _load_area(area)
        return globals()[name]
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from ragsight import instrumentation
    from ragsight._config.settings import ConfigError, Settings
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
    from ragsight._export.health import dropped_counts
    from ragsight._export.setup import configure, shutdown
    from ragsight._resilience.batch import (
        BatchInputError,
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
    from ragsight._resilience.shared import RedisState, SharedConfig

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
    # resilience
    "BatchInputError",
    "BatchResult",
    "BreakerSnapshot",
    "CircuitBreaker",
    "CircuitOpenError",
    "FailedDocument",
    "Permit",
    "ProcessedDocument",
    "RedisState",
    "ResilienceError",
    "RetryBudget",
    "RetryError",
    "RetryPolicy",
    "SharedConfig",
    "SkippedDocument",
    "StateChange",
    "aprocess_documents",
    "deadline",
    "get_breaker",
    "instrumentation",
    "process_documents",
    "retry",
    # setup
    "ConfigError",
    "Settings",
    "configure",
    "dropped_counts",
    "shutdown",
]
