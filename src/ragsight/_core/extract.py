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

import contextlib
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ragsight._core.semconv import is_mapping, model_lacks, provider_of_type

_SCAN: Final = 1000
_CAPTURED: Final = 20  # documents listed in captured content
_DOC_CONTAINERS: Final = (
    "documents",
    "results",
    "matches",
    "docs",
    "data",
    "hits",
    "points",  # qdrant QueryResponse
    "source_nodes",  # LlamaIndex Response
)
_SCORE_KEYS: Final = ("score", "relevance_score", "similarity", "similarity_score")


@dataclass(slots=True)
class Readout:
    """What could be read from one result (``None`` where nothing was found).

    It holds numbers and short strings only: it waits in the metrics queue until the next
    collection, and must not keep the user's documents alive that long.
    """

    count: int | None = None
    score_kind: str | None = None  # names.SCORE_KINDS, after conversion
    top_score: float | None = None  # 0..1 similarities only
    mean_score: float | None = None
    distance_best: float | None = None
    distance_mean: float | None = None
    unbounded_top: float | None = None
    unbounded_mean: float | None = None
    listed: list[tuple[Any, float | None]] | None = None  # (id, raw score): content only
    dimension: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    response_model: str | None = None
    response_id: str | None = None
    provider: str | None = None  # what a stream's chunks revealed
    finish_reasons: tuple[str, ...] | None = None
    cache_result: str | None = None  # a cache block's hit/miss/error
    time_to_first_chunk: float | None = None  # seconds; streamed generation only
    # seconds between consecutive chunks (one per chunk after the first); streamed generation
    chunk_gaps: Sequence[float] | None = None


def _get(obj: Any, key: str) -> Any:
    if is_mapping(obj):
        return obj.get(key)
    if model_lacks(obj, key):
        return None
    return getattr(obj, key, None)


# numpy (and other array libraries') scalars, recognised once per type without importing
# numpy: a 0-d value with a dtype that converts with float()
_SCALAR_TYPES: dict[type, bool] = {}


def _is_array_scalar(tp: type) -> bool:
    known = _SCALAR_TYPES.get(tp)
    if known is None:
        known = (
            hasattr(tp, "dtype")
            and hasattr(tp, "__float__")
            and hasattr(tp, "item")
            and not issubclass(tp, (str, bytes))
        )
        if len(_SCALAR_TYPES) < 256:
            _SCALAR_TYPES[tp] = known
    return known


