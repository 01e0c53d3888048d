"""Readings the store refused (not "unavailable": refused) become dead letters.

A batch the readings store will never take (it raised something other than
``Unavailable``) is not retried: each of its readings becomes a ``rejected_readings``
row whose ``raw`` is the reading as JSON and whose ``reason`` says what the store
answered. When even those rows are refused, the records go to a quarantine log
(``<spill_dir>/quarantine/``, the spill log's format, never replayed automatically:
read it with ``SpillLog(path).read(segment)``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from graph.timeutil import from_us
from ingest.store import ReadingBatch, RejectedRow, rejected_id

__all__ = ["MAX_REASON", "refused_reason", "refused_rows"]

MAX_REASON = 500


def refused_reason(exc: BaseException) -> str:
    text = f"the readings store refused the batch: {type(exc).__name__}: {exc}"
    return text[:MAX_REASON]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _iso(us: int) -> str | None:
    try:
        return from_us(us).isoformat()
    except (OverflowError, ValueError, OSError):  # beyond datetime's range: ts_us says it
        return None


def refused_rows(batch: ReadingBatch, reason: str, received_at: datetime) -> list[RejectedRow]:
    """One dead-letter row per reading of ``batch``, the reading kept as JSON in ``raw``."""
    rows = []
    for ts, sid, aid, value, quality in batch.rows():
        raw = {
            "sensor_id": sid,
            "asset_id": aid,
            "timestamp": _iso(ts),
            "ts_us": ts,
            "value": None if math.isnan(value) else value,
            "quality": quality,
        }
        rows.append(
            RejectedRow(
                # a reading is (sensor, ts): a batch refused again keeps one letter each
                id=rejected_id("store", sid, ts, reason),
                received_at=received_at,
                sensor_id=_text(sid),
                asset_id=_text(aid),
                raw=json.dumps(raw, default=str),
                reason=reason,
            )
        )
    return rows
