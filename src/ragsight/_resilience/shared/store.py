"""The Redis store: one background thread per store, one pipelined round trip per tick.

The application's threads only ever read plain attributes the thread writes (the fleet's
view, the mode); nothing on a call path touches a socket. Redis down, slow (a reply later
than ``timeout``) or answering garbage puts the store in local mode: every component runs
on its own window, the episode is logged once (and once more when shared mode resumes),
and ``resilience.shared.mode`` shows it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from ragsight import names as n
from ragsight._resilience.shared import scripts
from ragsight._resilience.shared.config import SharedConfig
from ragsight._resilience.shared.links import BreakerLink, BudgetLink

if TYPE_CHECKING:
    from ragsight._resilience.breaker.facade import CircuitBreaker
    from ragsight._resilience.budget import RetryBudget

logger = logging.getLogger("ragsight.resilience.shared")

_live: weakref.WeakSet[RedisState] = weakref.WeakSet()
_live_lock = threading.Lock()


def live_stores() -> list[RedisState]:
    """Every store not yet garbage-collected (read by the mode gauge)."""
    with _live_lock:
        return list(_live)


class RedisState:
    """Fleet-wide breaker state and retry budgets through one Redis server.

    ``url`` is a redis-py URL (``redis://host:port/db``); ``prefix`` namespaces the keys
    (one per service, so two services' breakers named alike stay apart); ``config`` holds the
    timing and voting settings (:class:`SharedConfig`). ``client`` injects a ready redis-py
    client instead (tests, TLS set-ups). Nothing connects until a component attaches.

    Raises:
        ImportError: redis-py is missing (``pip install 'ragsight[redis]'``), on attach.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "ragsight:",
        config: SharedConfig | None = None,
        client: Any = None,
        replica_id: str | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.config = config or SharedConfig()
        self.replica_id = (
            replica_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.round_trips = 0  # exchanges attempted with Redis (the benchmark's count)
        self._client = client
        self._shas: dict[str, str] = {}
        self._links: list[BreakerLink | BudgetLink] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok = float("-inf")  # monotonic time of the last good exchange
        self._local_episode = False  # an outage was logged and not yet resolved
        with _live_lock:
            _live.add(self)

    # ---------------------------------------------------------------- attaching --
    def attach_breaker(self, breaker: CircuitBreaker) -> BreakerLink:
        """Share ``breaker``'s view with the fleet (called by ``CircuitBreaker(shared=)``)."""
        link = BreakerLink(breaker, self.prefix)
        self._attach(link)
        return link

    def attach_budget(self, budget: RetryBudget) -> BudgetLink:
        """Share ``budget``'s window with the fleet (called by ``RetryBudget(shared=)``)."""
        link = BudgetLink(budget, self.prefix, self.config.stale_after)
        self._attach(link)
        return link

    def _attach(self, link: BreakerLink | BudgetLink) -> None:
        if self._client is None:
            import redis  # the optional extra: ragsight[redis]

            timeout = self.config.timeout
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=timeout, socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )  # fmt: skip
        with self._lock:
            self._links.append(link)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ragsight-shared-state", daemon=True
                )
                self._thread.start()

    # ---------------------------------------------------------------- reading --
    @property
    def mode(self) -> str:
        """``shared`` while the last good exchange is fresher than ``stale_after``, else
        ``local`` (one of ``ragsight.names.SHARED_MODES``)."""
        fresh = time.monotonic() - self._last_ok <= self.config.stale_after
        return n.SHARED_MODE_SHARED if fresh else n.SHARED_MODE_LOCAL

    def component_names(self) -> list[str]:
        with self._lock:
            return [link.name for link in self._links]

    def close(self) -> None:
        """Stop the publisher thread (components carry on locally)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # ---------------------------------------------------------------- the thread --
    def _run(self) -> None:
        interval = self.config.publish_interval
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._exchange()
            except Exception as err:  # Redis down, slow or broken: carry on locally
                self._last_ok = float("-inf")  # local mode at once, not after stale_after
                self._went_local(err)
            else:
                self._last_ok = time.monotonic()
                if self._local_episode:
                    self._local_episode = False
                    logger.warning("ragsight shared state: Redis reachable again, shared mode")
            self._wake.wait(max(0.0, interval - (time.monotonic() - started)))

    def _went_local(self, err: BaseException) -> None:
        if not self._local_episode:
            self._local_episode = True
            logger.warning(
                "ragsight shared state: Redis unreachable (%s: %s); every breaker and "
                "budget runs on its local view until it answers again",
                type(err).__name__, err,
            )  # fmt: skip

    def _sha(self, link: BreakerLink | BudgetLink) -> str:
        source = scripts.BREAKER if isinstance(link, BreakerLink) else scripts.BUDGET
        sha = self._shas.get(source)
        if sha is None:
            sha = self._client.script_load(source)
            self.round_trips += 1
            self._shas[source] = sha
        return sha

    def _exchange(self) -> None:
        with self._lock:
            self._links = [link for link in self._links if link.alive]
            links = list(self._links)
        if not links:
            return
        pipe = self._client.pipeline(transaction=False)
        queued = [
            link
            for link in links
            if link.queue(pipe, self._sha(link), self.replica_id, self.config)
        ]
        self.round_trips += 1
        try:
            replies = pipe.execute()
        except Exception:
            # a restarted Redis has lost its script cache (NoScriptError, whose message
            # does not say NOSCRIPT): load the scripts again on the next good exchange
            self._shas.clear()
            raise
        for link, reply in zip(queued, replies, strict=True):
            link.apply(reply)
