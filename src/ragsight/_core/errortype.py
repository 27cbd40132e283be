"""The one ``error.type`` spelling of an exception, used by spans, metrics and events.

OpenTelemetry's GenAI conventions show ``error.type`` as the exception's fully qualified
class name (``openai.InternalServerError``...), and every signal ragsight emits for one
failure must carry the same value, or a dashboard joining the stage duration with the
retry counters finds two different errors. The spelling is exactly
opentelemetry-util-genai's ``fq_exception_type`` and the SDK's ``exception.type`` on the
exception event (``Span.record_exception``): ``module.QualName`` of the class as its
``__module__`` says, builtins bare (``TimeoutError``). So a span's ``error.type`` and its
exception event's ``exception.type`` are one value too. Libraries that re-export their
exceptions set ``__module__`` to the public package themselves (openai, anthropic, httpx
do); ragsight's own exceptions declare ``__module__ = "ragsight"`` and so appear under
their public names (``ragsight.CircuitOpenError``).
"""

from __future__ import annotations

_cache: dict[type, str] = {}


def error_type(exc: BaseException) -> str:
    """``error.type`` for ``exc``: ``module.QualName`` of its class (bare for builtins)."""
    cls = type(exc)
    found = _cache.get(cls)
    if found is None:
        module = cls.__module__
        found = (
            f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__
        )
        if len(_cache) < 1024:
            _cache[cls] = found
    return found
