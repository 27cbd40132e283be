"""Jaeger v2 and VictoriaLogs as the stack tier runs them: the shipped configs on free ports.

``running_jaeger()`` starts Jaeger with collector/jaeger/config.yaml (endpoints moved by its
environment variables) and yields a ``Jaeger`` whose ``spans(service)`` reads every span of
a service back through the query API v3 (/api/v3/traces), as OTLP protobuf messages.
``running_victorialogs()`` starts VictoriaLogs and yields a ``VictoriaLogs`` whose
``query(logsql)`` runs a LogsQL query through its HTTP API (/select/logsql/query).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otlp_sink import TRACES, parse_otlp_json
from ports import free_port
from stackgen import ROOT
from stackprocs import Proc, get_json, http_get, wait_until

JAEGER_CONFIG = ROOT / "collector" / "jaeger" / "config.yaml"


def _rfc3339(ts: datetime.datetime) -> str:
    return ts.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Jaeger:
    proc: Proc
    query_url: str  # http://host:port (UI, /api, /api/v3)
    otlp_grpc: str  # host:port

    @property
    def otlp_grpc_endpoint(self) -> str:
        """What the Collector's ``otlp_grpc/traces`` exporter dials."""
        return self.otlp_grpc

    def services(self) -> list[str]:
        return list(get_json(f"{self.query_url}/api/v3/services").get("services", []))

    def spans(self, service: str, lookback: float = 3600.0) -> list[tuple[Any, Any, Any]]:
        """Every stored span of ``service`` as (resource, scope, span) protobuf messages."""
        now = datetime.datetime.now(datetime.UTC)
        params = {
            "query.service_name": service,
            "query.start_time_min": _rfc3339(now - datetime.timedelta(seconds=lookback)),
            "query.start_time_max": _rfc3339(now + datetime.timedelta(seconds=60)),
            "query.num_traces": "1000",
        }
        url = f"{self.query_url}/api/v3/traces?" + urllib.parse.urlencode(params)
        status, body = http_get(url, timeout=10)
        if status == 404:  # "No traces found"
            return []
        if status != 200:
            raise ValueError(f"GET {url}: HTTP {status}: {body[:300]!r}")
        request = parse_otlp_json(json.dumps(json.loads(body)["result"]), TRACES)
        return [
            (rs.resource, ss.scope, span)
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]


def jaeger_env() -> dict[str, str]:
    ports = {name: free_port() for name in ("query", "query_grpc", "grpc", "http", "tel")}
    return {
        "RAGSIGHT_JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{ports['query']}",
        "RAGSIGHT_JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{ports['query_grpc']}",
        "RAGSIGHT_JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
        "RAGSIGHT_JAEGER_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
        "RAGSIGHT_JAEGER_TELEMETRY_HOST": "127.0.0.1",
        "RAGSIGHT_JAEGER_TELEMETRY_PORT": str(ports["tel"]),
    }


@contextlib.contextmanager
def running_jaeger(binary: Path, work: Path, name: str = "jaeger") -> Iterator[Jaeger]:
    """Jaeger with the shipped config on free loopback ports; always stopped."""
    env = jaeger_env()
    proc = Proc(name, [str(binary), f"--config={JAEGER_CONFIG}"], work, env).start()
    query_url = f"http://{env['RAGSIGHT_JAEGER_QUERY_HTTP_ENDPOINT']}"
    try:
        wait_until(
            lambda: proc.running() and http_get(f"{query_url}/api/v3/services")[0] == 200,
            timeout=30,
            what="Jaeger's query API",
            diagnose=proc.log_tail,
        )
        yield Jaeger(proc, query_url, env["RAGSIGHT_JAEGER_OTLP_GRPC_ENDPOINT"])
    finally:
        proc.stop()


@dataclass(frozen=True)
class VictoriaLogs:
    proc: Proc
    url: str  # http://host:port

    @property
    def otlp_logs_url(self) -> str:
        """What the Collector's ``otlp_http/logs`` exporter posts to."""
        return f"{self.url}/insert/opentelemetry/v1/logs"

    def query(self, logsql: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Matching log records, one dict of fields each (``_msg``, ``trace_id``, ...)."""
        url = f"{self.url}/select/logsql/query?" + urllib.parse.urlencode(
            {"query": logsql, "limit": str(limit)}
        )
        status, body = http_get(url, timeout=10)
        if status != 200:
            raise ValueError(f"GET {url}: HTTP {status}: {body[:300]!r}")
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


@contextlib.contextmanager
def running_victorialogs(
    binary: Path, work: Path, name: str = "victorialogs"
) -> Iterator[VictoriaLogs]:
    """VictoriaLogs with its data under ``work`` on a free loopback port; always stopped."""
    port = free_port()
    data = work / f"{name}-data"
    argv = [
        str(binary),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={data}",
        "-retentionPeriod=7d",  # as compose.yaml runs it
        "-loggerLevel=WARN",
    ]
    proc = Proc(name, argv, work).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: proc.running() and http_get(f"{url}/health")[0] == 200,
            timeout=30,
            what="VictoriaLogs /health",
            diagnose=proc.log_tail,
        )
        yield VictoriaLogs(proc, url)
    finally:
        proc.stop()
