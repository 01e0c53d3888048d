"""Alerts in the knowledge graph: raised by the rules, cleared by them, acknowledged by people.

``(:Alert {id, rule, severity, state, message, value, threshold, sensorId, assetId,
raisedAt, clearedAt, clearedValue, acknowledgedAt, acknowledgedBy, acknowledgeNote})``
with ``-[:RAISED_ON]->(:Sensor)`` and ``-[:RAISED_ON]->(:Asset)`` (the sensor's asset).
``state`` is ``active``, ``acknowledged`` (still active, someone has seen it) or
``cleared``; an alert is active while ``clearedAt`` is null. Raises and clears are
written in batches (UNWIND), each batch in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import LiteralString

from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import alerts as q
from graph.errors import Conflict, NotFound, ValidationError
from graph.model import check_id
from graph.timeutil import iso, parse_iso

__all__ = [
    "SEVERITIES",
    "Alert",
    "AlertClear",
    "AlertRepository",
    "AlertState",
    "MAX_ALERTS_PER_NODE",
]

SEVERITIES = ("info", "warning", "critical")
MAX_ALERTS_PER_NODE = 500
MAX_PAGE = 500
_FIRST_PAGE = "~"  # sorts after every ISO timestamp


class AlertState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    rule: str
    severity: str
    sensor_id: str
    asset_id: str
    raised_at: datetime
    message: str = ""
    value: float | None = None
    threshold: float | None = None
    state: AlertState = AlertState.ACTIVE
    cleared_at: datetime | None = None
    cleared_value: float | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "alert id")
        check_id(self.sensor_id, "sensor id")
        if self.severity not in SEVERITIES:
            raise ValidationError(f"alert severity must be one of {', '.join(SEVERITIES)}")
        if not isinstance(self.state, AlertState):
            object.__setattr__(self, "state", AlertState(self.state))

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True, slots=True)
class AlertClear:
    id: str
    cleared_at: datetime
    value: float | None = None


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _from(row: dict[str, object]) -> Alert:
    raised = parse_iso(row["raisedAt"])  # type: ignore[arg-type]
    assert raised is not None
    return Alert(
        id=str(row["id"]),
        rule=str(row["rule"]),
        severity=str(row["severity"]),
        sensor_id=str(row["sensorId"]),
        asset_id=str(row.get("assetId") or ""),
        raised_at=raised,
        message=str(row.get("message") or ""),
        value=row.get("value"),  # type: ignore[arg-type]
        threshold=row.get("threshold"),  # type: ignore[arg-type]
        state=AlertState(str(row.get("state") or "active")),
        cleared_at=parse_iso(row.get("clearedAt")),  # type: ignore[arg-type]
        cleared_value=row.get("clearedValue"),  # type: ignore[arg-type]
        acknowledged_at=parse_iso(row.get("acknowledgedAt")),  # type: ignore[arg-type]
        acknowledged_by=row.get("acknowledgedBy"),  # type: ignore[arg-type]
        acknowledge_note=str(row.get("acknowledgeNote") or ""),
    )


def _check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise ValidationError(f"limit must be between 1 and {most}, got {limit}")


class AlertRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def record(self, raised: Sequence[Alert], cleared: Sequence[AlertClear]) -> list[Alert]:
        """Create ``raised`` (on their sensors and the sensors' assets) and clear
        ``cleared``, in one transaction. Returns the stored alerts (raised ones whose
        sensor is unknown are not created and not returned)."""
        raise_rows = [
            {
                "id": a.id,
                "sensorId": a.sensor_id,
                "rule": a.rule,
                "severity": a.severity,
                "message": a.message,
                "value": _num(a.value),
                "threshold": _num(a.threshold),
                "raisedAt": iso(a.raised_at),
            }
            for a in raised
        ]
        clear_rows = [
            {"id": c.id, "clearedAt": iso(c.cleared_at), "value": _num(c.value)}
            for c in cleared
        ]
        if not raise_rows and not clear_rows:
            return []
        ids = list(dict.fromkeys([*(a.id for a in raised), *(c.id for c in cleared)]))

        async def work(tx: Tx) -> list[Alert]:
            await tx.batched(q.RAISE_ALERTS, raise_rows, batch=1_000)
            await tx.batched(q.CLEAR_ALERTS, clear_rows, batch=1_000)
            found: list[Alert] = []
            for i in range(0, len(ids), 1_000):
                rows = await tx.rows(q.GET_ALERTS, ids=ids[i : i + 1_000])
                found.extend(_from(r) for r in rows)
            return found

        stored = {a.id: a for a in await self._client.write_tx(work)}
        return [stored[i] for i in ids if i in stored]

    async def acknowledge(self, alert_id: str, by: str, at: datetime, note: str = "") -> Alert:
        """Record who acknowledged the alert and when (CONFLICT when already done)."""
        if len(note) > 2_000:
            raise ValidationError("note must be at most 2000 characters")

        async def work(tx: Tx) -> Alert:
            rows = await tx.rows(q.GET_ALERTS, ids=[alert_id])
            if not rows:
                raise NotFound(f"alert {alert_id} not found")
            found = _from(rows[0])
            if found.acknowledged_at is not None:
                raise Conflict(
                    f"alert {alert_id} was already acknowledged by {found.acknowledged_by} "
                    f"at {iso(found.acknowledged_at)}"
                )
            await tx.run(q.ACKNOWLEDGE_ALERT, id=alert_id, at=iso(at), by=by, note=note)
            rows = await tx.rows(q.GET_ALERTS, ids=[alert_id])
            return _from(rows[0])

        return await self._client.write_tx(work)

    async def get(self, alert_id: str) -> Alert:
        rows = await self._client.read(q.GET_ALERTS, ids=[alert_id])
        if not rows:
            raise NotFound(f"alert {alert_id} not found")
        return _from(rows[0])

    async def page(
        self,
        asset_ids: Collection[str] | None,
        *,
        active: bool | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        """Alerts newest first, of some assets (all when None), after a cursor
        ``(raisedAt ISO text, id)`` of the previous page's last alert."""
        _check_limit(limit, MAX_PAGE + 1)
        after_at, after_id = after or (_FIRST_PAGE, "")
        params = {"active": active, "afterAt": after_at, "afterId": after_id, "limit": limit}
        if asset_ids is None:
            rows = await self._client.read(q.ALERTS_PAGE, **params)
        else:
            ids = list(dict.fromkeys(asset_ids))
            if not ids:
                return []
            rows = await self._client.read(q.ALERTS_PAGE_OF_ASSETS, ids=ids, **params)
        return [_from(r) for r in rows]

    async def of_assets(
        self, ids: Iterable[str], active: bool | None = None, limit: int = 50
    ) -> dict[str, list[Alert]]:
        """Alerts per asset, newest first, at most ``limit`` each (one query)."""
        return await self._per_key(q.ALERTS_OF_ASSETS, ids, active, limit)

    async def of_sensors(
        self, ids: Iterable[str], active: bool | None = None, limit: int = 50
    ) -> dict[str, list[Alert]]:
        """Alerts per sensor, newest first, at most ``limit`` each (one query)."""
        return await self._per_key(q.ALERTS_OF_SENSORS, ids, active, limit)

    async def _per_key(
        self, query: LiteralString, ids: Iterable[str], active: bool | None, limit: int
    ) -> dict[str, list[Alert]]:
        _check_limit(limit, MAX_ALERTS_PER_NODE)
        keys = list(dict.fromkeys(ids))
        out: dict[str, list[Alert]] = {k: [] for k in keys}
        if not keys:
            return out
        for row in await self._client.read(query, ids=keys, active=active, limit=limit):
            found = out[str(row["key"])]
            if len(found) < limit:
                found.append(_from(row))
        return out

    async def active(self) -> list[Alert]:
        """Every alert not cleared (the rules' state after a restart)."""
        return [_from(r) for r in await self._client.read(q.ACTIVE_ALERTS)]
