"""Reading what a stage returned: documents and scores, embedding size, token usage.

Readers are duck-typed over the shapes RAG code actually returns (lists of dicts or objects
with a ``score``/``relevance_score``, ``(document, score)`` pairs as LangChain's
``similarity_search_with_score`` returns, result objects with ``documents``/``results``/
``matches``, OpenAI- and Anthropic-style ``usage``), and they never raise for an unknown
shape: they answer ``None``. They are bounded (at most ``_SCAN`` documents are inspected) so
a huge result cannot make telemetry the slow part. Every caller wraps them in _safety
anyway, because a user's object can raise from a property.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

_SCAN: Final = 1000
_DOC_CONTAINERS: Final = ("documents", "results", "matches", "docs", "data", "hits")
_SCORE_KEYS: Final = ("score", "relevance_score", "similarity", "similarity_score")


@dataclass(slots=True)
class Readout:
    """What could be read from one result (``None`` where nothing was found)."""

    documents: Sequence[Any] | None = None
    count: int | None = None
    top_score: float | None = None
    mean_score: float | None = None
    dimension: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: tuple[str, ...] | None = None
    cache_result: str | None = None  # a cache block's hit/miss/error
    time_to_first_chunk: float | None = None  # seconds; streamed generation only


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def documents_of(result: Any) -> Sequence[Any] | None:
    """The document list inside ``result`` (itself, or a known container field)."""
    if isinstance(result, (str, bytes)) or result is None:
        return None
    if isinstance(result, (list, tuple)):
        return result
    for key in _DOC_CONTAINERS:
        inner = _get(result, key)
        if isinstance(inner, (list, tuple)):
            return inner
    return None


def score_of(doc: Any) -> float | None:
    if isinstance(doc, tuple) and len(doc) == 2:
        return _number(doc[1])
    for key in _SCORE_KEYS:
        found = _number(_get(doc, key))
        if found is not None:
            return found
    meta = _get(doc, "metadata")
    if isinstance(meta, Mapping):
        return _number(meta.get("score"))
    return None


def read_documents(readout: Readout, docs: Sequence[Any]) -> None:
    readout.documents = docs
    readout.count = len(docs)
    top: float | None = None
    total = 0.0
    n = 0
    for doc in docs[:_SCAN]:
        s = score_of(doc)
        if s is None:
            continue
        total += s
        n += 1
        if top is None or s > top:
            top = s
    if n:
        readout.top_score = top
        readout.mean_score = total / n


def read_scores(readout: Readout, scores: Sequence[Any]) -> None:
    values = [v for v in (_number(s) for s in scores[:_SCAN]) if v is not None]
    if values:
        readout.top_score = max(values)
        readout.mean_score = sum(values) / len(values)


def _vector_length(vec: Any) -> int | None:
    shape = getattr(vec, "shape", None)  # numpy / torch, without importing them
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
        return int(shape[-1])
    if isinstance(vec, (list, tuple)) and vec:
        return len(vec) if _number(vec[0]) is not None else None
    return None


def embedding_dimension(result: Any) -> int | None:
    """Length of one vector: a vector, a list of vectors, or an OpenAI-style response."""
    direct = _vector_length(result)
    if direct is not None:
        return direct
    if isinstance(result, (list, tuple)) and result:
        first = result[0]
        inner = _vector_length(first)
        if inner is not None:
            return inner
        return _vector_length(_get(first, "embedding"))
    data = _get(result, "data")
    if isinstance(data, (list, tuple)) and data:
        return _vector_length(_get(data[0], "embedding"))
    emb = _get(result, "embeddings")
    if isinstance(emb, (list, tuple)) and emb:
        return _vector_length(emb[0]) or _vector_length(_get(emb[0], "values"))
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def read_usage(readout: Readout, result: Any) -> None:
    """Token usage and response metadata from an OpenAI/Anthropic-style response."""
    if isinstance(result, (str, bytes, list, tuple)) or result is None:
        return
    usage = _get(result, "usage")
    if usage is not None:
        inp = _int(_get(usage, "prompt_tokens"))
        if inp is None:
            inp = _int(_get(usage, "input_tokens"))
        out = _int(_get(usage, "completion_tokens"))
        if out is None:
            out = _int(_get(usage, "output_tokens"))
        readout.input_tokens = inp
        readout.output_tokens = out
    model = _get(result, "model")
    if isinstance(model, str):
        readout.response_model = model
    rid = _get(result, "id")
    if isinstance(rid, str):
        readout.response_id = rid
    choices = _get(result, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        reasons = tuple(
            r for r in (_get(c, "finish_reason") for c in choices[:_SCAN]) if isinstance(r, str)
        )
        readout.finish_reasons = reasons or None
    else:
        stop = _get(result, "stop_reason")  # Anthropic
        if isinstance(stop, str):
            readout.finish_reasons = (stop,)


def apply_hook_output(readout: Readout, out: Mapping[str, Any]) -> dict[str, Any]:
    """Merge what a user ``extract`` hook returned; unknown keys become span attributes.

    Recognised keys: ``documents``, ``scores``, ``dimension``, ``input_tokens``,
    ``output_tokens``, ``response_model``; any other key (e.g. a names.* attribute) is
    returned to be set on the span as is.
    """
    extra: dict[str, Any] = {}
    for key, value in out.items():
        if key == "documents" and isinstance(value, (list, tuple)):
            read_documents(readout, value)
        elif key == "scores" and isinstance(value, (list, tuple)):
            read_scores(readout, value)
        elif key == "dimension":
            readout.dimension = _int(value)
        elif key == "input_tokens":
            readout.input_tokens = _int(value)
        elif key == "output_tokens":
            readout.output_tokens = _int(value)
        elif key == "response_model" and isinstance(value, str):
            readout.response_model = value
        else:
            extra[key] = value
    return extra
