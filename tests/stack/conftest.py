"""Session fixtures: the real bundled stack on free 127.0.0.1 ports.

One Collector (built from collector/builder-config.yaml) and one each of Prometheus,
Alertmanager, Jaeger v2 and VictoriaLogs serve the whole tier, built from the Go module proxy
at the releases compose.yaml pins (collector/stack-versions.tsv, scripts/build-stack-servers).
They run the shipped configs with only endpoints, intervals and the rule profile changed (see
tests/support/stackenv.py). The Collector sends traces to Jaeger and logs to VictoriaLogs;
tests read them back through their query APIs. Tests that need a trace backend that fails
on purpose run their own Collector in front of an in-test OTLP receiver (otlp_sink.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ports import free_port
from stackbackends import Jaeger, VictoriaLogs, running_jaeger, running_victorialogs
from stackenv import (
    APP_METRIC_EXPORT_MS,
    NO_LOG_STORE,
    PROMETHEUS_FEATURES,
    Tools,
    collector_env,
    derived_alertmanager_config,
    derived_prometheus_config,
    rule_profile_for_tests,
)
from stackgen import ROOT, load_generator
from stackprocs import (
    AlertWebhook,
    Proc,
    get_json,
    http_get,
    running_alertmanager,
    teardown_on_sigterm,
    wait_ready,
    wait_until,
)
from stackservers import GoMissing, build_servers

gen = load_generator()


@pytest.fixture(scope="session", autouse=True)
def _stop_stack_on_sigterm() -> Iterator[None]:
    """Set up before any stack process starts and torn down after all have stopped."""
    with teardown_on_sigterm():
        yield


@pytest.fixture(scope="session")
def servers() -> dict[str, Path]:
    """Each server's binary directory, built at the pinned releases (cached: seconds)."""
    try:
        return build_servers()
    except GoMissing as exc:
        pytest.skip(f"cannot build the stack's servers: {exc}")


@pytest.fixture(scope="session")
def tools(servers: dict[str, Path]) -> Tools:
    return Tools(
        prometheus=str(servers["prometheus"] / "prometheus"),
        promtool=str(servers["prometheus"] / "promtool"),
        alertmanager=str(servers["alertmanager"] / "alertmanager"),
        amtool=str(servers["alertmanager"] / "amtool"),
    )


