"""The store's settings and the pause between exchanges while Redis is unreachable."""

from __future__ import annotations

import pytest

from ragsight import RedisState, SharedConfig
from ragsight._core.limits import LimitError


@pytest.mark.parametrize("field", ["publish_interval", "timeout", "stale_after", "reconnect_max"])
def test_every_duration_must_be_positive(field: str) -> None:
    with pytest.raises(LimitError, match=field):
        SharedConfig(**{field: 0.0})


def test_stale_after_must_be_above_the_publish_interval() -> None:
    with pytest.raises(LimitError, match="stale_after"):
        SharedConfig(publish_interval=1.0, stale_after=1.0)


def test_after_failures_the_pause_grows_but_never_beyond_reconnect_max() -> None:
    cfg = SharedConfig(publish_interval=0.1, reconnect_max=1.0)
    store = RedisState(config=cfg, background=False)
    pauses = [store._pause(failures) for failures in range(1, 40) for _ in range(20)]
    assert all(0.1 <= p <= 1.0 for p in pauses)
    assert max(pauses) > 0.5  # it does back off
    assert store._pause(0) == 0.1  # a good exchange: back to the interval


def test_stale_after_must_leave_room_for_one_interval_and_one_slow_reply() -> None:
    # a reply within timeout must not age the view past stale_after: local mode unlogged,
    # and this replica's report expiring on the server between two exchanges
    expected = r"stale_after=1\.0: must be above publish_interval \+ timeout \(0\.1 \+ 3\.0\)"
    with pytest.raises(LimitError, match=expected):
        SharedConfig(publish_interval=0.1, timeout=3.0, stale_after=1.0)


NOT_REDIS_URLS = ["localhost:6379", "http://127.0.0.1:6379/0", "REDIS://127.0.0.1:6379/0", ""]


@pytest.mark.parametrize("url", NOT_REDIS_URLS)
def test_a_url_that_is_not_a_redis_url_is_refused_when_the_store_is_created(url: str) -> None:
    with pytest.raises(ValueError, match=r"url=.*redis://host:port/db"):
        RedisState(url)


def test_settings_given_as_a_dict_are_refused_when_the_store_is_created() -> None:
    with pytest.raises(TypeError, match="SharedConfig"):
        RedisState(config={"publish_interval": 1.0})  # type: ignore[arg-type]


def test_an_asyncio_redis_client_is_refused_when_the_store_is_created() -> None:
    # the store exchanges on its own thread, synchronously: an async client's calls return
    # coroutines nobody awaits, and the store would stay in local mode for ever
    asyncio_redis = pytest.importorskip("redis.asyncio")
    client = asyncio_redis.Redis.from_url("redis://127.0.0.1:1/0")  # connects lazily
    with pytest.raises(TypeError, match=r"synchronous redis\.Redis"):
        RedisState(client=client)
