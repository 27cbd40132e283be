"""Generate the bundled stack's Collector config, Prometheus rules and Grafana dashboards.

Every metric, label and attribute name in those files comes from ``ragsight.names``
(``prometheus_name()``/``prometheus_attribute()`` for the Prometheus side), so a rename in
the names contract changes the shipped files in the same commit. ``tests/unit/stack``
fails when the committed files differ from what this script produces, and the stack
tier proves every generated query against a real Collector and Prometheus.

    ragsight stack generate          # rewrite the files (python -m ragsight works too)
    ragsight stack generate --check  # exit 1 and list the files that are stale

The rules are built from a ``RuleProfile`` so that the end-to-end tests can derive a
fast copy (short windows and ``for:``) from the very same expressions as production.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ragsight import names as n
from ragsight.names import prometheus_attribute as label
from ragsight.names import prometheus_name as series

# The source checkout (src/ragsight/_stack/generator.py -> the repository root).
ROOT = Path(__file__).resolve().parents[3]

PINNED_COLLECTOR_VERSION = "0.158.0"

# The Collector's own telemetry (service.telemetry), scraped from its :8888 endpoint. These
# are the Collector's names, not the SDK's; a stack test checks them on the real binary.
# The span exporter's failures are the ones the stack tier provokes for real to prove the
# name (metrics are pulled; the log exporter's failures are counted as log records).
OTELCOL_EXPORTER_SEND_FAILED = ("otelcol_exporter_send_failed_spans_total",)
# Spans dropped because the sending queue is full (backend down, retries holding the queue):
# counted at once, while send_failed only counts after retrying for minutes.
OTELCOL_EXPORTER_ENQUEUE_FAILED = ("otelcol_exporter_enqueue_failed_spans_total",)
# Log records the log store (VictoriaLogs) refused, after retries.
OTELCOL_LOG_EXPORTER_SEND_FAILED = ("otelcol_exporter_send_failed_log_records_total",)
OTELCOL_RECEIVER_REFUSED = (
    "otelcol_receiver_refused_spans_total",
    "otelcol_receiver_refused_metric_points_total",
    "otelcol_receiver_refused_log_records_total",
)

# Prometheus labels used below.
SVC = label(n.SERVICE_NAME)
STAGE = label(n.RAG_STAGE)
OPERATION = label(n.RAG_OPERATION_NAME)
ERROR = label(n.ERROR_TYPE)
CACHE = label(n.RAG_CACHE_NAME)
CACHE_RESULT = label(n.RAG_CACHE_RESULT)
RES_NAME = label(n.RESILIENCE_NAME)
CB_STATE = label(n.CB_STATE)
CB_OUTCOME = label(n.CB_OUTCOME)
CB_TO = label(n.CB_TO_STATE)
RETRY_REASON = label(n.RETRY_REASON)
RETRY_OUTCOME = label(n.RETRY_OUTCOME)
RETRY_STOP = label(n.RETRY_STOP_REASON)
EVAL_NAME = label(n.GEN_AI_EVALUATION_NAME)
TOOL_NAME = label(n.GEN_AI_TOOL_NAME)
WORKFLOW_NAME = label(n.GEN_AI_WORKFLOW_NAME)
MODEL = label(n.GEN_AI_REQUEST_MODEL)
GENAI_OP = label(n.GEN_AI_OPERATION_NAME)
BATCH_OUTCOME = label(n.BATCH_OUTCOME)

# The GenAI series are those of the default conventions mode: a service configured with
# semconv=v1.41.0 exports the v1.41.0 names, which these files do not query.
GENAI_MODE = n.SEMCONV_DEFAULT


def genai_series(spec: n.MetricSpec) -> str:
    """``series(spec)``, after checking the default conventions mode emits ``spec``."""
    if spec not in n.GENAI_METRICS_BY_MODE[GENAI_MODE]:
        raise ValueError(f"{spec.name} is not emitted in conventions mode {GENAI_MODE}")
    return series(spec)


DURATION = series(n.RAG_OPERATION_DURATION)
CACHE_REQUESTS = series(n.RAG_CACHE_REQUESTS)
RETRIEVAL_SCORE = series(n.RAG_RETRIEVAL_SCORE)
RETRIEVAL_DISTANCE = series(n.RAG_RETRIEVAL_DISTANCE)
RETRIEVAL_UNBOUNDED = series(n.RAG_RETRIEVAL_SCORE_UNBOUNDED)
RETRIEVAL_DOCS = series(n.RAG_RETRIEVAL_DOCUMENTS)
EVAL_SCORE = series(n.RAG_EVALUATION_SCORE)
GENAI_DURATION = genai_series(n.GEN_AI_CLIENT_OPERATION_DURATION)  # retrieval, rerank
INFERENCE_DURATION = genai_series(n.GEN_AI_CLIENT_INFERENCE_DURATION)
EMBEDDINGS_DURATION = genai_series(n.GEN_AI_CLIENT_EMBEDDINGS_DURATION)
GENAI_TTFC = genai_series(n.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK)
GENAI_PER_CHUNK = genai_series(n.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK)
INPUT_TOKENS = genai_series(n.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS)
OUTPUT_TOKENS = genai_series(n.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS)
EMBEDDING_TOKENS = genai_series(n.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS)
TOOL_DURATION = genai_series(n.GEN_AI_EXECUTE_TOOL_DURATION)
WORKFLOW_DURATION = genai_series(n.GEN_AI_INVOKE_WORKFLOW_DURATION)
INTERNAL_ERRORS = series(n.RAGSIGHT_INTERNAL_ERRORS)
EXPORT_DROPPED = series(n.RAGSIGHT_EXPORT_DROPPED)
CB_STATE_SERIES = series(n.CB_STATE_METRIC)
CB_CALLS = series(n.CB_CALLS)
CB_TRANSITIONS = series(n.CB_TRANSITIONS)
CB_FAILURE_RATIO = series(n.CB_FAILURE_RATIO)
CB_OPEN_DURATION = series(n.CB_OPEN_DURATION)
RETRY_ATTEMPTS = series(n.RETRY_ATTEMPTS)
RETRY_CALLS = series(n.RETRY_CALLS)
RETRY_GIVE_UPS = series(n.RETRY_GIVE_UPS)
RETRY_DELAY = series(n.RETRY_DELAY)
BUDGET_REMAINING = series(n.RETRY_BUDGET_REMAINING)
BUDGET_EXHAUSTED = series(n.RETRY_BUDGET_EXHAUSTED)
BATCH_DOCS = series(n.BATCH_DOCUMENTS)


def _member(values: tuple[str, ...], value: str) -> str:
    """``value``, after checking the names contract still lists it."""
    if value not in values:
        raise ValueError(f"{value!r} is no longer one of {values}")
    return value


REJECTED = _member(n.CB_OUTCOMES, "rejected")

RUNBOOK = "https://github.com/ragsight/ragsight/blob/main/collector/prometheus/RUNBOOKS.md"


# --------------------------------------------------------------------------------------
# Collector
# --------------------------------------------------------------------------------------
def _env(var: str, default: str) -> str:
    return "${env:" + var + ":-" + default + "}"


def collector_config() -> dict[str, Any]:
    """The Collector config; every endpoint is an env var with the compose default."""
    keep = _env("RAGSIGHT_COLLECTOR_KEEP_CONTENT", "false")

    def drop_content(context: str) -> list[str]:
        # Paths carry their context prefix (span.attributes, ...): unprefixed paths are
        # rewritten by the transform processor, which warns about it at every start.
        return [f'delete_key({context}.attributes, "{attr}")' for attr in n.CONTENT_ATTRIBUTES]

    content_condition = [f'"{keep}" != "true"']
    span_dimensions = [
        n.RAG_STAGE,
        n.RAG_OPERATION_NAME,
        n.GEN_AI_OPERATION_NAME,
        n.GEN_AI_REQUEST_MODEL,
    ]
    signals = ("traces", "metrics", "logs")
    processors = ["memory_limiter", "transform/drop_content", "batch"]
    return {
        "extensions": {
            "health_check": {"endpoint": _env("RAGSIGHT_OTELCOL_HEALTH_ENDPOINT", "0.0.0.0:13133")}
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {
                        "endpoint": _env("RAGSIGHT_OTELCOL_OTLP_GRPC_ENDPOINT", "0.0.0.0:4317")
                    },
                    "http": {
                        "endpoint": _env("RAGSIGHT_OTELCOL_OTLP_HTTP_ENDPOINT", "0.0.0.0:4318")
                    },
                }
            },
            # Replays files written by ragsight's embedded default sink (OTLP JSON lines).
            "otlp_json_file": {
                "include": [
                    _env("RAGSIGHT_OTELCOL_REPLAY_GLOB", "/var/lib/ragsight/replay/*.jsonl")
                ],
                "start_at": "beginning",
            },
        },
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25,
            },
            "transform/drop_content": {
                "error_mode": "ignore",
                "trace_statements": [
                    {
                        "context": "span",
                        "conditions": content_condition,
                        "statements": drop_content("span"),
                    },
                    {
                        "context": "spanevent",
                        "conditions": content_condition,
                        "statements": drop_content("spanevent"),
                    },
                ],
                "log_statements": [
                    {
                        "context": "log",
                        "conditions": content_condition,
                        "statements": drop_content("log"),
                    }
                ],
            },
            # ragsight's events (gen_ai.evaluation.result, resilience.*) are log records
            # with an event name and attributes but no body; a log store shows the body as
            # the message (VictoriaLogs: "missing _msg field"), so give them their name.
            "transform/event_message": {
                "error_mode": "ignore",
                "log_statements": [
                    {
                        "context": "log",
                        "conditions": ['log.body == nil and log.event_name != ""'],
                        "statements": ["set(log.body, log.event_name)"],
                    }
                ],
            },
            "batch": {"send_batch_size": 8192, "timeout": "200ms"},
        },
        "connectors": {
            "span_metrics": {
                "histogram": {
                    "unit": "s",
                    "explicit": {"buckets": [f"{b}s" for b in n.STAGE_DURATION_BUCKETS]},
                },
                "dimensions": [{"name": d} for d in span_dimensions],
                "exemplars": {"enabled": True},
                "metrics_flush_interval": _env("RAGSIGHT_OTELCOL_SPANMETRICS_FLUSH", "15s"),
                # The connector re-emits every series it ever saw on each flush (default: no
                # expiry), so without this a stopped process's series (each has its own
                # service.instance.id) would stay in memory and in Prometheus forever.
                "metrics_expiration": _env("RAGSIGHT_OTELCOL_METRIC_EXPIRATION", "5m"),
            }
        },
        "exporters": {
            "otlp_grpc/traces": {
                "endpoint": _env("RAGSIGHT_OTELCOL_TRACES_ENDPOINT", "jaeger:4317"),
                "tls": {"insecure": True},
            },
            "prometheus": {
                "endpoint": _env("RAGSIGHT_OTELCOL_PROMETHEUS_ENDPOINT", "0.0.0.0:8889"),
                "resource_to_telemetry_conversion": {"enabled": True},
                "enable_open_metrics": True,
                "metric_expiration": _env("RAGSIGHT_OTELCOL_METRIC_EXPIRATION", "5m"),
            },
            # Logs go to VictoriaLogs' OTLP endpoint (compose's victorialogs service).
            "otlp_http/logs": {
                "logs_endpoint": _env(
                    "RAGSIGHT_OTELCOL_LOGS_ENDPOINT",
                    "http://victorialogs:9428/insert/opentelemetry/v1/logs",
                ),
            },
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "logs": {"level": _env("RAGSIGHT_OTELCOL_LOG_LEVEL", "info")},
                "metrics": {
                    "level": "normal",
                    "readers": [
                        {
                            "pull": {
                                "exporter": {
                                    "prometheus": {
                                        "host": _env("RAGSIGHT_OTELCOL_TELEMETRY_HOST", "0.0.0.0"),
                                        "port": _env("RAGSIGHT_OTELCOL_TELEMETRY_PORT", "8888"),
                                        # Counters keep `_total`: without it Prometheus's
                                        # OpenMetrics parser rejects the whole scrape.
                                        "without_type_suffix": False,
                                        "without_units": True,
                                        "without_scope_info": True,
                                    }
                                }
                            }
                        }
                    ],
                },
            },
            "pipelines": {
                signals[0]: {
                    "receivers": ["otlp", "otlp_json_file"],
                    "processors": processors,
                    "exporters": ["otlp_grpc/traces", "span_metrics"],
                },
                signals[1]: {
                    "receivers": ["otlp", "otlp_json_file", "span_metrics"],
                    "processors": processors,
                    "exporters": ["prometheus"],
                },
                signals[2]: {
                    "receivers": ["otlp", "otlp_json_file"],
                    "processors": [*processors[:-1], "transform/event_message", processors[-1]],
                    "exporters": ["otlp_http/logs"],
                },
            },
        },
    }


# --------------------------------------------------------------------------------------
# Prometheus rules
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleProfile:
    """Windows, ``for:`` durations and thresholds; tests shrink these, nothing else."""

    short: str = "5m"  # rate window of the fast signals (errors, latency, cache)
    long: str = "1h"  # baseline window for "drop" alerts
    # How long a silent service is remembered (and RagTelemetryMissing keeps firing); a
    # decommissioned service stops alerting after this.
    no_data_memory: str = "24h"
    score_window: str = "15m"
    score_baseline: str = "6h"
    for_errors: str = "10m"
    for_latency: str = "10m"
    for_cache: str = "15m"
    for_scores: str = "30m"
    for_breaker: str = "1m"
    for_retry: str = "10m"
    for_budget: str = "5m"
    for_no_data: str = "10m"
    for_collector: str = "5m"
    error_ratio: float = 0.05
    min_request_rate: float = 0.01  # req/s below which ratios are noise (~1 per 100 s)
    min_score_samples: int = 10
    score_drop_factor: float = 0.75  # alert below 75% of the baseline
    cache_drop_factor: float = 0.5
    retries_per_call: float = 0.5
    # Budgets sit on bucket boundaries of names.STAGE_DURATION_BUCKETS: histogram_quantile
    # interpolates linearly inside a bucket, so with a budget of 2 s between the 1 s and
    # 2.5 s bounds, calls that all take 1.1 s would read as a p95 of 2.4 s and page.
    latency_p95_seconds: Mapping[str, float] = field(
        default_factory=lambda: {
            n.STAGE_PIPELINE: 30.0,
            n.STAGE_RETRIEVAL: 2.5,
            n.STAGE_EMBEDDING: 1.0,
            n.STAGE_RERANK: 2.5,
            n.STAGE_GENERATION: 10.0,
            n.STAGE_TOOL: 5.0,
        }
    )
    latency_default_seconds: float = 5.0


PRODUCTION = RuleProfile()


def _rec(profile: RuleProfile) -> dict[str, str]:
    s, lng = profile.short, profile.long
    return {
        "requests": f"ragsight:stage_requests:rate{s}",
        "errors": f"ragsight:stage_errors:rate{s}",
        "error_ratio": f"ragsight:stage_error_ratio:rate{s}",
        "buckets": f"ragsight:stage_duration_seconds_bucket:rate{s}",
        "p95": f"ragsight:stage_duration_seconds:p95_{s}",
        "cache_ratio": f"ragsight:cache_hit_ratio:rate{s}",
        "cache_ratio_long": f"ragsight:cache_hit_ratio:rate{lng}",
        "cache_requests": f"ragsight:cache_requests:rate{s}",
        "reporting": "ragsight:stage_metrics_reporting:present",
        "retrieval_score": f"ragsight:retrieval_score:mean{profile.score_window}",
        "retrieval_score_long": f"ragsight:retrieval_score:mean{profile.score_baseline}",
        "retrieval_distance": f"ragsight:retrieval_distance:mean{profile.score_window}",
        "retrieval_distance_long": f"ragsight:retrieval_distance:mean{profile.score_baseline}",
        "retrieval_unbounded": (f"ragsight:retrieval_score_unbounded:mean{profile.score_window}"),
        "retrieval_unbounded_long": (
            f"ragsight:retrieval_score_unbounded:mean{profile.score_baseline}"
        ),
        "eval_score": f"ragsight:evaluation_score:mean{profile.score_window}",
        "eval_score_long": f"ragsight:evaluation_score:mean{profile.score_baseline}",
    }


def _alert(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOK}#{name.lower()}",
        },
    }


def _score_mean(metric: str, by: str, window: str) -> str:
    return (
        f"sum by ({SVC}, {by}) (rate({metric}_sum[{window}]))\n"
        f"/\nsum by ({SVC}, {by}) (rate({metric}_count[{window}]))"
    )


def rules(profile: RuleProfile = PRODUCTION) -> dict[str, Any]:
    """The recording and alerting rules for ``profile`` (one rule file)."""
    p, r = profile, _rec(profile)
    s = p.short
    by_stage = f"{SVC}, {STAGE}, {OPERATION}"
    recording = [
        {"record": r["requests"], "expr": f"sum by ({by_stage}) (rate({DURATION}_count[{s}]))"},
        {
            "record": r["errors"],
            "expr": f'sum by ({by_stage}) (rate({DURATION}_count{{{ERROR}!=""}}[{s}]))',
        },
        {
            # `or ... * 0` keeps stages without errors at 0 instead of absent.
            "record": r["error_ratio"],
            "expr": f"({r['errors']} or {r['requests']} * 0)\n/\n{r['requests']}",
        },
        {
            "record": r["buckets"],
            "expr": f"sum by ({SVC}, {STAGE}, le) (rate({DURATION}_bucket[{s}]))",
        },
        {"record": r["p95"], "expr": f"histogram_quantile(0.95, {r['buckets']})"},
        # One series per reporting service: cheap to look back a day over (the no-data alert).
        {"record": r["reporting"], "expr": f"group by ({SVC}) ({DURATION}_count)"},
        {
            "record": r["cache_requests"],
            "expr": (
                f"sum by ({SVC}, {CACHE}) "
                f'(rate({CACHE_REQUESTS}{{{CACHE_RESULT}=~"{n.CACHE_HIT}|{n.CACHE_MISS}"}}[{s}]))'
            ),
        },
    ]
    for key, window in (("cache_ratio", s), ("cache_ratio_long", p.long)):
        looked_up = (
            f"sum by ({SVC}, {CACHE}) (rate({CACHE_REQUESTS}"
            f'{{{CACHE_RESULT}=~"{n.CACHE_HIT}|{n.CACHE_MISS}"}}[{window}]))'
        )
        hits = (
            f"sum by ({SVC}, {CACHE}) "
            f'(rate({CACHE_REQUESTS}{{{CACHE_RESULT}="{n.CACHE_HIT}"}}[{window}]))'
        )
        # A process that has never hit exports no hit series at all (e.g. a cold cache after
        # a deploy): `or ... * 0` makes that a 0 ratio instead of no ratio, so the drop alert
        # sees exactly the outage it exists for.
        recording.append(
            {"record": r[key], "expr": f"({hits}\nor\n{looked_up} * 0)\n/\n{looked_up}"}
        )
    # One mean per score kind (names.SCORE_KINDS): 0..1 similarities, distances (lower is
    # better, L2 and other metrics that do not convert) and unbounded scores (BM25, inner
    # product) live in separate histograms, so no mean mixes two scales.
    for key, metric, by, window in (
        ("retrieval_score", RETRIEVAL_SCORE, OPERATION, p.score_window),
        ("retrieval_score_long", RETRIEVAL_SCORE, OPERATION, p.score_baseline),
        ("retrieval_distance", RETRIEVAL_DISTANCE, OPERATION, p.score_window),
        ("retrieval_distance_long", RETRIEVAL_DISTANCE, OPERATION, p.score_baseline),
        ("retrieval_unbounded", RETRIEVAL_UNBOUNDED, OPERATION, p.score_window),
        ("retrieval_unbounded_long", RETRIEVAL_UNBOUNDED, OPERATION, p.score_baseline),
        ("eval_score", EVAL_SCORE, EVAL_NAME, p.score_window),
        ("eval_score_long", EVAL_SCORE, EVAL_NAME, p.score_baseline),
    ):
        recording.append({"record": r[key], "expr": _score_mean(metric, by, window)})

    known = sorted(p.latency_p95_seconds)
    latency_terms = [
        f'{r["p95"]}{{{STAGE}="{stage}"}} > {p.latency_p95_seconds[stage]:g}' for stage in known
    ]
    latency_terms.append(
        f'{r["p95"]}{{{STAGE}!~"{"|".join(known)}"}} > {p.latency_default_seconds:g}'
    )
    busy = f"{r['requests']} > {p.min_request_rate:g}"
    alerts = [
        _alert(
            "RagStageErrorRateHigh",
            f"{r['error_ratio']} > {p.error_ratio:g}\nand\n{busy}",
            p.for_errors,
            "critical",
            f"{{{{ $labels.{STAGE} }}}} stage {{{{ $labels.{OPERATION} }}}} is failing",
            f"More than {p.error_ratio:.0%} of calls to this stage raised over the last {s}. "
            "Check the error.type label and the failing spans in the trace backend.",
        ),
        _alert(
            "RagStageLatencyHigh",
            "\nor\n".join(latency_terms),
            p.for_latency,
            "warning",
            f"p95 latency of the {{{{ $labels.{STAGE} }}}} stage is over budget",
            "The 95th percentile stage duration is above its budget "
            + ", ".join(f"{k}={p.latency_p95_seconds[k]:g}s" for k in known)
            + f", other={p.latency_default_seconds:g}s.",
        ),
        _alert(
            "RagCacheHitRateDrop",
            f"{r['cache_ratio']} < {p.cache_drop_factor:g} * {r['cache_ratio_long']}\n"
            f"and\n{r['cache_requests']} > {p.min_request_rate:g}",
            p.for_cache,
            "warning",
            f"Cache {{{{ $labels.{CACHE} }}}} hit rate dropped",
            f"The {s} hit rate is below {p.cache_drop_factor:.0%} of its {p.long} average: "
            "a cold or evicted cache sends every request to retrieval and generation.",
        ),
    ]
    for alert_name, key, metric, by, what in (
        (
            "RagRetrievalScoreDrop",
            "retrieval_score",
            RETRIEVAL_SCORE,
            OPERATION,
            "retrieval relevance (0..1 similarity)",
        ),
        (
            "RagRetrievalUnboundedScoreDrop",
            "retrieval_unbounded",
            RETRIEVAL_UNBOUNDED,
            OPERATION,
            "unbounded retrieval (BM25, inner product)",
        ),
        ("RagEvaluationScoreDrop", "eval_score", EVAL_SCORE, EVAL_NAME, "evaluation"),
    ):
        # relative to the service's own baseline: the only comparison an unbounded scale
        # (whose range depends on the corpus and the query) supports
        alerts.append(
            _alert(
                alert_name,
                f"{r[key]} < {p.score_drop_factor:g} * {r[key + '_long']}\nand\n"
                f"sum by ({SVC}, {by}) (increase({metric}_count[{p.score_window}]))"
                f" >= {p.min_score_samples}",
                p.for_scores,
                "warning",
                f"Mean {what} score of {{{{ $labels.{by} }}}} dropped",
                f"The {p.score_window} mean {what} score is below {p.score_drop_factor:.0%} "
                f"of its {p.score_baseline} mean: check index freshness, embedding model "
                "changes and recent deployments.",
            )
        )
    # distances: lower is better, so the alert is on a rise past baseline / drop factor
    alerts.append(
        _alert(
            "RagRetrievalDistanceRise",
            f"{r['retrieval_distance']} > {r['retrieval_distance_long']} / "
            f"{p.score_drop_factor:g}\nand\n"
            f"sum by ({SVC}, {OPERATION}) "
            f"(increase({RETRIEVAL_DISTANCE}_count[{p.score_window}])) >= {p.min_score_samples}",
            p.for_scores,
            "warning",
            f"Mean best distance of {{{{ $labels.{OPERATION} }}}} rose",
            f"The {p.score_window} mean best distance (lower is better) is above "
            f"{1 / p.score_drop_factor:.0%} of its {p.score_baseline} mean: queries land "
            "further from the indexed documents. Check index freshness, embedding model "
            "changes and recent deployments.",
        )
    )
    open_states = f"{n.CB_STATE_OPEN}|{n.CB_STATE_FORCED_OPEN}"
    alerts += [
        _alert(
            "RagCircuitBreakerOpen",
            f'max by ({SVC}, {RES_NAME}) ({CB_STATE_SERIES}{{{CB_STATE}=~"{open_states}"}}) == 1',
            p.for_breaker,
            "critical",
            f"Circuit breaker {{{{ $labels.{RES_NAME} }}}} is open",
            "Calls to this dependency are being rejected without being attempted. "
            "Check the dependency's health; the breaker probes it again on its own.",
        ),
        _alert(
            "RagRetryStorm",
            f"sum by ({SVC}, {RES_NAME}) (rate({RETRY_ATTEMPTS}[{s}]))\n/\n"
            f"sum by ({SVC}, {RES_NAME}) (rate({RETRY_CALLS}[{s}]))\n> {p.retries_per_call:g}",
            p.for_retry,
            "warning",
            f"Retry storm on {{{{ $labels.{RES_NAME} }}}}",
            "Retries multiply load on a struggling dependency. Consider a circuit breaker, "
            "a smaller retry budget or backing off harder.",
        ),
        _alert(
            "RagRetryBudgetExhausted",
            f"sum by ({SVC}, {RES_NAME}) (increase({BUDGET_EXHAUSTED}[{s}])) > 0",
            p.for_budget,
            "warning",
            f"Retry budget of {{{{ $labels.{RES_NAME} }}}} is exhausted",
            "The per-dependency retry budget is refusing retries, so transient errors "
            "now reach users directly.",
        ),
        _alert(
            "RagTelemetryMissing",
            f"group by ({SVC}) (last_over_time({r['reporting']}[{p.no_data_memory}]))\n"
            f"unless\n{r['reporting']}",
            p.for_no_data,
            "critical",
            f"{{{{ $labels.{SVC} }}}} stopped reporting RAG telemetry",
            "The service sent stage metrics within the last day but none now: the app is "
            "down, lost its exporter, or the Collector cannot receive.",
        ),
        _alert(
            "RagTelemetryDropped",
            f"sum by ({SVC}) (increase({EXPORT_DROPPED}[{s}])) > 0",
            p.for_collector,
            "warning",
            f"{{{{ $labels.{SVC} }}}} is dropping telemetry before export",
            "ragsight's export queue is full or the exporter keeps failing.",
        ),
        _alert(
            "OtelCollectorDroppingData",
            "\nor\n".join(
                f"sum by (job, instance) (rate({m}[{s}])) > 0"
                for m in (
                    *OTELCOL_EXPORTER_SEND_FAILED,
                    *OTELCOL_EXPORTER_ENQUEUE_FAILED,
                    *OTELCOL_LOG_EXPORTER_SEND_FAILED,
                    *OTELCOL_RECEIVER_REFUSED,
                )
            ),
            p.for_collector,
            "critical",
            "The OpenTelemetry Collector is dropping or refusing telemetry",
            "An exporter keeps failing (or its queue is full) or the memory limiter refuses "
            "data. Check the "
            "Collector's logs and the trace backend / Prometheus it sends to.",
        ),
    ]
    return {
        "groups": [
            {"name": "ragsight.recording", "rules": recording},
            {"name": "ragsight.alerts", "rules": alerts},
        ]
    }


# --------------------------------------------------------------------------------------
# promtool unit tests of the production rules
# --------------------------------------------------------------------------------------
def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _expected(alert_name: str, **labels: str) -> dict[str, Any]:
    """The alert as promtool must see it: the rule's labels plus ``labels``, and the
    annotations rendered for ``labels`` (the rule text is not what these tests pin)."""
    rule = next(
        r for g in rules(PRODUCTION)["groups"] for r in g["rules"] if r.get("alert") == alert_name
    )
    annotations = {}
    for key, text in rule["annotations"].items():
        for name, value in labels.items():
            text = text.replace("{{ $labels." + name + " }}", value)
        annotations[key] = text
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


def _case(
    name: str,
    series_values: list[tuple[str, str]],
    alert_name: str,
    quiet_at: str,
    firing_at: str,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """One alert: silent (or still pending) at ``quiet_at``, firing at ``firing_at``."""
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series_values],
        "alert_rule_test": [
            {"eval_time": quiet_at, "alertname": alert_name, "exp_alerts": []},
            {
                "eval_time": firing_at,
                "alertname": alert_name,
                "exp_alerts": [_expected(alert_name, **labels)],
            },
        ],
    }


def rule_tests() -> dict[str, Any]:
    """promtool tests: every alert, with the production ``for:`` and windows."""
    svc = {SVC: "support-bot"}
    stage = {**svc, STAGE: n.STAGE_RETRIEVAL, OPERATION: "search"}
    healthy = {**svc, STAGE: n.STAGE_GENERATION, OPERATION: "answer"}
    dep = {**svc, RES_NAME: "vector-store"}
    cache = {**svc, CACHE: "answers"}
    evaluation = {**svc, label(n.GEN_AI_EVALUATION_NAME): "faithfulness"}
    collector = {"job": "otel-collector-internal", "instance": "otel-collector:8888"}

    def hist(metric: str, labels: Mapping[str, str], le_values: dict[str, str]) -> list[Any]:
        out = [(f"{metric}_bucket{_sel(**labels, le=le)}", v) for le, v in le_values.items()]
        out.append((f"{metric}_count{_sel(**labels)}", le_values["+Inf"]))
        return out

    slow = {"1": "0x40", "2.5": "0x40", "5": "0+60x40", "+Inf": "0+60x40"}  # p95 = 4.875 s
    return {
        "rule_files": ["../rules/ragsight.rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            _case(
                "a quarter of retrieval calls fail for 15 minutes; generation is healthy",
                [
                    (f"{DURATION}_count{_sel(**stage)}", "0+45x30"),
                    (f"{DURATION}_count{_sel(**stage, **{ERROR: 'TimeoutError'})}", "0+15x30"),
                    (f"{DURATION}_count{_sel(**healthy)}", "0+60x30"),
                ],
                "RagStageErrorRateHigh",
                "8m",
                "15m",
                stage,
            ),
            {
                "name": "retrieval calls all take 1.1 s, under the budget: no alert",
                "interval": "1m",
                "input_series": [
                    {"series": series, "values": values}
                    for series, values in hist(
                        DURATION,
                        stage,
                        {"1": "0x40", "2.5": "0+60x40", "5": "0+60x40", "+Inf": "0+60x40"},
                    )
                ],
                "alert_rule_test": [
                    {"eval_time": t, "alertname": "RagStageLatencyHigh", "exp_alerts": []}
                    for t in ("15m", "30m")
                ],
            },
            _case(
                "retrieval p95 is 4.9 s (budget 2.5 s); generation at the same latency is fine",
                [
                    *hist(DURATION, stage, slow),
                    *hist(DURATION, healthy, slow),
                ],
                "RagStageLatencyHigh",
                "8m",
                "15m",
                {SVC: "support-bot", STAGE: n.STAGE_RETRIEVAL},
            ),
            _case(
                "the answers cache stops hitting after an hour",
                [
                    (
                        f"{CACHE_REQUESTS}{_sel(**cache, **{CACHE_RESULT: n.CACHE_HIT})}",
                        "0+60x60 3600+0x30",
                    ),
                    (
                        f"{CACHE_REQUESTS}{_sel(**cache, **{CACHE_RESULT: n.CACHE_MISS})}",
                        "0+6x60 360+60x30",
                    ),
                ],
                "RagCacheHitRateDrop",
                "70m",
                "85m",
                cache,
            ),
            _case(
                "a deploy restarts the app with a cold answers cache that never hits",
                [
                    # the old process's series stop with it (the Collector expires them)
                    (
                        f"{CACHE_REQUESTS}{_sel(**cache, **{CACHE_RESULT: n.CACHE_HIT})}",
                        "0+60x60 stale",
                    ),
                    (
                        f"{CACHE_REQUESTS}{_sel(**cache, **{CACHE_RESULT: n.CACHE_MISS})}",
                        "0+6x60 stale",
                    ),
                    # the new process only ever misses: it exports no hit series
                    (
                        f"{CACHE_REQUESTS}"
                        f"{_sel(**cache, **{CACHE_RESULT: n.CACHE_MISS, 'instance': 'new'})}",
                        "_x61 0+60x30",
                    ),
                ],
                "RagCacheHitRateDrop",
                "70m",
                "85m",
                cache,
            ),
            _case(
                "mean retrieval score falls from 0.9 to 0.4 after six hours",
                [
                    (f"{RETRIEVAL_SCORE}_sum{_sel(**stage)}", "0+54x360 19440+24x120"),
                    (f"{RETRIEVAL_SCORE}_count{_sel(**stage)}", "0+60x480"),
                ],
                "RagRetrievalScoreDrop",
                "380m",
                "420m",
                {SVC: "support-bot", OPERATION: "search"},
            ),
            _case(
                "mean BM25 score falls from 7 to 2 after six hours",
                [
                    (f"{RETRIEVAL_UNBOUNDED}_sum{_sel(**stage)}", "0+420x360 151200+120x120"),
                    (f"{RETRIEVAL_UNBOUNDED}_count{_sel(**stage)}", "0+60x480"),
                ],
                "RagRetrievalUnboundedScoreDrop",
                "380m",
                "420m",
                {SVC: "support-bot", OPERATION: "search"},
            ),
            _case(
                "mean best L2 distance rises from 0.3 to 0.9 after six hours",
                [
                    (f"{RETRIEVAL_DISTANCE}_sum{_sel(**stage)}", "0+18x360 6480+54x120"),
                    (f"{RETRIEVAL_DISTANCE}_count{_sel(**stage)}", "0+60x480"),
                ],
                "RagRetrievalDistanceRise",
                "380m",
                "420m",
                {SVC: "support-bot", OPERATION: "search"},
            ),
            _case(
                "mean faithfulness falls from 0.9 to 0.4 after six hours",
                [
                    (f"{EVAL_SCORE}_sum{_sel(**evaluation)}", "0+54x360 19440+24x120"),
                    (f"{EVAL_SCORE}_count{_sel(**evaluation)}", "0+60x480"),
                ],
                "RagEvaluationScoreDrop",
                "380m",
                "420m",
                evaluation,
            ),
            _case(
                "the vector-store breaker opens at minute 3 and stays open",
                [
                    (
                        f"{CB_STATE_SERIES}{_sel(**dep, **{CB_STATE: n.CB_STATE_OPEN})}",
                        "0 0 0 1x10",
                    ),
                    (
                        f"{CB_STATE_SERIES}{_sel(**dep, **{CB_STATE: n.CB_STATE_CLOSED})}",
                        "1 1 1 0x10",
                    ),
                ],
                "RagCircuitBreakerOpen",
                "3m",
                "5m",
                dep,
            ),
            _case(
                "every call to vector-store is retried once; llm retries 1 call in 10",
                [
                    (f"{RETRY_ATTEMPTS}{_sel(**dep)}", "0+60x30"),
                    (f"{RETRY_CALLS}{_sel(**dep)}", "0+60x30"),
                    (f"{RETRY_ATTEMPTS}{_sel(**svc, **{RES_NAME: 'llm'})}", "0+6x30"),
                    (f"{RETRY_CALLS}{_sel(**svc, **{RES_NAME: 'llm'})}", "0+60x30"),
                ],
                "RagRetryStorm",
                "8m",
                "20m",
                dep,
            ),
            _case(
                "the retry budget refuses a retry every minute from minute 4",
                [(f"{BUDGET_EXHAUSTED}{_sel(**dep)}", "0x3 1+1x20")],
                "RagRetryBudgetExhausted",
                "6m",
                "12m",
                dep,
            ),
            _case(
                "the app stops reporting at minute 30",
                [(f"{DURATION}_count{_sel(**stage)}", "0+60x30 _x40")],
                "RagTelemetryMissing",
                "40m",
                "50m",
                svc,
            ),
            _case(
                "the app is still silent three hours later: the page does not resolve itself",
                [(f"{DURATION}_count{_sel(**stage)}", "0+60x30 _x200")],
                "RagTelemetryMissing",
                "40m",
                "210m",
                svc,
            ),
            _case(
                "the SDK drops spans from minute 5",
                [
                    (
                        f"{EXPORT_DROPPED}{_sel(**svc, **{label('ragsight.signal'): 'traces'})}",
                        "0x5 10+10x20",
                    )
                ],
                "RagTelemetryDropped",
                "8m",
                "15m",
                svc,
            ),
            _case(
                "the Collector cannot deliver spans to the trace backend",
                [
                    (
                        f"{OTELCOL_EXPORTER_SEND_FAILED[0]}"
                        f"{_sel(**collector, exporter='otlp_grpc/traces')}",
                        "0+10x20",
                    )
                ],
                "OtelCollectorDroppingData",
                "4m",
                "10m",
                collector,
            ),
            _case(
                "the Collector cannot deliver log records to the log store",
                [
                    (
                        f"{OTELCOL_LOG_EXPORTER_SEND_FAILED[0]}"
                        f"{_sel(**collector, exporter='otlp_http/logs')}",
                        "0+10x20",
                    )
                ],
                "OtelCollectorDroppingData",
                "4m",
                "10m",
                collector,
            ),
            _case(
                "the trace backend is down and the full sending queue drops spans",
                [
                    (
                        f"{OTELCOL_EXPORTER_ENQUEUE_FAILED[0]}"
                        f"{_sel(**collector, exporter='otlp_grpc/traces')}",
                        "0+100x20",
                    )
                ],
                "OtelCollectorDroppingData",
                "4m",
                "10m",
                collector,
            ),
        ],
    }


# --------------------------------------------------------------------------------------
# Grafana dashboards
# --------------------------------------------------------------------------------------
PROM_DS = {"type": "prometheus", "uid": "${datasource}"}
# The VictoriaLogs datasource plugin and the uid it is provisioned with.
LOGS_DS_TYPE = "victoriametrics-logs-datasource"
LOGS_DS = {"type": LOGS_DS_TYPE, "uid": "victorialogs"}
# Grafana's "scrape interval" of the Prometheus datasource: the resolution of the data, the
# SDK's metric export interval (the Collector's exporter changes only when the SDK exports).
# $__rate_interval is at least 4x this, so a window always spans a series' start-time zero
# and its first exported value (see prometheus.yml: created-timestamp zero ingestion).
DATA_RESOLUTION_SECONDS = int(n.METRIC_EXPORT_INTERVAL_SECONDS)


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: tuple[tuple[str, str], ...]  # (expr, legend)
    unit: str = "short"
    visualization: str = "timeseries"  # Grafana's panel type
    description: str = ""


def has_exemplars(expr: str) -> bool:
    """Whether the series ``expr`` plots can carry exemplars worth drawing on its axis.

    Exemplars sit on histogram buckets (and counters); only a quantile of ``_bucket`` rates
    has the exemplar's unit (a duration) on its y axis. On a ratio, a mean or a gauge panel
    Grafana would draw them at meaningless heights, or find none at all.
    """
    return "histogram_quantile" in expr and "_bucket" in expr


def _options(visualization: str) -> dict[str, Any]:
    if visualization == "timeseries":
        return {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    if visualization == "logs":
        return {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending"}
    return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}


def _target(panel: Panel, i: int, expr: str, legend: str) -> dict[str, Any]:
    if panel.visualization == "logs":
        return {"refId": chr(ord("A") + i), "datasource": LOGS_DS, "expr": expr}
    return {
        "refId": chr(ord("A") + i),
        "datasource": PROM_DS,
        "expr": expr,
        "legendFormat": legend,
        "exemplar": has_exemplars(expr),
    }


def _panel_json(panel: Panel, pid: int, x: int, y: int, w: int, h: int) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if panel.visualization == "timeseries":
        # Points where a line has a single sample (one event between gaps), else no line.
        custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "auto"}
    return {
        "id": pid,
        "type": panel.visualization,
        "title": panel.title,
        "description": panel.description,
        "datasource": LOGS_DS if panel.visualization == "logs" else PROM_DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit, "custom": custom}, "overrides": []},
        "options": _options(panel.visualization),
        "targets": [
            _target(panel, i, expr, legend) for i, (expr, legend) in enumerate(panel.exprs)
        ],
    }


def _dashboard(uid: str, title: str, panels: Iterable[Panel], tags: list[str]) -> dict[str, Any]:
    out = []
    for i, panel in enumerate(panels):
        out.append(_panel_json(panel, i + 1, (i % 2) * 12, (i // 2) * 8, 12, 8))
    return {
        "uid": uid,
        "title": title,
        "description": f"Generated by ragsight stack generate. GenAI metric names: conventions "
        f"mode {GENAI_MODE} (the default); services with semconv={n.SEMCONV_V1_41} export "
        "other names.",
        "tags": tags,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "links": [],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {"text": "Prometheus", "value": "prometheus"},
                    "hide": 0,
                },
                {
                    "name": "service",
                    "label": "Service",
                    "type": "query",
                    "datasource": PROM_DS,
                    "query": {
                        "query": f"label_values({DURATION}_count, {SVC})",
                        "refId": "service",
                    },
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "hide": 0,
                },
            ]
        },
        "panels": out,
    }


SEL = f'{SVC}=~"$service"'


def _zero_filled_ratio(part: str, whole: str) -> str:
    """``part / whole`` that is 0, not "No data", for groups whose ``part`` series is absent.

    A stage that never failed has no error series and a cache that never hit has no hit
    series, so a bare division drops exactly the healthy (or fully cold) lines.
    """
    return f"({part}\nor\n{whole} * 0)\n/\n{whole}"


RI = "$__rate_interval"


def _mean_by(metric: str, by: str) -> str:
    """Mean of a histogram's observations per ``by`` over the panel's rate interval."""
    return (
        f"sum by ({by}) (rate({metric}_sum{{{SEL}}}[{RI}]))\n/\n"
        f"sum by ({by}) (rate({metric}_count{{{SEL}}}[{RI}]))"
    )


def overview_dashboard() -> dict[str, Any]:
    by_stage = f"sum by ({STAGE}, le) (rate({DURATION}_bucket{{{SEL}}}[{RI}]))"
    panels = [
        Panel(
            "Requests per second by stage",
            (
                (
                    f"sum by ({STAGE}, {OPERATION}) (rate({DURATION}_count{{{SEL}}}[{RI}]))",
                    f"{{{{{STAGE}}}}} {{{{{OPERATION}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Error ratio by stage",
            (
                (
                    _zero_filled_ratio(
                        f'sum by ({STAGE}) (rate({DURATION}_count{{{SEL}, {ERROR}!=""}}[{RI}]))',
                        f"sum by ({STAGE}) (rate({DURATION}_count{{{SEL}}}[{RI}]))",
                    ),
                    f"{{{{{STAGE}}}}}",
                ),
            ),
            "percentunit",
        ),
        *(
            Panel(
                f"p{q} latency by stage",
                ((f"histogram_quantile(0.{q}, {by_stage})", f"{{{{{STAGE}}}}}"),),
                "s",
            )
            for q in ("50", "95", "99")
        ),
        Panel(
            "Errors by type",
            (
                (
                    f"sum by ({STAGE}, {ERROR}) "
                    f'(rate({DURATION}_count{{{SEL}, {ERROR}!=""}}[{RI}]))',
                    f"{{{{{STAGE}}}}} {{{{{ERROR}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Cache hit ratio",
            (
                (
                    _zero_filled_ratio(
                        f"sum by ({CACHE}) (rate({CACHE_REQUESTS}"
                        f'{{{SEL}, {CACHE_RESULT}="{n.CACHE_HIT}"}}[{RI}]))',
                        f"sum by ({CACHE}) (rate({CACHE_REQUESTS}"
                        f'{{{SEL}, {CACHE_RESULT}=~"{n.CACHE_HIT}|{n.CACHE_MISS}"}}[{RI}]))',
                    ),
                    f"{{{{{CACHE}}}}}",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Mean retrieval score (0..1 similarity)",
            ((_mean_by(RETRIEVAL_SCORE, OPERATION), f"{{{{{OPERATION}}}}}"),),
            "percentunit",
            description="Top score of each result set from retrievers whose scores are 0..1 "
            "similarities (score kind similarity, or cosine distances converted).",
        ),
        Panel(
            "Mean best retrieval distance (lower is better)",
            ((_mean_by(RETRIEVAL_DISTANCE, OPERATION), f"{{{{{OPERATION}}}}}"),),
            description="Smallest distance of each result set from retrievers that return "
            "distances of an unknown metric (score kind distance: L2, ...), never converted.",
        ),
        Panel(
            "Mean top unbounded retrieval score",
            ((_mean_by(RETRIEVAL_UNBOUNDED, OPERATION), f"{{{{{OPERATION}}}}}"),),
            description="Top score of each result set on an open scale (score kind "
            "unbounded: BM25, inner product); compare a retriever with its own past only.",
        ),
        Panel(
            "Mean evaluation score",
            (
                (
                    f"sum by ({EVAL_NAME}) (rate({EVAL_SCORE}_sum{{{SEL}}}[{RI}]))\n/\n"
                    f"sum by ({EVAL_NAME}) (rate({EVAL_SCORE}_count{{{SEL}}}[{RI}]))",
                    f"{{{{{EVAL_NAME}}}}}",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Documents retrieved (mean per call)",
            (
                (
                    f"sum by ({OPERATION}) (rate({RETRIEVAL_DOCS}_sum{{{SEL}}}[{RI}]))\n/\n"
                    f"sum by ({OPERATION}) (rate({RETRIEVAL_DOCS}_count{{{SEL}}}[{RI}]))",
                    f"{{{{{OPERATION}}}}}",
                ),
            ),
        ),
        Panel(
            "Tokens per second by model",
            (
                (
                    f"sum by ({MODEL}) (rate({INPUT_TOKENS}{{{SEL}}}[{RI}]))",
                    f"{{{{{MODEL}}}}} input",
                ),
                (
                    f"sum by ({MODEL}) (rate({OUTPUT_TOKENS}{{{SEL}}}[{RI}]))",
                    f"{{{{{MODEL}}}}} output",
                ),
                (
                    f"sum by ({MODEL}) (rate({EMBEDDING_TOKENS}_sum{{{SEL}}}[{RI}]))",
                    f"{{{{{MODEL}}}}} embeddings input",
                ),
            ),
            description="Inference usage counters and the embeddings token histogram "
            f"(GenAI conventions mode {GENAI_MODE}).",
        ),
        Panel(
            "GenAI p95 latency by model",
            tuple(
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({MODEL}, {GENAI_OP}, le) "
                    f"(rate({metric}_bucket{{{SEL}}}[{RI}])))",
                    f"{{{{{MODEL}}}}} {{{{{GENAI_OP}}}}}",
                )
                for metric in (INFERENCE_DURATION, EMBEDDINGS_DURATION, GENAI_DURATION)
            ),
            "s",
            description="Inference, embeddings and the other GenAI client operations "
            f"(retrieval, rerank), each under its own metric (GenAI conventions mode "
            f"{GENAI_MODE}).",
        ),
        Panel(
            "Tool and workflow p95 latency",
            (
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({TOOL_NAME}, le) (rate({TOOL_DURATION}_bucket{{{SEL}}}[{RI}])))",
                    f"tool {{{{{TOOL_NAME}}}}}",
                ),
                (
                    "histogram_quantile(0.95, sum by "
                    f"({WORKFLOW_NAME}, le) (rate({WORKFLOW_DURATION}_bucket{{{SEL}}}[{RI}])))",
                    f"workflow {{{{{WORKFLOW_NAME}}}}}",
                ),
            ),
            "s",
            description="gen_ai.execute_tool.duration and gen_ai.invoke_workflow.duration; "
            "the workflow buckets are the conventions' (1 s to 2 h), so a sub-second pipeline "
            "reads as at most 1 s here: the stage panels above have the fine buckets.",
        ),
        Panel(
            "Streamed generation: time to first chunk and per chunk p95",
            (
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({MODEL}, le) (rate({GENAI_TTFC}_bucket{{{SEL}}}[{RI}])))",
                    f"first chunk {{{{{MODEL}}}}}",
                ),
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({MODEL}, le) (rate({GENAI_PER_CHUNK}_bucket{{{SEL}}}[{RI}])))",
                    f"per chunk {{{{{MODEL}}}}}",
                ),
            ),
            "s",
            description="What a user waits before the answer starts to appear, then between "
            "chunks while it is written (gen_ai.client.inference.time_per_output_chunk).",
        ),
        Panel(
            "ragsight internal errors",
            (
                (
                    f"sum by ({label('ragsight.component')}) "
                    f"(increase({INTERNAL_ERRORS}{{{SEL}}}[{RI}]))",
                    f"{{{{{label('ragsight.component')}}}}}",
                ),
            ),
            description="Errors ragsight caught in its own code; the application never saw them.",
        ),
        Panel(
            "Logs",
            ((logs_query(), ""),),
            visualization="logs",
            description="The services' log records (VictoriaLogs); a record's trace_id opens "
            "its trace in Jaeger.",
        ),
    ]
    return _dashboard("ragsight-overview", "RAG overview", panels, ["ragsight", "rag"])


def logs_query() -> str:
    """LogsQL for the selected services' records (``$service`` is a regex, ``.*`` for All)."""
    return f'{json.dumps(n.SERVICE_NAME)}:~"^(?:$service)$"'