@pytest.fixture(scope="session")
def otelcol_binary() -> str:
    """The Collector built from the manifest (cached: seconds when warm)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-collector")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 3:
        pytest.skip(f"cannot build the Collector: {done.stderr.strip()}")
    assert done.returncode == 0, f"scripts/build-collector failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def jaeger(servers: dict[str, Path], stack_dir: Path) -> Iterator[Jaeger]:
    """The trace backend the Collector exports to: Jaeger v2 with the shipped config."""
    with running_jaeger(servers["jaeger"] / "jaeger", stack_dir) as running:
        yield running


@pytest.fixture(scope="session")
def victorialogs(servers: dict[str, Path], stack_dir: Path) -> Iterator[VictoriaLogs]:
    """The log store the Collector exports to."""
    with running_victorialogs(servers["victorialogs"] / "victoria-logs", stack_dir) as vl:
        yield vl


@pytest.fixture(scope="session")
def webhook() -> Iterator[AlertWebhook]:
    hook = AlertWebhook().start()
    yield hook
    hook.stop()


@dataclass(frozen=True)
class Collector:
    proc: Proc
    otlp_grpc: str  # host:port
    otlp_http: str  # http://host:port
    prometheus: str  # host:port of the prometheus exporter
    telemetry: str  # host:port of the Collector's own metrics
    health: str  # http://host:port/
    replay_dir: Path


@contextlib.contextmanager
def running_collector(
    binary: str,
    work: Path,
    trace_backend: Any,
    *,
    logs_url: str = NO_LOG_STORE,
    name: str = "otelcol",
    extra_env: dict[str, str] | None = None,
    sets: tuple[str, ...] = (),
) -> Iterator[Collector]:
    """The shipped config on free ports (``sets``: extra ``--set`` overrides); always stopped.

    ``trace_backend`` is anything with an ``otlp_grpc_endpoint`` (Jaeger, an OtlpSink)."""
    env = {
        **collector_env(work, trace_backend.otlp_grpc_endpoint, logs_url),
        **(extra_env or {}),
    }
    config = ROOT / "collector" / "otelcol-config.yaml"
    argv = [binary, "--config", str(config), *(f"--set={s}" for s in sets)]
    proc = Proc(name, argv, work, env).start()
    health = f"http://{env['RAGSIGHT_OTELCOL_HEALTH_ENDPOINT']}/"
    try:
        wait_until(
            lambda: proc.running() and http_get(health)[0] == 200,
            timeout=30,
            what="the Collector's health_check",
            diagnose=proc.log_tail,
        )
        yield Collector(
            proc=proc,
            otlp_grpc=env["RAGSIGHT_OTELCOL_OTLP_GRPC_ENDPOINT"],
            otlp_http="http://" + env["RAGSIGHT_OTELCOL_OTLP_HTTP_ENDPOINT"],
            prometheus=env["RAGSIGHT_OTELCOL_PROMETHEUS_ENDPOINT"],
            telemetry=f"127.0.0.1:{env['RAGSIGHT_OTELCOL_TELEMETRY_PORT']}",
            health=health,
            replay_dir=work / "replay",
        )
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def collector(
    otelcol_binary: str, stack_dir: Path, jaeger: Jaeger, victorialogs: VictoriaLogs
) -> Iterator[Collector]:
    with running_collector(
        otelcol_binary, stack_dir, jaeger, logs_url=victorialogs.otlp_logs_url
    ) as running:
        yield running


@dataclass(frozen=True)
class Alertmanager:
    proc: Proc
    url: str
    config_path: Path


@pytest.fixture(scope="session")
def alertmanager(tools: Tools, stack_dir: Path, webhook: AlertWebhook) -> Iterator[Alertmanager]:
    config_path = stack_dir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(derived_alertmanager_config(webhook)))
    with running_alertmanager(tools.alertmanager, config_path, stack_dir) as (proc, url):
        yield Alertmanager(proc, url, config_path)


@dataclass(frozen=True)
class Prometheus:
    proc: Proc
    url: str
    rules_path: Path


@pytest.fixture(scope="session")
def prometheus(
    tools: Tools, stack_dir: Path, collector: Collector, alertmanager: Alertmanager
) -> Iterator[Prometheus]:
    port = free_port()
    rules_dir = stack_dir / "rules"
    rules_dir.mkdir(exist_ok=True)
    rules_path = rules_dir / "ragsight.rules.yaml"
    rules_path.write_text(yaml.safe_dump(gen.rules(rule_profile_for_tests()), sort_keys=False))
    am_target = alertmanager.url.removeprefix("http://")
    targets = {
        "otel-collector:8889": collector.prometheus,
        "otel-collector:8888": collector.telemetry,
        "localhost:9090": f"127.0.0.1:{port}",
        "alertmanager:9093": am_target,
    }
    config_path = stack_dir / "prometheus.yml"
    config = derived_prometheus_config(targets, str(rules_dir / "*.yaml"), am_target)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = Proc(
        "prometheus",
        [
            tools.prometheus,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={stack_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            PROMETHEUS_FEATURES,
            "--log.level=warn",
        ],
        stack_dir,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, "Prometheus")
        # Discovery publishes on a 5 s tick, also for static configs: wait for its results.
        wait_until(
            lambda: get_json(f"{url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"],
            timeout=30,
            what="Prometheus to discover Alertmanager",
            diagnose=proc.log_tail,
        )
        wait_until(
            lambda: (
                all(
                    t["health"] == "up"
                    for t in get_json(f"{url}/api/v1/targets")["data"]["activeTargets"]
                )
                and len(get_json(f"{url}/api/v1/targets")["data"]["activeTargets"]) == len(targets)
            ),
            timeout=30,
            what="every scrape target up",
            diagnose=proc.log_tail,
        )
        yield Prometheus(proc, url, rules_path)
    finally:
        proc.stop()


class StackApp:
    """The example app (tests/support/stack_app.py) as a separate process."""

    def __init__(
        self, service: str, collector: Collector, work: Path, mode: str, file_sink: Path | None
    ) -> None:
        self.service = service
        self.control = work / f"{service}.control.json"
        self.status = self.control.with_suffix(".status")
        self.set_mode(mode)
        env = {
            "OTEL_SERVICE_NAME": service,
            "OTEL_METRIC_EXPORT_INTERVAL": str(APP_METRIC_EXPORT_MS),
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        if file_sink is None:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{collector.otlp_grpc}"
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
        else:  # no endpoint: ragsight's embedded default writes OTLP JSON files here
            env["RAGSIGHT_FILE_SINK_DIRECTORY"] = str(file_sink)
        script = ROOT / "tests" / "support" / "stack_app.py"
        argv = [sys.executable, str(script), "--control", str(self.control)]
        self.proc = Proc(f"app-{service}", argv, work, env).start()

    def set_mode(self, mode: str) -> None:
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({"mode": mode}))
        tmp.replace(self.control)

    def iterations(self) -> int:
        try:
            return int(json.loads(self.status.read_text())["iterations"])
        except (OSError, ValueError, KeyError):
            return 0

    def wait_iterations(self, count: int, mode: str | None = None, timeout: float = 30) -> None:
        """Wait until the app ran ``count`` more requests (in ``mode`` if given)."""
        target = self.iterations() + count

        def done() -> bool:
            if not self.proc.running():
                raise AssertionError(f"app exited\n{self.proc.log_tail()}")
            status = json.loads(self.status.read_text())
            return status["iterations"] >= target and (mode is None or status["mode"] == mode)

        wait_until(done, timeout=timeout, what=f"{self.service} to serve {count} requests")

    def wait_breaker(self, state: str, timeout: float = 30) -> None:
        """Wait until the app's vector-store breaker reports ``state``."""

        def reached() -> bool:
            if not self.proc.running():
                raise AssertionError(f"app exited\n{self.proc.log_tail()}")
            return bool(json.loads(self.status.read_text()).get("breaker") == state)

        wait_until(reached, timeout=timeout, what=f"{self.service}'s breaker to be {state}")

    def stop(self) -> None:
        if self.proc.running():
            self.set_mode("stop")
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not self.proc.running(), timeout=15, what="app to exit")
        self.proc.stop()


