"""The telemetry names contract: every span, attribute, metric and event name ragsight emits.

This is the single source of truth. The Collector config, the Prometheus rules and the
Grafana dashboards are written against it, and a stack test proves every series they
query is produced by the SDK. No other module may spell one of these names as a literal.

GenAI names follow the latest conventions by default; ``semconv="v1.41.0"`` pins the names
of that release. ``CONVENTIONS`` (end of this module) says per name which version and file
defines it, what it was called before and what each mode emits; docs/conventions.md is
generated from it (``python -m ragsight.names``). Where no convention exists ragsight uses the
``rag.*`` and ``resilience.*`` namespaces, reusing the attribute names proposed in
semantic-conventions #2355 where they fit so that a later migration is a rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# --------------------------------------------------------------------------------------
# Instrumentation scope
# --------------------------------------------------------------------------------------
SCOPE_NAME: Final = "ragsight"
# conventions generations (config key ``semconv``, env RAGSIGHT_SEMCONV)
SEMCONV_LATEST: Final = "latest"
SEMCONV_V1_41: Final = "v1.41.0"
SEMCONV_MODES: Final = (SEMCONV_LATEST, SEMCONV_V1_41)
# read at import too, so a process that never calls configure() (its own providers,
# capture_telemetry() in tests) emits the mode it names
SEMCONV_ENV: Final = "RAGSIGHT_SEMCONV"
# schema_url of every ragsight scope per mode. semantic-conventions-genai has no tagged
# release (so no schema of its own); latest names the newest core schema, 1.44.0, which
# still carries the gen_ai.* names (deprecated there as "moved")
SCHEMA_URLS: Final = {
    SEMCONV_LATEST: "https://opentelemetry.io/schemas/1.44.0",
    SEMCONV_V1_41: "https://opentelemetry.io/schemas/1.41.0",
}
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# --------------------------------------------------------------------------------------
# General semconv attributes
# --------------------------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_OTHER: Final = "_OTHER"
VALUE_OTHER: Final = "_OTHER"  # any metric label past its distinct-value cap (same spelling)
ERROR_TYPE_CANCELLED: Final = "cancelled"  # asyncio cancellation: span status stays UNSET
EXCEPTION_MESSAGE: Final = "exception.message"  # overridden with a redacted copy
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"  # overridden with a redacted copy
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
CODE_FUNCTION_NAME: Final = "code.function.name"
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
EXCEPTION_TYPE: Final = "exception.type"
RAGSIGHT_SIGNAL: Final = "ragsight.signal"  # of ragsight.export.dropped/spooled/replayed
SERVICE_NAME: Final = "service.name"
SERVICE_VERSION: Final = "service.version"
# One value per process start (a "run"): summary, view and report tell runs apart by it.
SERVICE_INSTANCE_ID: Final = "service.instance.id"
DEPLOYMENT_ENVIRONMENT: Final = "deployment.environment.name"

# --------------------------------------------------------------------------------------
# GenAI semconv attributes (v1.41.0)
# --------------------------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
# sampling top-k: an int in latest; in v1.41.0 a double, also used for retrieval top-k
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"  # latest: retrieval top-k (int)
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # s
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"  # v1.41.0 gen_ai.client.token.usage only
# latest usage counters: required; ragsight reads no per-modality breakdown, so "unknown"
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"  # opt-in content
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"  # opt-in content
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"  # opt-in content
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"  # opt-in content
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"  # opt-in content
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"  # v1.41.0 pipeline name
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

# gen_ai.provider.name well-known values (semantic-conventions-genai model/gen-ai/registry.yaml)
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_AZURE_AI_INFERENCE: Final = "azure.ai.inference"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_COHERE: Final = "cohere"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_GEN_AI: Final = "gcp.gen_ai"
PROVIDER_MISTRAL_AI: Final = "mistral_ai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_X_AI: Final = "x_ai"
PROVIDER_PERPLEXITY: Final = "perplexity"
PROVIDER_IBM_WATSONX_AI: Final = "ibm.watsonx.ai"
PROVIDERS: Final = (
    PROVIDER_OPENAI, PROVIDER_AZURE_OPENAI, PROVIDER_AZURE_AI_INFERENCE, PROVIDER_ANTHROPIC,
    PROVIDER_COHERE, PROVIDER_AWS_BEDROCK, PROVIDER_GCP_VERTEX_AI, PROVIDER_GCP_GEMINI,
    PROVIDER_GCP_GEN_AI, PROVIDER_MISTRAL_AI, PROVIDER_GROQ, PROVIDER_DEEPSEEK, PROVIDER_X_AI,
    PROVIDER_PERPLEXITY, PROVIDER_IBM_WATSONX_AI,
)  # fmt: skip

# Evaluation (event gen_ai.evaluation.result)
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
EVENT_GEN_AI_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"

# gen_ai.operation.name values
OP_RETRIEVAL: Final = "retrieval"
OP_EMBEDDINGS: Final = "embeddings"
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
# no convention yet: the value semantic-conventions-genai #253 (open) proposes; custom
# operation values are allowed (docs/rerank.md)
OP_RERANK: Final = "rerank"
GenerationOperation = Literal["chat", "text_completion", "generate_content"]
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
TOKEN_MODALITY_UNKNOWN: Final = "unknown"

# --------------------------------------------------------------------------------------
# rag.* attributes (no convention exists)
# --------------------------------------------------------------------------------------
RAG_STAGE: Final = "rag.stage"
RAG_OPERATION_NAME: Final = "rag.operation.name"
RAG_CACHE_NAME: Final = "rag.cache.name"
RAG_CACHE_RESULT: Final = "rag.cache.result"
RAG_RETRIEVAL_DOCUMENTS_COUNT: Final = "rag.retrieval.documents.count"
RAG_RETRIEVAL_TOP_SCORE: Final = "rag.retrieval.score.top"
RAG_RETRIEVAL_MEAN_SCORE: Final = "rag.retrieval.score.mean"
# what a retriever's scores mean (SCORE_KINDS): only 0..1 similarities are rag.retrieval.score.*
RAG_RETRIEVAL_SCORE_KIND: Final = "rag.retrieval.score.kind"
RAG_RETRIEVAL_DISTANCE_BEST: Final = "rag.retrieval.distance.best"  # smallest distance
RAG_RETRIEVAL_DISTANCE_MEAN: Final = "rag.retrieval.distance.mean"
RAG_RETRIEVAL_UNBOUNDED_TOP: Final = "rag.retrieval.score.unbounded.top"  # BM25, inner product
RAG_RETRIEVAL_UNBOUNDED_MEAN: Final = "rag.retrieval.score.unbounded.mean"
SCORE_SIMILARITY: Final = "similarity"  # 0..1, higher is better
SCORE_DISTANCE: Final = "distance"  # lower is better, metric unknown: never converted
SCORE_COSINE_DISTANCE: Final = "cosine_distance"  # 0..2; 1 - d is the cosine similarity
SCORE_UNBOUNDED: Final = "unbounded"  # higher is better, any range (BM25, inner product)
SCORE_KINDS: Final = (SCORE_SIMILARITY, SCORE_DISTANCE, SCORE_COSINE_DISTANCE, SCORE_UNBOUNDED)
# Rerank (docs/rerank.md): semantic-conventions-genai #253 (open) proposes
# gen_ai.rerank.candidate.count and gen_ai.rerank.top_n; ragsight mirrors them in rag.* until
# they are accepted, so the migration is a rename. The documents a rerank returns are
# rag.retrieval.documents.count (and its scores rag.retrieval.score.*), as for a retrieval.
RAG_RERANK_CANDIDATE_COUNT: Final = "rag.rerank.candidate.count"  # was rag.rerank.input.count
RAG_RERANK_TOP_N: Final = "rag.rerank.top_n"
RAG_INPUT: Final = "rag.input"  # opt-in content: captured function arguments (JSON)
RAG_OUTPUT: Final = "rag.output"  # opt-in content: captured result (JSON)
RAG_CANCELLED: Final = "rag.cancelled"
RAGSIGHT_COMPONENT: Final = "ragsight.component"  # internal-error metric label

# Attributes that carry user content (captured only on opt-in). The bundled Collector
# deletes them from spans, span events and log records as a second line of defence
# unless RAGSIGHT_COLLECTOR_KEEP_CONTENT=true (collector/otelcol-config.yaml).
CONTENT_ATTRIBUTES: Final = (
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_RETRIEVAL_DOCUMENTS,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    RAG_INPUT,
    RAG_OUTPUT,
)

# rag.stage values
Stage = Literal[
    "pipeline", "retrieval", "embedding", "rerank", "generation", "tool", "cache", "stage"
]
STAGE_PIPELINE: Final = "pipeline"
STAGE_RETRIEVAL: Final = "retrieval"
STAGE_EMBEDDING: Final = "embedding"
STAGE_RERANK: Final = "rerank"
STAGE_GENERATION: Final = "generation"
STAGE_TOOL: Final = "tool"
STAGE_CACHE: Final = "cache"
STAGE_GENERIC: Final = "stage"

# rag.cache.result values
CACHE_HIT: Final = "hit"
CACHE_MISS: Final = "miss"
CACHE_ERROR: Final = "error"

# --------------------------------------------------------------------------------------
# resilience.* attributes (ragsight's own namespace: the conventions define none)
# --------------------------------------------------------------------------------------
RESILIENCE_NAME: Final = "resilience.name"
RESILIENCE_STRATEGY: Final = "resilience.strategy"
STRATEGY_CIRCUIT_BREAKER: Final = "circuit_breaker"
STRATEGY_RETRY: Final = "retry"

CB_STATE: Final = "resilience.circuit_breaker.state"
CB_OUTCOME: Final = "resilience.circuit_breaker.outcome"
CB_FROM_STATE: Final = "resilience.circuit_breaker.from_state"
CB_TO_STATE: Final = "resilience.circuit_breaker.to_state"
CB_REASON: Final = "resilience.circuit_breaker.reason"
CB_PROBE: Final = "resilience.circuit_breaker.probe"
CB_FAILURE_RATE: Final = "resilience.circuit_breaker.failure_rate"
CB_SLOW_CALL_RATE: Final = "resilience.circuit_breaker.slow_call_rate"
CB_WINDOW_CALLS: Final = "resilience.circuit_breaker.window_calls"
CB_CONSECUTIVE_FAILURES: Final = "resilience.circuit_breaker.consecutive_failures"
CB_OPEN_FOR_S: Final = "resilience.circuit_breaker.open_for_s"
CB_REOPENS: Final = "resilience.circuit_breaker.reopens"  # re-openings in one outage
CB_RETRY_AFTER_S: Final = "resilience.circuit_breaker.retry_after_s"
# shared (fleet-wide) state through Redis: whether a component uses the fleet view now
SHARED_MODE: Final = "resilience.shared.mode"
SHARED_MODE_SHARED: Final = "shared"
SHARED_MODE_LOCAL: Final = "local"
SHARED_MODES: Final = (SHARED_MODE_SHARED, SHARED_MODE_LOCAL)

RETRY_ATTEMPT: Final = "resilience.retry.attempt"
RETRY_REASON: Final = "resilience.retry.reason"
RETRY_OUTCOME: Final = "resilience.retry.outcome"
RETRY_STOP_REASON: Final = "resilience.retry.stop_reason"
RETRY_DELAY_S: Final = "resilience.retry.delay_s"
RETRY_DELAY_SOURCE: Final = "resilience.retry.delay_source"
RETRY_ELAPSED_S: Final = "resilience.retry.elapsed_s"

BATCH_SIZE: Final = "resilience.batch.size"
BATCH_SUCCEEDED: Final = "resilience.batch.succeeded"
BATCH_FAILED: Final = "resilience.batch.failed"
BATCH_SKIPPED: Final = "resilience.batch.skipped"
BATCH_OUTCOME: Final = "resilience.batch.outcome"
BATCH_DOCUMENT_INDEX: Final = "resilience.batch.document.index"
BATCH_DOCUMENT_SPANS: Final = "resilience.batch.document_spans"  # documents with a span
SPAN_BATCH: Final = "process_documents"  # the batch span: "process_documents {name}"
SPAN_BATCH_DOCUMENT: Final = "document"  # one child span per document, up to a limit

# breaker states
CB_STATE_CLOSED: Final = "closed"
CB_STATE_OPEN: Final = "open"
CB_STATE_HALF_OPEN: Final = "half_open"
CB_STATE_FORCED_OPEN: Final = "forced_open"
CB_STATE_DISABLED: Final = "disabled"
CB_STATE_METRICS_ONLY: Final = "metrics_only"
CB_STATES: Final = (
    CB_STATE_CLOSED,
    CB_STATE_OPEN,
    CB_STATE_HALF_OPEN,
    CB_STATE_FORCED_OPEN,
    CB_STATE_DISABLED,
    CB_STATE_METRICS_ONLY,
)
# breaker call outcomes
CB_OUTCOMES: Final = (
    "success",
    "failure",
    "slow_success",
    "slow_failure",
    "ignored",
    "rejected",
    "cancelled",
)
# breaker transition reasons
CB_REASONS: Final = (
    "failure_rate",
    "slow_call_rate",
    "consecutive_failures",
    "probe_failed",
    "probe_succeeded",
    "probe_timeout",
    "manual",
    "retry_after",
    "open_elapsed",
    "fleet",  # the fleet's shared view tripped (RedisState)
)
RETRY_OUTCOMES: Final = (
    "success_first_attempt",
    "success_after_retry",
    "failed_after_retry",
    "failed_no_retry",
)
RETRY_STOP_REASONS: Final = (
    "attempts_exhausted",
    "deadline",
    "budget_exhausted",
    "non_retryable",
    "circuit_open",
    "retry_after_exceeds_deadline",
    "not_idempotent",
    "stream_started",
)
RETRY_REASONS: Final = ("exception", "result", "throttled", "timeout")
RETRY_DELAY_SOURCES: Final = ("backoff", "retry_after")
BATCH_OUTCOMES: Final = ("succeeded", "failed", "skipped")

# --------------------------------------------------------------------------------------
# Span and log event names
# --------------------------------------------------------------------------------------
EVENT_CB_STATE_CHANGED: Final = "resilience.circuit_breaker.state_changed"
EVENT_CB_CALL_REJECTED: Final = "resilience.circuit_breaker.call_rejected"
EVENT_RETRY_SCHEDULED: Final = "resilience.retry.scheduled"
EVENT_RETRY_GAVE_UP: Final = "resilience.retry.gave_up"
EVENT_RETRY_NESTED: Final = "resilience.retry.nested"
EVENT_BATCH_ITEM_FAILED: Final = "resilience.batch.item_failed"
EVENT_CACHE_LOOKUP: Final = "rag.cache.lookup"
# Content captured with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY or
# SPAN_AND_EVENT, as Logs-API events with structured (AnyValue) attributes: the conventions'
# details event for inference stages, ragsight's own for retrieval stages (the conventions
# define no retrieval event; it carries the retrieval span's opt-in gen_ai.retrieval.*
# attributes) and for others.
EVENT_GEN_AI_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
EVENT_RAG_RETRIEVAL_DETAILS: Final = "rag.retrieval.operation.details"
EVENT_RAG_CONTENT: Final = "rag.content"  # rag.input / rag.output of any other stage
# A failed GenAI client stage (generation, embedding, retrieval, rerank): a Logs-API event at
# WARN parented to the failed span, with the redacted exception.* of its span event. Never
# mirrored: the span already has the SDK's exception span event with the same attributes.
EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION: Final = "gen_ai.client.operation.exception"
# Logs-API events (every EVENT_* above but the exceptions) may be mirrored as span events on
# the span they belong to, for backends that show span events only (config events.span_events)
SPAN_EVENTS_MIRROR: Final = "mirror"
SPAN_EVENTS_OFF: Final = "off"
SPAN_EVENTS_MODES: Final = (SPAN_EVENTS_MIRROR, SPAN_EVENTS_OFF)
EVENT_EXCEPTION: Final = "exception"  # the OTel exception event (its spec name)

# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------
InstrumentType = Literal[
    "histogram", "counter", "up_down_counter", "observable_gauge", "observable_counter"
]

# The SDK's default metric export interval: the resolution of every exported series, so
# the generated dashboards and rules size their rate windows from it.
METRIC_EXPORT_INTERVAL_SECONDS: Final = 60.0

# Explicit buckets: the SDK defaults are sized for milliseconds.
STAGE_DURATION_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
GEN_AI_DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
GEN_AI_TOKEN_BUCKETS: Final = tuple(float(4**i) for i in range(14))  # 1 .. 67108864
# gen_ai.invoke_workflow.duration: opentelemetry-util-genai 1.3b0 _instruments.py
GEN_AI_WORKFLOW_DURATION_BUCKETS: Final = (
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip
SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
DISTANCE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 100.0)
UNBOUNDED_SCORE_BUCKETS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)
DOCUMENT_COUNT_BUCKETS: Final = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0)
DELAY_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)
OPEN_DURATION_BUCKETS: Final = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class MetricSpec:
    """One instrument of the contract; dashboards and rules are generated and checked from it."""

    name: str
    instrument: InstrumentType
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None


RAG_OPERATION_DURATION = MetricSpec(
    "rag.operation.duration",
    "histogram",
    "s",
    "Duration of a RAG pipeline stage; error.type on failed calls makes error rate derivable.",
    (RAG_STAGE, RAG_OPERATION_NAME, ERROR_TYPE),
    STAGE_DURATION_BUCKETS,
)
# GenAI metrics. Which ones a process emits depends on its conventions mode
# (METRICS_BY_MODE below): never both generations at once, there is no dual-emit option.
_GENAI_METRIC_ATTRS: Final = (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    SERVER_ADDRESS,  # from the client's base URL, where visible
    SERVER_PORT,
)
GEN_AI_CLIENT_OPERATION_DURATION = MetricSpec(
    "gen_ai.client.operation.duration",
    "histogram",
    "s",
    "GenAI operation duration (semconv): every GenAI client stage in v1.41.0, retrieval and "
    "rerank in latest (inference and embeddings have their own metrics there).",
    (*_GENAI_METRIC_ATTRS, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_TOKEN_USAGE = MetricSpec(
    "gen_ai.client.token.usage",
    "histogram",
    "{token}",
    "Number of input and output tokens used (semconv v1.41.0; replaced in latest).",
    (*_GENAI_METRIC_ATTRS, GEN_AI_TOKEN_TYPE),
    GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_to_first_chunk",
    "histogram",
    "s",
    "Time from the start of a streamed GenAI operation to its first chunk (semconv v1.41.0).",
    _GENAI_METRIC_ATTRS,  # no error.type: the first chunk arrived (as util-genai records it)
    GEN_AI_DURATION_BUCKETS,
)
# one point per chunk after the first: the time since the previous chunk arrived (both
# generations; the same advisory buckets as time to first chunk)
GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_per_output_chunk",
    "histogram",
    "s",
    "Time between consecutive chunks of a streamed GenAI operation, one point per chunk "
    "after the first (semconv v1.41.0).",
    _GENAI_METRIC_ATTRS,
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_INFERENCE_DURATION = MetricSpec(
    "gen_ai.client.inference.duration",
    "histogram",
    "s",
    "GenAI client inference (chat, text_completion, generate_content) duration (semconv).",
    (*_GENAI_METRIC_ATTRS, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai.client.inference.time_to_first_chunk",
    "histogram",
    "s",
    "Time from issuing a streamed inference request to its first chunk (semconv).",
    _GENAI_METRIC_ATTRS,  # no error.type in client-inference.md: the first chunk arrived
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK = MetricSpec(
    "gen_ai.client.inference.time_per_output_chunk",
    "histogram",
    "s",
    "Time between consecutive chunks of a streamed inference, one point per chunk after the "
    "first (semconv).",
    _GENAI_METRIC_ATTRS,  # client-inference.md lists no error.type for it
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS = MetricSpec(
    "gen_ai.client.inference.usage.input_tokens",
    "counter",
    "{token}",
    "Input tokens used by inference operations, 0 when a call reported none (semconv).",
    (*_GENAI_METRIC_ATTRS, GEN_AI_TOKEN_MODALITY),
)
GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS = MetricSpec(
    "gen_ai.client.inference.usage.output_tokens",
    "counter",
    "{token}",
    "Output tokens used by inference operations, 0 when a call reported none (semconv).",
    (*_GENAI_METRIC_ATTRS, GEN_AI_TOKEN_MODALITY),
)
GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS = MetricSpec(
    "gen_ai.client.inference.operation.input_tokens",
    "histogram",
    "{token}",
    "Input tokens per inference operation that reported usage, for percentiles (semconv).",
    (*_GENAI_METRIC_ATTRS, ERROR_TYPE),
    GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS = MetricSpec(
    "gen_ai.client.inference.operation.output_tokens",
    "histogram",
    "{token}",
    "Output tokens per inference operation that reported usage, for percentiles (semconv).",
    (*_GENAI_METRIC_ATTRS, ERROR_TYPE),
    GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_CLIENT_EMBEDDINGS_DURATION = MetricSpec(
    "gen_ai.client.embeddings.duration",
    "histogram",
    "s",
    "GenAI client embeddings operation duration (semconv).",
    (*_GENAI_METRIC_ATTRS, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS = MetricSpec(
    "gen_ai.client.embeddings.operation.input_tokens",
    "histogram",
    "{token}",
    "Input tokens per embeddings operation that reported usage (semconv).",
    _GENAI_METRIC_ATTRS,
    GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_EXECUTE_TOOL_DURATION = MetricSpec(
    "gen_ai.execute_tool.duration",
    "histogram",
    "s",
    "Duration of one tool execution (@ragsight.tool) (semconv).",
    (GEN_AI_TOOL_NAME, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_INVOKE_WORKFLOW_DURATION = MetricSpec(
    "gen_ai.invoke_workflow.duration",
    "histogram",
    "s",
    "Duration of one workflow (@ragsight.pipeline) run (semconv; coarse buckets: the "
    "stage-level rag.operation.duration has the fine ones).",
    (GEN_AI_WORKFLOW_NAME, ERROR_TYPE),
    GEN_AI_WORKFLOW_DURATION_BUCKETS,
)
RAG_CACHE_REQUESTS = MetricSpec(
    "rag.cache.requests",
    "counter",
    "{request}",
    "Cache lookups by result (hit, miss, error).",
    (RAG_CACHE_NAME, RAG_CACHE_RESULT),
)
RAG_RETRIEVAL_DOCUMENTS = MetricSpec(
    "rag.retrieval.documents",
    "histogram",
    "{document}",
    "Number of documents a retrieval or rerank stage returned.",
    (RAG_STAGE, RAG_OPERATION_NAME),
    DOCUMENT_COUNT_BUCKETS,
)
RAG_RETRIEVAL_SCORE = MetricSpec(
    "rag.retrieval.score",
    "histogram",
    "1",
    "Top relevance score of each retrieval or rerank result set (0..1).",
    (RAG_STAGE, RAG_OPERATION_NAME),
    SCORE_BUCKETS,
)
RAG_RETRIEVAL_DISTANCE = MetricSpec(
    "rag.retrieval.distance",
    "histogram",
    "1",
    "Smallest distance of each result set whose metric is not known to convert (L2, ...).",
    (RAG_STAGE, RAG_OPERATION_NAME),
    DISTANCE_BUCKETS,
)
RAG_RETRIEVAL_SCORE_UNBOUNDED = MetricSpec(
    "rag.retrieval.score.unbounded",
    "histogram",
    "1",
    "Top score of each result set scored on an open scale (BM25, inner product).",
    (RAG_STAGE, RAG_OPERATION_NAME),
    UNBOUNDED_SCORE_BUCKETS,
)
RAG_EVALUATION_SCORE = MetricSpec(
    "rag.evaluation.score",
    "histogram",
    "1",
    "Evaluation scores (0..1) recorded with record_evaluation(); alertable.",
    (GEN_AI_EVALUATION_NAME, GEN_AI_EVALUATION_SCORE_LABEL),
    SCORE_BUCKETS,
)
RAGSIGHT_INTERNAL_ERRORS = MetricSpec(
    "ragsight.internal.errors",
    "observable_counter",
    "{error}",
    "Errors inside ragsight's own code, caught so the application never sees them.",
    (RAGSIGHT_COMPONENT,),
)
RAGSIGHT_EXPORT_DROPPED = MetricSpec(
    "ragsight.export.dropped",
    "observable_counter",
    "{item}",
    "Telemetry items dropped because a queue was full or the exporter failed.",
    (RAGSIGHT_SIGNAL,),
)
RAGSIGHT_EXPORT_SPOOLED = MetricSpec(
    "ragsight.export.spooled",
    "observable_counter",
    "{item}",
    "Telemetry items written to the outage spool (spool.enabled) because the collector could "
    "not take them; 0 while the spool is off.",
    (RAGSIGHT_SIGNAL,),
)
RAGSIGHT_EXPORT_REPLAYED = MetricSpec(
    "ragsight.export.replayed",
    "observable_counter",
    "{item}",
    "Telemetry items sent from the outage spool once the collector answered again "
    "(spooled - replayed - what the spool dropped = what waits on disk).",
    (RAGSIGHT_SIGNAL,),
)

CB_STATE_METRIC = MetricSpec(
    "resilience.circuit_breaker.state",
    "observable_gauge",
    "{state}",
    "1 for the breaker's current state, 0 for the others.",
    (RESILIENCE_NAME, CB_STATE),
)
CB_CALLS = MetricSpec(
    "resilience.circuit_breaker.calls",
    "observable_counter",
    "{call}",
    "Calls through a breaker by outcome, counted in plain integers and read at collection.",
    (RESILIENCE_NAME, CB_OUTCOME),
)
CB_TRANSITIONS = MetricSpec(
    "resilience.circuit_breaker.transitions",
    "counter",
    "{transition}",
    "Breaker state transitions.",
    (RESILIENCE_NAME, CB_FROM_STATE, CB_TO_STATE, CB_REASON),
)
CB_FAILURE_RATIO = MetricSpec(
    "resilience.circuit_breaker.failure.ratio",
    "observable_gauge",
    "1",
    "Failure rate over the breaker's sliding window (0..1).",
    (RESILIENCE_NAME,),
)
CB_SLOW_CALL_RATIO = MetricSpec(
    "resilience.circuit_breaker.slow_call.ratio",
    "observable_gauge",
    "1",
    "Slow-call rate over the breaker's sliding window (0..1).",
    (RESILIENCE_NAME,),
)
CB_OPEN_DURATION = MetricSpec(
    "resilience.circuit_breaker.open.duration",
    "histogram",
    "s",
    "How long each outage (open period) lasted, recorded on close.",
    (RESILIENCE_NAME,),
    OPEN_DURATION_BUCKETS,
)
RETRY_ATTEMPTS = MetricSpec(
    "resilience.retry.attempts",
    "counter",
    "{attempt}",
    "Retries scheduled.",
    (RESILIENCE_NAME, ERROR_TYPE, RETRY_REASON, RETRY_ATTEMPT),
)
RETRY_CALLS = MetricSpec(
    "resilience.retry.calls",
    "observable_counter",
    "{call}",
    "Calls through a retry policy by outcome.",
    (RESILIENCE_NAME, RETRY_OUTCOME),
)
RETRY_GIVE_UPS = MetricSpec(
    "resilience.retry.give_ups",
    "counter",
    "{call}",
    "Calls a retry policy gave up on, by stop reason.",
    (RESILIENCE_NAME, RETRY_STOP_REASON, ERROR_TYPE),
)
RETRY_DELAY = MetricSpec(
    "resilience.retry.delay",
    "histogram",
    "s",
    "Backoff delays slept before retries.",
    (RESILIENCE_NAME, RETRY_DELAY_SOURCE),
    DELAY_BUCKETS,
)
SHARED_MODE_METRIC = MetricSpec(
    "resilience.shared.mode",
    "observable_gauge",
    "1",
    "1 for the mode a shared breaker or budget runs in now (shared: the fleet view; local).",
    (RESILIENCE_NAME, SHARED_MODE),
)
RETRY_BUDGET_REMAINING = MetricSpec(
    "resilience.retry.budget.remaining",
    "observable_gauge",
    "{retry}",
    "Retries the per-dependency budget still allows.",
    (RESILIENCE_NAME,),
)
RETRY_BUDGET_EXHAUSTED = MetricSpec(
    "resilience.retry.budget.exhausted",
    "counter",
    "{event}",
    "Retries refused because the budget was exhausted.",
    (RESILIENCE_NAME,),
)
BATCH_DOCUMENTS = MetricSpec(
    "resilience.batch.documents",
    "counter",
    "{document}",
    "Documents processed by process_documents, by outcome.",
    (RESILIENCE_NAME, BATCH_OUTCOME),
)

# The GenAI metrics of each conventions mode (semconv setting). The latest conventions
# split gen_ai.client.operation.duration by operation and replaced gen_ai.client.token.usage
# (CONVENTIONS says where each name is defined); a process emits one generation only.
GENAI_METRICS_BY_MODE: Final[dict[str, tuple[MetricSpec, ...]]] = {
    SEMCONV_LATEST: (
        GEN_AI_CLIENT_OPERATION_DURATION,  # retrieval and rerank ("other client operations")
        GEN_AI_CLIENT_INFERENCE_DURATION,
        GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
        GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
        GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
        GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
        GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
        GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
        GEN_AI_CLIENT_EMBEDDINGS_DURATION,
        GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
        GEN_AI_EXECUTE_TOOL_DURATION,
        GEN_AI_INVOKE_WORKFLOW_DURATION,
    ),
    SEMCONV_V1_41: (
        GEN_AI_CLIENT_OPERATION_DURATION,
        GEN_AI_CLIENT_TOKEN_USAGE,
        GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    ),
}
SEMCONV_DEFAULT: Final = SEMCONV_LATEST  # what configure() uses unless semconv= says otherwise

# ragsight's own instruments: the same in every mode
RAGSIGHT_METRICS: Final[tuple[MetricSpec, ...]] = (
    RAG_OPERATION_DURATION,
    RAG_CACHE_REQUESTS,
    RAG_RETRIEVAL_DOCUMENTS,
    RAG_RETRIEVAL_SCORE,
    RAG_RETRIEVAL_DISTANCE,
    RAG_RETRIEVAL_SCORE_UNBOUNDED,
    RAG_EVALUATION_SCORE,
    RAGSIGHT_INTERNAL_ERRORS,
    RAGSIGHT_EXPORT_DROPPED,
    RAGSIGHT_EXPORT_SPOOLED,
    RAGSIGHT_EXPORT_REPLAYED,
    CB_STATE_METRIC,
    CB_CALLS,
    CB_TRANSITIONS,
    CB_FAILURE_RATIO,
    CB_SLOW_CALL_RATIO,
    CB_OPEN_DURATION,
    RETRY_ATTEMPTS,
    RETRY_CALLS,
    RETRY_GIVE_UPS,
    RETRY_DELAY,
    RETRY_BUDGET_REMAINING,
    RETRY_BUDGET_EXHAUSTED,
    BATCH_DOCUMENTS,
)


def metrics_of(mode: str) -> tuple[MetricSpec, ...]:
    """Every instrument a process in conventions ``mode`` emits (the generated stack
    queries ``metrics_of(SEMCONV_DEFAULT)``)."""
    return RAGSIGHT_METRICS + GENAI_METRICS_BY_MODE[mode]


# Every instrument of the contract, in any mode (bucket views, allow-lists)
METRICS: Final[tuple[MetricSpec, ...]] = RAGSIGHT_METRICS + tuple(
    dict.fromkeys(spec for mode in SEMCONV_MODES for spec in GENAI_METRICS_BY_MODE[mode])
)


def prometheus_attribute(name: str) -> str:
    """The Prometheus label an OTel attribute becomes (dots and other symbols to underscores)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def prometheus_name(spec: MetricSpec) -> str:
    """The base Prometheus series name the Collector's prometheus exporter gives ``spec``.

    Rules (contrib translator with metric suffixes on): symbols become ``_``; a unit in
    braces is an annotation and adds nothing; ``s`` adds ``_seconds``; a gauge with unit
    ``1`` ends in ``_ratio`` (added once); monotonic counters end in ``_total``.
    Histograms add ``_bucket``/``_sum``/``_count`` to this base. A stack test checks this
    function against series scraped from a real Prometheus.
    """
    base = prometheus_attribute(spec.name)
    unit_suffix = {"s": "seconds", "By": "bytes", "ms": "milliseconds"}.get(spec.unit, "")
    if unit_suffix and not base.endswith("_" + unit_suffix):
        base = f"{base}_{unit_suffix}"
    if spec.unit == "1" and spec.instrument == "observable_gauge" and not base.endswith("_ratio"):
        base = f"{base}_ratio"
    if spec.instrument in ("counter", "observable_counter"):
        base = f"{base}_total"
    return base