def resilience_dashboard() -> dict[str, Any]:
    sel = SEL
    panels = [
        Panel(
            "Breaker state over time",
            (
                (
                    f"max by ({RES_NAME}, {CB_STATE}) ({CB_STATE_SERIES}{{{sel}}}) == 1",
                    f"{{{{{RES_NAME}}}}} {{{{{CB_STATE}}}}}",
                ),
            ),
            visualization="state-timeline",
            description="One row per breaker and state; a bar where the breaker was in it.",
        ),
        Panel(
            "Breaker calls by outcome",
            (
                (
                    f"sum by ({RES_NAME}, {CB_OUTCOME}) (rate({CB_CALLS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} {{{{{CB_OUTCOME}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Rejected calls",
            (
                (
                    f"sum by ({RES_NAME}) "
                    f'(rate({CB_CALLS}{{{sel}, {CB_OUTCOME}="{REJECTED}"}}[{RI}]))',
                    f"{{{{{RES_NAME}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Breaker failure ratio (sliding window)",
            ((f"max by ({RES_NAME}) ({CB_FAILURE_RATIO}{{{sel}}})", f"{{{{{RES_NAME}}}}}"),),
            "percentunit",
        ),
        Panel(
            "Breaker transitions",
            (
                (
                    f"sum by ({RES_NAME}, {CB_TO}) (increase({CB_TRANSITIONS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} to {{{{{CB_TO}}}}}",
                ),
            ),
        ),
        Panel(
            "Outage duration p95",
            (
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({RES_NAME}, le) (rate({CB_OPEN_DURATION}_bucket{{{sel}}}[{RI}])))",
                    f"{{{{{RES_NAME}}}}}",
                ),
            ),
            "s",
        ),
        Panel(
            "Retries by reason",
            (
                (
                    f"sum by ({RES_NAME}, {RETRY_REASON}) (rate({RETRY_ATTEMPTS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} {{{{{RETRY_REASON}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Retry outcomes",
            (
                (
                    f"sum by ({RES_NAME}, {RETRY_OUTCOME}) (rate({RETRY_CALLS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} {{{{{RETRY_OUTCOME}}}}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Give-ups by stop reason",
            (
                (
                    f"sum by ({RES_NAME}, {RETRY_STOP}) "
                    f"(increase({RETRY_GIVE_UPS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} {{{{{RETRY_STOP}}}}}",
                ),
            ),
        ),
        Panel(
            "Retry delay p95",
            (
                (
                    "histogram_quantile(0.95, "
                    f"sum by ({RES_NAME}, le) (rate({RETRY_DELAY}_bucket{{{sel}}}[{RI}])))",
                    f"{{{{{RES_NAME}}}}}",
                ),
            ),
            "s",
        ),
        Panel(
            "Retry budget remaining",
            ((f"min by ({RES_NAME}) ({BUDGET_REMAINING}{{{sel}}})", f"{{{{{RES_NAME}}}}}"),),
        ),
        Panel(
            "Retries refused by the budget",
            (
                (
                    f"sum by ({RES_NAME}) (increase({BUDGET_EXHAUSTED}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}}",
                ),
            ),
        ),
        Panel(
            "Batch documents by outcome",
            (
                (
                    f"sum by ({RES_NAME}, {BATCH_OUTCOME}) (increase({BATCH_DOCS}{{{sel}}}[{RI}]))",
                    f"{{{{{RES_NAME}}}}} {{{{{BATCH_OUTCOME}}}}}",
                ),
            ),
        ),
    ]
    return _dashboard("ragsight-resilience", "RAG resilience", panels, ["ragsight", "resilience"])


# Span (and process) tags Grafana's trace->metrics link puts into ``$__tags``, and the label
# each becomes. Jaeger keeps service.name out of a span's process tags (it is the process's
# serviceName), so the link filters by the span's service.instance.id: the metrics of the
# very process (and so of the service) that served the span.
TRACE_TO_METRICS_TAGS = (
    (n.RAG_STAGE, STAGE),
    (n.SERVICE_INSTANCE_ID, label(n.SERVICE_INSTANCE_ID)),
)


def traces_to_metrics_queries(tags: str) -> list[dict[str, str]]:
    """The span -> metrics link's queries; ``tags`` is what Grafana puts for ``$__tags``."""
    count = f"{DURATION}_count"
    return [
        {
            "name": "Stage p95 latency",
            "query": "histogram_quantile(0.95, sum by (le) "
            f"(rate({DURATION}_bucket{{{tags}}}[5m])))",
        },
        {
            # 0 for a stage that never failed (it has no error series), not "No data".
            "name": "Stage error ratio",
            "query": _zero_filled_ratio(
                f'sum(rate({count}{{{tags}, {ERROR}!=""}}[5m]))',
                f"sum(rate({count}{{{tags}}}[5m]))",
            ),
        },
    ]


def grafana_datasources() -> dict[str, Any]:
    """Provisioned datasources: Prometheus (uid ``prometheus``, which the dashboards use)
    with exemplar links to Jaeger, Jaeger with links from a span to its stage metrics, and
    VictoriaLogs with links from a log record's trace_id to Jaeger.
    ``$$`` is a literal ``$`` in Grafana provisioning files (``$`` interpolates env vars)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": "prometheus",
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": True,
                "jsonData": {
                    "httpMethod": "POST",
                    "timeInterval": f"{DATA_RESOLUTION_SECONDS}s",
                    # SDK histograms and span_metrics carry exemplars with the trace id.
                    "exemplarTraceIdDestinations": [
                        {"name": "trace_id", "datasourceUid": "jaeger"}
                    ],
                },
            },
            {
                "name": "Jaeger",
                "type": "jaeger",
                "uid": "jaeger",
                "access": "proxy",
                "url": "http://jaeger:16686",
                "jsonData": {
                    "tracesToMetrics": {
                        "datasourceUid": "prometheus",
                        "spanStartTimeShift": "-5m",
                        "spanEndTimeShift": "5m",
                        "tags": [{"key": k, "value": v} for k, v in TRACE_TO_METRICS_TAGS],
                        "queries": traces_to_metrics_queries("$$__tags"),
                    }
                },
            },
            {
                "name": "VictoriaLogs",
                "type": LOGS_DS_TYPE,
                "uid": LOGS_DS["uid"],
                "access": "proxy",
                "url": "http://victorialogs:9428",
                "jsonData": {
                    # A record's trace_id field (the OTLP log record's trace id) opens the trace.
                    "derivedFields": [
                        {
                            "name": "Trace",
                            "matcherType": "label",
                            "matcherRegex": "trace_id",
                            "url": "$${__value.raw}",
                            "datasourceUid": "jaeger",
                            "urlDisplayLabel": "Open trace in Jaeger",
                        }
                    ]
                },
            },
        ],
    }


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------
HEADER = (
    "# GENERATED by ragsight stack generate from src/ragsight/names.py: do not edit.\n"
    f"# GenAI metric names: conventions mode {GENAI_MODE} (the default). Services configured\n"
    f"# with semconv={n.SEMCONV_V1_41} export the v1.41.0 names, which this file does not use.\n"
)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated lists out in full: anchors make configs harder to read and diff."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_NoAliasDumper.add_representer(str, _str_representer)


def _yaml(data: Any) -> str:
    return HEADER + yaml.dump(
        data, Dumper=_NoAliasDumper, sort_keys=False, width=100, allow_unicode=True
    )


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its content, relative to the repository root."""
    return {
        Path("collector/otelcol-config.yaml"): _yaml(collector_config()),
        Path("collector/prometheus/rules/ragsight.rules.yaml"): _yaml(rules(PRODUCTION)),
        Path("collector/prometheus/tests/ragsight.rules.test.yaml"): _yaml(rule_tests()),
        Path("grafana/provisioning/datasources/ragsight.yaml"): _yaml(grafana_datasources()),
        Path("grafana/dashboards/ragsight-overview.json"): _json(overview_dashboard()),
        Path("grafana/dashboards/ragsight-resilience.json"): _json(resilience_dashboard()),
    }


def dashboard_exprs(dashboard: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression a dashboard runs (panels and query variables)."""
    exprs = [
        t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if t["datasource"] == PROM_DS
    ]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["query"]["query"])
    return exprs


def fast_profile(scale_window: str = "20s") -> RuleProfile:
    """A profile for end-to-end tests: same expressions, windows and ``for:`` shrunk."""
    fast = replace(
        PRODUCTION,
        short=scale_window,
        long="10m",
        no_data_memory="10m",
        score_window=scale_window,
        score_baseline="10m",
    )
    for name in RuleProfile.__dataclass_fields__:
        if name.startswith("for_"):
            object.__setattr__(fast, name, "0s")
    return fast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = []
    for rel, content in outputs().items():
        path = ROOT / rel
        if path.exists() and path.read_text() == content:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if args.check and stale:
        print("stale generated files (run `ragsight stack generate`):", file=sys.stderr)
        for rel in stale:
            print(f"  {rel}", file=sys.stderr)
        return 1
    for rel in stale:
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
