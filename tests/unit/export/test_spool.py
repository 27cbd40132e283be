"""The outage spool (issue 11, item 5): while the collector is unreachable, batches wait on
disk and are replayed oldest first, each once, when it answers; what exceeds the size or
age bound is dropped and counted exactly; torn files are skipped and counted; the spool
is off unless enabled.

Most tests drive one :class:`SpoolingCall` with a scripted collector and controlled clocks
(no sleeping, no timing assertions); the last ones go through ``build_providers`` to a
real OTLP receiver over HTTP and gRPC.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from otlp_sink import OtlpSink

from ragsight._config.settings import Settings
from ragsight._config.validation import load_settings
from ragsight._export.exporters import ExportCall
from ragsight._export.health import SIGNAL_TRACES, ExportHealth
from ragsight._export.logs import _otel_handler
from ragsight._export.otlp_send import Answer, Outcome
from ragsight._export.setup import build_providers
from ragsight._export.shutdown import Deadline
from ragsight._export.spool import (
    BLOCK,
    PROBE_MAX,
    SpoolBudget,
    SpoolingCall,
    SpoolStore,
    default_directory,
)

ENDPOINT = "http://collector.test:4318/v1/traces"


class ScriptedCollector:
    """A Sender: ``up`` accepts, down answers RETRY, ``reject`` answers REJECTED."""

    def __init__(self) -> None:
        self.up = False
        self.reject = False
        self.received: list[list[int]] = []
        self.attempts = 0

    def send(self, payload: bytes, timeout: float) -> Answer:
        self.attempts += 1
        if self.reject:
            return Answer(Outcome.REJECTED, "HTTP 400")
        if not self.up:
            return Answer(Outcome.RETRY, "ConnectionRefusedError: [Errno 111]")
        self.received.append(json.loads(payload))
        return Answer(Outcome.SENT)

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        pass

    def items(self) -> list[int]:
        return [item for batch in self.received for item in batch]


class Clocks:
    """The monotonic clock (probe schedule) and the wall clock (batch age), by hand."""

    def __init__(self) -> None:
        self.monotonic = 1000.0
        self.wall_ns = 1_700_000_000 * 10**9

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall_ns += int(seconds * 1e9)


class Rig:
    def __init__(self, root: Path, *, max_bytes: int = 1 << 20, max_age: float = 3600.0) -> None:
        self.root = root
        self.clocks = Clocks()
        self.collector = ScriptedCollector()
        self.health = ExportHealth()
        self.call = self.new_call(max_bytes=max_bytes, max_age=max_age)

    def new_call(self, *, max_bytes: int = 1 << 20, max_age: float = 3600.0) -> SpoolingCall:
        store = SpoolStore(
            self.root,
            SIGNAL_TRACES,
            ENDPOINT,
            SpoolBudget(max_bytes),
            max_age,
            clock=lambda: self.clocks.wall_ns,
        )
        return SpoolingCall(
            SIGNAL_TRACES,
            "collector.test",
            self.collector,
            store,
            timeout=1.0,
            health=self.health,
            encode=lambda batch: json.dumps(list(batch)).encode(),
            monotonic=lambda: self.clocks.monotonic,
        )

    def export(self, *batches: list[int]) -> None:
        for batch in batches:
            self.call.run(None, batch)

    def recover(self) -> None:
        """The collector answers again; the next probe is due."""
        self.collector.up = True
        self.clocks.advance(PROBE_MAX)
        self.call.tick()

    def dropped(self) -> int:
        return self.health.dropped_counts().get(SIGNAL_TRACES, 0)

    def counts(self) -> dict[str, int]:
        return self.health.spool_counts().get(SIGNAL_TRACES, {})

    def batch_files(self) -> list[Path]:
        return sorted(self.root.rglob("*.batch"))


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "spool")


def batches(count: int, size: int = 3) -> list[list[int]]:
    return [list(range(i * size, (i + 1) * size)) for i in range(count)]


def test_batches_spooled_during_an_outage_are_replayed_oldest_first(rig: Rig) -> None:
    rig.export(*batches(5))
    assert rig.collector.received == []
    rig.recover()
    assert rig.collector.received == batches(5)


def test_new_batches_wait_behind_the_spool_so_the_collector_sees_them_in_order(rig: Rig) -> None:
    rig.export(*batches(3))
    rig.collector.up = True  # back, but the next probe is not due yet
    later = [[100, 101], [102]]
    rig.export(*later)
    assert rig.collector.received == []
    rig.recover()
    assert rig.collector.received == [*batches(3), *later]


def test_each_spooled_batch_is_sent_once_even_when_replay_fails_halfway(rig: Rig) -> None:
    rig.export(*batches(6))
    failures_after = 2

    original = rig.collector.send
    went_away = threading.Event()

    def flaky(payload: bytes, timeout: float) -> Answer:
        if len(rig.collector.received) == failures_after and not went_away.is_set():
            went_away.set()
            rig.collector.up = False  # the collector goes away again mid-replay
        return original(payload, timeout)

    rig.collector.send = flaky  # type: ignore[method-assign]
    rig.recover()
    assert len(rig.collector.received) == failures_after
    rig.recover()
    assert rig.collector.received == batches(6)
    assert rig.batch_files() == []


def test_a_batch_is_deleted_from_disk_once_the_collector_accepted_it(rig: Rig) -> None:
    rig.export(*batches(4))
    assert len(rig.batch_files()) == 4
    rig.recover()
    assert rig.batch_files() == []


def test_a_full_spool_drops_the_newest_batches_and_counts_their_items_exactly(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path / "spool", max_bytes=1 << 20)  # the smallest bound: 256 blocks
    fits = (1 << 20) // BLOCK
    rig.export(*batches(fits + 7, size=2))
    assert rig.dropped() == 7 * 2
    assert rig.counts()["full"] == 7 * 2
    rig.recover()
    assert rig.collector.received == batches(fits, size=2)  # the oldest are kept


def test_batches_older_than_max_age_are_dropped_unsent_and_counted(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "spool", max_age=60.0)
    rig.export(*batches(3))
    rig.clocks.advance(61.0)
    rig.export([90, 91])  # younger: kept
    rig.recover()
    assert rig.collector.received == [[90, 91]]
    assert rig.dropped() == 9
    assert rig.counts()["expired"] == 9


def test_a_torn_batch_file_is_skipped_and_its_items_counted(rig: Rig) -> None:
    rig.export(*batches(3))
    second = rig.batch_files()[1]
    second.write_bytes(second.read_bytes()[:-2])  # a crash or a full disk cut it short
    rig.recover()
    assert rig.collector.received == [batches(3)[0], batches(3)[2]]
    assert rig.dropped() == 3
    assert rig.counts()["torn"] == 1


def test_a_batch_file_with_a_flipped_byte_is_skipped_and_counted(rig: Rig) -> None:
    rig.export(*batches(2))
    first = rig.batch_files()[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(bytes(data))
    rig.recover()
    assert rig.collector.received == [batches(2)[1]]
    assert rig.counts()["torn"] == 1


def test_a_batch_the_collector_rejects_for_good_is_dropped_and_not_retried(rig: Rig) -> None:
    rig.export(*batches(2))
    rig.collector.reject = True
    rig.recover()
    attempts = rig.collector.attempts
    rig.collector.reject = False
    rig.recover()
    assert rig.collector.attempts == attempts  # nothing left to send again
    assert rig.dropped() == 6


def test_a_healthy_collector_gets_batches_directly_and_nothing_is_written(rig: Rig) -> None:
    rig.collector.up = True
    rig.export(*batches(3))
    assert rig.collector.received == batches(3)
    assert rig.batch_files() == []
    assert rig.counts() == {"produced": 9, "sent": 9}


def test_an_exited_process_spool_is_adopted_and_replayed_by_the_next_one(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Rig(root)
    first.export(*batches(3))
    first.call.abandon()  # the process ends: its lock is released, its batches stay
    second = Rig(root)
    second.collector.up = True
    second.call.tick()
    assert second.collector.received == batches(3)
    assert list(root.rglob("*.batch")) == []


def test_a_running_process_spool_is_not_adopted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    alive = Rig(root)
    alive.export(*batches(2))
    other = Rig(root)
    other.collector.up = True
    other.call.tick()
    assert other.collector.received == []
    assert len(alive.batch_files()) == 2


def test_a_write_interrupted_by_a_crash_is_counted_when_the_spool_is_adopted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "spool"
    crashed = Rig(root)
    crashed.export(*batches(1))
    (crashed.call.store.directory / ".tmp-7-4").write_bytes(b"RSP1\x00")  # never renamed
    crashed.call.abandon()
    heir = Rig(root)
    heir.collector.up = True
    heir.call.tick()
    assert heir.collector.received == batches(1)
    assert heir.counts()["torn"] == 1
    assert heir.dropped() == 4


def test_a_directory_left_by_a_process_that_died_while_creating_it_is_removed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "spool"
    first = Rig(root)
    first.export(*batches(1))
    staging = first.call.store.signal_dir / ".new-999-deadbeef"
    staging.mkdir()
    (staging / ".lock").touch()  # nobody holds its lock
    Rig(root).call.tick()
    assert not staging.exists()


def test_a_batch_still_in_flight_when_shutdown_gives_up_is_counted_once_and_not_spooled(
    rig: Rig,
) -> None:
    entered, release = threading.Event(), threading.Event()

    def hanging(payload: bytes, timeout: float) -> Answer:
        entered.set()
        release.wait(20)
        return Answer(Outcome.RETRY, "timed out")

    rig.collector.send = hanging  # type: ignore[method-assign]
    worker = threading.Thread(target=rig.export, args=([1, 2, 3, 4],))
    worker.start()
    assert entered.wait(20)
    assert rig.call.abandon() == 4  # shutdown ran out of time
    release.set()
    worker.join(20)
    assert rig.dropped() == 4
    assert rig.batch_files() == []


def test_shutdown_spools_a_batch_when_no_time_is_left_to_send_it(rig: Rig) -> None:
    rig.collector.up = True
    rig.call.begin_shutdown(Deadline(0.0))
    rig.export([7, 8])
    assert rig.collector.attempts == 0
    assert len(rig.batch_files()) == 1
    assert rig.dropped() == 0


def test_nothing_touches_the_disk_before_the_first_export(tmp_path: Path) -> None:
    Rig(tmp_path / "spool")
    assert not (tmp_path / "spool").exists()


def test_the_spool_is_off_by_default() -> None:
    settings = load_settings(environ={}, otlp_endpoint="http://127.0.0.1:4318")
    assert settings.spool.enabled is False
    providers = build_providers(settings, health=ExportHealth())
    try:
        assert all(type(call) is ExportCall for call in providers.plan.calls)
    finally:
        providers.shutdown(1.0)


def test_the_spool_applies_to_otlp_only_not_to_the_file_sink(tmp_path: Path) -> None:
    settings = load_settings(
        environ={}, cwd=tmp_path, spool_enabled=True, file_sink_directory=str(tmp_path)
    )
    providers = build_providers(settings, health=ExportHealth())
    try:
        assert all(type(call) is ExportCall for call in providers.plan.calls)
    finally:
        providers.shutdown(1.0)


def test_the_default_directory_is_the_per_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/u1")
    assert default_directory() == Path("/var/cache/u1/ragsight/spool")
    assert Settings().spool.directory is None


# --------------------------------------------------------------------------------------
# Through build_providers, to a real OTLP receiver
# --------------------------------------------------------------------------------------
def _spans(settings: Settings, health: ExportHealth, names: list[str]) -> Any:
    providers = build_providers(settings, health=health)
    tracer = providers.tracer_provider.get_tracer("spool-test")
    for name in names:
        with tracer.start_as_current_span(name):
            pass
    return providers


def _settings(endpoint: str, protocol: str, tmp_path: Path, **more: Any) -> Settings:
    """Export to ``endpoint`` spooling in ``tmp_path / "spool"``; ``more`` adds or overrides."""
    options: dict[str, Any] = {
        "environ": {},
        "batch_schedule_delay": 0.05,
        "batch_metric_export_interval": 3600.0,  # metrics are flushed explicitly
        "spool_enabled": True,
        "spool_directory": str(tmp_path / "spool"),
        **more,
    }
    return load_settings(cwd=tmp_path, otlp_endpoint=endpoint, otlp_protocol=protocol, **options)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_spans_produced_during_a_refusing_collector_arrive_in_order_once_it_accepts(
    protocol: str, tmp_path: Path
) -> None:
    with OtlpSink(fail_with=503) as sink:
        endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint
        settings = _settings(endpoint, protocol, tmp_path, batch_max_export_batch_size=4)
        health = ExportHealth()
        expected = [f"span-{i}" for i in range(20)]
        providers = _spans(settings, health, expected)
        assert sink.wait_for(lambda s: len(s.refused) >= 1, timeout=20)
        providers.force_flush(5.0)
        sink.fail_with = None
        assert sink.wait_for(lambda s: len(s.spans()) >= len(expected), timeout=30)
        providers.shutdown(2.0)
        assert [span.name for _, _, span in sink.spans()] == expected
        assert health.dropped_counts().get(SIGNAL_TRACES, 0) == 0


def test_metric_points_and_log_records_wait_in_the_spool_too(tmp_path: Path) -> None:
    with OtlpSink(fail_with=503) as sink:
        health = ExportHealth()
        providers = build_providers(
            _settings(sink.http_endpoint, "http/protobuf", tmp_path), health=health
        )
        counter = providers.meter_provider.get_meter("spool-test").create_counter("spooled.calls")
        counter.add(3)
        handler = _otel_handler(providers.logger_provider, logging.INFO)
        record = logging.LogRecord("spool", logging.INFO, __file__, 1, "kept on disk", None, None)
        handler.emit(record)
        providers.force_flush(5.0)
        spooled = health.spool_counts()
        sink.fail_with = None
        providers.force_flush(5.0)  # metrics export again: replays the spooled one first
        assert sink.wait_for(lambda s: bool(s.log_records()), timeout=30)
        providers.shutdown(2.0)
    assert spooled["metrics"]["spooled"] > 0
    assert spooled["logs"]["spooled"] == 1
    times = [
        m.sum.data_points[0].time_unix_nano
        for _, _, m in sink.metrics()
        if m.name == "spooled.calls"
    ]
    assert len(times) >= 2  # the spooled collection and the later one
    assert times == sorted(times)  # the spooled one first
    assert [r.body.string_value for _, _, r in sink.log_records()] == ["kept on disk"]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_spool_sends_the_configured_headers_and_compression(
    protocol: str, tmp_path: Path
) -> None:
    with OtlpSink() as sink:
        endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint
        settings = _settings(
            endpoint,
            protocol,
            tmp_path,
            environ={"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer t0k"},
            otlp_compression="gzip",
        )
        providers = _spans(settings, ExportHealth(), ["with-headers"])
        assert sink.wait_for(lambda s: bool(s.spans()), timeout=30)
        providers.shutdown(2.0)
    (received,) = sink.received("traces")
    assert received.headers.get("authorization") == "Bearer t0k"
    assert [span.name for _, _, span in sink.spans()] == ["with-headers"]


class Blackhole:
    """Accepts TCP connections and never answers (a collector that hangs)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        self.released = threading.Event()
        self.connected = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while not self.released.is_set():
                self.held.append(self.server.accept()[0])
                self.connected.set()

    def release(self) -> None:
        self.released.set()
        for connection in self.held:
            connection.close()
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_against_a_hanging_collector_spools_everything_instead_of_dropping_it(
    protocol: str, tmp_path: Path
) -> None:
    hole = Blackhole()
    try:
        settings = _settings(
            f"http://127.0.0.1:{hole.server.getsockname()[1]}",
            protocol,
            tmp_path,
            otlp_timeout=60.0,  # the send in flight would outlast shutdown by far
            shutdown_timeout=5.0,
            batch_schedule_delay=0.01,
        )
        health = ExportHealth()
        providers = _spans(settings, health, [f"s{i}" for i in range(50)])
        assert hole.connected.wait(30)  # the export is in flight, given the full 60 s
        done = threading.Thread(target=providers.shutdown, daemon=True)
        done.start()
        done.join(60)
        assert not done.is_alive()
        assert not hole.released.is_set()  # returned while the collector still hangs
    finally:
        hole.release()
    assert health.dropped_counts().get(SIGNAL_TRACES, 0) == 0
    assert health.spool_counts()[SIGNAL_TRACES]["spooled"] == 50
    assert list((tmp_path / "spool").rglob("*.batch"))  # waiting for the next run