@pytest.fixture(scope="session")
def launch_app(collector: Collector, stack_dir: Path) -> Iterator[Any]:
    """``launch_app(service, mode, file_sink=None)`` starts an app process; every app is
    stopped at session end. With ``file_sink`` the app has no OTLP endpoint and writes
    ragsight's embedded-default OTLP JSON files into that directory instead."""
    started: list[StackApp] = []

    def launch(service: str, mode: str = "healthy", file_sink: Path | None = None) -> StackApp:
        app = StackApp(service, collector, stack_dir, mode, file_sink)
        started.append(app)
        return app

    yield launch
    for app in started:
        app.stop()


@pytest.fixture
def collector_factory(otelcol_binary: str, tmp_path: Path) -> Any:
    """``with collector_factory(trace_backend, extra_env=..., sets=...) as c:`` runs one more
    Collector from the shipped config (for tests that need it configured differently)."""
    return functools.partial(running_collector, otelcol_binary, tmp_path)


@contextlib.contextmanager
def _one_event_app(
    collector: Collector, work: Path, service: str, event: str
) -> Iterator[tuple[str, float, Proc]]:
    """tests/support/one_event_app.py as ``service``; yields once its event happened."""
    control = work / f"{service}.control.json"
    control.write_text(json.dumps({"mode": "run"}))
    env = {
        "OTEL_SERVICE_NAME": service,
        "OTEL_METRIC_EXPORT_INTERVAL": str(APP_METRIC_EXPORT_MS),
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.otlp_grpc}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    script = ROOT / "tests" / "support" / "one_event_app.py"
    argv = [sys.executable, str(script), "--control", str(control), "--event", event]
    proc = Proc(f"app-{service}", argv, work, env).start()
    status = control.with_suffix(".status")

    def done() -> bool:
        if not proc.running():
            raise AssertionError(f"app exited\n{proc.log_tail()}")
        return bool(json.loads(status.read_text())["event_done"])

    try:
        wait_until(done, timeout=60, what=f"{service}'s {event}")
        yield service, time.time(), proc
    finally:
        control.write_text(json.dumps({"mode": "stop"}))
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not proc.running(), timeout=15, what=f"{service} to exit")
        proc.stop()


@pytest.fixture(scope="session")
def run_one_event(collector: Collector, stack_dir: Path) -> Any:
    """``with run_one_event(service, event) as (service, event_time, proc):`` runs a process
    with exactly one ``event`` (see tests/support/one_event_app.py) until the block ends."""
    return functools.partial(_one_event_app, collector, stack_dir)
