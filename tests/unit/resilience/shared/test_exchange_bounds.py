"""An exchange with Redis is bounded as a whole: a server that trickles its reply, or
announces one of gigabytes, fails the exchange by ``timeout`` or by the reply cap (local
mode, logged once naming the cause), never holds the publisher thread nor makes the
process buffer what it announced. Over redis-py and a fake server on 127.0.0.1
(tests/support/fake_redis.py); the real server's path is tests/stack/."""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Iterator

import pytest

pytest.importorskip("redis")

from fake_redis import FakeRedis, Mode

from ragsight import CircuitBreaker, RedisState, SharedConfig
from ragsight import names as n
from ragsight.testing import capture_telemetry

LOGGER = "ragsight.resilience.shared"
# a budget far above one trickled byte's interval (0.02 s): per-read timeouts never fire
TRICKLE = SharedConfig(publish_interval=0.05, timeout=0.5, stale_after=2.0)
# a budget no loopback transfer of the cap comes near: the cap, not the clock, ends it
ROOMY = SharedConfig(publish_interval=0.05, timeout=60.0, stale_after=120.0)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeRedis]:
    mode: Mode = request.param
    s = FakeRedis(mode)
    yield s
    s.close()


def _store(
    server: FakeRedis, name: str, config: SharedConfig, *, background: bool = False
) -> tuple[RedisState, CircuitBreaker]:
    store = RedisState(server.url, config=config, replica_id=name, background=background)
    return store, CircuitBreaker(name, shared=store)


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.mark.parametrize("server", ["good"], indirect=True)
def test_a_server_answering_in_full_puts_the_store_in_shared_mode(server: FakeRedis) -> None:
    store, _breaker = _store(server, "bounds-good", TRICKLE)
    try:
        assert store.exchange() is True
        assert store.mode == "shared"
    finally:
        store.close()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_a_trickled_reply_fails_the_exchange_at_its_deadline_in_local_mode(
    server: FakeRedis,
) -> None:
    store, _breaker = _store(server, "bounds-trickle", TRICKLE)
    try:
        assert store.exchange() is False  # returns at all: the trickle never ends
        assert store.mode == "local"
        assert server.sent > 0  # the reply had begun: a byte per read, never a whole one
    finally:
        store.close()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_a_resp2_connection_is_bounded_too(server: FakeRedis) -> None:
    store = RedisState(
        f"{server.url}?protocol=2", config=TRICKLE, replica_id="bounds-resp2", background=False
    )
    _breaker = CircuitBreaker("bounds-resp2", shared=store)
    try:
        assert store.exchange() is False
        assert store.mode == "local"
    finally:
        store.close()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_a_trickled_reply_is_logged_once_as_redis_too_slow(
    server: FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store, _breaker = _store(server, "bounds-trickle-log", TRICKLE)
    try:
        for _ in range(2):
            store.exchange()
        messages = _messages(caplog)
        assert len(messages) == 1
        assert "Redis too slow" in messages[0]
        assert "timeout=0.5 s" in messages[0]
    finally:
        store.close()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_the_mode_gauge_shows_local_after_a_trickled_reply(server: FakeRedis) -> None:
    with capture_telemetry() as t:
        store, _breaker = _store(server, "bounds-trickle-gauge", TRICKLE)
        try:
            store.exchange()
            points = t.metric_points(n.SHARED_MODE, **{n.RESILIENCE_NAME: "bounds-trickle-gauge"})
            modes = {p.attributes[n.SHARED_MODE]: p.value for p in points}
            assert modes == {"shared": 0, "local": 1}
        finally:
            store.close()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_close_ends_a_publisher_thread_caught_in_a_trickled_reply(server: FakeRedis) -> None:
    store, _breaker = _store(server, "bounds-trickle-close", TRICKLE, background=True)
    thread = store._thread
    assert thread is not None
    while server.sent == 0:  # the thread is inside a trickled reply
        thread.join(timeout=0.01)
    store.close()
    assert not thread.is_alive()


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_close_cuts_short_an_exchange_whose_budget_outlasts_the_join(server: FakeRedis) -> None:
    # timeout=60: the exchange's own deadline is far beyond close()'s 5 s join
    store, _breaker = _store(server, "bounds-trickle-cut", ROOMY, background=True)
    thread = store._thread
    assert thread is not None
    while server.sent == 0:
        thread.join(timeout=0.01)
    store.close()
    assert not thread.is_alive()


@pytest.mark.parametrize("server", ["huge"], indirect=True)
def test_a_reply_announced_as_gigabytes_is_refused_without_buffering_it(
    server: FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store, _breaker = _store(server, "bounds-huge", ROOMY)
    tracemalloc.start()
    try:
        assert store.exchange() is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        store.close()
    assert peak < 16 << 20  # the cap (64 KiB + 1 MiB for one report), not 3 GB
    assert store.mode == "local"
    messages = _messages(caplog)
    assert len(messages) == 1
    assert "Redis reply too large" in messages[0]


@pytest.mark.parametrize("server", ["huge"], indirect=True)
def test_after_a_refused_reply_the_next_exchange_starts_on_a_fresh_connection(
    server: FakeRedis,
) -> None:
    store, _breaker = _store(server, "bounds-huge-again", ROOMY)
    try:
        store.exchange()
        server.mode = "good"
        assert store.exchange() is True  # not the rest of the huge reply read as an answer
        assert store.mode == "shared"
    finally:
        store.close()