# --------------------------------------------------------------------------------------
# Conformance: per name, where it is defined, what it was before, what each mode emits
# --------------------------------------------------------------------------------------
# Sources, as verified (the GenAI repository has no tagged release: commits are cited)
SRC_CORE: Final = (
    "opentelemetry-semantic-conventions 0.66b1 (core schema 1.44.0), "
    "semconv/_incubating/{attributes/gen_ai_attributes,metrics/gen_ai_metrics}.py"
)
SRC_GENAI_REGISTRY: Final = "semantic-conventions-genai@e8fc575 model/gen-ai/registry.yaml"
# metrics.yaml@004902b (the newest snapshot read) still lists the v1.41.0 client metrics and
# gen_ai.workflow.duration: the model files lag the docs and the migration guide, which
# ragsight follows where they disagree (the rows below say which file defines what)
SRC_GENAI_METRICS: Final = "semantic-conventions-genai@004902b model/gen-ai/metrics.yaml"
SRC_GENAI_MIGRATION: Final = (
    "semantic-conventions-genai@32c328e docs/gen-ai/non-normative/migration.md"
)
SRC_GENAI_INFERENCE: Final = "semantic-conventions-genai@024a4f9 docs/gen-ai/client-inference.md"
SRC_GENAI_TOKENS: Final = (
    "semantic-conventions-genai@066d4a7 model/gen-ai/token-metrics.yaml and "
    "docs/gen-ai/gen-ai-token-metrics.md"
)
SRC_GENAI_EMBEDDINGS: Final = "semantic-conventions-genai@88eccb1 docs/gen-ai/client-embeddings.md"
SRC_V1_41_METRICS: Final = "semantic-conventions v1.41.0 docs/gen-ai/gen-ai-metrics.md"
SRC_UTIL_GENAI: Final = "opentelemetry-util-genai 1.3b0 opentelemetry/util/genai/_instruments.py"
SRC_GENAI_EVENTS: Final = "semantic-conventions-genai@0387091 model/gen-ai/events.yaml"
SRC_GENAI_EXCEPTIONS: Final = (
    "semantic-conventions-genai@2553362 docs/gen-ai/gen-ai-exceptions.md; added to the core "
    "repository by semantic-conventions #3436 in the v1.41.0 cycle (absent from 1.40.0's "
    "generated event constants; the v1.41.0 tag's file itself was not read)"
)
SRC_RAGSIGHT: Final = "ragsight (no convention)"
SRC_GENAI_RERANK_PROPOSAL: Final = "semantic-conventions-genai #253 (open proposal)"
SAME: Final = "="  # a mode emits the name itself


