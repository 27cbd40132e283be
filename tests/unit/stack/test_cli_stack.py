"""``ragsight stack``: finds the bundled files, drives docker compose, and explains what to
do when Docker is missing. Docker itself is replaced by small scripts on PATH that record
their arguments (the real engine is exercised by tests/stack/test_docker_stack.py)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from stackgen import ROOT

from ragsight import cli
from ragsight._config.settings import OtlpSettings
from ragsight._stack import cli as _cli_stack


def fake_docker(bin_dir: Path, *, engine: bool = True, compose_plugin: bool = True) -> Path:
    """A `docker` that logs its argv; `info` fails like a client without a daemon."""
    log = bin_dir / "docker.log"
    script = bin_dir / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log}"\n'
        'if [ "$1" = "info" ]; then\n'
        + (
            "  echo 27.0.1; exit 0\n"
            if engine
            else '  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2;'
            " exit 1\n"
        )
        + "fi\n"
        + ('if [ "$1" = "compose" ]; then exit 0; fi\n' if compose_plugin else "exit 1\n")
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


@pytest.fixture
def path_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only an empty directory (plus /bin for the fake's /bin/sh)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin")
    monkeypatch.delenv(_cli_stack.STACK_DIR_ENV, raising=False)
    return bin_dir


def test_stack_files_are_found_in_a_source_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_cli_stack.STACK_DIR_ENV, raising=False)
    assert _cli_stack.stack_root() == ROOT


def test_stack_dir_variable_points_at_a_customised_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "collector").mkdir()
    (tmp_path / "collector" / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setenv(_cli_stack.STACK_DIR_ENV, str(tmp_path))
    assert _cli_stack.stack_root() == tmp_path


def test_stack_dir_variable_without_compose_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(_cli_stack.STACK_DIR_ENV, str(tmp_path))
    assert cli.main(["stack", "path"]) == 1
    assert "has no collector/compose.yaml" in capsys.readouterr().err


def test_up_without_docker_says_how_to_get_it(
    path_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["stack", "up"]) == 2
    err = capsys.readouterr().err
    assert "the `docker` command is not installed" in err
    assert "install Docker Desktop" in err
    assert "ragsight demo" in err


def test_up_with_a_client_but_no_engine_reports_the_daemon_error(
    path_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = fake_docker(path_only, engine=False)
    assert cli.main(["stack", "up"]) == 2
    assert "Cannot connect to the Docker daemon" in capsys.readouterr().err
    assert not any(
        line.startswith("compose --project-name") for line in log.read_text().split("\n")
    )


def test_up_without_compose_plugin_says_so(
    path_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_docker(path_only, compose_plugin=False)
    assert cli.main(["stack", "up"]) == 2
    assert "Docker Compose is not installed" in capsys.readouterr().err


def test_up_runs_compose_on_the_bundled_file_and_prints_urls(
    path_only: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(_cli_stack.STACK_DIR_ENV, raising=False)
    log = fake_docker(path_only)
    monkeypatch.setenv("RAGSIGHT_GRAFANA_PORT", "13000")
    assert cli.main(["stack", "up"]) == 0
    compose_file = ROOT / "collector" / "compose.yaml"
    assert (
        f"compose --project-name ragsight -f {compose_file} up --detach --wait --wait-timeout 180"
        in log.read_text().splitlines()
    )
    out = capsys.readouterr().out
    assert "http://localhost:13000" in out
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in out


def test_down_removes_volumes_only_when_asked(path_only: Path) -> None:
    log = fake_docker(path_only)
    assert cli.main(["stack", "down"]) == 0
    assert cli.main(["stack", "down", "--volumes"]) == 0
    downs = [line for line in log.read_text().splitlines() if " down" in line]
    assert [line.endswith("down") for line in downs] == [True, False]
    assert downs[1].endswith("down --volumes")


def test_printed_otlp_endpoint_is_the_port_for_the_sdks_default_protocol(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Copying the printed export line must work without also setting a protocol."""
    assert cli.main(["stack", "urls"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("send telemetry"))
    host_port = line.rsplit(":", 1)[1]
    compose = yaml.safe_load((ROOT / "collector/compose.yaml").read_text())
    published = dict(
        re.fullmatch(r"127\.0\.0\.1:\$\{\w+:-(\d+)\}:(\d+)", mapping).groups()  # type: ignore[union-attr]
        for mapping in compose["services"]["otel-collector"]["ports"]
    )
    collector_port = {"grpc": "4317", "http/protobuf": "4318"}[OtlpSettings().protocol]
    assert published[host_port] == collector_port
