"""The shared store: one background thread per store, one pipelined round trip per tick.

The application's threads only ever read plain attributes the thread writes (the fleet's
verdict, the other replicas' budget sums, the mode); nothing on a call path touches a socket
or waits for the thread. Redis down, slow (an exchange not answered in full within
``timeout``), answering more than the replies can hold, or answering garbage puts the store
in local mode: every component runs on its own window, the episode
is logged once (and once more when shared mode resumes), and ``resilience.shared.mode``
shows it.

Fork safety: a forked child (gunicorn pre-fork, ``multiprocessing`` with fork) gets fresh
locks, its own replica id, its own connection and its own publisher thread
(``os.register_at_fork``); it never writes on the parent's socket or reports as the parent.
"""

from __future__ import annotations

import inspect
import logging
import os
import random
import socket
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from ragsight import names as n
from ragsight._resilience import clock as _clock
from ragsight._resilience.shared.backends import FleetBackend, RedisBackend
from ragsight._resilience.shared.config import SharedConfig
from ragsight._resilience.shared.links import BreakerLink, BudgetLink, Link

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


_URL_SCHEMES = ("redis://", "rediss://", "unix://")  # what redis-py accepts (case-sensitive)


def _check_url(url: object) -> None:
    if not isinstance(url, str) or not url.startswith(_URL_SCHEMES):
        raise ValueError(
            f"url={url!r}: must be a Redis URL: redis://host:port/db, rediss://host:port/db "
            f"(TLS) or unix:///path/to/redis.sock"
        )


