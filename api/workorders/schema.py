"""Work orders in GraphQL: the ``workOrders`` query and the ``updateWorkOrder`` mutation.

Orders are opened by health assessments (at most one active per asset,
``graph.bolt.workorders``) or recorded (``recordMaintenance``, plant files). People move
them along open -> in_progress -> done | cancelled with ``updateWorkOrder`` (role
``operator``; a token limited to asset subtrees only within them); an illegal move is a
CONFLICT naming the allowed ones. ``Asset.workOrders`` lists an asset's orders too.
"""

from __future__ import annotations

import logging

import strawberry

from api.assets.pages import connection, decode_event_cursor
from api.assets.types import Info, WorkOrderNode
from api.common.scoping import see_or_not_found, visible
from api.common.types import Connection, WorkOrderStatusEnum, check_first, encode_cursor
from api.permissions import needs, reads
from graph.bolt.workorders import work_order_key
from graph.model import WorkOrder, WorkOrderStatus

__all__ = ["WorkOrdersMutation", "WorkOrdersQuery"]

log = logging.getLogger("twinql.api.workorders")


def _cursor(w: WorkOrder) -> str:
    created, order_id = work_order_key(w)
    return encode_cursor(f"{created}|{order_id}")


@strawberry.type
class WorkOrdersQuery:
    @strawberry.field(
        extensions=reads(),
        description="Work orders newest first (by creation), of one asset or of all, "
        "optionally of one status.",
    )
    async def work_orders(
        self,
        info: Info,
        asset_id: strawberry.ID | None = None,
        status: WorkOrderStatusEnum | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[WorkOrderNode]:
        repo = info.context.repo
        check_first(first)
        if asset_id is not None:
            await repo.assets.get(str(asset_id))  # NOT_FOUND for an unknown asset
            await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        page = await repo.work_orders.page(
            asset_id=str(asset_id) if asset_id is not None else None,
            status=WorkOrderStatus(status.value) if status is not None else None,
            limit=first,
            after=decode_event_cursor(after),
            scope=await visible(info),
        )
        return connection(page.items, page.has_next, _cursor, WorkOrderNode.from_domain)


@strawberry.type
class WorkOrdersMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Move a work order along OPEN -> IN_PROGRESS -> DONE or CANCELLED (an OPEN "
        "order may be cancelled) with a note; the same status again only updates the "
        "note. Any other move is a CONFLICT naming the allowed ones.",
    )
    async def update_work_order(
        self, info: Info, id: strawberry.ID, status: WorkOrderStatusEnum, note: str = ""
    ) -> WorkOrderNode:
        principal = info.context.caller
        repo = info.context.repo
        found = await repo.work_orders.get(str(id))
        await info.context.services.scopes.check(principal, found.asset_id)
        done = await repo.work_orders.set_status(found.id, WorkOrderStatus(status.value), note)
        log.info("work order %s -> %s by %s: %s", done.id, done.status, principal.name, note)
        return WorkOrderNode.from_domain(done)
