"""The stage decorators: usable bare (``@retrieval``) or with arguments.

Each one only builds a :class:`StageSpec`; the engine does the rest. The first positional
argument may be the function (bare use) or the stage's name (``@pipeline("answer")``).
The name becomes ``rag.operation.name`` (a metric label, so keep it a fixed string; it
defaults to the function's qualified name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core.engine import decorate
from ragsight._core.plan import Extract, StageSpec

F = TypeVar("F", bound=Callable[..., Any])
ScoreKind = Literal["similarity", "distance", "cosine_distance", "unbounded"]


def _apply(fn_or_name: Any, spec_args: dict[str, Any]) -> Any:
    attributes = spec_args.pop("attributes", None)
    spec_args["attributes"] = tuple((attributes or {}).items())
    if callable(fn_or_name) or isinstance(fn_or_name, (classmethod, staticmethod)):
        return decorate(fn_or_name, StageSpec(**spec_args))
    if fn_or_name is not None:
        if not isinstance(fn_or_name, str):
            raise TypeError(f"expected a function or a stage name, got {fn_or_name!r}")
        if spec_args.get("name") is not None:
            raise TypeError("stage name given twice")
        spec_args["name"] = fn_or_name
    spec = StageSpec(**spec_args)

    def decorator(fn: F) -> F:
        return decorate(fn, spec)

    return decorator


@overload
def pipeline(fn: F, /) -> F: ...
@overload
def pipeline(
    name: str | None = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def pipeline(
    fn: Any = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    capture: bool | None = None,
) -> Any:
    """A whole request (``invoke_workflow {name}``, INTERNAL): the root of a RAG trace.

    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(fn, {"stage": names.STAGE_PIPELINE, "attributes": attributes, "capture": capture})


@overload
def retrieval(fn: F, /) -> F: ...
@overload
def retrieval(
    name: str | None = None,
    /,
    *,
    data_source: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    top_k: int | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
    score: ScoreKind | None = None,
) -> Callable[[F], F]: ...
def retrieval(
    fn: Any = None,
    /,
    *,
    data_source: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    top_k: int | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
    score: ScoreKind | None = None,
) -> Any:
    """A retrieval (``retrieval {data_source}``, CLIENT unless ``local``).

    The returned documents are counted and their scores read (``score`` or
    ``relevance_score`` on dicts or objects, ``(doc, score)`` pairs, ``metadata["score"]``);
    ``extract(result)`` may return ``{"documents": ..., "scores": ...}`` for other shapes.
    docs/readers.md lists every shape read and what is read from it. ``data_source`` names
    the store (``retrieval {data_source}``) and ``top_k`` the number of documents asked for;
    ``provider``, ``model``, ``local`` and ``extract`` are as for :func:`embedding`, the
    name, ``attributes`` and ``capture`` as for :func:`pipeline`.

    ``score`` says what the scores mean: ``"similarity"`` (0..1, higher is better; the only
    kind recorded as ``rag.retrieval.score``), ``"cosine_distance"`` (converted to
    ``1 - d``), ``"distance"`` (metric unknown: recorded as ``rag.retrieval.distance``,
    never converted) or ``"unbounded"`` (BM25, inner product:
    ``rag.retrieval.score.unbounded``). Left out, it is detected where the store says so
    (a chromadb collection among the arguments or on ``self``; chromadb and faiss results
    are distances) and otherwise scores in 0..1 are similarities and others unbounded.

    Raises:
        ValueError: ``score`` is not one of ``names.SCORE_KINDS``.
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    if score is not None and score not in names.SCORE_KINDS:
        raise ValueError(f"score must be one of {names.SCORE_KINDS}, got {score!r}")
    return _apply(
        fn,
        {
            "stage": names.STAGE_RETRIEVAL,
            "data_source": data_source,
            "provider": provider,
            "model": model,
            "top_k": top_k,
            "local": local,
            "attributes": attributes,
            "extract": extract,
            "capture": capture,
            "score": score,
        },
    )


@overload
def embedding(fn: F, /) -> F: ...
@overload
def embedding(
    name: str | None = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def embedding(
    fn: Any = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Any:
    """An embeddings call (``embeddings {model}``): vector dimension and input tokens read.

    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).
    ``provider`` and ``model`` name the service and model when the call or response does
    not; ``local=True`` marks an in-process model (INTERNAL span, no server attributes);
    ``extract(result)`` returns what to read from a result shape ragsight does not know.

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(
        fn,
        {
            "stage": names.STAGE_EMBEDDING,
            "provider": provider,
            "model": model,
            "local": local,
            "attributes": attributes,
            "extract": extract,
            "capture": capture,
        },
    )


