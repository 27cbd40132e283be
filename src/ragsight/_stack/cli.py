"""``ragsight stack up|down|urls|path``: the bundled observability stack through Docker Compose.

The stack's files (Collector config, Prometheus rules, Alertmanager, Grafana provisioning
and dashboards) ship inside the wheel as ``ragsight/_stack/{collector,grafana}`` and are
also found in a source checkout (an editable install), so the command works either way;
``RAGSIGHT_STACK_DIR`` points it at a copy the user has customised. Nothing is copied or
rewritten: compose runs the files where they are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT = "ragsight"
COMPOSE_FILE = Path("collector") / "compose.yaml"
STACK_DIR_ENV = "RAGSIGHT_STACK_DIR"


@dataclass(frozen=True)
class Endpoint:
    what: str
    port_env: str
    default_port: int
    scheme: str = "http"
    note: str = ""

    def url(self, environ: dict[str, str] | os._Environ[str]) -> str:
        return f"{self.scheme}://localhost:{environ.get(self.port_env, self.default_port)}"


# Host ports as compose.yaml publishes them (each overridable with its variable).
ENDPOINTS = (
    Endpoint("Grafana", "RAGSIGHT_GRAFANA_PORT", 3000, note="dashboards: RAG overview, resilience"),
    Endpoint("Jaeger (traces)", "RAGSIGHT_JAEGER_PORT", 16686),
    Endpoint("VictoriaLogs (logs)", "RAGSIGHT_VICTORIALOGS_PORT", 9428, note="LogsQL at /select"),
    Endpoint("Prometheus", "RAGSIGHT_PROMETHEUS_PORT", 9090, note="rules and alerts"),
    Endpoint("Alertmanager", "RAGSIGHT_ALERTMANAGER_PORT", 9093),
    Endpoint("OTLP gRPC", "RAGSIGHT_OTLP_GRPC_PORT", 4317, note="OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
    Endpoint("OTLP HTTP", "RAGSIGHT_OTLP_HTTP_PORT", 4318, note="the SDK's default protocol"),
)

NO_DOCKER_HELP = """\
The bundled stack runs in Docker, and {problem}.