@dataclass(frozen=True)
class Convention:
    """One row of the conformance table (docs/conventions.md is generated from these)."""

    name: str
    kind: Literal["attribute", "metric", "event", "operation", "provider"]
    defined_in: str
    previously: str = ""
    latest: str = SAME  # what ragsight emits in mode latest ("=" the name, "-" nothing)
    v1_41: str = SAME  # ... in mode v1.41.0


_V141: Final = SRC_CORE + "; " + SRC_V1_41_METRICS
_METRIC_CONVENTIONS: Final = (
    Convention(
        GEN_AI_CLIENT_OPERATION_DURATION.name,
        "metric",
        _V141 + "; " + SRC_GENAI_MIGRATION + ": remains for non-inference client operations "
        "and SHOULD NOT be reported for inference (#521)",
        latest="= (retrieval and rerank stages only)",
        v1_41="= (every GenAI client stage)",
    ),
    Convention(
        GEN_AI_CLIENT_INFERENCE_DURATION.name,
        "metric",
        SRC_GENAI_INFERENCE + "; " + SRC_GENAI_MIGRATION + " (#521)",
        f"{GEN_AI_CLIENT_OPERATION_DURATION.name} for chat, text_completion, generate_content",
        v1_41=GEN_AI_CLIENT_OPERATION_DURATION.name,
    ),
    Convention(
        GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name,
        "metric",
        _V141,
        latest=f"- ({GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name})",
    ),
    Convention(
        GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name,
        "metric",
        SRC_GENAI_INFERENCE + "; " + SRC_GENAI_MIGRATION + " (#521)",
        GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name,
        v1_41=GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name,
    ),
    Convention(
        GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name,
        "metric",
        _V141 + "; buckets: " + SRC_UTIL_GENAI,
        "not emitted by ragsight before",
        latest=f"- ({GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name})",
        v1_41="= (streamed generations: one point per chunk after the first)",
    ),
    Convention(
        GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK.name,
        "metric",
        SRC_GENAI_INFERENCE,
        GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name,
        latest="= (streamed generations: one point per chunk after the first)",
        v1_41=GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name,
    ),
    Convention(
        GEN_AI_CLIENT_TOKEN_USAGE.name,
        "metric",
        _V141 + "; " + SRC_GENAI_MIGRATION + ": removed (#374)",
        latest="- (the usage counters and per-operation token histograms below)",
    ),
    *(
        Convention(
            spec.name,
            "metric",
            SRC_GENAI_TOKENS + "; " + SRC_GENAI_MIGRATION + " (#374). "
            "model/gen-ai/usage-metrics.yaml@2f4c6b1 has an older draft of these names",
            previously,
            latest=latest,
            v1_41=f"{GEN_AI_CLIENT_TOKEN_USAGE.name} ({GEN_AI_TOKEN_TYPE}={token_type})",
        )
        for spec, previously, latest, token_type in (
            (
                GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
                f"{GEN_AI_CLIENT_TOKEN_USAGE.name}_sum, {GEN_AI_TOKEN_TYPE}=input",
                "= (counter; 0 for a call that reported no usage)",
                TOKEN_TYPE_INPUT,
            ),
            (
                GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
                f"{GEN_AI_CLIENT_TOKEN_USAGE.name}_sum, {GEN_AI_TOKEN_TYPE}=output",
                "= (counter; 0 for a call that reported no usage)",
                TOKEN_TYPE_OUTPUT,
            ),
            (
                GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                f"{GEN_AI_CLIENT_TOKEN_USAGE.name}, {GEN_AI_TOKEN_TYPE}=input",
                "= (calls that reported usage)",
                TOKEN_TYPE_INPUT,
            ),
            (
                GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
                f"{GEN_AI_CLIENT_TOKEN_USAGE.name}, {GEN_AI_TOKEN_TYPE}=output",
                "= (calls that reported usage)",
                TOKEN_TYPE_OUTPUT,
            ),
        )
    ),
    Convention(
        GEN_AI_CLIENT_EMBEDDINGS_DURATION.name,
        "metric",
        SRC_GENAI_EMBEDDINGS + " (not yet in the migration guide)",
        f"{GEN_AI_CLIENT_OPERATION_DURATION.name} with {GEN_AI_OPERATION_NAME}=embeddings",
        v1_41=GEN_AI_CLIENT_OPERATION_DURATION.name,
    ),
    Convention(
        GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS.name,
        "metric",
        SRC_GENAI_EMBEDDINGS + " (not yet in the migration guide)",
        f"{GEN_AI_CLIENT_TOKEN_USAGE.name} with {GEN_AI_OPERATION_NAME}=embeddings",
        v1_41=f"{GEN_AI_CLIENT_TOKEN_USAGE.name} ({GEN_AI_TOKEN_TYPE}=input)",
    ),
    Convention(
        GEN_AI_EXECUTE_TOOL_DURATION.name,
        "metric",
        SRC_GENAI_METRICS
        + "; "
        + SRC_GENAI_MIGRATION
        + " (#201, #322); buckets: "
        + SRC_UTIL_GENAI,
        "none: new since v1.41.0",
        v1_41="-",
    ),
    Convention(
        GEN_AI_INVOKE_WORKFLOW_DURATION.name,
        "metric",
        SRC_GENAI_MIGRATION + " (#126, #341); name and buckets also " + SRC_UTIL_GENAI,
        "none in v1.41.0; " + SRC_GENAI_METRICS + " still calls it gen_ai.workflow.duration",
        v1_41="-",
    ),
)


