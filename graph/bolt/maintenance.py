"""Maintenance history and work orders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from graph.bolt import rows as _rows
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import assets as qa
from graph.bolt.cypher import maintenance as q
from graph.errors import Conflict, NotFound
from graph.model import (
    RENEWING_KINDS,
    MaintenanceEvent,
    MaintenanceKind,
    WorkOrder,
    WorkOrderStatus,
)
from graph.timeutil import iso, parse_iso

__all__ = [
    "EventPage",
    "EventPageRequest",
    "FailureRecord",
    "MaintenanceFilter",
    "MaintenanceRepository",
    "event_key",
]


@dataclass(frozen=True, slots=True)
class MaintenanceFilter:
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    technician: str | None = None

    def params(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "since": iso(self.since),
            "until": iso(self.until),
            "technician": self.technician,
        }


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A recorded failure of an asset: one life of the fleet, from ``renewed_at`` (the
    failure or replacement before it; None when none is recorded) to ``failed_at``."""

    asset_id: str
    event_id: str
    failed_at: datetime
    renewed_at: datetime | None

    @property
    def life_hours(self) -> float | None:
        if self.renewed_at is None:
            return None
        return (self.failed_at - self.renewed_at).total_seconds() / 3600.0


_RENEWING = sorted(k.value for k in RENEWING_KINDS)


@dataclass(frozen=True, slots=True)
class EventPageRequest:
    """One page of an asset's history: ``limit`` events, newest first, after the event
    whose ``event_key`` is ``after`` (None: from the newest)."""

    asset_id: str
    limit: int
    after: tuple[str, str] | None = None
    flt: MaintenanceFilter = MaintenanceFilter()

    def row(self, i: int) -> dict[str, object]:
        after_at, after_id = self.after or (None, None)
        return {
            "i": i,
            "id": self.asset_id,
            "limit": self.limit + 1,  # one more tells whether a next page exists
            "afterAt": after_at,
            "afterId": after_id,
            **self.flt.params(),
        }


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[MaintenanceEvent]
    has_next: bool


def event_key(event: MaintenanceEvent) -> tuple[str, str]:
    """The keyset cursor of an event in newest-first order: (at as stored, id)."""
    return (iso(event.at) or "", event.id)


def _page(events: list[MaintenanceEvent], limit: int) -> EventPage:
    return EventPage(items=events[:limit], has_next=len(events) > limit)


class MaintenanceRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def record(
        self, events: Sequence[MaintenanceEvent] = (), work_orders: Sequence[WorkOrder] = ()
    ) -> None:
        async def work(tx: Tx) -> None:
            ids = sorted({e.asset_id for e in events} | {w.asset_id for w in work_orders})
            found = {r["id"] for r in await tx.rows(qa.GET_ASSETS, ids=ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"asset(s) not found: {', '.join(missing)}")
            await self.record_in(tx, events, work_orders)

        await self._client.write_tx(work)

    async def record_in(
        self,
        tx: Tx,
        events: Sequence[MaintenanceEvent] = (),
        work_orders: Sequence[WorkOrder] = (),
    ) -> None:
        """Upsert by id, in the caller's transaction. An id already recorded for another
        asset is a CONFLICT (nothing written): events and work orders never move or
        belong to two assets."""
        event_rows = [_rows.event_row(e) for e in events]
        order_rows = [_rows.work_order_row(w) for w in work_orders]
        for what, query, rows in (
            ("maintenance event", q.EVENTS_OWNED_ELSEWHERE, event_rows),
            ("work order", q.WORK_ORDERS_OWNED_ELSEWHERE, order_rows),
        ):
            if clashes := await tx.batched_rows(query, rows):
                named = "; ".join(
                    f"{c['id']} belongs to {c['owner']}, not {c['asked']}" for c in clashes[:5]
                )
                raise Conflict(f"{what} id(s) already recorded for another asset: {named}")
        await tx.batched(q.UPSERT_EVENTS, event_rows)
        await tx.batched(q.UPSERT_WORK_ORDERS, order_rows)
        links = [
            {"workOrderId": e.work_order_id, "eventId": e.id} for e in events if e.work_order_id
        ]
        await tx.batched(q.LINK_RESULTS, links)

    async def history(
        self, asset_ids: Iterable[str], flt: MaintenanceFilter | None = None
    ) -> dict[str, list[MaintenanceEvent]]:
        """Events per asset, newest first (one query for many assets)."""
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[MaintenanceEvent]] = {i: [] for i in ids}
        if ids:
            params = (flt or MaintenanceFilter()).params()
            for r in await self._client.read(q.EVENTS_FOR_ASSETS, ids=ids, **params):
                out[r["assetId"]].append(_rows.event_from(r))
        return out

    async def history_under(
        self, asset_id: str, flt: MaintenanceFilter | None = None
    ) -> list[MaintenanceEvent]:
        """Events of an asset and all its descendants, newest first."""
        params = (flt or MaintenanceFilter()).params()
        rows = await self._client.read(q.EVENTS_UNDER, id=asset_id, **params)
        return [_rows.event_from(r) for r in rows]

    async def history_pages(
        self, requests: Sequence[EventPageRequest]
    ) -> dict[EventPageRequest, EventPage]:
        """A page per request, filtered and cut in the graph: one statement for all."""
        reqs = list(dict.fromkeys(requests))
        found: list[list[MaintenanceEvent]] = [[] for _ in reqs]
        if reqs:
            rows = await self._client.read(
                q.EVENT_PAGES, rows=[r.row(i) for i, r in enumerate(reqs)]
            )
            for r in rows:
                found[r["key"]].append(_rows.event_from(r))
        return {req: _page(events, req.limit) for req, events in zip(reqs, found, strict=True)}

    async def history_under_page(
        self,
        asset_id: str,
        limit: int,
        after: tuple[str, str] | None = None,
        flt: MaintenanceFilter | None = None,
    ) -> EventPage:
        """A page of the events of an asset and all its descendants, newest first."""
        after_at, after_id = after or (None, None)
        rows = await self._client.read(
            q.EVENTS_UNDER_PAGE,
            id=asset_id,
            limit=limit + 1,
            afterAt=after_at,
            afterId=after_id,
            **(flt or MaintenanceFilter()).params(),
        )
        return _page([_rows.event_from(r) for r in rows], limit)

    async def work_orders(
        self, asset_ids: Iterable[str], status: WorkOrderStatus | None = None
    ) -> dict[str, list[WorkOrder]]:
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[WorkOrder]] = {i: [] for i in ids}
        if ids:
            rows = await self._client.read(
                q.WORK_ORDERS_FOR_ASSETS, ids=ids, status=status.value if status else None
            )
            for r in rows:
                out[r["assetId"]].append(_rows.work_order_from(r))
        return out

    async def last_renewals(
        self, asset_ids: Iterable[str], until: datetime | None = None
    ) -> dict[str, datetime | None]:
        """When each asset's life clock last restarted (its latest failure or replacement
        at or before ``until``; None: none recorded). Unknown assets are left out."""
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return {}
        rows = await self._client.read(
            q.LAST_RENEWALS, ids=ids, renewing=_RENEWING, until=iso(until)
        )
        return {r["id"]: parse_iso(r["renewedAt"]) for r in rows}

    async def failures_of_type(
        self, asset_type: str, until: datetime | None = None
    ) -> list[FailureRecord]:
        """The recorded failures of every asset of ``asset_type`` (at or before
        ``until``), by asset then time: the fleet history life models learn from."""
        rows = await self._client.read(
            q.FAILURES_OF_TYPE,
            type=asset_type,
            failure=MaintenanceKind.FAILURE.value,
            renewing=_RENEWING,
            until=iso(until),
        )
        out = []
        for r in rows:
            failed = parse_iso(r["failedAt"])
            assert failed is not None
            out.append(FailureRecord(r["assetId"], r["eventId"], failed, parse_iso(r["renewedAt"])))
        return out
