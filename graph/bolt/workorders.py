"""Work orders opened from health assessments, listed, and moved through their statuses.

``open_for_asset`` opens an order unless one is already active (open or in progress) for
the asset, race-safe: two concurrent calls for one asset open one order between them
(see ``graph.bolt.cypher.workorders``). ``set_status`` follows open -> in_progress ->
done | cancelled (``graph.model.check_transition``); an illegal move is a CONFLICT naming
the allowed ones. Plant files and ``recordMaintenance`` still write orders as they are
(``MaintenanceRepository.record``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from graph.bolt import rows as _rows
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import workorders as q
from graph.errors import Conflict, NotFound, ValidationError
from graph.model import WorkOrder, WorkOrderStatus, check_transition
from graph.timeutil import iso, utcnow

__all__ = ["OpenedWorkOrder", "WorkOrderPage", "WorkOrderRepository", "work_order_key"]

MAX_PAGE = 500
_ACTIVE = [s.value for s in WorkOrderStatus if s.active]


@dataclass(frozen=True, slots=True)
class OpenedWorkOrder:
    order: WorkOrder
    opened: bool  # False: an active order was already there (``order`` is that one)


@dataclass(frozen=True, slots=True)
class WorkOrderPage:
    items: list[WorkOrder]
    has_next: bool


def _chunks(ids: list[str], size: int = 5_000) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def work_order_key(w: WorkOrder) -> tuple[str, str]:
    """The keyset cursor of an order in newest-first order: (createdAt as stored, id)."""
    return (iso(w.created_at) or "", w.id)


class WorkOrderRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def open_for_asset(self, order: WorkOrder) -> OpenedWorkOrder:
        """Open ``order`` (status open) unless the asset already has an active order, in
        which case that one comes back with ``opened`` False. ``order.assessment_id``,
        when set, links the order to that assessment (``FROM_ASSESSMENT``)."""
        return await self._client.write_tx(lambda tx: self.open_in(tx, order))

    async def open_in(self, tx: Tx, order: WorkOrder) -> OpenedWorkOrder:
        """``open_for_asset`` in the caller's transaction (e.g. with the assessment that
        asks for it, ``HealthRepository.save_in``, so both commit or neither)."""
        if order.status is not WorkOrderStatus.OPEN:
            raise ValidationError(f"a new work order is open, got {order.status.value}")
        token = uuid.uuid4().hex
        if not await tx.rows(q.LOCK_ASSET, assetId=order.asset_id, token=token):
            raise NotFound(f"asset {order.asset_id} not found")
        found = await tx.rows(q.ACTIVE_FOR_ASSET, assetId=order.asset_id, active=_ACTIVE)
        if found:
            return OpenedWorkOrder(_rows.work_order_from(found[0]), opened=False)
        row = _rows.work_order_row(order)
        (created,) = await tx.rows(
            q.CREATE_FOR_ASSET,
            assetId=order.asset_id,
            id=order.id,
            status=row["status"],
            priority=order.priority,
            createdAt=row["createdAt"],
            dueAt=row["dueAt"],
            reason=order.reason,
            note=order.note,
            assessmentId=order.assessment_id,
        )
        if order.assessment_id:
            await tx.run(q.LINK_ASSESSMENT, id=order.id, assessmentId=order.assessment_id)
        return OpenedWorkOrder(_rows.work_order_from(created), opened=True)

    async def open_many(self, orders: Sequence[WorkOrder]) -> list[OpenedWorkOrder]:
        """``open_for_asset`` for many assets in one transaction (one order per asset),
        in the order given: what a fleet assessment asks for, without a transaction (and
        ArcadeDB's page-level write conflicts) per asset."""
        return await self._client.write_tx(lambda tx: self.open_many_in(tx, orders))

    async def open_many_in(self, tx: Tx, orders: Sequence[WorkOrder]) -> list[OpenedWorkOrder]:
        if not orders:
            return []
        ids = [o.asset_id for o in orders]
        if len(set(ids)) != len(ids):
            raise ValidationError("open_many takes at most one order per asset")
        if bad := [o.id for o in orders if o.status is not WorkOrderStatus.OPEN]:
            raise ValidationError(f"new work orders are open: {', '.join(bad[:5])}")
        token = uuid.uuid4().hex
        locked: list[dict[str, object]] = []
        for part in _chunks(ids):
            locked += await tx.rows(q.LOCK_ASSETS, ids=part, token=token)
        if missing := sorted(set(ids) - {r["id"] for r in locked}):
            raise NotFound(f"asset(s) not found: {', '.join(missing[:20])}")
        active: dict[str, WorkOrder] = {}
        for part in _chunks(ids):
            for r in await tx.rows(q.ACTIVE_FOR_ASSETS, ids=part, active=_ACTIVE):
                active.setdefault(r["assetId"], _rows.work_order_from(r))
        new = [o for o in orders if o.asset_id not in active]
        rows = [{**_rows.work_order_row(o), "note": o.note, "assessmentId": o.assessment_id}
                for o in new]  # fmt: skip
        created = {
            r["assetId"]: _rows.work_order_from(r)
            for r in await tx.batched_rows(q.CREATE_FOR_ASSETS, rows)
        }
        links = [{"id": o.id, "assessmentId": o.assessment_id} for o in new if o.assessment_id]
        await tx.batched(q.LINK_ASSESSMENTS, links)
        return [
            OpenedWorkOrder(active[o.asset_id], opened=False)
            if o.asset_id in active
            else OpenedWorkOrder(created[o.asset_id], opened=True)
            for o in orders
        ]

    async def active_for_asset(self, asset_id: str) -> WorkOrder | None:
        rows = await self._client.read(q.ACTIVE_FOR_ASSET, assetId=asset_id, active=_ACTIVE)
        return _rows.work_order_from(rows[0]) if rows else None

    async def active_for_assets(self, asset_ids: Sequence[str]) -> dict[str, WorkOrder]:
        """Each asset's active order, for the assets that have one (one read per 5,000)."""
        out: dict[str, WorkOrder] = {}
        for part in _chunks(list(dict.fromkeys(asset_ids))):
            for r in await self._client.read(q.ACTIVE_FOR_ASSETS, ids=part, active=_ACTIVE):
                out.setdefault(r["assetId"], _rows.work_order_from(r))
        return out

    async def get(self, order_id: str) -> WorkOrder:
        rows = await self._client.read(q.GET_WORK_ORDER, id=order_id)
        if not rows:
            raise NotFound(f"work order {order_id} not found")
        return _rows.work_order_from(rows[0])

    async def set_status(
        self, order_id: str, status: WorkOrderStatus, note: str = "", at: datetime | None = None
    ) -> WorkOrder:
        """Move an order to ``status`` (the same status: only the note changes). NOT_FOUND
        for an unknown order, CONFLICT for a move its current status does not allow."""
        status = WorkOrderStatus(status)
        now = iso(at or utcnow())
        sources = [s.value for s in WorkOrderStatus if s.may_become(status)]

        async def work(tx: Tx) -> WorkOrder:
            rows = await tx.rows(q.GET_WORK_ORDER, id=order_id)
            if not rows:
                raise NotFound(f"work order {order_id} not found")
            current = _rows.work_order_from(rows[0])
            replace(current, note=note)  # a note too long is a VALIDATION error
            check_transition(order_id, current.status, status)
            done = await tx.rows(
                q.SET_STATUS, id=order_id, status=status.value, note=note, now=now, sources=sources
            )
            if not done:  # changed between the read and the write: report the new state
                again = await tx.rows(q.GET_WORK_ORDER, id=order_id)
                check_transition(order_id, _rows.work_order_from(again[0]).status, status)
                raise Conflict(f"work order {order_id} changed meanwhile; retry")
            return _rows.work_order_from(done[0])

        return await self._client.write_tx(work)

    async def page(
        self,
        asset_id: str | None = None,
        status: WorkOrderStatus | None = None,
        limit: int = 50,
        after: tuple[str, str] | None = None,
        scope: Collection[str] | None = None,
    ) -> WorkOrderPage:
        """Orders newest first (by created time, then id), of one asset or all (of the
        assets in ``scope`` only, when given: a scoped token's assets)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        after_at, after_id = after or (None, None)
        rows = await self._client.read(
            q.WORK_ORDER_PAGE,
            assetId=asset_id,
            scope=None if scope is None else list(scope),
            status=status.value if status else None,
            afterAt=after_at,
            afterId=after_id,
            limit=limit + 1,
        )
        found = [_rows.work_order_from(r) for r in rows]
        return WorkOrderPage(items=found[:limit], has_next=len(found) > limit)
