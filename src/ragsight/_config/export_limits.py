"""What every export setting accepts, stated once for the loader and the export components.

The ``shutdown_timeout``, ``otlp.*timeout``, ``batch.*``, ``file_sink.*`` and ``spool.*``
keys parse with these :class:`~ragsight._core.limits.Limit` objects, and the components that
use the values (the batch processor, the metric reader, the file sink, the spool, shutdown) check
their arguments with the very same objects. So a value the configuration accepts is one
the exporter runs with, and every number has a sane range: ``OTEL_BSP_SCHEDULE_DELAY=1e15``
once killed the export thread (``Event.wait`` overflows), ``shutdown_timeout=inf`` raised
OverflowError at exit and ``file_sink.backups=10**9`` spun the rotation loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from ragsight._core.limits import Limit

_SECONDS = "seconds"
_HOUR = 3600.0
_DAY = 24 * _HOUR
MIB = 1024 * 1024

SHUTDOWN_TIMEOUT: Final = Limit(float, minimum=0.01, maximum=300.0, unit=_SECONDS)
EXPORT_TIMEOUT: Final = Limit(float, minimum=0.01, maximum=600.0, unit=_SECONDS)
QUEUE_SIZE: Final = Limit(int, minimum=1, maximum=1_000_000)
BATCH_SIZE: Final = Limit(int, minimum=1, maximum=100_000, note="and <= batch.max_queue_size")
SCHEDULE_DELAY: Final = Limit(float, minimum=0.001, maximum=_HOUR, unit=_SECONDS)
METRIC_INTERVAL: Final = Limit(float, minimum=0.01, maximum=_DAY, unit=_SECONDS)
FILE_MAX_BYTES: Final = Limit(int, minimum=64 * 1024, maximum=1 << 40, unit="bytes")
FILE_BACKUPS: Final = Limit(int, minimum=1, maximum=100)
# The outage spool (ragsight._export.spool): at least one large batch, at most what keeps its
# in-memory index small (about 220 bytes per batch, at most max_bytes / 4 KiB batches: 56 MB
# at the maximum, 3.5 MB at the default 64 MiB).
SPOOL_MAX_BYTES: Final = Limit(int, minimum=1 * MIB, maximum=1024 * MIB, unit="bytes")
SPOOL_MAX_AGE: Final = Limit(float, minimum=1.0, maximum=7 * _DAY, unit=_SECONDS)

EXPORT_LIMITS: Final[Mapping[str, Limit]] = MappingProxyType(
    {
        "shutdown_timeout": SHUTDOWN_TIMEOUT,
        "otlp.timeout": EXPORT_TIMEOUT,
        **{f"otlp.{signal}_timeout": EXPORT_TIMEOUT for signal in ("traces", "metrics", "logs")},
        "batch.max_queue_size": QUEUE_SIZE,
        "batch.max_export_batch_size": BATCH_SIZE,
        "batch.schedule_delay": SCHEDULE_DELAY,
        "batch.metric_export_interval": METRIC_INTERVAL,
        "file_sink.max_bytes": FILE_MAX_BYTES,
        "file_sink.backups": FILE_BACKUPS,
        "spool.max_bytes": SPOOL_MAX_BYTES,
        "spool.max_age": SPOOL_MAX_AGE,
    }
)
"""Every numeric export key and its limit (a test walks each one through its component)."""


def checked(limit: Limit, value: Any, name: str) -> Any:
    """``value`` normalised by ``limit``; raises LimitError (a ValueError) naming ``name``."""
    return limit.check(value, name)
