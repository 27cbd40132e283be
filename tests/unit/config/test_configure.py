"""configure()/shutdown() on the global providers; each test runs in a fresh interpreter
because OpenTelemetry's global providers can be set only once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import json, logging, sys
import ragsight
from opentelemetry import trace, metrics, _logs
"""


def _run(code: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line last) in a clean interpreter."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    out["stderr"] = result.stderr
    return out


def test_configure_installs_sdk_providers_and_sets_policies(tmp_path: Path) -> None:
    out = _run(
        """
        from ragsight._core.policy import get_content_policy, get_resilience_defaults
        ragsight.configure(content_capture=True, content_max_length=50, retry_attempts=9,
                           breaker_minimum_calls=4)
        print(json.dumps({
            "tracer": type(trace.get_tracer_provider()).__module__,
            "meter": type(metrics.get_meter_provider()).__module__,
            "logger": type(_logs.get_logger_provider()).__module__,
            "capture": get_content_policy().capture,
            "max_length": get_content_policy().max_length,
            "attempts": get_resilience_defaults().retry.attempts,
            "minimum_calls": get_resilience_defaults().breaker.minimum_calls,
        }))
        """,
        tmp_path,
    )
    assert str(out["tracer"]).startswith("opentelemetry.sdk.trace")
    assert str(out["meter"]).startswith("opentelemetry.sdk.metrics")
    assert str(out["logger"]).startswith("opentelemetry.sdk._logs")
    assert out["capture"] is True
    assert out["max_length"] == 50
    assert out["attempts"] == 9
    assert out["minimum_calls"] == 4


def test_import_does_not_load_the_sdk(tmp_path: Path) -> None:
    out = _run(
        """
        print(json.dumps({"sdk": any(m.startswith("opentelemetry.sdk") for m in sys.modules),
                          "yaml": "yaml" in sys.modules, "grpc": "grpc" in sys.modules}))
        """,
        tmp_path,
    )
    assert out == {"sdk": False, "yaml": False, "grpc": False, "stderr": ""}


def test_second_configure_with_same_settings_is_a_no_op(tmp_path: Path) -> None:
    out = _run(
        """
        ragsight.configure(service_name="a")
        first = trace.get_tracer_provider()
        ragsight.configure(service_name="a")
        print(json.dumps({"same": trace.get_tracer_provider() is first}))
        """,
        tmp_path,
    )
    assert out["same"] is True


def test_second_configure_changing_an_sdk_key_raises_naming_it(tmp_path: Path) -> None:
    out = _run(
        """
        ragsight.configure(service_name="a")
        try:
            ragsight.configure(service_name="b")
        except ragsight.ConfigError as e:
            print(json.dumps({"keys": [p.key for p in e.problems], "text": str(e)}))
        """,
        tmp_path,
    )
    assert out["keys"] == ["service_name"]
    assert "already configured with 'a'" in str(out["text"])


def test_second_configure_changing_only_policies_applies_them_live(tmp_path: Path) -> None:
    out = _run(
        """
        from ragsight._core.policy import get_resilience_defaults
        ragsight.configure(service_name="a")
        ragsight.configure(service_name="a", retry_attempts=5)
        print(json.dumps({"attempts": get_resilience_defaults().retry.attempts}))
        """,
        tmp_path,
    )
    assert out["attempts"] == 5


def test_otel_sdk_disabled_makes_everything_a_no_op(tmp_path: Path) -> None:
    out = _run(
        """
        ragsight.configure()
        trace.get_tracer("t").start_span("x").end()
        ragsight.shutdown()
        print(json.dumps({
            "tracer": type(trace.get_tracer_provider()).__name__,
            "meter": type(metrics.get_meter_provider()).__name__,
            "sdk": any(m.startswith("opentelemetry.sdk.trace") for m in sys.modules),
        }))
        """,
        tmp_path,
        {"OTEL_SDK_DISABLED": "true"},
    )
    assert out["tracer"] == "ProxyTracerProvider"
    assert out["meter"] == "_ProxyMeterProvider"
    assert out["sdk"] is False
    assert not (tmp_path / "ragsight-telemetry").exists()


def test_application_provider_is_used_not_replaced(tmp_path: Path) -> None:
    out = _run(
        """
        from opentelemetry.sdk.trace import TracerProvider
        mine = TracerProvider()
        trace.set_tracer_provider(mine)
        ragsight.configure()
        from ragsight._export.setup import active_providers
        print(json.dumps({"kept": trace.get_tracer_provider() is mine,
                          "notes": active_providers().notes}))
        """,
        tmp_path,
    )
    assert out["kept"] is True
    assert "already installed a TracerProvider for traces" in str(out["notes"])
    assert "ragsight uses it" in str(out["stderr"])


def test_exit_hook_flushes_buffered_spans_to_the_file_sink(tmp_path: Path) -> None:
    _run(
        """
        ragsight.configure(batch_schedule_delay=60)
        trace.get_tracer("t").start_span("buffered").end()
        print(json.dumps({}))
        """,
        tmp_path,
    )
    lines = (tmp_path / "ragsight-telemetry" / "traces.jsonl").read_text().splitlines()
    spans = [
        s["name"]
        for line in lines
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]
    assert spans == ["buffered"]


def test_invalid_configuration_raises_before_anything_starts(tmp_path: Path) -> None:
    out = _run(
        """
        try:
            ragsight.configure()
        except ragsight.ConfigError as e:
            print(json.dumps({"n": len(e.problems),
                              "tracer": type(trace.get_tracer_provider()).__name__}))
        """,
        tmp_path,
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "udp", "RAGSIGHT_RETRY_ATTEMPTS": "x"},
    )
    assert out["n"] == 2
    assert out["tracer"] == "ProxyTracerProvider"


def test_configure_after_shutdown_warns_that_export_is_not_restarted(tmp_path: Path) -> None:
    out = _run(
        """
        ragsight.configure()
        ragsight.shutdown()
        ragsight.shutdown()  # twice is fine
        ragsight.configure()
        print(json.dumps({}))
        """,
        tmp_path,
    )
    assert "does not restart export" in str(out["stderr"])


def test_reconfigure_error_masks_header_values(tmp_path: Path) -> None:
    out = _run(
        """
        ragsight.configure(otlp_endpoint="http://127.0.0.1:9", otlp_headers="k=first-secret")
        try:
            ragsight.configure(otlp_endpoint="http://127.0.0.1:9", otlp_headers="k=second-secret")
        except ragsight.ConfigError as e:
            print(json.dumps({"text": str(e)}))
        ragsight.shutdown(0.5)
        """,
        tmp_path,
    )
    assert "otlp.headers" in str(out["text"])
    assert "first-secret" not in str(out["text"])
    assert "second-secret" not in str(out["text"])


def test_export_failure_warning_reaches_stderr_once_through_configure(tmp_path: Path) -> None:
    from ports import closed_port

    out = _run(
        f"""
        ragsight.configure(otlp_endpoint="http://127.0.0.1:{closed_port()}",
                           otlp_timeout=0.2, batch_schedule_delay=0.05)
        tracer = trace.get_tracer("t")
        for _ in range(3):
            for _ in range(100):
                tracer.start_span("x").end()
            trace.get_tracer_provider().force_flush()
        ragsight.shutdown(1)
        print(json.dumps({{"dropped": ragsight.dropped_counts()["traces"]}}))
        """,
        tmp_path,
    )
    assert out["dropped"] == 300
    assert str(out["stderr"]).count("exporting traces to") == 1
