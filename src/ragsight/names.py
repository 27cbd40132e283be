"""The telemetry names contract: every span, attribute, metric and event name ragsight emits.

This is the single source of truth. The Collector config, the Prometheus rules and the
Grafana dashboards are written against it, and a stack test proves every series they
query is produced by the SDK. No other module may spell one of these names as a literal.

GenAI names follow the OpenTelemetry semantic conventions v1.41.0; deltas from
semantic-conventions-genai v0.1.0 are used only when ``OTEL_SEMCONV_STABILITY_OPT_IN``
contains ``gen_ai_latest_experimental``. Where no convention exists ragsight uses the
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
SEMCONV_OPT_IN_ENV: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
SEMCONV_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"
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
RAGSIGHT_SIGNAL: Final = "ragsight.signal"  # attribute of ragsight.export.dropped
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
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"  # v1.41.0: retrieval top-k (double)
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # s
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
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

# semantic-conventions-genai v0.1.0 deltas (behind the opt-in)
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"  # replaces gen_ai.request.top_k (int)
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"  # replaces gen_ai.workflow.name

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
OP_RERANK: Final = "rerank"  # no convention: a custom value, allowed by the spec
GenerationOperation = Literal["chat", "text_completion", "generate_content"]
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

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
RAG_RERANK_INPUT_COUNT: Final = "rag.rerank.input.count"
RAG_RERANK_OUTPUT_COUNT: Final = "rag.rerank.output.count"
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

CB_NAME: Final = "resilience.circuit_breaker.name"
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
# content captured with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY/SPAN_AND_EVENT
EVENT_RAG_CONTENT: Final = "rag.content"
EVENT_EXCEPTION: Final = "exception"  # the OTel exception event (its spec name)

# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------
InstrumentKind = Literal[
    "histogram", "counter", "up_down_counter", "observable_gauge", "observable_counter"
]

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
SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
DOCUMENT_COUNT_BUCKETS: Final = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0)
DELAY_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)
OPEN_DURATION_BUCKETS: Final = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class MetricSpec:
    """One instrument of the contract; dashboards and rules are generated and checked from it."""

    name: str
    kind: InstrumentKind
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
GEN_AI_CLIENT_OPERATION_DURATION = MetricSpec(
    "gen_ai.client.operation.duration",
    "histogram",
    "s",
    "GenAI operation duration (semconv).",
    (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
)
GEN_AI_CLIENT_TOKEN_USAGE = MetricSpec(
    "gen_ai.client.token.usage",
    "histogram",
    "{token}",
    "Number of input and output tokens used (semconv).",
    (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_TOKEN_TYPE),
    GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_to_first_chunk",
    "histogram",
    "s",
    "Time from the start of a streamed GenAI operation to its first chunk (semconv).",
    (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, ERROR_TYPE),
    GEN_AI_DURATION_BUCKETS,
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

METRICS: Final[tuple[MetricSpec, ...]] = (
    RAG_OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_TOKEN_USAGE,
    RAG_CACHE_REQUESTS,
    RAG_RETRIEVAL_DOCUMENTS,
    RAG_RETRIEVAL_SCORE,
    RAG_EVALUATION_SCORE,
    RAGSIGHT_INTERNAL_ERRORS,
    RAGSIGHT_EXPORT_DROPPED,
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
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
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
    if spec.unit == "1" and spec.kind == "observable_gauge" and not base.endswith("_ratio"):
        base = f"{base}_ratio"
    if spec.kind in ("counter", "observable_counter"):
        base = f"{base}_total"
    return base