@overload
def rerank(fn: F, /) -> F: ...
@overload
def rerank(
    name: str | None = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    top_n: int | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def rerank(
    fn: Any = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    top_n: int | None = None,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Any:
    """A rerank (``rerank {model}``), shaped after the open proposal semantic-conventions-genai
    #253: ``gen_ai.operation.name=rerank`` and ``rag.rerank.*`` mirroring its attributes until
    they are accepted (docs/rerank.md says which names are the proposal's and which custom).

    ``top_n`` is the number of documents asked for (``rag.rerank.top_n``); the candidate count
    (``rag.rerank.candidate.count``) and the documents returned are read.
    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).
    ``provider`` and ``model`` name the service and model when the call or response does
    not; ``local=True`` marks an in-process model (INTERNAL span, no server attributes);
    ``extract(result)`` returns what to read from a result shape ragsight does not know.

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(
        fn,
        {
            "stage": names.STAGE_RERANK,
            "provider": provider,
            "model": model,
            "top_n": top_n,
            "local": local,
            "attributes": attributes,
            "extract": extract,
            "capture": capture,
        },
    )


@overload
def generation(fn: F, /) -> F: ...
@overload
def generation(
    name: str | None = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    operation: names.GenerationOperation = names.OP_CHAT,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def generation(
    fn: Any = None,
    /,
    *,
    provider: str | None = None,
    model: str | None = None,
    operation: names.GenerationOperation = names.OP_CHAT,
    local: bool = False,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Any:
    """An LLM call (``{operation} {model}``): token usage and response model read from
    OpenAI/Anthropic-style responses.

    ``operation`` is the GenAI operation name (``chat`` by default).
    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).
    ``provider`` and ``model`` name the service and model when the call or response does
    not; ``local=True`` marks an in-process model (INTERNAL span, no server attributes);
    ``extract(result)`` returns what to read from a result shape ragsight does not know.

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(
        fn,
        {
            "stage": names.STAGE_GENERATION,
            "provider": provider,
            "model": model,
            "operation": operation,
            "local": local,
            "attributes": attributes,
            "extract": extract,
            "capture": capture,
        },
    )


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(
    name: str | None = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def tool(
    fn: Any = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    capture: bool | None = None,
) -> Any:
    """A tool execution (``execute_tool {name}``, INTERNAL per the GenAI conventions).

    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(fn, {"stage": names.STAGE_TOOL, "attributes": attributes, "capture": capture})


@overload
def instrument(fn: F, /) -> F: ...
@overload
def instrument(
    name: str | None = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Callable[[F], F]: ...
def instrument(
    fn: Any = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> Any:
    """Any other step worth a span and a latency histogram (``rag.stage="stage"``).

    The first argument is the function (bare use) or the stage's name, a fixed string
    (``rag.operation.name``, a metric label; default: the function's qualified name).
    ``attributes`` are added to the span; ``capture`` turns content capture on or off for
    this stage (default: the configured ``content.capture``).
    ``extract(result)`` returns what to read from the result.

    Raises:
        TypeError: the first argument is neither a function nor a name, or the name is
            given twice.
    """
    return _apply(
        fn,
        {
            "stage": names.STAGE_GENERIC,
            "attributes": attributes,
            "extract": extract,
            "capture": capture,
        },
    )
