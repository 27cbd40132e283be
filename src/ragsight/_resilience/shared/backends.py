"""Where the reports go: the interface a store exchanges through, and its Redis form.

A backend takes one tick's reports (one per attached component) and returns, for each, the
other replicas' fresh reports, in one round trip when it can. It raises on any failure; the
store turns that into local mode. Tests inject their own backend (an in-memory fleet on a
fake clock) and run the store's real logic over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ragsight._resilience.shared import bounded, scripts

Report = tuple[str, str]  # (key, payload)
Reply = dict[str, str]  # replica -> payload, every other fresh replica


class FleetBackend(Protocol):
    """What :class:`ragsight.RedisState` exchanges through."""

    round_trips: int  # exchanges with the server so far (script loads included)

    def exchange(self, replica: str, stale_ms: int, reports: Sequence[Report]) -> list[Reply]:
        """Store ``reports`` as ``replica``'s; return one reply per report, in order.

        Raises:
            Exception: the server is unreachable, slow past the timeout or answered
                something else than the script's reply. An exception with an ``outage``
                attribute ("too slow", "reply too large") names the episode in the log;
                others are logged as Redis being unreachable.
        """
        ...

    def after_fork(self) -> None:
        """In a forked child: drop every connection inherited from the parent."""
        ...

    def close(self) -> None: ...


class RedisBackend:
    """redis-py, no retries of its own (the store's tick is the retry loop), EVALSHA of one
    script, reloaded when the server answers NOSCRIPT (a restarted or flushed server).

    ``timeout`` bounds connecting and is the whole exchange's budget: every reply of it
    (the connection's handshake, the script load, the pipelined round trip) must have
    arrived by then, and an exchange reads at most ``HANDSHAKE_BYTES`` plus
    ``REPLY_BYTES_PER_REPORT`` per report (:mod:`.bounded`), so a server that trickles
    bytes or announces a huge reply fails the exchange instead of holding the publisher
    thread or the process's memory. An injected ``client`` keeps its own limits."""

    def __init__(self, url: str, timeout: float, client: Any = None) -> None:
        self.url = url
        self.timeout = timeout
        self.round_trips = 0
        self._guard = bounded.ExchangeGuard()
        self._own_client = client is None
        self._client: Any = client if client is not None else self._connect()
        self._sha: str | None = None

    def _connect(self) -> Any:
        try:
            import redis  # the optional extra: ragsight[redis]
        except ImportError as err:
            raise ImportError(
                "ragsight.RedisState needs redis-py, which is not installed; install it "
                "with: pip install 'ragsight[redis]'"
            ) from err
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0), health_check_interval=0,
        )  # fmt: skip
        kwargs = client.connection_pool.connection_kwargs
        kwargs["parser_class"] = bounded.bounded_parser(self._guard, kwargs.get("protocol"))
        return client

    def exchange(self, replica: str, stale_ms: int, reports: Sequence[Report]) -> list[Reply]:
        max_bytes = bounded.HANDSHAKE_BYTES + bounded.REPLY_BYTES_PER_REPORT * len(reports)
        self._guard.arm(self.timeout, max_bytes)
        try:
            return self._exchange(replica, stale_ms, reports)
        finally:
            self._guard.disarm()

    def _exchange(self, replica: str, stale_ms: int, reports: Sequence[Report]) -> list[Reply]:
        from redis.exceptions import NoScriptError

        client = self._client
        for attempt in range(2):
            sha = self._sha
            if sha is None:
                self.round_trips += 1
                sha = self._sha = _text(client.script_load(scripts.REPORT))
            pipe = client.pipeline(transaction=False)
            for key, payload in reports:
                pipe.evalsha(sha, 1, key, replica, payload, stale_ms)
            self.round_trips += 1
            replies = pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies):
                self._sha = None  # the server lost its script cache: load it, send again
                continue
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return [_pairs(reply) for reply in replies]
        raise RuntimeError("unreachable")  # pragma: no cover - the loop returns or raises

    def after_fork(self) -> None:
        # A client built here gets a fresh pool (nothing inherited is touched, let alone
        # closed: the parent still uses those sockets); an injected one relies on
        # redis-py's own pid check, which resets its pool in a child.
        if self._own_client:
            self._client = self._connect()
        self._sha = None

    def close(self) -> None:
        if self._own_client:
            self._client.close()


def _pairs(reply: Any) -> Reply:
    if not isinstance(reply, list) or len(reply) % 2:
        raise ValueError(f"unexpected script reply {reply!r}")
    return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply), 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
