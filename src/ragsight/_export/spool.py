"""The outage spool: export batches the collector cannot take now wait on disk, bounded.

Off by default (``spool.enabled``). Why: it writes telemetry (with ``content.capture`` on,
prompts and answers) to the local disk, which nobody should get without asking; in
containers the disk is usually gone with the container anyway; and several processes of
one host would each keep their own share of the disk. When enabled it lives in the
per-user cache (``$XDG_CACHE_HOME/ragsight/spool``, else ``~/.cache/ragsight/spool``) unless
``spool.directory`` says otherwise, bounded by ``spool.max_bytes`` (64 MiB) and
``spool.max_age`` (1 hour: older points are refused by most metric stores anyway). It
applies to OTLP export only (the embedded file sink is already on disk).

How it works, per signal, always on the export worker thread (the application only ever
appends to the bounded in-memory queue, as without the spool):

- each batch is serialized once to its ``Export*ServiceRequest`` and sent in one attempt
  (:mod:`ragsight._export.otlp_send`); if the collector is unreachable or answers a
  retryable error, the batch is written to the spool instead of being dropped, and while
  the spool is not empty every new batch goes behind it, so order is kept;
- the oldest batch is replayed first: at most one attempt per probe interval (0.5 s,
  doubling to 5 s while it keeps failing), then as many as are waiting, within a 0.1 s
  slice per export or idle tick (so the worker keeps draining the in-memory queue: with a
  1 s slice, the reliability benchmark's tight loop overflowed the 2,048-item queue while
  it replayed); a batch file is
  deleted right after the collector accepted it, so each is sent once (the exceptions, one
  batch per signal each, sent again by the next run: a process killed between the
  collector's answer and the deletion, and a send cut short at shutdown whose request the
  collector had already received);
- one file per batch, written under a temporary name and renamed, with a header (magic,
  item count, length, CRC-32): a file that fails the check (a crash, a full disk, power
  loss) is skipped, deleted and its items counted; memory holds one batch and a small
  index entry per spooled batch, never the spool's contents;
- what does not fit in ``spool.max_bytes`` is the *newest* batch: it is dropped and its
  items counted, as the in-memory queue and the Collector's own sending queue drop what
  arrives when full; batches older than ``spool.max_age`` are dropped unsent, counted;
  a batch the collector rejects for good (HTTP 400, gRPC INVALID_ARGUMENT...) is dropped and
  counted like a failed export without a spool;
- every process has its own subdirectory ``<directory>/<signal>-<endpoint hash>/<pid>-<id>``
  holding an exclusive ``flock`` while it runs; at start a process adopts the
  subdirectories whose lock is free (their process exited or died), oldest batch first, so
  what one run spooled (also at shutdown: unsent batches go to the spool, not lost) is
  replayed by the next run exporting the same signal to the same endpoint;
- shutdown stays bounded by ``shutdown_timeout``: a send gets at most half the time left,
  a send still in flight when 40 % of it is gone is cut short and its batch spooled, and
  while the collector is down batches go straight to disk.

Dropped items are counted in ``ragsight.export.dropped`` / ``dropped_counts()`` exactly once;
``ExportHealth.spool_counts()`` also counts what was spooled, replayed, expired and torn.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragsight._config.export_limits import SPOOL_MAX_AGE, SPOOL_MAX_BYTES
from ragsight._config.masking import scrub
from ragsight._config.settings import NO_VALUE, ConfigError, Problem, Settings
from ragsight._export.exporters import ExportCall
from ragsight._export.health import (
    SIGNAL_LOGS,
    SIGNAL_METRICS,
    SIGNAL_TRACES,
    ExportHealth,
    count_items,
)
from ragsight._export.otlp_send import Answer, Outcome, Sender
from ragsight._export.shutdown import Deadline

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no adoption of other processes' spools
    fcntl = None  # type: ignore[assignment]

_MAGIC = b"RSP1"
_HEADER = struct.Struct(">4sIQI")  # magic, items, payload length, CRC-32 of the payload
BLOCK = 4096
"""Every batch file is charged at least one block to ``spool.max_bytes`` (what it takes on
disk), which also bounds the index to ``max_bytes / BLOCK`` entries."""
_NAME = re.compile(r"^(\d{19})-([0-9a-z]+-[0-9a-f]+)-(\d{9})-(\d+)\.batch$")
_TMP = re.compile(r"^\.tmp-(\d+)-(\d+)$")
_LOCK = ".lock"

PROBE_FIRST = 0.5
PROBE_MAX = 5.0
REPLAY_SLICE = 0.1
"""Seconds one export (or idle tick) may spend replaying before returning to new data."""
INTERRUPT_SHARE = 0.4
"""Of the shutdown budget: then a send still in flight is cut short and its batch spooled."""


def default_directory() -> Path:
    """The per-user cache: ``$XDG_CACHE_HOME/ragsight/spool``, else ``~/.cache/...``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "ragsight" / "spool"


