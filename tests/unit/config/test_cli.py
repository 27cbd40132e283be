"""`ragsight config check` / `config show` / `summary` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TOKEN = "s3cr3t-t0ken"


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    return subprocess.run(
        [sys.executable, "-m", "ragsight.cli", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_check_exits_0_for_a_valid_file(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text('service_name = "ok"\n')
    result = _cli("config", "check", cwd=tmp_path)
    assert result.returncode == 0
    assert "valid" in result.stdout


def test_config_check_exits_1_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("otlp:\n  protocol: udp\n  endpiont: http://x:1\nretry:\n  attempts: 0\n")
    result = _cli(
        "config",
        "check",
        "--file",
        str(path),
        cwd=tmp_path,
        env={"OTEL_TRACES_SAMPLER": "sometimes"},
    )
    assert result.returncode == 1
    assert "4 problems" in result.stderr
    for fragment in (
        "otlp.protocol = 'udp'",
        "did you mean 'otlp.endpoint'",
        "retry.attempts = 0",
        "env OTEL_TRACES_SAMPLER",
        f"file {path}",
    ):
        assert fragment in result.stderr


def test_config_show_lists_value_and_source_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text('[otlp]\nendpoint = "http://c:4318"\n')
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}",
        "OTEL_SERVICE_NAME": "svc",
    }
    result = _cli("config", "show", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "authorization=****" in lines["otlp.headers"]
    assert lines["otlp.headers"].endswith("env OTEL_EXPORTER_OTLP_HEADERS")
    assert lines["otlp.endpoint"].endswith(f"file {tmp_path / 'ragsight.toml'}")
    assert lines["service_name"].endswith("env OTEL_SERVICE_NAME")
    assert lines["otlp.protocol"].endswith("default")


def test_config_show_json_masks_secrets(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={TOKEN}"}
    result = _cli("config", "show", "--json", cwd=tmp_path, env=env)
    shown = json.loads(result.stdout)
    assert shown["otlp.headers"] == {
        "value": {"x-api-key": "****"},
        "source": "env OTEL_EXPORTER_OTLP_HEADERS",
    }
    assert TOKEN not in result.stdout


def test_config_show_exits_1_on_invalid_configuration(tmp_path: Path) -> None:
    result = _cli("config", "show", cwd=tmp_path, env={"OTEL_SDK_DISABLED": "perhaps"})
    assert result.returncode == 1
    assert "disabled = 'perhaps'" in result.stderr


def test_summary_of_an_empty_directory_says_so(tmp_path: Path) -> None:
    result = _cli("summary", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0
    assert "no telemetry files" in result.stdout


def test_summary_of_a_missing_directory_fails(tmp_path: Path) -> None:
    result = _cli("summary", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.returncode == 1


def test_config_show_masks_per_signal_headers_and_url_passwords(tmp_path: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"authorization=Bearer {TOKEN}",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": f"tenant={TOKEN}",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"https://user:{TOKEN}@collector:4318/v1/m",
    }
    for args in (("config", "show"), ("config", "show", "--json"), ("config", "check")):
        result = _cli(*args, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert TOKEN not in result.stdout + result.stderr
    shown = json.loads(_cli("config", "show", "--json", cwd=tmp_path, env=env).stdout)
    assert shown["otlp.traces_headers"]["value"] == {"authorization": "****"}
    assert shown["otlp.logs_headers"]["value"] == {"tenant": "****"}