def _number(value: Any) -> float | None:
    """A finite float from a Python or array-library number (numpy float32 included)."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, (int, float)):
        if not _is_array_scalar(type(value)) or getattr(value, "shape", ()) != ():
            return None
        item = value.item()
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return None
        value = item
    f = float(value)
    return f if math.isfinite(f) else None


def _flat_numbers(values: Any, limit: int = _SCAN) -> list[float | None]:
    """Numbers of a list, a list of lists, or a 1-/2-d array (bounded)."""
    tolist = getattr(values, "tolist", None)
    if callable(tolist) and isinstance(getattr(values, "shape", None), tuple):
        values = tolist()  # one C-level conversion of an array, float32 -> float
    out: list[float | None] = []
    if not isinstance(values, (list, tuple)):
        return out
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_number(x) for x in v[: limit - len(out)])
        else:
            out.append(_number(v))
        if len(out) >= limit:
            break
    return out


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
    hits = _get(_get(result, "hits"), "hits")  # elasticsearch/opensearch: hits.hits
    if isinstance(hits, (list, tuple)):
        return hits
    return None


def _positional_pair(doc: Any) -> bool:
    """``(document, score)``: a plain 2-tuple, not a named tuple (whose fields say what
    each value is: a ``Row(id, distance)`` holds no score)."""
    return isinstance(doc, tuple) and len(doc) == 2 and not hasattr(type(doc), "_fields")


def score_of(doc: Any) -> float | None:
    """The score of one document: ``(doc, score)``, a score field, ``metadata["score"]``."""
    if _positional_pair(doc):
        return _number(doc[1])
    for key in _SCORE_KEYS:
        found = _number(_get(doc, key))
        if found is not None:
            return found
    meta = _get(doc, "metadata")
    if isinstance(meta, Mapping):
        found = _number(meta.get("score"))
        if found is not None:
            return found
    return _number(_get(doc, "_score")) if isinstance(doc, Mapping) else None


def id_of(doc: Any) -> Any:
    """The id of one document (a LangChain ``Document.id``, a node's ``node_id``, a rerank
    result's ``index`` into the documents it was given, as Cohere's and Voyage's are, ...)."""
    target = doc[0] if _positional_pair(doc) else doc
    for key in ("id", "id_", "node_id", "doc_id", "_id", "index"):
        found = _get(target, key)
        if isinstance(found, (str, int)) and not isinstance(found, bool):
            return found
    node = _get(target, "node")  # LlamaIndex NodeWithScore
    if node is not None and node is not target:
        found = _get(node, "node_id")
        if isinstance(found, str):
            return found
    return None


@dataclass(slots=True)
class Retrieved:
    """One result set as a retriever shape reveals it: how many, their raw scores, and
    what the shape says those scores are (``None``: it does not say)."""

    count: int
    scores: list[float | None]
    ids: list[Any]
    kind: str | None = None


def _columnar(result: Mapping[str, Any]) -> Retrieved | None:
    """chromadb ``QueryResult`` (lists of lists, one per query) or ``GetResult`` (flat)."""
    ids = result.get("ids")
    if not isinstance(ids, (list, tuple)):
        return None
    if ids and all(isinstance(q, (list, tuple)) for q in ids[:_SCAN]):
        count = sum(len(q) for q in ids)
        flat_ids = [i for q in ids for i in q[:_CAPTURED]][:_CAPTURED]
        distances = result.get("distances")
        scores = _flat_numbers(distances) if distances is not None else []
        return Retrieved(count, scores, flat_ids, "distance" if distances is not None else None)
    return Retrieved(len(ids), [], list(ids[:_CAPTURED]))


def _array_pair(result: tuple[Any, ...]) -> Retrieved | None:
    """faiss ``index.search``: ``(distances, ids)`` arrays of shape (queries, k); -1 ids
    mark missing neighbours and are not documents."""
    dist, ids = result
    dshape, ishape = getattr(dist, "shape", None), getattr(ids, "shape", None)
    if not (isinstance(dshape, tuple) and dshape == ishape and len(dshape) in (1, 2)):
        return None
    id_rows = ids.tolist()
    dist_rows = dist.tolist()
    if len(dshape) == 1:
        id_rows, dist_rows = [id_rows], [dist_rows]
    kept_ids: list[Any] = []
    scores: list[float | None] = []
    for id_row, dist_row in zip(id_rows, dist_rows, strict=False):
        for i, d in zip(id_row, dist_row, strict=False):
            if i != -1:
                kept_ids.append(i)
                scores.append(_number(d))
    return Retrieved(len(kept_ids), scores[:_SCAN], kept_ids[:_CAPTURED], "distance")


# a shape whose scores mean what the store's metric makes them mean: qdrant
# ``ScoredPoint``s (similarity or distance by the collection's Distance), LangChain
# ``(Document, score)`` pairs of ``similarity_search_with_score`` (store-defined: chroma's
# are distances), and any other positional ``(x, number)`` pair, whose number no name
# explains (a pgvector ``SELECT id, embedding <=> %s`` row is an id and a distance).
# Undeclared and undetected, such scores are never taken for similarities.
STORE_DEFINED: Final = "store_defined"


def _store_defined(doc: Any) -> bool:
    if isinstance(doc, tuple):
        return _positional_pair(doc)
    if isinstance(doc, Mapping):  # an elasticsearch hit's _score: BM25 or a script's
        return "_score" in doc and not any(k in doc for k in _SCORE_KEYS)
    return type(doc).__name__ == "ScoredPoint"


def _per_query(docs: Sequence[Any]) -> list[Any] | None:
    """The documents of a list of per-query result lists (pymilvus ``search()``'s hits
    per query vector, chromadb's ``query()["documents"]``), flattened; ``None`` when
    ``docs`` is not one (a list of vectors is not documents either)."""
    if not docs or not all(isinstance(q, list) for q in docs[:_SCAN]):
        return None
    flat = [d for q in docs for d in q[:_SCAN]][:_SCAN]
    if flat and _number(flat[0]) is not None:
        return None
    return flat


def _listed(docs: Sequence[Any], count: int | None = None) -> Retrieved:
    scores = [score_of(d) for d in docs[:_SCAN]]
    kind = STORE_DEFINED if docs and _store_defined(docs[0]) else None
    found = len(docs) if count is None else count
    return Retrieved(found, scores, [id_of(d) for d in docs[:_CAPTURED]], kind)


def retrieved_of(result: Any) -> Retrieved | None:
    """The result set inside ``result``, for every retriever shape in docs/readers.md;
    ``None`` when the shape is not one whose documents can be counted for sure."""
    if result is None or isinstance(result, (str, bytes)):
        return None
    if isinstance(result, Mapping) and "ids" in result:
        return _columnar(result)
    if type(result) is tuple and len(result) == 2 and hasattr(result[0], "shape"):
        return _array_pair(result)
    docs = documents_of(result)
    if docs is None:
        return None
    if docs and isinstance(docs[0], list):  # one result list per query
        flat = _per_query(docs)
        if flat is None:
            return None
        return _listed(flat, sum(len(q) for q in docs))
    return _listed(docs)


def _resolved_kind(
    declared: str | None, shape_kind: str | None, scores: list[float], detected: str | None
) -> str:
    """What the scores are: as declared; else, for a store's own result shape, as the
    store's metric says (``detected``) or the shape says; else similarities when every
    one lies in 0..1 and unbounded otherwise (a BM25 7.31 is never a similarity).

    A detected metric applies to the store's own shapes only: a function that turns a
    cosine collection's distances into ``{"score": 1 - d}`` dicts returns similarities.
    A store-defined shape's scores are unbounded until the metric is known: a 0.3 euclid
    distance must not reach the similarity histogram."""
    if declared is not None:
        kind = declared
    elif shape_kind is not None:
        kind = detected or shape_kind
    else:
        kind = "similarity"
    if kind == STORE_DEFINED:
        return "unbounded"
    if kind == "similarity":
        return "similarity" if all(0.0 <= s <= 1.0 for s in scores) else "unbounded"
    return kind


def read_retrieved(
    readout: Readout, found: Retrieved, declared: str | None = None, detected: str | None = None
) -> None:
    """Count and scores of one result set, each score kind to its own fields."""
    readout.count = found.count
    padded = found.scores[: len(found.ids)] + [None] * (len(found.ids) - len(found.scores))
    readout.listed = list(zip(found.ids, padded, strict=True))
    scores = [s for s in found.scores if s is not None]
    if not scores:
        return
    kind = _resolved_kind(declared, found.kind, scores, detected)
    if kind == "cosine_distance":
        readout.distance_best = min(scores)
        readout.distance_mean = sum(scores) / len(scores)
        scores = [min(1.0, max(0.0, 1.0 - d)) for d in scores]
        kind = "similarity"
    readout.score_kind = kind
    if kind == "similarity":
        readout.top_score = max(scores)
        readout.mean_score = sum(scores) / len(scores)
    elif kind == "distance":
        readout.distance_best = min(scores)
        readout.distance_mean = sum(scores) / len(scores)
    else:
        readout.unbounded_top = max(scores)
        readout.unbounded_mean = sum(scores) / len(scores)


def read_documents(readout: Readout, docs: Sequence[Any], declared: str | None = None) -> None:
    read_retrieved(readout, _listed(docs), declared)


def read_scores(readout: Readout, scores: Sequence[Any], declared: str | None = None) -> None:
    values = [v for v in _flat_numbers(scores) if v is not None]
    if values:
        count, listed = readout.count, readout.listed
        read_retrieved(readout, Retrieved(len(values), list(values), []), declared)
        readout.count, readout.listed = count, listed


# ---- score kinds a store reveals (docs/readers.md, "Score kinds") -----------------------
_SPACES: Final = {"cosine": "cosine_distance", "l2": "distance", "ip": "distance"}
# qdrant's Distance: cosine and dot answer a similarity (higher is better; cosine in
# -1..1, dot unbounded), euclid and manhattan a distance (lower is better)
_QDRANT: Final = {
    "Cosine": "similarity",
    "Dot": "unbounded",
    "Euclid": "distance",
    "Manhattan": "distance",
}
_FAISS_INNER_PRODUCT: Final = 0  # faiss.METRIC_INNER_PRODUCT; every other metric is a distance
_RELEVANCE_METHODS: Final = frozenset(
    {"similarity_search_with_relevance_scores", "asimilarity_search_with_relevance_scores"}
)
_qdrant_kinds: weakref.WeakKeyDictionary[Any, dict[str, str | None]] = weakref.WeakKeyDictionary()


def _space_of(obj: Any) -> str | None:
    """A chromadb ``Collection``'s metric (``configuration["hnsw"]["space"]`` or
    ``metadata["hnsw:space"]``): cosine distances convert, l2 and ip are distances."""
    config = getattr(obj, "configuration", None)
    hnsw = config.get("hnsw") if isinstance(config, Mapping) else None
    space = hnsw.get("space") if isinstance(hnsw, Mapping) else None
    if space is None:
        meta = getattr(obj, "metadata", None)
        space = meta.get("hnsw:space") if isinstance(meta, Mapping) else None
    if space is None:
        return "distance"  # chromadb's default space is l2
    return _SPACES.get(space) if isinstance(space, str) else None


def _faiss_kind(index: Any) -> str | None:
    """A faiss index's ``metric_type``: inner product scores are unbounded similarities,
    every other metric (L2, L1, ...) a distance."""
    metric = getattr(index, "metric_type", None)
    if not isinstance(metric, int):
        return None
    return "unbounded" if metric == _FAISS_INNER_PRODUCT else "distance"


def _qdrant_kind(client: Any, names_seen: list[str], using: Any) -> str | None:
    """The distance of the qdrant collection a call names, read from the collection's
    config, only from a local-mode client (``QdrantClient(":memory:")`` or a path),
    where it is an in-process lookup: a remote client would need a request on the
    caller's thread, so there the kind is declared. Cached per client and collection."""
    if type(getattr(client, "_client", None)).__name__ != "QdrantLocal":
        return None
    cached = _qdrant_kinds.get(client)
    if cached is None:
        cached = _qdrant_kinds[client] = {}
    for name in names_seen:
        if name in cached:
            return cached[name]
        if len(cached) >= 64 or not client.collection_exists(name):
            continue
        vectors = client.get_collection(name).config.params.vectors
        if isinstance(vectors, Mapping):  # named vectors: the one ``using=`` names
            chosen = vectors.get(using) if isinstance(using, str) else None
            if chosen is None and len(vectors) == 1:
                chosen = next(iter(vectors.values()))
            vectors = chosen
        distance = getattr(getattr(vectors, "distance", None), "value", None)
        found = _QDRANT.get(distance) if isinstance(distance, str) else None
        cached[name] = found
        return found
    return None


_CHROMA, _FAISS, _QDRANT_CLIENT = "chromadb", "faiss", "qdrant"
# which store a type is (by its module and name; None: none), once per type, bounded
_store_by_type: dict[type, str | None] = {}


def _store_of_type(tp: type) -> str | None:
    try:
        return _store_by_type[tp]
    except KeyError:
        pass
    name, module = tp.__name__, tp.__module__ or ""
    found = None
    if module.startswith("chromadb") and name.endswith("Collection"):
        found = _CHROMA
    elif module.startswith("faiss") and name.startswith("Index"):
        found = _FAISS
    elif module.startswith("qdrant_client") and name == "QdrantClient":
        found = _QDRANT_CLIENT
    if len(_store_by_type) < 1024:
        _store_by_type[tp] = found  # racing threads store the same answer
    return found


def _referenced(fn: Any) -> list[Any]:
    """What a decorated function reads from outside: its closure cells and the globals
    its code names (bounded), where a module-level client or collection usually is."""
    code = getattr(fn, "__code__", None)
    found: list[Any] = []
    cells = getattr(fn, "__closure__", None) or ()
    for cell in cells[:8]:
        with contextlib.suppress(ValueError):  # an empty cell
            found.append(cell.cell_contents)
    module = getattr(fn, "__globals__", None)
    if code is not None and isinstance(module, dict):
        found.extend(module[n] for n in code.co_names[:16] if n in module)
    return found


def _string_constants(fn: Any) -> list[str]:
    code = getattr(fn, "__code__", None)
    consts = code.co_consts if code is not None else ()
    return [c for c in consts[:16] if isinstance(c, str) and 0 < len(c) <= 255]


def score_kind_of_call(
    fn: Any, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> str | None:
    """The score kind the store behind a retrieval call reveals, ``None`` when none does.

    Looked for among the call's arguments, the bound instance and its attributes, and
    what the function reads from its closure and module globals: a chromadb
    ``Collection`` (its space), a faiss index (``metric_type``), a local-mode qdrant
    client with the collection the call names (an argument, ``collection_name=``, or a
    string constant of the function); a LangChain ``VectorStore``'s
    ``similarity_search_with_relevance_scores`` answers 0..1 similarities by contract.
    """
    if getattr(fn, "__name__", None) in _RELEVANCE_METHODS and any(
        k.__name__ == "VectorStore" for k in type(instance).__mro__
    ):
        return "similarity"
    candidates: list[Any] = [*args[:8], *list(kwargs.values())[:8]]
    if instance is not None:
        candidates.append(instance)
        attrs = getattr(instance, "__dict__", None)
        if isinstance(attrs, dict):
            candidates.extend(list(attrs.values())[:16])
    candidates.extend(_referenced(fn))
    for obj in candidates:
        if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
            continue
        store = _store_of_type(type(obj))
        if store is None:
            continue
        if store == _CHROMA:
            found = _space_of(obj)
        elif store == _FAISS:
            found = _faiss_kind(obj)
        else:
            found = _qdrant_kind(obj, _names_seen(fn, candidates, kwargs), kwargs.get("using"))
        if found is not None:
            return found
    return None


def _names_seen(fn: Any, candidates: list[Any], kwargs: Mapping[str, Any]) -> list[str]:
    """The collection names a call may mean: ``collection_name=``, its string arguments
    and attributes, the function's string constants."""
    names_seen = [c for c in candidates if isinstance(c, str) and len(c) <= 255]
    collection = kwargs.get("collection_name")
    if isinstance(collection, str):
        names_seen.insert(0, collection)
    names_seen.extend(_string_constants(fn))
    return names_seen


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
    result = raw_parsed(result)  # embeddings.with_raw_response
    data = _get(result, "data")
    if isinstance(data, (list, tuple)) and data:
        return _vector_length(_get(data[0], "embedding"))
    emb = _get(result, "embeddings")
    if emb is not None and not isinstance(emb, (list, tuple)):  # cohere embeddings by type
        emb = next(
            (v for v in (_get(emb, k) for k in _COHERE_EMBEDDING_TYPES) if v is not None), None
        )
    if isinstance(emb, (list, tuple)) and emb:
        return _vector_length(emb[0]) or _vector_length(_get(emb[0], "values"))
    return None


# cohere's EmbedByTypeResponse: one list of vectors per requested type (``float_`` in the
# Python client, ``float`` on the wire)
_COHERE_EMBEDDING_TYPES: Final = ("float_", "float", "int8", "uint8", "binary", "ubinary")


def _int(value: Any) -> int | None:
    """A non-negative count: an int, an integral float (cohere's token counts are floats:
    ``7.0``) or an array library's integer scalar (a numpy ``int64``)."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, int):
        number = _number(value)
        if number is None or not number.is_integer():
            return None
        value = int(number)
    return value if value >= 0 else None


RAW_RESPONSES: Final = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})


def raw_streamed(result: Any) -> bool:
    """Whether an openai/anthropic raw response wraps a server-sent event stream
    (``LegacyAPIResponse._stream``, ``APIResponse._is_sse_stream``)."""
    return bool(getattr(result, "_stream", False) or getattr(result, "_is_sse_stream", False))


def raw_parsed(result: Any) -> Any:
    """What an openai/anthropic ``with_raw_response`` response (``LegacyAPIResponse``/
    ``APIResponse``) parses to, when it already holds a complete body; else ``result``.

    ``parse()`` is cached by the client, so the caller's own ``parse()`` gets the same
    object; a streamed raw response is left alone (returned.py follows its stream).
    """
    if type(result).__name__ not in RAW_RESPONSES:
        return result
    if raw_streamed(result) or not hasattr(result, "http_response"):
        return result
    if type(result).__name__ == "AsyncAPIResponse":  # parse() is a coroutine: returned.py
        return result
    parse = getattr(result, "parse", None)
    if not callable(parse):
        return result
    parsed = parse()
    return result if hasattr(parsed, "__await__") else parsed


# semantic-conventions-genai docs/gen-ai/anthropic.md: gen_ai.usage.input_tokens MUST be
# input_tokens + cache_read_input_tokens + cache_creation_input_tokens (OpenAI's prompt_tokens
# and the Responses API's input_tokens already include their cached tokens)
_ANTHROPIC_CACHE_TOKENS: Final = ("cache_read_input_tokens", "cache_creation_input_tokens")


def read_usage(readout: Readout, result: Any) -> None:
    """Token usage and response metadata: openai chat completions, Responses and
    embeddings, Anthropic messages, their ``with_raw_response`` wrappers, and what
    :class:`StreamReader` accumulated from a stream."""
    result = raw_parsed(result)
    if isinstance(result, (str, bytes, list, tuple)) or result is None:
        return
    if _llama_response(result):  # the provider's own response, when the LLM kept it
        raw = _get(result, "raw")
        if raw is not None and not _llama_response(raw):
            read_usage(readout, raw)
        return
    usage = _cohere_usage(result) or _get(result, "usage")
    if usage is not None:
        inp = _int(_get(usage, "prompt_tokens"))
        if inp is None:
            inp = _int(_get(usage, "input_tokens"))
            if inp is not None:  # Anthropic's input_tokens exclude the cache (see below)
                inp += sum(_int(_get(usage, key)) or 0 for key in _ANTHROPIC_CACHE_TOKENS)
        out = _int(_get(usage, "completion_tokens"))
        if out is None:
            out = _int(_get(usage, "output_tokens"))
        readout.input_tokens = inp
        readout.output_tokens = out
    elif _langchain_message(readout, result):
        return
    model = _get(result, "model")
    if isinstance(model, str):
        readout.response_model = model
    rid = _get(result, "id")
    if isinstance(rid, str):
        readout.response_id = rid
    if isinstance(result, StreamSummary):
        readout.provider = result.provider
    choices = _get(result, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        reasons = tuple(
            r for r in (_get(c, "finish_reason") for c in choices[:_SCAN]) if isinstance(r, str)
        )
        readout.finish_reasons = reasons or None
        return
    stop = _get(result, "stop_reason")  # Anthropic
    if not isinstance(stop, str):
        stop = _get(result, "finish_reason")  # cohere's chat
    if isinstance(stop, str):
        readout.finish_reasons = (stop,)
        return
    status = response_status(result)
    if status is not None:
        readout.finish_reasons = (status,)


def _cohere_usage(result: Any) -> Any:
    """Cohere's token counts: ``usage.tokens`` (v2 chat; what the model processed) or
    ``billed_units`` (``usage.billed_units``, an embed response's ``meta.billed_units``),
    whose ``input_tokens``/``output_tokens`` read as the others'. ``None`` elsewhere."""
    for holder in (_get(result, "usage"), _get(result, "meta")):
        if holder is None or isinstance(holder, (str, int, float)):
            continue
        for key in ("tokens", "billed_units"):
            found = _get(holder, key)
            if found is not None and (
                _int(_get(found, "input_tokens")) is not None
                or _int(_get(found, "output_tokens")) is not None
            ):
                return found
    return None


_LLAMA_RESPONSES: Final = frozenset({"ChatResponse", "CompletionResponse"})


def _llama_response(obj: Any) -> bool:
    """A LlamaIndex LLM's ``ChatResponse``/``CompletionResponse`` (or a streamed one):
    its ``raw`` is the provider's response or chunk (llama-index-llms-openai keeps the
    ``ChatCompletion``), read as such; ``delta`` is a streamed chunk's text."""
    tp = type(obj)
    return tp.__name__ in _LLAMA_RESPONSES and (tp.__module__ or "").startswith("llama_index")


# LangChain's own run ids (``lc_run--<uuid>``, ``run-<uuid>``) fill ``AIMessage.id`` when
# the provider's response had none: they are not a response id
_LANGCHAIN_RUN_IDS: Final = ("lc_run-", "run-")


def _langchain_id(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith(_LANGCHAIN_RUN_IDS):
        return None
    return value


def _langchain_meta(meta: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(model, finish reason) of a LangChain message's ``response_metadata``: the
    integrations' ``model_name`` (``model`` in older ones) and ``finish_reason``
    (openai-style) or ``stop_reason`` (anthropic-style)."""
    model = meta.get("model_name") or meta.get("model")
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    return (
        model if isinstance(model, str) else None,
        reason if isinstance(reason, str) else None,
    )


def _langchain_message(readout: Readout, result: Any) -> bool:
    """A LangChain ``AIMessage`` (a chat model's ``invoke()``): ``usage_metadata``
    (``input_tokens`` include the cache, by LangChain's contract), ``response_metadata``
    (model, finish reason) and the provider's id. ``False`` when ``result`` is not one."""
    usage = _get(result, "usage_metadata")
    meta = _get(result, "response_metadata")
    if not isinstance(usage, Mapping) and not isinstance(meta, Mapping):
        return False
    if isinstance(usage, Mapping):
        readout.input_tokens = _int(usage.get("input_tokens"))
        readout.output_tokens = _int(usage.get("output_tokens"))
    if isinstance(meta, Mapping):
        model, reason = _langchain_meta(meta)
        if model is not None:
            readout.response_model = model
        if reason is not None:
            readout.finish_reasons = (reason,)
    rid = _langchain_id(_get(result, "id"))
    if rid is not None:
        readout.response_id = rid
    return True


def response_status(result: Any) -> str | None:
    """The Responses API's stop reason: it has no ``finish_reason``; its ``status``
    (``completed``, ``failed``, ``cancelled``) says how it ended, and an ``incomplete``
    response says why in ``incomplete_details.reason`` (``max_output_tokens``,
    ``content_filter``). Provider values, as Anthropic's ``stop_reason`` is kept."""
    if _get(result, "object") != "response":
        return None
    status = _get(result, "status")
    if status == "incomplete":
        reason = _get(_get(result, "incomplete_details"), "reason")
        return reason if isinstance(reason, str) else status
    return status if isinstance(status, str) else None


@dataclass(slots=True)
class StreamSummary:
    """What :class:`StreamReader` read from a stream, in the shape :func:`read_usage`
    reads (numbers and short strings only)."""

    model: str | None = None
    id: str | None = None
    usage: dict[str, int | None] | None = None
    choices: list[dict[str, str]] | None = None
    stop_reason: str | None = None
    provider: str | None = None
    # generated text (and tool calls: ``tool_calls`` of id, name, arguments): capture only
    messages: list[dict[str, Any]] | None = None


class StreamReader:
    """Usage, model, id, finish reasons and provider accumulated chunk by chunk.

    Reads openai ``ChatCompletionChunk``s (usage arrives in a last chunk with empty
    ``choices``: the finish reasons seen before are kept), LangChain ``AIMessageChunk``s,
    ``chat.completions.stream()``
    events (their ``.chunk``), Responses API events (``response.completed``/
    ``incomplete``/``failed`` carry the whole response) and Anthropic stream events
    (``message_start``/``message_delta``). Holds no chunk; with ``text_limit`` (content
    capture on) it also keeps the generated text, at most that many characters per choice.
    """

    __slots__ = (
        "_calls", "_id", "_input", "_limit", "_model", "_output", "_provider", "_reasons",
        "_status", "_texts",
    )  # fmt: skip

    def __init__(self, text_limit: int = 0) -> None:
        self._limit = text_limit
        self._texts: dict[int, list[str]] = {}
        # choice -> tool call index -> [id, name, argument fragments...] (capture only)
        self._calls: dict[int, dict[int, list[str]]] = {}
        self._input: int | None = None
        self._output: int | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._provider: str | None = None
        self._status: str | None = None  # Responses API / Anthropic: one reason
        self._reasons: dict[Any, str] = {}

    def feed(self, item: Any) -> None:
        if isinstance(item, str):  # a generator stage yielding text
            if self._limit:
                self._text(0, item)
            return
        if isinstance(item, bytes) or item is None:
            return
        if _llama_response(item):  # LlamaIndex stream_chat()/stream_complete()
            raw = _get(item, "raw")
            if raw is not None and not _llama_response(raw):
                self.feed(raw)  # the provider's chunk: its usage, reasons and text
            elif self._limit:
                self._text(0, _get(item, "delta"))
            return
        if self._provider is None:
            self._provider = provider_of_type(item)
        chunk = _get(item, "chunk")  # chat.completions.stream() ChunkEvent
        if chunk is not None:
            item = chunk
        kind = _get(item, "type")
        if kind == "AIMessageChunk":  # LangChain chat model .stream()/.astream()
            self._langchain_chunk(item)
            return
        if isinstance(kind, str):
            self._event(kind, item)
            return
        self._response(item)
        choices = _get(item, "choices")
        if isinstance(choices, (list, tuple)):
            for n, choice in enumerate(choices[:_SCAN]):
                reason = _get(choice, "finish_reason")
                index = _get(choice, "index")
                key = index if isinstance(index, int) else n
                if isinstance(reason, str):
                    self._reasons[key] = reason
                if self._limit:
                    delta = _get(choice, "delta")
                    self._text(key, _get(delta, "content"))
                    self._tool_call_deltas(key, _get(delta, "tool_calls"))

    def _tool_call_deltas(self, key: int, deltas: Any) -> None:
        """openai streamed tool calls: the first delta of a call has its id and name,
        the next ones fragments of its arguments (bounded like the text)."""
        if not isinstance(deltas, (list, tuple)):
            return
        calls = self._calls.get(key)
        if calls is None:
            if len(self._calls) >= _CAPTURED:
                return
            calls = self._calls[key] = {}
        for n, delta in enumerate(deltas[:_CAPTURED]):
            index = _get(delta, "index")
            slot = index if isinstance(index, int) else n
            call = calls.get(slot)
            if call is None:
                if len(calls) >= _CAPTURED:
                    continue
                call = calls[slot] = ["", ""]
            function = _get(delta, "function")
            cid, name = _get(delta, "id"), _get(function, "name")
            if isinstance(cid, str):
                call[0] = cid
            if isinstance(name, str):
                call[1] = name
            fragment = _get(function, "arguments")
            if isinstance(fragment, str) and sum(len(p) for p in call[2:]) < self._limit:
                call.append(fragment)

    def _text(self, key: int, text: Any) -> None:
        if not isinstance(text, str) or not text:
            return
        parts = self._texts.get(key)
        if parts is None:
            if len(self._texts) >= _CAPTURED:
                return
            parts = self._texts[key] = []
        if sum(len(p) for p in parts) < self._limit:
            parts.append(text)

    def _response(self, obj: Any) -> None:
        usage = _get(obj, "usage")
        if usage is not None:
            found = Readout()
            read_usage(found, {"usage": usage})
            if found.input_tokens is not None:
                self._input = found.input_tokens
            if found.output_tokens is not None:
                self._output = found.output_tokens
        model, rid = _get(obj, "model"), _get(obj, "id")
        if isinstance(model, str):
            self._model = model
        if isinstance(rid, str):
            self._id = rid

    def _langchain_chunk(self, chunk: Any) -> None:
        """A LangChain ``AIMessageChunk``: usage is spread over chunks (anthropic's input
        tokens on the first, output on the last; openai's on a last one) and summed, as
        LangChain adds chunks; model and finish reason come with ``response_metadata``."""
        usage = _get(chunk, "usage_metadata")
        if isinstance(usage, Mapping):
            inp, out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
            if inp is not None:
                self._input = (self._input or 0) + inp
            if out is not None:
                self._output = (self._output or 0) + out
        meta = _get(chunk, "response_metadata")
        if isinstance(meta, Mapping) and meta:
            model, reason = _langchain_meta(meta)
            if model is not None:
                self._model = model
            if reason is not None:
                self._status = reason
        rid = _langchain_id(_get(chunk, "id"))
        if rid is not None:
            self._id = rid
        if self._limit:
            content = _get(chunk, "content")
            if isinstance(content, str):
                self._text(0, content)
            elif isinstance(content, list):  # content blocks (anthropic-style)
                for block in content[:_SCAN]:
                    if isinstance(block, str):
                        self._text(0, block)
                    elif _get(block, "type") == "text":
                        self._text(0, _get(block, "text"))

    def _event(self, kind: str, event: Any) -> None:
        if kind == "message_start":  # Anthropic: input tokens and the message identity
            self._response(_get(event, "message"))
        elif kind == "message_delta":  # Anthropic: output tokens and the stop reason
            usage = _get(event, "usage")
            out = _int(_get(usage, "output_tokens")) if usage is not None else None
            if out is not None:
                self._output = out
            stop = _get(_get(event, "delta"), "stop_reason")
            if isinstance(stop, str):
                self._status = stop
        elif kind == "content_block_delta":  # Anthropic text, and a tool_use's input
            if self._limit:
                delta = _get(event, "delta")
                if _get(delta, "type") == "input_json_delta":
                    block = _get(event, "index")
                    fragment = _get(delta, "partial_json")
                    self._tool_call_deltas(
                        0, [{"index": block, "function": {"arguments": fragment}}]
                    )
                else:
                    self._text(0, _get(delta, "text"))
        elif kind == "content_block_start":  # Anthropic: a tool_use block's id and name
            block = _get(event, "content_block")
            if self._limit and _get(block, "type") == "tool_use":
                call = {"id": _get(block, "id"), "name": _get(block, "name")}
                self._tool_call_deltas(
                    0, [{"index": _get(event, "index"), **call, "function": call}]
                )
        elif kind == "response.output_text.delta":  # Responses API text
            if self._limit:
                self._text(0, _get(event, "delta"))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            response = _get(event, "response")
            self._response(response)
            self._status = response_status(response) or self._status
        elif kind == "chunk":
            self._response(event)

    def result(self) -> StreamSummary:
        """What was read."""
        out = StreamSummary(model=self._model, id=self._id, provider=self._provider)
        if self._input is not None or self._output is not None:
            out.usage = {"input_tokens": self._input, "output_tokens": self._output}
        if self._reasons:
            out.choices = [
                {"finish_reason": r} for _, r in sorted(self._reasons.items(), key=_index_key)
            ]
        out.stop_reason = self._status
        if self._texts or self._calls:
            out.messages = []
            for key in sorted({*self._texts, *self._calls}):
                message: dict[str, Any] = {
                    "role": "assistant",
                    "content": "".join(self._texts.get(key, ()))[: self._limit],
                }
                calls = self._calls.get(key)
                if calls:
                    message["tool_calls"] = [
                        {"id": c[0], "name": c[1], "arguments": "".join(c[2:])[: self._limit]}
                        for _, c in sorted(calls.items())
                    ]
                out.messages.append(message)
        return out


def _index_key(pair: tuple[Any, str]) -> int:
    return pair[0] if isinstance(pair[0], int) else 0


def apply_hook_output(
    readout: Readout, out: Mapping[str, Any], declared: str | None = None
) -> dict[str, Any]:
    """Merge what a user ``extract`` hook returned; unknown keys become span attributes.

    Recognised keys: ``documents``, ``scores``, ``dimension``, ``input_tokens``,
    ``output_tokens``, ``response_model``; any other key (e.g. a names.* attribute) is
    returned to be set on the span as is.
    """
    extra: dict[str, Any] = {}
    for key, value in out.items():
        if key == "documents" and isinstance(value, (list, tuple)):
            read_documents(readout, value, declared)
        elif key == "scores" and (isinstance(value, (list, tuple)) or hasattr(value, "shape")):
            read_scores(readout, value, declared)
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
