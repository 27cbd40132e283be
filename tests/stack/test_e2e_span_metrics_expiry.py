"""Span metrics of a process that stopped sending spans leave Prometheus.

Every SDK process has its own ``service.instance.id``, so each restart starts new
span-metrics series. The connector re-emits its cumulative series on every flush, which
keeps them fresh for the prometheus exporter: unless the connector itself forgets idle
series, a dead instance's series are scraped (and held in the Collector's memory) forever.
"""

from __future__ import annotations

from typing import Any

from otlp_sink import OtlpSink
from stackenv import post_span_with_content
from stackprocs import http_get, wait_until

SERVICE = "e2e-expiring"


def test_span_metrics_of_a_silent_process_expire(collector_factory: Any) -> None:
    with (
        OtlpSink(http_enabled=False) as backend,
        collector_factory(
            backend,
            name="otelcol-expiry",
            extra_env={"RAGSIGHT_OTELCOL_METRIC_EXPIRATION": "3s"},
        ) as collector,
    ):
        post_span_with_content(collector.otlp_http, SERVICE)

        def exported() -> bool:
            text = http_get(f"http://{collector.prometheus}/metrics")[1].decode()
            return any(
                line.startswith("traces_span_metrics_calls_total") and SERVICE in line
                for line in text.splitlines()
            )

        wait_until(exported, timeout=30, what=f"span metrics of {SERVICE}")
        wait_until(lambda: not exported(), timeout=30, what=f"span metrics of {SERVICE} to expire")
