"""What a stage decorator asked for, compiled once per decorated function.

Everything that does not depend on the call (span name and SpanKind, start attributes, metric
attribute sets) is computed here, at decoration, so the per-call path only reads
precomputed objects. Metric attributes come only from each MetricSpec's allow-list: a
query, a document id or any other unbounded value can never become a label.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import semconv as _semconv

_MAX_ERROR_TYPES: Final = 64  # distinct error.type labels per stage before "_OTHER"

# gen_ai.operation.name and span-name prefix per stage (no convention for rerank/cache)
_OPERATION: Final = {
    names.STAGE_PIPELINE: names.OP_INVOKE_WORKFLOW,
    names.STAGE_RETRIEVAL: names.OP_RETRIEVAL,
    names.STAGE_EMBEDDING: names.OP_EMBEDDINGS,
    names.STAGE_RERANK: names.OP_RERANK,
    names.STAGE_TOOL: names.OP_EXECUTE_TOOL,
}
_GENAI_CLIENT_STAGES: Final = frozenset(
    {names.STAGE_RETRIEVAL, names.STAGE_EMBEDDING, names.STAGE_RERANK, names.STAGE_GENERATION}
)
_DOCUMENT_STAGES: Final = frozenset({names.STAGE_RETRIEVAL, names.STAGE_RERANK})

Extract = Callable[[Any], Mapping[str, Any] | None]


@dataclass(frozen=True)
class StageSpec:
    """The arguments of one stage decorator or context manager (hashable, comparable)."""

    stage: str
    name: str | None = None
    operation: str | None = None
    provider: str | None = None
    model: str | None = None
    data_source: str | None = None
    top_k: int | None = None
    top_n: int | None = None
    local: bool = False
    attributes: tuple[tuple[str, AttributeValue], ...] = ()
    extract: Extract | None = None
    capture: bool | None = None
    score: str | None = None  # names.SCORE_KINDS: what a retriever's scores mean

    def __post_init__(self) -> None:
        if isinstance(self.provider, str):  # "OpenAI", "Mistral AI": the well-known spelling
            known = _WELL_KNOWN_PROVIDERS.get(_provider_key(self.provider))
            if known is not None:
                object.__setattr__(self, "provider", known)


def _provider_key(provider: str) -> str:
    return "".join(c for c in provider.lower() if c.isalnum())


_WELL_KNOWN_PROVIDERS: Final = {_provider_key(p): p for p in names.PROVIDERS}


def operation_name(fn: Any) -> str:
    """A stable, bounded operation name for a function: its qualname without ``<locals>``."""
    target = getattr(fn, "__func__", fn)
    while isinstance(target, functools.partial):  # name the function, not "partial"
        target = target.func
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not isinstance(qual, str):
        qual = type(fn).__name__
    return qual.rsplit("<locals>.", 1)[-1]


_DOCUMENT_ARGS: Final = ("documents", "docs", "candidates", "passages")


class RerankInput:
    """Where a rerank function takes its input documents, found once at decoration.

    Only the length is ever read (``rag.rerank.candidate.count``): never the content. The
    argument is one named like documents (by keyword, or at its position), else the first
    list or tuple passed positionally.
    """

    __slots__ = ("index", "name", "skip_first")

    def __init__(self, name: str | None, index: int | None, skip_first: bool) -> None:
        self.name = name
        self.index = index
        self.skip_first = skip_first  # the first parameter is self/cls

    @classmethod
    def of(cls, fn: Any) -> RerankInput:
        target = getattr(fn, "__func__", fn)
        try:
            params = list(inspect.signature(target).parameters.values())
        except (TypeError, ValueError):
            return cls(None, None, False)
        positional = [
            p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        skip_first = bool(positional) and positional[0] in ("self", "cls")
        for name in _DOCUMENT_ARGS:
            if any(p.name == name and p.kind is not p.VAR_POSITIONAL for p in params):
                index = positional.index(name) if name in positional else None
                return cls(name, index, skip_first)
        return cls(None, None, skip_first)

    def count(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
        name = self.name
        if name is not None:
            found = kwargs.get(name, _MISSING)
            if found is _MISSING and self.index is not None:
                index = self.index - (1 if self.skip_first and instance is not None else 0)
                if 0 <= index < len(args):
                    found = args[index]
            if found is not _MISSING:
                return (
                    len(found) if isinstance(found, Sized) and not isinstance(found, str) else None
                )
        else:
            for name in _DOCUMENT_ARGS:
                if name in kwargs:  # **kwargs
                    found = kwargs[name]
                    return len(found) if isinstance(found, (list, tuple)) else None
        for arg in args:
            if isinstance(arg, (list, tuple)):
                return len(arg)
        return None


_MISSING: Final[Any] = object()


def span_name(operation: str, target: str | None) -> str:
    """``{operation} {target}``, or ``{operation}`` when the target is unknown."""
    return f"{operation} {target}" if target else operation


# What the per-call readers add to the GenAI metric attributes; each distinct combination
# is one series, so their number is capped (past the cap values fold into "_OTHER").
GenAIKey = tuple["str | None", "str | None", "str | None", "str | None", "tuple[str, int] | None"]
"""(error.type, gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
(server.address, server.port))"""


def without_error(key: GenAIKey) -> GenAIKey:
    """The same call identity without its error.type (token metrics never carry one)."""
    return (None, key[1], key[2], key[3], key[4])


class Plan:
    """The precomputed per-stage data the hot path and the metrics drain read."""

    __slots__ = (
        "__weakref__",
        "_genai_by_error",
        "_genai_by_key",
        "_stage_by_error",
        "_token_by_key",
        "cache_attrs",
        "capture",
        "document_attrs",
        "documents_metrics",
        "extract",
        "genai_metric_attrs",
        "names_model",
        "op_name",
        "operation",
        "reads",
        "reads_request",
        "rerank_input",
        "span_attrs",
        "span_kind",
        "span_name",
        "spec",
        "stage",
        "token_attrs",
        "top_k",
    )

    def __init__(self, spec: StageSpec, op_name: str, fn: Any = None) -> None:
        self.spec = spec
        self.stage = spec.stage
        self.op_name = op_name
        self.extract = spec.extract
        self.capture = spec.capture
        stage = spec.stage
        operation = spec.operation or _OPERATION.get(stage)
        if stage == names.STAGE_GENERATION and operation is None:
            operation = names.OP_CHAT

        attrs: dict[str, AttributeValue] = {
            names.RAG_STAGE: stage,
            names.RAG_OPERATION_NAME: op_name,
        }
        if operation is not None:
            attrs[names.GEN_AI_OPERATION_NAME] = operation
        if spec.provider is not None:
            attrs[names.GEN_AI_PROVIDER_NAME] = spec.provider
        if spec.model is not None:
            attrs[names.GEN_AI_REQUEST_MODEL] = spec.model
        if spec.data_source is not None:
            attrs[names.GEN_AI_DATA_SOURCE_ID] = spec.data_source
        self.top_k = spec.top_k
        if spec.top_k is not None:
            key, value = _semconv.top_k_attribute(spec.top_k)
            attrs[key] = value
        if spec.top_n is not None:
            attrs[names.RAG_RERANK_TOP_N] = spec.top_n
        if stage == names.STAGE_PIPELINE:
            attrs[_semconv.workflow_name_attribute()] = op_name
        elif stage == names.STAGE_TOOL:
            attrs[names.GEN_AI_TOOL_NAME] = op_name
        attrs.update(spec.attributes)
        self.span_attrs = attrs
        if spec.top_k is not None:  # its name and type depend on the conventions mode
            _semconv.depends_on_mode(self)

        self.operation = operation
        # GenAI span names are "{operation} {target}" or "{operation}" (the conventions'
        # rule): the target is the model, data source, workflow or tool name, never the
        # decorated function's name (a workflow's or tool's name is its gen_ai.*.name)
        if stage == names.STAGE_PIPELINE:
            self.span_name = f"{names.OP_INVOKE_WORKFLOW} {op_name}"
        elif stage == names.STAGE_TOOL:
            self.span_name = f"{names.OP_EXECUTE_TOOL} {op_name}"
        elif stage == names.STAGE_RETRIEVAL:
            self.span_name = span_name(names.OP_RETRIEVAL, spec.data_source)
        elif stage in (names.STAGE_EMBEDDING, names.STAGE_GENERATION, names.STAGE_RERANK):
            assert operation is not None
            self.span_name = span_name(operation, spec.model)
        elif stage == names.STAGE_CACHE:
            self.span_name = f"{names.STAGE_CACHE} {op_name}"
        else:
            self.span_name = op_name
        # what a call's arguments may reveal (provider, model, server, request parameters)
        self.reads_request = stage in _GENAI_CLIENT_STAGES
        self.names_model = stage in (
            names.STAGE_EMBEDDING,
            names.STAGE_GENERATION,
            names.STAGE_RERANK,
        )

        remote = stage in _GENAI_CLIENT_STAGES and not spec.local
        self.span_kind = SpanKind.CLIENT if remote else SpanKind.INTERNAL

        self.reads: str | None = {
            names.STAGE_RETRIEVAL: "documents",
            names.STAGE_RERANK: "documents",
            names.STAGE_EMBEDDING: "embedding",
            names.STAGE_GENERATION: "usage",
            names.STAGE_CACHE: "cache",
        }.get(stage)
        if spec.extract is not None and self.reads is None:
            self.reads = "hook"

        self._stage_by_error: dict[str | None, dict[str, AttributeValue]] = {
            None: {names.RAG_STAGE: stage, names.RAG_OPERATION_NAME: op_name}
        }
        self.genai_metric_attrs: dict[str, AttributeValue] | None = None
        self._genai_by_error: dict[str | None, dict[str, AttributeValue]] = {}
        self.token_attrs: tuple[dict[str, AttributeValue], dict[str, AttributeValue]] | None
        self.token_attrs = None
        if stage in _GENAI_CLIENT_STAGES and operation is not None:
            base: dict[str, AttributeValue] = {names.GEN_AI_OPERATION_NAME: operation}
            if spec.provider is not None:
                base[names.GEN_AI_PROVIDER_NAME] = spec.provider
            if spec.model is not None:
                base[names.GEN_AI_REQUEST_MODEL] = spec.model
            self.genai_metric_attrs = base
            self._genai_by_error[None] = base
            if stage in (names.STAGE_GENERATION, names.STAGE_EMBEDDING):
                self.token_attrs = (
                    {**base, names.GEN_AI_TOKEN_TYPE: names.TOKEN_TYPE_INPUT},
                    {**base, names.GEN_AI_TOKEN_TYPE: names.TOKEN_TYPE_OUTPUT},
                )
        self._genai_by_key: dict[GenAIKey, dict[str, AttributeValue]] = {}
        self._token_by_key: dict[
            GenAIKey, tuple[dict[str, AttributeValue], dict[str, AttributeValue]]
        ] = {}
        self.documents_metrics = stage in _DOCUMENT_STAGES
        self.rerank_input: RerankInput | None = None
        if stage == names.STAGE_RERANK and fn is not None:
            self.rerank_input = RerankInput.of(fn)
        self.cache_attrs: dict[str, dict[str, AttributeValue]] = {
            result: {names.RAG_CACHE_NAME: op_name, names.RAG_CACHE_RESULT: result}
            for result in (names.CACHE_HIT, names.CACHE_MISS, names.CACHE_ERROR)
        }
        self.document_attrs: dict[str, AttributeValue] = {
            names.RAG_STAGE: stage,
            names.RAG_OPERATION_NAME: op_name,
        }

    def apply_semconv_mode(self) -> None:
        """Rename the top-k start attribute for the mode now in force (a new dict: spans
        starting meanwhile read the old one whole)."""
        if self.top_k is None:
            return
        user = {k for k, _ in self.spec.attributes}  # the decorator's attributes= win
        attrs = {
            k: v
            for k, v in self.span_attrs.items()
            if k not in _semconv.TOP_K_ATTRIBUTES or k in user
        }
        key, value = _semconv.top_k_attribute(self.top_k)
        attrs.setdefault(key, value)
        self.span_attrs = attrs

    @staticmethod
    def _with_error(
        cache: dict[str | None, dict[str, AttributeValue]], error_type: str | None
    ) -> dict[str, AttributeValue]:
        found = cache.get(error_type)
        if found is not None:
            return found
        if len(cache) >= _MAX_ERROR_TYPES:
            error_type = names.ERROR_TYPE_OTHER
            found = cache.get(error_type)
            if found is not None:
                return found
        made = {**cache[None], names.ERROR_TYPE: error_type}
        cache[error_type] = made  # racing threads build equal dicts: harmless
        return made

    def stage_metric_attrs(self, error_type: str | None) -> dict[str, AttributeValue]:
        return self._with_error(self._stage_by_error, error_type)

    def genai_attrs_for(self, error_type: str | None) -> dict[str, AttributeValue]:
        return self._with_error(self._genai_by_error, error_type)

    def _capped(self, key: GenAIKey) -> GenAIKey:
        if key in self._genai_by_key or len(self._genai_by_key) < _MAX_ERROR_TYPES:
            return key
        other = names.VALUE_OTHER
        error_type, provider, request_model, response_model, _server = key
        return (  # past the cap: strings fold into "_OTHER", the server is left out
            None if error_type is None else other,
            None if provider is None else other,
            None if request_model is None else other,
            None if response_model is None else other,
            None,
        )

    def genai_attrs_for_key(self, key: GenAIKey) -> dict[str, AttributeValue]:
        """The ``gen_ai.client.*`` attributes of one call: the decorator's, plus the
        provider, models and server the call revealed (``gen_ai.response.model`` included)."""
        found = self._genai_by_key.get(key)
        if found is not None:
            return found
        error_type, provider, request_model, response_model, server = key = self._capped(key)
        made = dict(self.genai_attrs_for(None))
        if provider is not None:
            made[names.GEN_AI_PROVIDER_NAME] = provider
        if request_model is not None:
            made[names.GEN_AI_REQUEST_MODEL] = request_model
        if response_model is not None:
            made[names.GEN_AI_RESPONSE_MODEL] = response_model
        if server is not None:
            made[names.SERVER_ADDRESS], made[names.SERVER_PORT] = server
        if error_type is not None:
            made[names.ERROR_TYPE] = error_type
        self._genai_by_key[key] = made  # racing threads build equal dicts: harmless
        return made

    def token_attrs_for_key(
        self, key: GenAIKey
    ) -> tuple[dict[str, AttributeValue], dict[str, AttributeValue]]:
        """Input and output token-usage attributes of one call (never error.type)."""
        key = without_error(key)
        found = self._token_by_key.get(key)
        if found is not None:
            return found
        base = {k: v for k, v in self.genai_attrs_for_key(key).items() if k != names.ERROR_TYPE}
        made = (
            {**base, names.GEN_AI_TOKEN_TYPE: names.TOKEN_TYPE_INPUT},
            {**base, names.GEN_AI_TOKEN_TYPE: names.TOKEN_TYPE_OUTPUT},
        )
        self._token_by_key[key] = made
        return made