To use it:
  - install Docker Desktop (macOS, Windows) or Docker Engine with the compose plugin
    (Linux: https://docs.docker.com/engine/install/ then `docker compose version`),
  - start it, and run `ragsight stack up` again.

Without Docker:
  - `ragsight demo` writes telemetry to ./ragsight-telemetry and `ragsight summary` reads it;
  - point OTEL_EXPORTER_OTLP_ENDPOINT at any OpenTelemetry Collector you already run, and
    use {files} (Collector config, Prometheus rules, Alertmanager, Grafana) with it.
"""


class StackError(Exception):
    """A problem the user can fix; the message says how."""


def stack_root() -> Path:
    """The directory holding ``collector/`` and ``grafana/`` (see the module docstring)."""
    override = os.environ.get(STACK_DIR_ENV)
    if override:
        root = Path(override).expanduser()
        if not (root / COMPOSE_FILE).is_file():
            raise StackError(f"{STACK_DIR_ENV}={override} has no {COMPOSE_FILE}")
        return root
    here = Path(__file__).resolve().parent
    for root in (here, here.parents[2]):  # wheel, then source checkout
        if (root / COMPOSE_FILE).is_file():
            return root
    raise StackError(
        f"cannot find the bundled stack files ({COMPOSE_FILE}); reinstall ragsight or set "
        f"{STACK_DIR_ENV} to a directory that contains collector/ and grafana/"
    )


def compose_command() -> list[str]:
    """``docker compose`` (the v2 plugin) or the standalone ``docker-compose``."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    if docker is None:
        raise StackError("the `docker` command is not installed")
    raise StackError("Docker Compose is not installed (`docker compose version` failed)")


def check_engine() -> None:
    """Raise with the daemon's own words when no Docker engine answers."""
    docker = shutil.which("docker")
    if docker is None:
        return  # standalone docker-compose: it reports engine problems itself
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=20,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError("the Docker engine did not answer within 20 s") from exc
    if info.returncode != 0:
        detail = (info.stderr or info.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"`docker info` exited with {info.returncode}"
        raise StackError(f"no Docker engine is reachable ({reason})")


def _compose(root: Path) -> list[str]:
    return [*compose_command(), "--project-name", PROJECT, "-f", str(root / COMPOSE_FILE)]


def _print_urls() -> None:
    width = max(len(e.what) for e in ENDPOINTS)
    for endpoint in ENDPOINTS:
        note = f"   ({endpoint.note})" if endpoint.note else ""
        print(f"  {endpoint.what:<{width}}  {endpoint.url(os.environ)}{note}")
    # ragsight (like the OTel spec) defaults to http/protobuf: pointing it at the gRPC port
    # would fail every export, so the line to copy names the HTTP port.
    http = next(e for e in ENDPOINTS if e.port_env == "RAGSIGHT_OTLP_HTTP_PORT")
    print(f"\nsend telemetry:  export OTEL_EXPORTER_OTLP_ENDPOINT={http.url(os.environ)}")


def _run(argv: Sequence[str]) -> int:
    print("+ " + " ".join(argv), file=sys.stderr)
    return subprocess.run(list(argv), check=False).returncode


def _fail(exc: StackError, root: Path | None) -> int:
    files = (
        f"the files in {root / 'collector'} and {root / 'grafana'}"
        if root is not None
        else "the files under collector/ and grafana/"
    )
    print(NO_DOCKER_HELP.format(problem=exc, files=files), file=sys.stderr)
    return 2


def _cmd_up(args: argparse.Namespace) -> int:
    root: Path | None = None
    try:
        root = stack_root()
        command = _compose(root)
        check_engine()
    except StackError as exc:
        return _fail(exc, root)
    argv = [*command, "up", "--detach"]
    if args.wait:
        argv += ["--wait", "--wait-timeout", str(args.wait_timeout)]
    if args.pull:
        argv += ["--pull", "always"]
    code = _run(argv)
    if code != 0:
        print(f"docker compose up failed (exit {code}); see its output above", file=sys.stderr)
        return code
    print("\nragsight stack is up:")
    _print_urls()
    print("\nstop it with: ragsight stack down")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    root: Path | None = None
    try:
        root = stack_root()
        command = _compose(root)
        check_engine()
    except StackError as exc:
        return _fail(exc, root)
    argv = [*command, "down"]
    if args.volumes:
        argv.append("--volumes")
    return _run(argv)


def _cmd_urls(args: argparse.Namespace) -> int:
    _print_urls()
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    try:
        print(stack_root())
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from ragsight._stack import generator

    return generator.main(["--check"] if args.check else [])


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``stack`` on the ``ragsight`` command (called by ragsight.cli)."""
    stack = subparsers.add_parser(
        "stack",
        help="run the bundled Collector/Prometheus/Alertmanager/Jaeger/Grafana stack (Docker)",
    )
    sub = stack.add_subparsers(dest="stack_command", required=True)
    up = sub.add_parser("up", help="start the stack in the background and print its URLs")
    up.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="return once containers are created, without waiting for them to be running",
    )
    up.add_argument("--wait-timeout", type=int, default=180, help="seconds (default 180)")
    up.add_argument("--pull", action="store_true", help="pull newer images first")
    up.set_defaults(run=_cmd_up)
    down = sub.add_parser("down", help="stop and remove the stack's containers")
    down.add_argument("--volumes", action="store_true", help="also delete stored metrics")
    down.set_defaults(run=_cmd_down)
    urls = sub.add_parser("urls", help="print where each component listens")
    urls.set_defaults(run=_cmd_urls)
    path = sub.add_parser("path", help="print the directory holding the stack's files")
    path.set_defaults(run=_cmd_path)
    generate = sub.add_parser(
        "generate",
        help="rewrite the Collector config, rules, rule tests and dashboards from ragsight.names "
        "(in a source checkout)",
    )
    generate.add_argument("--check", action="store_true", help="only list stale files; exit 1")
    generate.set_defaults(run=_cmd_generate)
