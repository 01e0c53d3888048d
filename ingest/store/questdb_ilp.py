"""The write side of the QuestDB store: ILP over HTTP with the ``questdb`` client.

Contract:
- ``IlpWriter`` keeps one ``Sender`` (auto-flush off) for its whole life: one HTTP
  connection pool and one protocol-version probe, not one per batch. ``send`` fills a
  fresh buffer of that sender and flushes it: one batch is one HTTP request and one WAL
  transaction per table. Calls are serialised (a sender is not thread-safe) and block:
  run them in a worker thread.
- After any failed flush the sender is closed and the next ``send`` opens a new one.
  The client's errors about the data itself (a bad string, name or timestamp; rows the
  server cannot parse or fit in the table) are ``ValidationError``: the batch is refused
  and will be refused again. Any other client error (connection, timeout, server busy)
  is ``Unavailable``: worth retrying (the writer spills and replays; the tables'
  dedup keys make a replay idempotent).
- ``add_readings``, ``add_rejected`` and ``add_events`` append rows to a client
  buffer, from columns turned into Python lists in one pass each. Without pandas the client has no column-wise ILP path
  (``Buffer.dataframe`` takes pandas frames only), so rows are appended one call each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from questdb import Sender, TimestampMicros

from graph.errors import Unavailable, ValidationError
from graph.timeutil import to_us
from ingest.store.batch import ReadingBatch
from ingest.store.port import EventRow, RejectedRow

if TYPE_CHECKING:
    from questdb.ingress import Buffer

__all__ = ["IlpWriter", "add_events", "add_readings", "add_rejected"]

# QuestDBErrorCode names that blame the data, not the connection (names, not members:
# some exist only in newer clients).
_REFUSALS = frozenset(
    {
        "InvalidUtf8",
        "InvalidName",
        "InvalidTimestamp",
        "ArrayError",
        "DecimalError",
        "BadDataFrame",
        "BatchTooLarge",
        "ServerParseError",
        "ServerSchemaMismatch",
    }
)


# The designated timestamp in µs, as stored: ``Buffer.row`` takes a TimestampMicros for
# ``at`` (the client's ``Buffer._at`` handles it), though its stub names TimestampNanos.
_at_us: Callable[[int], Any] = TimestampMicros


class IlpWriter:
    def __init__(self, conf: str) -> None:
        """``conf``: the client's configuration string (``http::addr=host:port;...``)."""
        self._conf = conf
        self._sender: Sender | None = None
        self._lock = threading.Lock()

    def send(self, fill: Callable[[Buffer], None]) -> None:
        """Fill a new buffer with ``fill`` and flush it (see the module contract)."""
        with self._lock:
            try:
                if self._sender is None:
                    sender = Sender.from_conf(self._conf)
                    sender.establish()
                    self._sender = sender
                buffer = self._sender.new_buffer()
                fill(buffer)
                self._sender.flush(buffer)
            except Exception as exc:  # the client raises its own QuestDBError tree
                if not exc.__class__.__module__.startswith("questdb"):
                    raise
                self._discard()
                code = getattr(getattr(exc, "code", None), "name", None)
                if code in _REFUSALS:
                    raise ValidationError(f"QuestDB refused the rows ({code}): {exc}") from exc
                raise Unavailable(f"QuestDB ILP write failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close(flush=False)  # our buffers are our own: nothing is pending


def add_readings(buffer: Buffer, table: str, batch: ReadingBatch) -> None:
    """One row per reading; a missing (non-finite) value leaves the ``value`` column
    out of its row, so it is stored as null."""
    value = batch.value.astype(object)
    value[~np.isfinite(batch.value)] = None
    row, at = buffer.row, _at_us
    for t, sid, aid, quality, v in zip(
        batch.ts.tolist(),
        batch.sensor_id.tolist(),
        batch.asset_id.tolist(),
        batch.quality.tolist(),
        value.tolist(),
        strict=True,
    ):
        row(
            table,
            symbols={"sensor_id": sid, "asset_id": aid, "quality": quality},
            columns={"value": v},
            at=at(t),
        )


def add_rejected(buffer: Buffer, table: str, rows: Sequence[RejectedRow]) -> None:
    for r in rows:
        buffer.row(
            table,
            symbols={"sensor_id": r.sensor_id, "asset_id": r.asset_id},
            columns={"id": r.id, "raw": r.raw, "reason": r.reason},
            at=_at_us(to_us(r.received_at)),
        )


def add_events(buffer: Buffer, table: str, rows: Sequence[EventRow]) -> None:
    for r in rows:
        buffer.row(
            table,
            symbols={"asset_id": r.asset_id, "kind": r.kind},
            columns={"payload": r.payload},
            at=_at_us(to_us(r.ts)),
        )
