"""The Collector's own failure counters, which the OtelCollectorDroppingData alert reads,
exist under the names the rules use when the trace backend really refuses data."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

from otlp_sink import OtlpSink
from stackenv import post_span_with_content
from stackgen import load_generator
from stackprocs import http_get, wait_until

from ragsight import names

gen = load_generator()


def test_refused_span_exports_are_counted_under_the_rule_name(collector_factory: Any) -> None:
    with (
        OtlpSink(http_enabled=False, fail_with=503) as refusing_backend,
        collector_factory(
            refusing_backend,
            name="otelcol-failing",
            # give up at once instead of retrying for minutes (the default back-off)
            sets=("exporters::otlp_grpc/traces::retry_on_failure::enabled=false",),
        ) as failing,
    ):
        post_span_with_content(failing.otlp_http, "e2e-collector-failure")
        (name,) = gen.OTELCOL_EXPORTER_SEND_FAILED

        def failed_count() -> float:
            text = http_get(f"http://{failing.telemetry}/metrics")[1].decode()
            values = re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M)
            return sum(float(v) for v in values)

        assert wait_until(failed_count, timeout=30, what=f"{name} > 0") >= 1


def test_spans_dropped_by_a_full_sending_queue_are_counted_under_the_rule_name(
    collector_factory: Any,
) -> None:
    """While the backend is down, retries hold the queue and later batches are dropped at
    once: that counter (not send_failed, which waits out minutes of retries) is the early
    signal OtelCollectorDroppingData must see."""
    (name,) = gen.OTELCOL_EXPORTER_ENQUEUE_FAILED
    with (
        OtlpSink(http_enabled=False, fail_with=503) as refusing_backend,
        collector_factory(
            refusing_backend,
            name="otelcol-queue-full",
            sets=(
                "exporters::otlp_grpc/traces::sending_queue::queue_size=1",
                "exporters::otlp_grpc/traces::sending_queue::num_consumers=1",
            ),
        ) as failing,
    ):

        def dropped_after_one_more_span() -> float:
            post_span_with_content(failing.otlp_http, "e2e-queue-full")
            text = http_get(f"http://{failing.telemetry}/metrics")[1].decode()
            values = re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M)
            return sum(float(v) for v in values)

        assert wait_until(dropped_after_one_more_span, timeout=30, what=f"{name} > 0") >= 1


def post_log_record(otlp_http: str, service: str) -> None:
    """One log record over OTLP/HTTP JSON."""
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": names.SERVICE_NAME, "value": {"stringValue": service}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {"timeUnixNano": str(time.time_ns()), "body": {"stringValue": "x"}}
                        ]
                    }
                ],
            }
        ]
    }
    request = urllib.request.Request(
        f"{otlp_http}/v1/logs",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_refused_log_exports_are_counted_under_the_rule_name(collector_factory: Any) -> None:
    """The log store refusing records is what OtelCollectorDroppingData sees for logs."""
    (name,) = gen.OTELCOL_LOG_EXPORTER_SEND_FAILED
    with (
        OtlpSink(grpc_enabled=False, fail_with=503) as refusing_store,
        OtlpSink(http_enabled=False) as traces,
        collector_factory(
            traces,
            logs_url=f"{refusing_store.http_endpoint}/v1/logs",
            name="otelcol-logs-failing",
            sets=("exporters::otlp_http/logs::retry_on_failure::enabled=false",),
        ) as failing,
    ):
        post_log_record(failing.otlp_http, "e2e-log-store-down")

        def failed_count() -> float:
            text = http_get(f"http://{failing.telemetry}/metrics")[1].decode()
            values = re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M)
            return sum(float(v) for v in values)

        assert wait_until(failed_count, timeout=30, what=f"{name} > 0") >= 1
