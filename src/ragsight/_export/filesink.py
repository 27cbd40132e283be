"""The embedded default: OTLP JSON Lines files a person can read, summarise and replay.

With no OTLP endpoint configured, telemetry lands in ``./ragsight-telemetry`` as
``traces.jsonl``, ``metrics.jsonl`` and ``logs.jsonl``: one ``Export*ServiceRequest`` per
line in the OTLP/JSON encoding (protobuf JSON mapping with lowerCamelCase names, enums as
integers, trace and span ids as hex), which is what the Collector's ``otlpjsonfile``
receiver reads, so the files can be replayed into the bundled stack later
(``include: [".../ragsight-telemetry/*.jsonl"]``).

Files rotate at ``max_bytes`` to ``traces.1.jsonl`` ... ``traces.<backups>.jsonl`` so disk
use per signal is bounded by ``(backups + 1) * max_bytes``. A write that fails (full
disk, permissions) is counted as dropped and reported once per episode; it never raises
into the application (writes happen on the export worker thread anyway).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

from ragsight._export.health import HEALTH, ExportHealth

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


class JsonLinesWriter:
    """Appends lines to ``<directory>/<signal>.jsonl`` with size-bounded rotation."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        signal: str,
        *,
        max_bytes: int,
        backups: int,
        health: ExportHealth = HEALTH,
    ) -> None:
        self.directory = Path(directory)
        self.signal = signal
        self.max_bytes = max_bytes
        self.backups = backups
        self._health = health
        self._lock = threading.Lock()
        self._size: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / f"{self.signal}.jsonl"

    def _rotated(self, index: int) -> Path:
        return self.directory / f"{self.signal}.{index}.jsonl"

    def _rotate(self) -> None:
        oldest = self._rotated(self.backups)
        if oldest.exists():
            oldest.unlink()
        for index in range(self.backups - 1, 0, -1):
            src = self._rotated(index)
            if src.exists():
                src.replace(self._rotated(index + 1))
        if self.path.exists():
            self.path.replace(self._rotated(1))
        self._size = 0

    def write(self, line: str, items: int) -> bool:
        """Append one line; False (and counted as ``items`` dropped) when it cannot be written."""
        data = (line + "\n").encode("utf-8")
        if len(data) > self.max_bytes:
            self._health.failure(
                self.signal,
                str(self.path),
                f"one request of {len(data)} bytes exceeds file_sink.max_bytes ({self.max_bytes})",
                items,
            )
            return False
        try:
            with self._lock:
                if self._size is None:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    self._size = self.path.stat().st_size if self.path.exists() else 0
                if self._size + len(data) > self.max_bytes:
                    self._rotate()
                with self.path.open("ab") as fh:
                    fh.write(data)
                self._size += len(data)
        except OSError as exc:
            self._size = None  # re-read the real size after the problem clears
            self._health.failure(self.signal, str(self.path), f"{type(exc).__name__}: {exc}", items)
            return False
        self._health.success(self.signal, str(self.path))
        return True
