"""Real stack processes for tests: start, wait on conditions, always stop.

Used by tests/stack's fixtures to run Prometheus, Alertmanager and ragsight's Collector
as plain subprocesses on free 127.0.0.1 ports. Waits poll a condition (never a fixed
sleep), and every process is stopped on teardown even when a test failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:  # server not up yet, bad JSON
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            extra = f"\n{diagnose()}" if diagnose else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def get_json(url: str, timeout: float = 5.0) -> Any:
    status, body = http_get(url, timeout)
    if status != 200:
        raise ValueError(f"GET {url}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


class Proc:
    """One subprocess with its output in a log file; ``stop()`` is idempotent."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, **(env or {})}
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # a Ctrl-C in pytest does not reach it twice
            )
        finally:
            log.close()
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return f"[{self.name}: no log]"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} log (last {lines} lines) ---\n" + "\n".join(text)

    def reload(self) -> None:
        if self.popen is not None and self.running():
            self.popen.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self.popen = None


@contextlib.contextmanager
def teardown_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while the stack runs, so fixtures still stop it.

    CI timeouts and ``timeout(1)`` send SIGTERM, which by default kills pytest without any
    teardown; the stack's processes run in their own sessions (``Proc.start``), so they would
    outlive it, holding ports and memory. pytest tears fixtures down on KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}: stopping the stack")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_ready(proc: Proc, url: str, what: str, timeout: float = 20) -> None:
    """Wait until ``proc`` answers 200 on ``/-/ready`` (Prometheus and Alertmanager)."""
    wait_until(
        lambda: proc.running() and http_get(f"{url}/-/ready")[0] == 200,
        timeout=timeout,
        what=f"{what} /-/ready",
        diagnose=proc.log_tail,
    )


@contextlib.contextmanager
def running_alertmanager(
    binary: str, config_path: Path, work_dir: Path, name: str = "alertmanager"
) -> Iterator[tuple[Proc, str]]:
    """A real Alertmanager on a free loopback port, stopped on exit: yields (proc, url)."""
    from ports import free_port

    port = free_port()
    data_dir = work_dir / f"{name}-data"
    data_dir.mkdir(exist_ok=True)
    proc = Proc(
        name,
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no HA gossip listener on 0.0.0.0:9094
            "--log.level=warn",
        ],
        work_dir,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, "Alertmanager")
        yield proc, url
    finally:
        proc.stop()


def which(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


class AlertWebhook:
    """Alertmanager's webhook receiver, in process: keeps every notification it gets."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length))
                payload["_path"] = self.path
                with hook._lock:
                    hook.notifications.append(payload)
                self.send_response(200)
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> AlertWebhook:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def alerts(self, alertname: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert instance named ``alertname`` in any notification (optionally by status)."""
        with self._lock:
            found = [
                {**alert, "_receiver": note["receiver"], "_path": note["_path"]}
                for note in self.notifications
                for alert in note["alerts"]
                if alert["labels"].get("alertname") == alertname
            ]
        return [a for a in found if status is None or a["status"] == status]


def prom_query(base_url: str, expr: str) -> list[dict[str, Any]]:
    """Instant query; the result vector (raises on a PromQL error)."""
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = get_json(url)
    if body.get("status") != "success":
        raise ValueError(f"query failed: {body}")
    return list(body["data"]["result"])