def _auto_replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisState:
    """Fleet-wide breaker state and retry budgets through one Redis server.

    ``url`` is a redis-py URL (``redis://host:port/db``); ``prefix`` namespaces the keys
    (one per service, so two services' breakers named alike stay apart); ``config`` holds the
    timing and voting settings (:class:`SharedConfig`). ``client`` injects a ready redis-py
    client instead (it keeps its own timeouts and retries: give it ``socket_timeout`` and
    no retries, as the store does for a URL). ``replica_id`` names this replica in the
    fleet (default: host, pid and a random part; a forked child gets its own, an explicit
    id gains the child's pid). Nothing connects until a component attaches.

    ``backend`` replaces Redis with another :class:`FleetBackend` (tests run the real logic
    over an in-memory fleet); ``clock`` is the monotonic clock the mode and the views are
    aged by; ``background=False`` starts no publisher thread: call :meth:`exchange` on your
    own schedule.

    Raises:
        ValueError: ``url`` is not a Redis URL (checked here, not on attach).
        TypeError: ``config`` is not a :class:`SharedConfig`, or ``client`` is an asyncio
            client (``redis.asyncio``).
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
        backend: FleetBackend | None = None,
        clock: _clock.Clock | None = None,
        background: bool = True,
    ) -> None:
        if client is None and backend is None:
            _check_url(url)
        if inspect.iscoroutinefunction(getattr(client, "execute_command", None)):
            raise TypeError(
                f"client (a {type(client).__module__}.{type(client).__qualname__}): must be "
                f"a synchronous redis.Redis (the store exchanges "
                f"on its own thread, never on the event loop); an asyncio app passes url= "
                f"or a redis.Redis client"
            )
        if config is not None and not isinstance(config, SharedConfig):
            raise TypeError(
                f"config={config!r}: must be a ragsight.SharedConfig, e.g. "
                f"SharedConfig(publish_interval=0.1)"
            )
        self.url = url
        self.prefix = prefix
        self.config = config or SharedConfig()
        self._explicit_id = replica_id
        self.replica_id = replica_id or _auto_replica_id()
        self._client = client
        self._backend = backend
        self._now = clock.monotonic if clock is not None else _clock.now
        self._background = background
        self._rng = random.Random()
        self._links: list[Link] = []
        self._init_process_state()
        with _live_lock:
            _live.add(self)

    def _init_process_state(self) -> None:
        """Everything that belongs to one process: locks, the thread, the connection's
        health. Called at creation and again in a forked child."""
        self._lock = threading.Lock()  # guards _links and _thread
        self._exchange_lock = threading.Lock()  # one exchange at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok = float("-inf")  # monotonic time of the last good exchange
        self._local_episode = False  # an outage was logged and not yet resolved

    # ---------------------------------------------------------------- attaching --
    def attach_breaker(self, breaker: CircuitBreaker) -> BreakerLink:
        """Share ``breaker``'s view with the fleet (called by ``CircuitBreaker(shared=)``)."""
        link = BreakerLink(breaker, self.prefix)
        self._attach(link)
        return link

    def attach_budget(self, budget: RetryBudget) -> BudgetLink:
        """Share ``budget``'s window with the fleet (called by ``RetryBudget(shared=)``)."""
        link = BudgetLink(budget, self.prefix, self.config.stale_after, self._now)
        self._attach(link)
        return link

    def _attach(self, link: Link) -> None:
        if self._backend is None:
            self._backend = RedisBackend(self.url, self.config.timeout, self._client)
        with self._lock:
            self._links.append(link)
            self._start_thread()

    def _start_thread(self) -> None:
        """Lock held."""
        if self._thread is None and self._background and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._run, name="ragsight-shared-state", daemon=True
            )
            self._thread.start()

    # ---------------------------------------------------------------- reading --
    @property
    def mode(self) -> str:
        """``shared`` while the last exchange succeeded and is fresher than
        ``stale_after``, else ``local`` (one of ``ragsight.names.SHARED_MODES``)."""
        fresh = self._now() - self._last_ok <= self.config.stale_after
        return n.SHARED_MODE_SHARED if fresh else n.SHARED_MODE_LOCAL

    @property
    def round_trips(self) -> int:
        """Round trips to the server so far (exchanges and script loads)."""
        backend = self._backend
        return 0 if backend is None else backend.round_trips

    def component_names(self) -> list[str]:
        """The attached components' names, each once (a breaker and a budget for one
        dependency usually share a name, and one mode)."""
        with self._lock:
            return sorted({link.name for link in self._links})

    def close(self) -> None:
        """Stop the publisher thread and drop the connection (components carry on
        locally). An exchange in flight is cut short: dropping the connection ends its
        reads at once, however long ``timeout`` is."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        backend = self._backend
        if thread is not None and thread is not threading.current_thread():
            if backend is not None and thread.is_alive():
                backend.close()  # wakes a read in flight (its socket is shut down)
            thread.join(timeout=5)
        if backend is not None:
            backend.close()  # again: an exchange starting as close() began reconnected

    # ---------------------------------------------------------------- exchanging --
    def exchange(self) -> bool:
        """One exchange now, on the calling thread: publish every attached component's
        window and apply the fleet's view. True when the backend answered (or no component
        is attached any more: nothing to publish); False (local mode, logged once per
        episode) when it failed. Never raises."""
        with self._lock:
            self._links = [link for link in self._links if link.alive]
            links = list(self._links)
        if not links:
            return True
        with self._exchange_lock:
            try:
                self._exchange(links)
            except Exception as err:  # Redis down, slow or broken: carry on locally
                self._last_ok = float("-inf")  # local mode at once, not after stale_after
                for link in links:
                    link.lose()
                if not self._stop.is_set():  # after close(): the close, not an outage
                    self._went_local(err)
                return False
        self._last_ok = self._now()
        if self._local_episode:
            self._local_episode = False
            logger.warning("ragsight shared state: Redis reachable again, shared mode")
        return True

    def _exchange(self, links: list[Link]) -> None:
        backend = self._backend
        assert backend is not None  # set by the first attach, before any link exists
        queued: list[tuple[Link, str, str]] = []
        for link in links:
            report = link.report()
            if report is not None:
                queued.append((link, *report))
        stale_ms = int(self.config.stale_after * 1000)
        replies = backend.exchange(self.replica_id, stale_ms, [(k, p) for _, k, p in queued])
        if len(replies) != len(queued):
            raise ValueError(f"{len(replies)} replies to {len(queued)} reports")
        for (link, _key, payload), reply in zip(queued, replies, strict=True):
            link.apply(reply, payload, self.config)

    def _went_local(self, err: BaseException) -> None:
        if not self._local_episode:
            self._local_episode = True
            outage = getattr(err, "outage", None)  # the backend names it ("too slow", ...)
            logger.warning(
                "ragsight shared state: Redis %s (%s: %s); every breaker and budget runs "
                "on its local view until it answers again",
                outage if isinstance(outage, str) else "unreachable", type(err).__name__, err,
            )  # fmt: skip

    def _pause(self, failures: int) -> float:
        """Seconds until the next exchange: the interval, or a jittered doubling of it up
        to ``reconnect_max`` after ``failures`` failed exchanges in a row."""
        cfg = self.config
        if failures == 0:
            return cfg.publish_interval
        ceiling = min(cfg.reconnect_max, cfg.publish_interval * 2.0 ** min(failures - 1, 30))
        return max(cfg.publish_interval, ceiling * self._rng.uniform(0.5, 1.0))

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            failures = 0 if self.exchange() else failures + 1
            with self._lock:
                if not self._links:  # every component is gone: end (an attach restarts it)
                    self._thread = None
                    return
            self._wake.wait(self._pause(failures))

    # ---------------------------------------------------------------- fork --
    def _after_fork_in_child(self) -> None:
        stopped = self._stop.is_set()
        self._init_process_state()
        if stopped:
            self._stop.set()
        self.replica_id = (
            f"{self._explicit_id}:{os.getpid()}" if self._explicit_id else _auto_replica_id()
        )
        self._rng = random.Random()
        for link in self._links:
            link.lose()
        if self._backend is not None:
            self._backend.after_fork()
        if self._links:
            with self._lock:
                self._start_thread()


def _after_fork_in_child() -> None:
    global _live_lock
    _live_lock = threading.Lock()  # another thread may have held it at the fork
    for store in list(_live):
        try:
            store._after_fork_in_child()
        except Exception:  # a store must never break the child's start
            logger.exception("ragsight shared state: could not reset a store after fork")


os.register_at_fork(after_in_child=_after_fork_in_child)
