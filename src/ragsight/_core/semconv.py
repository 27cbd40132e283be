"""Which GenAI semantic-conventions generation ragsight emits, and what a call reveals.

Two modes (``names.SEMCONV_MODES``): ``latest`` (the default, like opentelemetry-util-genai,
which dropped ``OTEL_SEMCONV_STABILITY_OPT_IN``) and ``v1.41.0`` for backends that expect
the names of that release. ``names.CONVENTIONS`` says per name what each mode emits; the
mode also decides the ``schema_url`` of every instrumentation scope (tracer, meter).
configure() sets the mode (key ``semconv``, env ``RAGSIGHT_SEMCONV``); before it, or without
it, the mode is the one that variable names (an unknown value keeps latest, with a warning:
configure() refuses it).

The second half maps what a call reveals (the client object it was given, the response
it returned, its keyword arguments) to the attributes the conventions require: provider
name, server address and port, request parameters. Every reader is duck-typed, bounded
and never raises for an unknown shape.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import weakref
from collections.abc import Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from ragsight import names

logger = logging.getLogger("ragsight")


def _mode_from_env() -> str:
    value = os.environ.get(names.SEMCONV_ENV, "").strip()
    if not value or value in names.SEMCONV_MODES:
        return value or names.SEMCONV_DEFAULT
    logger.warning(
        "ragsight: %s=%r is not one of %s; emitting the %s conventions",
        names.SEMCONV_ENV,
        value,
        ", ".join(names.SEMCONV_MODES),
        names.SEMCONV_DEFAULT,
    )
    return names.SEMCONV_DEFAULT


_mode: str = _mode_from_env()


class ModeDependent(Protocol):
    """Something precomputed from the mode (a stage's start attributes) that is rebuilt
    when the mode changes: decorators usually run at import, before configure()."""

    def apply_semconv_mode(self) -> None: ...


_dependents: weakref.WeakSet[Any] = weakref.WeakSet()


def mode() -> str:
    """The conventions generation in force (``latest`` or ``v1.41.0``)."""
    return _mode


def depends_on_mode(obj: ModeDependent) -> None:
    """Call ``obj.apply_semconv_mode()`` whenever the mode changes (weakly referenced)."""
    _dependents.add(obj)


def set_mode(value: str) -> None:
    """Select the conventions generation; raises ValueError for an unknown mode."""
    global _mode
    if value not in names.SEMCONV_MODES:
        raise ValueError(f"semconv mode must be one of {names.SEMCONV_MODES}, got {value!r}")
    changed = value != _mode
    _mode = value
    if changed:
        for dependent in list(_dependents):
            dependent.apply_semconv_mode()


def reset_for_tests() -> None:
    """Back to the default mode (latest)."""
    set_mode(names.SEMCONV_DEFAULT)


def schema_url() -> str:
    """The schema URL every ragsight scope carries in the current mode."""
    return names.SCHEMA_URLS[_mode]


def top_k_attribute(top_k: int) -> tuple[str, int | float]:
    """Retrieval top-k: ``gen_ai.retrieval.top_k`` (an int) in latest, ``gen_ai.request.top_k``
    (a double) in v1.41.0 (names.CONVENTIONS cites both)."""
    if _mode == names.SEMCONV_LATEST:
        return names.GEN_AI_RETRIEVAL_TOP_K, int(top_k)
    return names.GEN_AI_REQUEST_TOP_K, float(top_k)


TOP_K_ATTRIBUTES: Final = (names.GEN_AI_RETRIEVAL_TOP_K, names.GEN_AI_REQUEST_TOP_K)


def workflow_name_attribute() -> str:
    """The pipeline's name on ``invoke_workflow``: ``gen_ai.workflow.name`` in both modes
    (``gen_ai.agent.name`` belongs to ``invoke_agent``, not to workflows)."""
    return names.GEN_AI_WORKFLOW_NAME


# ---- provider inference ------------------------------------------------------------------
# (module prefix of the client or response type, provider). The first match wins, so the
# more specific prefix comes first (an Azure client is an OpenAI client subclass).
_PROVIDER_BY_MODULE: Final = (
    ("openai.lib.azure", names.PROVIDER_AZURE_OPENAI),
    ("langchain_openai.chat_models.azure", names.PROVIDER_AZURE_OPENAI),
    ("openai", names.PROVIDER_OPENAI),
    ("langchain_openai", names.PROVIDER_OPENAI),
    ("anthropic.lib.bedrock", names.PROVIDER_AWS_BEDROCK),
    ("anthropic.lib.vertex", names.PROVIDER_GCP_VERTEX_AI),
    ("anthropic", names.PROVIDER_ANTHROPIC),
    ("langchain_anthropic", names.PROVIDER_ANTHROPIC),
    ("cohere", names.PROVIDER_COHERE),
    ("langchain_cohere", names.PROVIDER_COHERE),
    ("botocore", names.PROVIDER_AWS_BEDROCK),
    ("langchain_aws", names.PROVIDER_AWS_BEDROCK),
    ("vertexai", names.PROVIDER_GCP_VERTEX_AI),
    ("google.cloud.aiplatform", names.PROVIDER_GCP_VERTEX_AI),
    ("google.genai", names.PROVIDER_GCP_GEN_AI),
    ("google.generativeai", names.PROVIDER_GCP_GEMINI),
    ("mistralai", names.PROVIDER_MISTRAL_AI),
    ("groq", names.PROVIDER_GROQ),
    ("ibm_watsonx_ai", names.PROVIDER_IBM_WATSONX_AI),
    ("azure.ai.inference", names.PROVIDER_AZURE_AI_INFERENCE),
)
# (host suffix, provider): an OpenAI-compatible client pointed elsewhere is that provider.
_PROVIDER_BY_HOST: Final = (
    (".openai.azure.com", names.PROVIDER_AZURE_OPENAI),
    ("api.openai.com", names.PROVIDER_OPENAI),
    ("api.anthropic.com", names.PROVIDER_ANTHROPIC),
    ("api.cohere.com", names.PROVIDER_COHERE),
    ("api.cohere.ai", names.PROVIDER_COHERE),
    ("aiplatform.googleapis.com", names.PROVIDER_GCP_VERTEX_AI),
    ("generativelanguage.googleapis.com", names.PROVIDER_GCP_GEMINI),
    ("api.mistral.ai", names.PROVIDER_MISTRAL_AI),
    ("api.groq.com", names.PROVIDER_GROQ),
    ("api.deepseek.com", names.PROVIDER_DEEPSEEK),
    ("api.x.ai", names.PROVIDER_X_AI),
    ("api.perplexity.ai", names.PROVIDER_PERPLEXITY),
)
# response ``object`` values only OpenAI's API (and clones of it) return
_OPENAI_OBJECTS: Final = frozenset(
    {"chat.completion", "chat.completion.chunk", "text_completion", "response", "list"}
)
_CLIENT_ARGS: Final = ("client", "llm", "model_client", "chat_model", "embedder", "reranker")


def provider_of_type(obj: Any) -> str | None:
    """The provider a client or response object's type belongs to (by module), or None."""
    if obj is None or isinstance(obj, (str, bytes, int, float, bool, list, tuple, dict)):
        return None
    kind = type(obj)
    try:
        return _provider_by_type[kind]
    except KeyError:
        pass
    found = _provider_of_class(kind)
    if len(_provider_by_type) < _TYPE_CACHE_SIZE:
        _provider_by_type[kind] = found  # racing threads store the same answer
    return found


_TYPE_CACHE_SIZE: Final = 1024
_provider_by_type: dict[type, str | None] = {}


def _provider_of_class(kind: type) -> str | None:
    for cls in kind.__mro__:
        module = getattr(cls, "__module__", "") or ""
        for prefix, provider in _PROVIDER_BY_MODULE:
            if module == prefix or module.startswith(prefix + "."):
                return provider
    return None


def provider_of_host(host: str | None) -> str | None:
    if not host:
        return None
    host = host.lower()
    for suffix, provider in _PROVIDER_BY_HOST:
        if host == suffix.lstrip(".") or host.endswith(suffix):
            return provider
    return None


# whether a type is a Mapping, once per type: isinstance() against the ABC costs several
# times a dict lookup, and the readers ask it of every object they look into (bounded;
# a proxy whose __class__ is not its type is asked every time)
_mapping_types: dict[type, bool] = {dict: True}


def is_mapping(obj: Any) -> bool:
    """``isinstance(obj, Mapping)``, cached per type."""
    kind = type(obj)
    found = _mapping_types.get(kind)
    if found is None:
        found = isinstance(obj, Mapping)
        if obj.__class__ is kind and len(_mapping_types) < _TYPE_CACHE_SIZE:
            _mapping_types[kind] = found
    return found


# pydantic v2 models (openai, anthropic, cohere responses): asking one for an attribute it
# lacks goes through BaseModel.__getattr__, which raises twice (~15x the cost of a hit);
# the readers ask many such questions per response. What the class says is decided once
# per (class, name), bounded; the instance's fields and extras are looked at every time.
_class_lacks: dict[tuple[type, str], bool] = {}


def model_lacks(obj: Any, key: str) -> bool:
    """True when ``getattr(obj, key)`` would raise AttributeError on a pydantic v2 model
    whose class keeps pydantic's own attribute lookup, decided without asking it: not an
    instance field, not on any class of its MRO, not a private attribute, not an extra.
    False otherwise (then ask ``getattr``)."""
    kind = type(obj)
    absent = _class_lacks.get((kind, key))
    if absent is None:
        absent = _class_lacks_key(kind, key)
        if len(_class_lacks) < 4 * _TYPE_CACHE_SIZE:
            _class_lacks[(kind, key)] = absent
    if not absent or key in object.__getattribute__(obj, "__dict__"):
        return False
    try:
        extra = object.__getattribute__(obj, "__pydantic_extra__")
    except AttributeError:
        extra = None
    return not (extra and key in extra)


def _class_lacks_key(kind: type, key: str) -> bool:
    pydantic_main = sys.modules.get("pydantic.main")
    if pydantic_main is None or not issubclass(kind, pydantic_main.BaseModel):
        return False
    lookup: Any = kind.__getattribute__
    if (
        getattr(kind, "__getattr__", None) is not pydantic_main.BaseModel.__getattr__
        or lookup is not object.__getattribute__
    ):
        return False
    if any(key in cls.__dict__ for cls in kind.__mro__):
        return False
    private = getattr(kind, "__private_attributes__", None)
    return isinstance(private, dict) and key not in private


def _get(obj: Any, key: str) -> Any:
    if is_mapping(obj):
        return obj.get(key)
    if model_lacks(obj, key):
        return None
    try:
        return getattr(obj, key, None)
    except Exception:  # a property that raises is "not visible"
        return None


def provider_of_response(result: Any) -> str | None:
    """The provider a response reveals: its type's module, else OpenAI-only fields
    (``object`` of the chat/completions API with ``system_fingerprint`` or ``choices``)."""
    found = provider_of_type(result)
    if found is not None:
        return found
    kind = _get(result, "object")
    if (
        isinstance(kind, str)
        and kind in _OPENAI_OBJECTS
        and (_get(result, "system_fingerprint") is not None or _get(result, "choices") is not None)
    ):
        return names.PROVIDER_OPENAI
    if _get(result, "type") == "message" and _get(result, "stop_reason") is not None:
        return names.PROVIDER_ANTHROPIC  # the Messages API's shape
    return None


def client_of(arguments: Mapping[str, Any], instance: Any) -> Any:
    """The SDK client a call was given: a client-like argument, else the bound instance's
    ``client`` attribute (a wrapper class holding one)."""
    for key in _CLIENT_ARGS:
        found = arguments.get(key)
        if found is not None and provider_of_type(found) is not None:
            return found
    if instance is not None:
        for key in _CLIENT_ARGS:
            found = _get(instance, key)
            if found is not None and provider_of_type(found) is not None:
                return found
        if provider_of_type(instance) is not None:
            return instance
    return None


def server_of(client: Any) -> tuple[str, int] | None:
    """``(server.address, server.port)`` from a client's ``base_url`` where visible."""
    base = _get(client, "base_url")
    if base is None:
        base = _get(_get(client, "_client"), "base_url")  # cohere/anthropic wrappers
    if base is None:
        return None
    immutable = not isinstance(base, str) and _immutable_url(type(base))
    if immutable:  # the same URL object as last time: no str() (~3 us for an httpx.URL)
        entry = _server_by_base.get(id(base))
        if entry is not None and entry[0]() is base:
            return entry[1]
    text = str(base)
    if text in _server_by_url:
        found = _server_by_url[text]
    else:
        found = _parse_server(text)
        if len(_server_by_url) < _TYPE_CACHE_SIZE:
            _server_by_url[text] = found
    if immutable and len(_server_by_base) < _TYPE_CACHE_SIZE:
        key = id(base)
        _server_by_base[key] = (weakref.ref(base, lambda ref: _forget_base(key, ref)), found)
    return found


_server_by_url: dict[str, tuple[str, int] | None] = {}
# id(URL object) -> (weak reference to it, its server): the client's own base_url object,
# never kept alive; only for URL types that cannot change in place (httpx's)
_server_by_base: dict[int, tuple[weakref.ref[Any], tuple[str, int] | None]] = {}
_immutable_url_types: dict[type, bool] = {}


def _immutable_url(kind: type) -> bool:
    known = _immutable_url_types.get(kind)
    if known is None:
        module = (getattr(kind, "__module__", "") or "").split(".")[0]
        known = kind.__name__ == "URL" and module in ("httpx", "httpx2")
        if len(_immutable_url_types) < _TYPE_CACHE_SIZE:
            _immutable_url_types[kind] = known
    return known


def _forget_base(key: int, ref: weakref.ref[Any]) -> None:
    entry = _server_by_base.get(key)
    if entry is not None and entry[0] is ref:
        _server_by_base.pop(key, None)


def _parse_server(base: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(base)
        host = parts.hostname
        if not host:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return host, port


# ---- request parameters ------------------------------------------------------------------
def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value[:16]]
    return None


# (keyword argument, attribute, converter); several spellings map to one attribute, the
# first one present wins (OpenAI, Anthropic, Cohere, Gemini and LangChain spellings)
_REQUEST_PARAMS: Final = (
    ("temperature", names.GEN_AI_REQUEST_TEMPERATURE, _float),
    ("max_tokens", names.GEN_AI_REQUEST_MAX_TOKENS, _int),
    ("max_completion_tokens", names.GEN_AI_REQUEST_MAX_TOKENS, _int),
    ("max_output_tokens", names.GEN_AI_REQUEST_MAX_TOKENS, _int),
    ("top_p", names.GEN_AI_REQUEST_TOP_P, _float),
    ("p", names.GEN_AI_REQUEST_TOP_P, _float),
    ("frequency_penalty", names.GEN_AI_REQUEST_FREQUENCY_PENALTY, _float),
    ("presence_penalty", names.GEN_AI_REQUEST_PRESENCE_PENALTY, _float),
    ("seed", names.GEN_AI_REQUEST_SEED, _int),
    ("stop", names.GEN_AI_REQUEST_STOP_SEQUENCES, _strings),
    ("stop_sequences", names.GEN_AI_REQUEST_STOP_SEQUENCES, _strings),
    ("n", names.GEN_AI_REQUEST_CHOICE_COUNT, _int),
    ("stream", names.GEN_AI_REQUEST_STREAM, lambda v: v if isinstance(v, bool) else None),
)


def _sampling_top_k(value: Any) -> int | float | None:
    """gen_ai.request.top_k: an int in latest (semantic-conventions-genai #217), a double in
    v1.41.0."""
    return _int(value) if _mode == names.SEMCONV_LATEST else _float(value)


_GENERATION_ONLY_TOP_K: Final = (("top_k", names.GEN_AI_REQUEST_TOP_K, _sampling_top_k),)
_GENERATION_PARAMS: Final = _REQUEST_PARAMS + _GENERATION_ONLY_TOP_K
# embeddings: OpenAI's encoding_format ("float", "base64"), a list in the conventions
_EMBEDDING_PARAMS: Final = (
    *_REQUEST_PARAMS,
    ("encoding_format", names.GEN_AI_REQUEST_ENCODING_FORMATS, _strings),
    ("encoding_formats", names.GEN_AI_REQUEST_ENCODING_FORMATS, _strings),
)
_MODEL_ARGS: Final = ("model", "model_name", "model_id", "deployment_name")


def request_attributes(
    arguments: Mapping[str, Any], *, generation: bool, embedding: bool = False
) -> dict[str, AttributeValue]:
    """Request parameters from a call's arguments under the conventions' names.

    ``top_k`` is a sampling parameter only on a generation; on a retrieval it is the
    decorator's ``top_k=`` (read once, at decoration), never guessed from arguments.
    ``encoding_format`` is read on an embedding only. ``choice.count`` is kept only when
    not 1 (the conventions' condition).
    """
    out: dict[str, AttributeValue] = {}
    if not arguments:
        return out
    params = (
        _GENERATION_PARAMS if generation else _EMBEDDING_PARAMS if embedding else _REQUEST_PARAMS
    )
    for key, attribute, convert in params:
        if key not in arguments or attribute in out:
            continue
        value = convert(arguments[key])
        if value is not None:
            out[attribute] = value
    if out.get(names.GEN_AI_REQUEST_CHOICE_COUNT) == 1:
        del out[names.GEN_AI_REQUEST_CHOICE_COUNT]
    return out


def model_argument(arguments: Mapping[str, Any]) -> str | None:
    """The model a call named in its arguments (``model=``), if a non-empty string."""
    for key in _MODEL_ARGS:
        value = arguments.get(key)
        if isinstance(value, str) and value:
            return value
    return None
