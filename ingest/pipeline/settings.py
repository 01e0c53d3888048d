"""Settings of the ingest pipeline, passed in explicitly by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from graph.errors import ValidationError

__all__ = ["PipelineSettings"]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """``spill_dir``: where batches wait while the store is down (append-only files).
    ``max_future``: readings stamped later than now + this are rejected.
    ``max_age``: readings older than now - this are rejected (None: any age is fine,
    backfills welcome). ``max_batch``/``flush_interval``: the writer flushes at this
    many readings or after this many seconds. ``max_queue``: readings waiting in
    memory before ``submit`` blocks (backpressure). ``catalog_ttl``: seconds a cached
    sensor definition stays valid. ``bus_maxsize``: per-subscriber queue length.
    ``commit_delay``: least seconds between the starts of two durable flushes (group
    commit: acknowledgements may wait up to that much longer; live values do not)."""

    spill_dir: Path
    max_future: timedelta = timedelta(minutes=5)
    max_age: timedelta | None = None
    max_batch: int = 10_000
    flush_interval: float = 0.5
    max_queue: int = 200_000
    catalog_ttl: float = 30.0
    bus_maxsize: int = 1_000
    max_body_items: int = 100_000
    commit_delay: float = 0.01

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_queue < self.max_batch:
            raise ValidationError("need 1 <= max_batch <= max_queue")
        if not self.commit_delay >= 0:
            raise ValidationError("commit_delay cannot be negative")
        if self.flush_interval <= 0:
            raise ValidationError("flush_interval must be positive")
        if self.max_future < timedelta(0):
            raise ValidationError("max_future cannot be negative")