def _attr(
    name: str, previously: str = "", src: str = SRC_CORE + "; " + SRC_GENAI_REGISTRY
) -> Convention:
    return Convention(name, "attribute", src, previously)


CONVENTIONS: Final[tuple[Convention, ...]] = (
    _attr(GEN_AI_OPERATION_NAME),
    _attr(
        GEN_AI_PROVIDER_NAME,
        "gen_ai.system (deprecated in core: 'Replaced by gen_ai.provider.name')",
    ),
    _attr(GEN_AI_REQUEST_MODEL),
    _attr(GEN_AI_REQUEST_TEMPERATURE),
    _attr(GEN_AI_REQUEST_MAX_TOKENS),
    _attr(GEN_AI_REQUEST_TOP_P),
    Convention(
        GEN_AI_REQUEST_TOP_K,
        "attribute",
        SRC_CORE + "; " + SRC_GENAI_MIGRATION + ": type double -> int, decoding only (#217)",
        "a double, on retrieval spans too",
        latest="= (int; generation spans only)",
        v1_41="= (double; generation and retrieval spans)",
    ),
    Convention(
        GEN_AI_RETRIEVAL_TOP_K,
        "attribute",
        SRC_GENAI_MIGRATION + ": gen_ai.request.top_k -> gen_ai.retrieval.top_k on "
        "retrieval spans, int (#217); emitted by opentelemetry-util-genai 1.3b0 "
        "opentelemetry/util/genai/_retrieval_invocation.py. registry.yaml@e8fc575 predates it",
        "gen_ai.request.top_k (double)",
        latest="= (int)",
        v1_41=f"{GEN_AI_REQUEST_TOP_K} (double)",
    ),
    _attr(GEN_AI_REQUEST_FREQUENCY_PENALTY),
    _attr(GEN_AI_REQUEST_PRESENCE_PENALTY),
    _attr(GEN_AI_REQUEST_SEED),
    _attr(GEN_AI_REQUEST_STOP_SEQUENCES),
    _attr(GEN_AI_REQUEST_CHOICE_COUNT),
    _attr(GEN_AI_REQUEST_STREAM),
    Convention(
        GEN_AI_REQUEST_ENCODING_FORMATS,
        "attribute",
        SRC_CORE + "; " + SRC_GENAI_REGISTRY,
        latest="= (embeddings: from an encoding_format argument)",
        v1_41="= (embeddings: from an encoding_format argument)",
    ),
    _attr(GEN_AI_RESPONSE_MODEL),
    _attr(GEN_AI_RESPONSE_ID),
    _attr(GEN_AI_RESPONSE_FINISH_REASONS),
    _attr(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
    _attr(GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens (deprecated in core)"),
    _attr(GEN_AI_USAGE_OUTPUT_TOKENS, "gen_ai.usage.completion_tokens (deprecated in core)"),
    Convention(
        GEN_AI_TOKEN_TYPE,
        "attribute",
        SRC_CORE + "; " + SRC_GENAI_REGISTRY,
        latest="- (its metric, gen_ai.client.token.usage, is replaced)",
    ),
    Convention(
        GEN_AI_TOKEN_MODALITY,
        "attribute",
        SRC_GENAI_TOKENS + " (#374)",
        "gen_ai.token.type on gen_ai.client.token.usage",
        latest=f"= ({TOKEN_MODALITY_UNKNOWN}: ragsight reads no per-modality usage)",
        v1_41="-",
    ),
    _attr(GEN_AI_DATA_SOURCE_ID),
    _attr(GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
    _attr(GEN_AI_RETRIEVAL_QUERY_TEXT),
    _attr(GEN_AI_RETRIEVAL_DOCUMENTS),
    _attr(GEN_AI_INPUT_MESSAGES, "gen_ai.prompt (deprecated in core)"),
    _attr(GEN_AI_OUTPUT_MESSAGES, "gen_ai.completion (deprecated in core)"),
    _attr(GEN_AI_SYSTEM_INSTRUCTIONS),
    _attr(
        GEN_AI_WORKFLOW_NAME,
        "ragsight's old opt-in put gen_ai.agent.name on invoke_workflow; the registry keeps "
        "gen_ai.workflow.name there",
    ),
    _attr(GEN_AI_TOOL_NAME),
    Convention(
        GEN_AI_CONVERSATION_ID,
        "attribute",
        SRC_CORE + "; " + SRC_GENAI_REGISTRY,
        latest="- (ragsight infers none; set it with attributes= or set_attribute)",
        v1_41="- (ragsight infers none; set it with attributes= or set_attribute)",
    ),
    _attr(GEN_AI_EVALUATION_NAME),
    _attr(GEN_AI_EVALUATION_SCORE_VALUE),
    _attr(GEN_AI_EVALUATION_SCORE_LABEL),
    _attr(GEN_AI_EVALUATION_EXPLANATION),
    *(
        Convention(op, "operation", SRC_CORE + "; " + SRC_GENAI_REGISTRY)
        for op in (
            OP_RETRIEVAL,
            OP_EMBEDDINGS,
            OP_CHAT,
            OP_TEXT_COMPLETION,
            OP_GENERATE_CONTENT,
            OP_EXECUTE_TOOL,
            OP_INVOKE_WORKFLOW,
        )
    ),
    Convention(
        OP_RERANK,
        "operation",
        SRC_RAGSIGHT + ": " + SRC_GENAI_RERANK_PROPOSAL + " proposes it; custom values are "
        "allowed by gen_ai.operation.name (docs/rerank.md)",
    ),
    Convention(
        RAG_RERANK_CANDIDATE_COUNT,
        "attribute",
        SRC_RAGSIGHT + ": mirrors gen_ai.rerank.candidate.count of " + SRC_GENAI_RERANK_PROPOSAL,
        "rag.rerank.input.count",
    ),
    Convention(
        RAG_RERANK_TOP_N,
        "attribute",
        SRC_RAGSIGHT + ": mirrors gen_ai.rerank.top_n of " + SRC_GENAI_RERANK_PROPOSAL,
    ),
    *(Convention(p, "provider", SRC_CORE + "; " + SRC_GENAI_REGISTRY) for p in PROVIDERS),
    *_METRIC_CONVENTIONS,
    Convention(
        EVENT_GEN_AI_EVALUATION_RESULT,
        "event",
        SRC_GENAI_EVENTS + " (the core Python package generates no event constants)",
        "ragsight emitted it as a span event on the current span; now a Logs-API event "
        "parented to the judged span (mirrored as a span event unless events.span_events=off)",
    ),
    Convention(
        EVENT_GEN_AI_INFERENCE_DETAILS,
        "event",
        SRC_GENAI_EVENTS + " (the core Python package generates no event constants)",
        "ragsight's rag.content span event with JSON strings; now a Logs-API event with "
        "structured gen_ai.input.messages / output.messages / system_instructions",
    ),
    Convention(
        EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION,
        "event",
        SRC_GENAI_EXCEPTIONS + "; also " + SRC_GENAI_EVENTS,
        "only the SDK's exception span event on the failed span (still recorded)",
        latest="= (failed generation, embedding, retrieval, rerank: WARN, parented to the "
        "failed span, redacted exception.*; never mirrored)",
        v1_41="= (as latest)",
    ),
)


def conformance_markdown() -> str:
    """docs/conventions.md: the CONVENTIONS table as Markdown (a test keeps it current)."""
    lines = [
        "# GenAI conventions: what ragsight emits",
        "",
        "Generated from `ragsight.names.CONVENTIONS` by `python -m ragsight.names`; do not "
        "edit by hand (tests/unit/core/test_conventions_doc.py fails when it is stale).",
        "",
        f"Modes: `semconv={SEMCONV_LATEST}` (default) and `semconv={SEMCONV_V1_41}` "
        "(config key `semconv`, env `RAGSIGHT_SEMCONV`). Schema URLs: "
        + ", ".join(f"{m} -> `{u}`" for m, u in SCHEMA_URLS.items())
        + ". `=` means the name itself is emitted, `-` nothing.",
        "",
        "| name | kind | defined in | previously | latest | v1.41.0 |",
        "|---|---|---|---|---|---|",
    ]
    for c in CONVENTIONS:
        cells = (f"`{c.name}`", c.kind, c.defined_in, c.previously, c.latest, c.v1_41)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m ragsight.names > docs/conventions.md
    print(conformance_markdown(), end="")