def charge(payload_length: int) -> int:
    """Bytes one batch counts against ``spool.max_bytes`` (whole blocks, header included)."""
    size = _HEADER.size + payload_length
    return max(BLOCK, -(-size // BLOCK) * BLOCK)


class SpoolBudget:
    """``spool.max_bytes`` shared by the signals of one process; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes: int = SPOOL_MAX_BYTES.check(max_bytes, "spool.max_bytes")
        self._used = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self._used + size > self.max_bytes:
                return False
            self._used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self._used = max(0, self._used - size)

    @property
    def used(self) -> int:
        return self._used


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    created_ns: int
    items: int
    charge: int


@dataclass
class Dropped:
    """What the store removed without sending (the caller counts it)."""

    items: int = 0
    files: int = 0


class SpoolStore:
    """One signal's batches of this process on disk, oldest first (see the module doc).

    Nothing touches the disk before :meth:`open`, which the export worker calls on first
    use. Not thread-safe by itself: :class:`SpoolingCall` serializes access.
    """

    def __init__(
        self,
        root: Path,
        signal: str,
        endpoint: str,
        budget: SpoolBudget,
        max_age: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
        self.signal_dir = Path(root) / f"{signal}-{digest}"
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.directory = self.signal_dir / self.token
        self._budget = budget
        self._max_age_ns = int(SPOOL_MAX_AGE.check(max_age, "spool.max_age") * 1e9)
        self._clock = clock
        self._index: deque[Entry] = deque()
        self._seq = 0
        self._lock_fd: int | None = None
        self._opened = False
        self.closed = False

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> tuple[Dropped, Dropped]:
        """Create this process's directory (locked) and adopt orphaned ones.

        Returns what adoption dropped: (torn files, batches beyond ``max_bytes``). Raises
        OSError when the directory cannot be created (the caller then exports unspooled).
        """
        if self._opened:
            return Dropped(), Dropped()
        self.signal_dir.mkdir(parents=True, exist_ok=True)
        staging = self.signal_dir / f".new-{self.token}"
        staging.mkdir()
        fd = os.open(staging / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(staging, self.directory)  # visible to others only once locked
        self._lock_fd = fd
        self._opened = True
        torn, over = self._adopt()
        return torn, over

    @property
    def opened(self) -> bool:
        return self._opened

    def close(self) -> None:
        """Stop using the spool: release the lock (its batches wait for the next process);
        an empty directory is removed."""
        self.closed = True
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        if not self._index:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / _LOCK)
                os.rmdir(self.directory)
        os.close(fd)

    def _adopt(self) -> tuple[Dropped, Dropped]:
        torn, over = Dropped(), Dropped()
        if fcntl is None:
            return torn, over
        found: list[Entry] = []
        with contextlib.suppress(FileNotFoundError):
            siblings = [e for e in os.scandir(self.signal_dir) if e.is_dir()]
            for sibling in siblings:
                staging = sibling.name.startswith(".new-")
                if sibling.name == self.token or (sibling.name.startswith(".") and not staging):
                    continue
                try:
                    fd = os.open(os.path.join(sibling.path, _LOCK), os.O_RDWR)
                except OSError:
                    continue  # being created, or already adopted by another process
                try:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        continue  # its process is alive
                    if staging:  # its process died before it could use it: empty
                        with contextlib.suppress(OSError):
                            os.unlink(os.path.join(sibling.path, _LOCK))
                            os.rmdir(sibling.path)
                        continue
                    self._take(Path(sibling.path), found, torn)
                finally:
                    os.close(fd)
        found.sort(key=lambda e: e.name)
        for entry in found:
            if self._budget.reserve(entry.charge):
                self._index.append(entry)
            else:  # over the bound: the newest are dropped, as for new batches
                with contextlib.suppress(OSError):
                    os.unlink(self.directory / entry.name)
                over.items += entry.items
                over.files += 1
        return torn, over

    def _take(self, orphan: Path, found: list[Entry], torn: Dropped) -> None:
        for file in os.scandir(orphan):
            name = file.name
            if name == _LOCK:
                continue
            match = _NAME.match(name)
            with contextlib.suppress(OSError):
                if match is None:
                    tmp = _TMP.match(name)
                    os.unlink(file.path)  # an interrupted write (a crash): never complete
                    torn.files += 1
                    torn.items += int(tmp.group(2)) if tmp else 0
                    continue
                size = file.stat().st_size
                os.rename(file.path, self.directory / name)
                found.append(
                    Entry(
                        name,
                        int(match.group(1)),
                        int(match.group(4)),
                        charge(max(0, size - _HEADER.size)),
                    )
                )
        with contextlib.suppress(OSError):
            os.unlink(orphan / _LOCK)
            os.rmdir(orphan)

    # ------------------------------------------------------------------ queue
    @property
    def pending(self) -> int:
        """Batches waiting (this process's and adopted ones)."""
        return len(self._index)

    def items_pending(self) -> int:
        """Items waiting; safe to call from any thread (the copy is taken under the GIL)."""
        return sum(e.items for e in list(self._index))

    def stage(self, payload: bytes, items: int) -> Staged | None:
        """Write ``payload`` under a temporary name; None when it does not fit in
        ``max_bytes`` (or the write failed: full disk). :meth:`Staged.commit` makes it
        part of the spool, :meth:`Staged.discard` removes it."""
        if self.closed or not self._opened:
            return None
        size = charge(len(payload))
        if not self._budget.reserve(size):
            return None
        self._seq += 1
        created = self._clock()
        entry = Entry(
            f"{created:019d}-{self.token}-{self._seq:09d}-{items}.batch", created, items, size
        )
        tmp = self.directory / f".tmp-{self._seq}-{items}"
        header = _HEADER.pack(_MAGIC, items, len(payload), zlib.crc32(payload))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(header + payload)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self._budget.release(size)
            return None
        return Staged(self, tmp, entry)

    def head(self) -> Entry | None:
        return self._index[0] if self._index else None

    def read(self, entry: Entry) -> bytes | None:
        """The payload of ``entry``, or None when its file is torn or unreadable."""
        try:
            with open(self.directory / entry.name, "rb") as handle:
                header = handle.read(_HEADER.size)
                if len(header) != _HEADER.size:
                    return None
                magic, items, length, crc = _HEADER.unpack(header)
                if magic != _MAGIC or items != entry.items or length > self._budget.max_bytes:
                    return None
                payload = handle.read(length + 1)
        except OSError:
            return None
        if len(payload) != length or zlib.crc32(payload) != crc:
            return None
        return payload

    def pop(self) -> Entry:
        """Remove the oldest batch (sent, expired, rejected or torn)."""
        entry = self._index.popleft()
        with contextlib.suppress(OSError):
            os.unlink(self.directory / entry.name)
        self._budget.release(entry.charge)
        return entry

    def expired(self, entry: Entry) -> bool:
        return self._clock() - entry.created_ns > self._max_age_ns

    def _commit(self, staged: Staged) -> bool:
        try:
            os.rename(staged.tmp, self.directory / staged.entry.name)
        except OSError:
            self._discard(staged)
            return False
        self._index.append(staged.entry)
        return True

    def _discard(self, staged: Staged) -> None:
        with contextlib.suppress(OSError):
            os.unlink(staged.tmp)
        self._budget.release(staged.entry.charge)


@dataclass(frozen=True)
class Staged:
    store: SpoolStore
    tmp: Path
    entry: Entry

    def commit(self) -> bool:
        return self.store._commit(self)

    def discard(self) -> None:
        self.store._discard(self)


# --------------------------------------------------------------------------------------
# The export call with a spool
# --------------------------------------------------------------------------------------
def _encoder(signal: str) -> Callable[[Any], bytes]:
    if signal == SIGNAL_TRACES:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return lambda batch: encode_spans(batch).SerializeToString()
    if signal == SIGNAL_METRICS:
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

        return lambda batch: encode_metrics(batch).SerializeToString()
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return lambda batch: encode_logs(batch).SerializeToString()


class SpoolingCall(ExportCall):
    """An :class:`ExportCall` that sends serialized batches itself and spools them while
    the collector is unreachable (see the module doc). The ``export`` callable handed to
    :meth:`run` (the SDK exporter's) is not used: the SDK exporter is kept only for its
    metric preferences and shutdown."""

    def __init__(
        self,
        signal: str,
        target: str,
        sender: Sender,
        store: SpoolStore,
        *,
        timeout: float,
        health: ExportHealth,
        encode: Callable[[Any], bytes] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(signal, target, health)
        self.sender = sender
        self.store = store
        self._timeout = timeout
        self._encode = encode or _encoder(signal)
        self._now = monotonic
        self._io = threading.Lock()  # one export, tick or replay at a time
        self._outage = False
        self._probe_at = 0.0
        self._probe_delay = PROBE_FIRST
        self._deadline: Deadline | None = None
        self._timer: threading.Timer | None = None
        self._sending = False
        self._unusable = False  # the directory could not be created: export unspooled
        self._replayed_in_episode = 0

    # ------------------------------------------------------------------ entry points
    def run(self, export: Any, batch: Any, *args: Any, **kwargs: Any) -> bool:
        items = count_items(self.signal, batch)
        if items == 0:
            return True  # an empty metric collection: nothing to send or keep
        ticket = next(self._tickets)
        with self._lock:
            self._in_flight[ticket] = items
        with self._io:
            try:
                payload = self._encode(batch)
            except Exception as exc:
                return self._lost(ticket, items, f"{type(exc).__name__}: {exc}")
            self._count(produced=items)
            usable = self._open()
            self._expire()
            if usable and (self.store.pending or self._outage):
                kept = self._keep(ticket, payload, items)
                self._replay()
                return kept
            answer = self._send(payload)
            if answer is not None and answer.outcome is Outcome.SENT:
                with self._lock:
                    self._in_flight.pop(ticket, None)
                self._count(sent=items)
                self.health.success(self.signal, self.target)
                return True
            if not usable or (answer is not None and answer.outcome is Outcome.REJECTED):
                reason = answer.reason if answer is not None else "shutdown_timeout reached"
                return self._lost(ticket, items, reason)
            if answer is not None:
                self._failed(answer.reason)
            return self._keep(ticket, payload, items)

    def tick(self) -> None:
        """Idle time on the worker: expire and replay (no new data needed)."""
        if not self._io.acquire(blocking=False):
            return
        try:
            if self._open():
                self._expire()
                self._replay()
        finally:
            self._io.release()

    def begin_shutdown(self, deadline: Deadline) -> None:
        """From now on sends are bounded by ``deadline``; what cannot go is spooled.

        A send already in flight was given the whole ``otlp.timeout``: if it is still
        waiting when ``INTERRUPT_SHARE`` of the time is gone, its connection is closed, so
        the batch (and everything queued behind it) goes to the spool in time instead of
        being abandoned."""
        self._deadline = deadline
        timer = threading.Timer(deadline.remaining() * INTERRUPT_SHARE, self._interrupt)
        timer.daemon = True
        timer.start()
        self._timer = timer

    def _interrupt(self) -> None:
        if self._sending:
            self.sender.interrupt()

    def abandon(self) -> int:
        if self._timer is not None:
            self._timer.cancel()
        items = super().abandon()
        self.store.close()
        self.sender.close()
        return items

    # ------------------------------------------------------------------ internals
    def _count(self, **counts: int) -> None:
        self.health.spool(self.signal, **counts)

    def _open(self) -> bool:
        if self._unusable or self.store.closed:
            return False
        if self.store.opened:
            return True
        try:
            torn, over = self.store.open()
        except OSError as exc:
            self._unusable = True
            self.health.failure(
                self.signal,
                self.target,
                f"the outage spool {self.store.signal_dir} is not usable ({exc}); "
                f"exporting without it",
                0,
            )
            return False
        self._dropped(torn.items, torn=torn.files)
        self._dropped(over.items, full=over.items)
        self._probe_at = 0.0  # adopted batches are tried at once
        return True

    def _dropped(self, items: int, **counts: int) -> None:
        if items or any(counts.values()):
            self.health.dropped(self.signal, items)
            self._count(dropped=items, **counts)

    def _lost(self, ticket: int, items: int, reason: str) -> bool:
        with self._lock:
            owned = self._in_flight.pop(ticket, None) is not None
        self.health.failure(self.signal, self.target, reason, items if owned else 0)
        return False

    def _send_timeout(self) -> float | None:
        if self._deadline is None:
            return self._timeout
        left = self._deadline.remaining() / 2
        return min(self._timeout, left) if left >= 0.05 else None

    def _send(self, payload: bytes) -> Any:
        """One attempt; None when there is no time left to try (shutdown)."""
        timeout = self._send_timeout()
        if timeout is None:
            return None
        self._sending = True
        try:
            return self.sender.send(payload, timeout)
        except Exception as exc:  # e.g. a header http.client refuses: never retried, and
            # caught here so the batch is counted once (not again by the worker and abandon)
            return Answer(Outcome.REJECTED, scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            self._sending = False

    def _failed(self, reason: str) -> None:
        if not self._outage:
            self._outage = True
            self._replayed_in_episode = 0
            self._probe_delay = PROBE_FIRST
        else:
            self._probe_delay = min(PROBE_MAX, self._probe_delay * 2)
        self._probe_at = self._now() + self._probe_delay
        self.health.spooling(self.signal, self.target, reason, str(self.store.signal_dir))

    def _keep(self, ticket: int, payload: bytes, items: int) -> bool:
        staged = self.store.stage(payload, items)
        with self._lock:
            owned = self._in_flight.pop(ticket, None) is not None
            kept = owned and staged is not None and staged.commit()
            if staged is not None and not owned:
                staged.discard()  # shutdown gave up on it: already counted as dropped
        if kept:
            self._count(spooled=items)
        elif owned:
            self._dropped(items, full=items)
        return kept

    def _expire(self) -> None:
        while (entry := self.store.head()) is not None and self.store.expired(entry):
            self.store.pop()
            self._dropped(entry.items, expired=entry.items)

    def _replay(self) -> None:
        if not self.store.pending:
            return
        if self._outage and self._now() < self._probe_at:
            return
        stop = self._now() + REPLAY_SLICE
        while (entry := self.store.head()) is not None and self._now() < stop:
            if self.store.expired(entry):
                self.store.pop()
                self._dropped(entry.items, expired=entry.items)
                continue
            payload = self.store.read(entry)
            if payload is None:
                self.store.pop()
                self._dropped(entry.items, torn=1)
                continue
            answer = self._send(payload)
            if answer is None:
                return  # shutdown: the rest waits on disk for the next process
            if answer.outcome is Outcome.RETRY:
                self._failed(answer.reason)
                return
            self.store.pop()
            if answer.outcome is Outcome.REJECTED:
                self.health.failure(self.signal, self.target, answer.reason, entry.items)
                self._count(dropped=entry.items, rejected=entry.items)
                continue
            self._count(replayed=entry.items)
            self._replayed_in_episode += 1
        if not self.store.pending and self._outage:
            self._outage = False
            self._probe_delay = PROBE_FIRST
            self.health.success(self.signal, self.target, replayed=self._replayed_in_episode)


def export_calls(settings: Settings, health: ExportHealth) -> Callable[[str, str], ExportCall]:
    """The ExportCall factory of one configure(): plain calls, or spooling ones when
    ``spool.enabled`` and export is OTLP (one ``spool.max_bytes`` budget for all signals)."""
    if not (settings.spool.enabled and settings.uses_otlp()):
        return lambda signal, target: ExportCall(signal, target, health)
    from ragsight._export.exporters import otlp_endpoint
    from ragsight._export.otlp_send import GrpcSender, HttpSender, SenderSetupError

    spool = settings.spool
    budget = SpoolBudget(spool.max_bytes)
    root = Path(os.path.expanduser(spool.directory)) if spool.directory else default_directory()

    def sender_for(signal: str) -> Sender:
        otlp = settings.otlp.for_signal(signal)
        endpoint = otlp_endpoint(settings, signal)
        headers = {k: v.reveal() for k, v in otlp.headers.items()}
        if otlp.protocol == "grpc":
            return GrpcSender(endpoint, headers, otlp.compression, signal, otlp.insecure)
        return HttpSender(endpoint, headers, otlp.compression, signal)

    # every sender before anything starts, so an unusable TLS file or proxy is one ConfigError
    senders: dict[str, Sender] = {}
    problems: list[Problem] = []
    signals = (SIGNAL_TRACES, SIGNAL_METRICS, *((SIGNAL_LOGS,) if settings.logs.export else ()))
    for signal in signals:
        try:
            senders[signal] = sender_for(signal)
        except SenderSetupError as exc:  # the value is not shown: a proxy URL's password
            problems.append(Problem(exc.variable, "environment", NO_VALUE, exc.problem))
    if problems:
        for sender in senders.values():
            sender.close()
        unique = {str(p): p for p in problems}  # a generic variable fails every signal
        raise ConfigError(list(unique.values()))

    def make(signal: str, target: str) -> ExportCall:
        otlp = settings.otlp.for_signal(signal)
        endpoint = otlp_endpoint(settings, signal)
        sender = senders.pop(signal, None) or sender_for(signal)
        store = SpoolStore(root, signal, endpoint, budget, spool.max_age)
        return SpoolingCall(signal, target, sender, store, timeout=otlp.timeout, health=health)

    return make