_NEXT_RUN = textwrap.dedent(
    """
    import sys
    from ragsight._config.validation import load_settings
    from ragsight._export.health import ExportHealth
    from ragsight._export.setup import build_providers
    endpoint, directory = sys.argv[1], sys.argv[2]
    settings = load_settings(environ={}, otlp_endpoint=endpoint, spool_enabled=True,
                             spool_directory=directory, batch_schedule_delay=0.05,
                             batch_metric_export_interval=3600.0)
    providers = build_providers(settings, health=ExportHealth())
    tracer = providers.tracer_provider.get_tracer("spool-test")
    for i in range(int(sys.argv[3])):
        with tracer.start_as_current_span(f"{sys.argv[4]}-{i}"):
            pass
    providers.shutdown(float(sys.argv[5]))
    """
)


def _start(
    endpoint: str, directory: Path, spans: int, prefix: str, timeout: float
) -> subprocess.Popen[bytes]:
    args = [endpoint, str(directory), str(spans), prefix, str(timeout)]
    return subprocess.Popen([sys.executable, "-c", _NEXT_RUN, *args], env=dict(os.environ))


def _run(endpoint: str, directory: Path, spans: int, prefix: str, timeout: float) -> None:
    assert _start(endpoint, directory, spans, prefix, timeout).wait(60) == 0


