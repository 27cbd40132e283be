"""The embedded default: OTLP JSON Lines files a person can read, summarise and replay.

With no OTLP endpoint configured, telemetry lands in ``./ragsight-telemetry`` as
``traces.jsonl``, ``metrics.jsonl`` and ``logs.jsonl``: one ``Export*ServiceRequest`` per
line in the OTLP/JSON encoding (protobuf JSON mapping with lowerCamelCase names, enums as
integers, trace and span ids as hex), which is what the Collector's ``otlpjsonfile``
receiver reads, so the files can be replayed into the bundled stack later
(``include: [".../ragsight-telemetry/*.jsonl"]``).

Files rotate at ``max_bytes`` to ``traces.1.jsonl`` ... ``traces.<backups>.jsonl`` so disk
use per signal is bounded by ``(backups + 1) * max_bytes``. A write that fails (full
disk, permissions) is counted once as dropped (by the export guard) and reported once per
episode; it never raises into the application (writes happen on the export worker).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragsight._config.export_limits import FILE_BACKUPS, FILE_MAX_BYTES
from ragsight._export.forks import reset_in_child

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per directory
    fcntl = None  # type: ignore[assignment]

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def ids_to_hex(node: Any) -> Any:
    """Protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants ids as hex."""
    if isinstance(node, dict):
        return {
            k: (
                base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else ids_to_hex(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [ids_to_hex(v) for v in node]
    return node


def to_otlp_json(message: Any) -> str:
    """One OTLP request message as a single OTLP/JSON line (no trailing newline)."""
    from google.protobuf import json_format  # type: ignore[import-untyped]

    as_dict = json_format.MessageToDict(message, use_integers_for_enums=True)
    return json.dumps(ids_to_hex(as_dict), separators=(",", ":"))


class SinkWriteError(OSError):
    """A request that could not be written; ``unwritten`` items are the ones lost (the
    export guard counts exactly these, once)."""

    def __init__(self, message: str, unwritten: int) -> None:
        super().__init__(message)
        self.unwritten = unwritten


class JsonLinesWriter:
    """Appends lines to ``<directory>/<signal>.jsonl`` with size-bounded rotation.

    Crash-safe: every record is one ``write`` of a whole line, and a file whose last byte is
    not a newline (a torn tail left by a crash or a full disk) gets one before the next
    record, so the torn line is the only casualty (readers skip it). Safe for several
    processes on one directory: each write opens the file with ``O_APPEND`` under an
    exclusive ``flock`` on ``.<signal>.lock``, and the size check and rotation happen under
    the same lock, so no process writes into a file another one just rotated away and
    ``max_bytes`` holds. Failures raise :class:`SinkWriteError`; counting is the caller's.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        signal: str,
        *,
        max_bytes: int,
        backups: int,
    ) -> None:
        self.directory = Path(directory)
        self.signal = signal
        self.max_bytes: int = FILE_MAX_BYTES.check(max_bytes, "file_sink.max_bytes")
        self.backups: int = FILE_BACKUPS.check(backups, "file_sink.backups")
        self._lock = threading.Lock()
        reset_in_child(self._new_lock)

    def _new_lock(self) -> None:  # after a fork: the parent's writer may have held it
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.directory / f"{self.signal}.jsonl"

    def _rotated(self, index: int) -> Path:
        return self.directory / f"{self.signal}.{index}.jsonl"

    def _rotate(self) -> None:
        self._rotated(self.backups).unlink(missing_ok=True)
        for index in range(self.backups - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                self._rotated(index).replace(self._rotated(index + 1))
        with contextlib.suppress(FileNotFoundError):
            self.path.replace(self._rotated(1))

    def fits(self, line: str) -> bool:
        """Whether one line (plus a newline, and one for a torn tail) fits in a file."""
        return len(line.encode("utf-8")) + 2 <= self.max_bytes

    def write(self, line: str, items: int) -> None:
        """Append one line holding ``items`` items; raises SinkWriteError when it cannot."""
        data = (line + "\n").encode("utf-8")
        if len(data) + 1 > self.max_bytes:
            raise SinkWriteError(
                f"one request of {len(data)} bytes exceeds file_sink.max_bytes ({self.max_bytes})",
                items,
            )
        try:
            with self._lock, self._process_lock():
                self._append(data)
        except OSError as exc:
            raise SinkWriteError(f"{type(exc).__name__}: {exc}", items) from exc

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / f".{self.signal}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _append(self, data: bytes) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and size + len(data) + 1 > self.max_bytes:
            self._rotate()
            size = 0
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn tail: start this record on a fresh line
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        finally:
            os.close(fd)