def test_what_a_process_could_not_send_before_exiting_is_sent_by_its_next_run(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    with OtlpSink(fail_with=503) as sink:
        _run(sink.http_endpoint, directory, 5, "first", 2.0)  # exits while refused
        assert sink.spans() == []
        sink.fail_with = None
        _run(sink.http_endpoint, directory, 2, "second", 3.0)
        names = [span.name for _, _, span in sink.spans()]
    assert names == [f"first-{i}" for i in range(5)] + [f"second-{i}" for i in range(2)]
    assert list(directory.rglob("*.batch")) == []


def test_processes_spooling_into_one_directory_at_once_lose_and_repeat_nothing(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    with OtlpSink(fail_with=503) as sink:
        running = [_start(sink.http_endpoint, directory, 40, f"p{n}", 2.0) for n in range(3)]
        assert [process.wait(60) for process in running] == [0, 0, 0]
        assert sink.spans() == []
        sink.fail_with = None
        _run(sink.http_endpoint, directory, 1, "heir", 3.0)  # adopts all three
        names = [span.name for _, _, span in sink.spans()]
    for n in range(3):
        assert [name for name in names if name.startswith(f"p{n}-")] == [
            f"p{n}-{i}" for i in range(40)
        ]
    assert len(names) == 3 * 40 + 1
