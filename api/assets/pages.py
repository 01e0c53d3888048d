"""Cursor pages cut in the store: connections, keyset cursors, per-request page loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from strawberry.dataloader import DataLoader

from api.common.types import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from api.context import Context
from graph import model as m
from graph.bolt.maintenance import EventPageRequest, MaintenanceFilter, event_key
from graph.errors import ValidationError

__all__ = [
    "connection",
    "decode_event_cursor",
    "encode_event_cursor",
    "event_request",
    "pages_loader",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def connection(
    items: list[T], has_next: bool, cursor: Callable[[T], str], wrap: Callable[[T], object]
) -> Connection:
    edges = [Edge(cursor=cursor(i), node=wrap(i)) for i in items]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
    )


def encode_event_cursor(e: m.MaintenanceEvent) -> str:
    at, event_id = event_key(e)
    return encode_cursor(f"{at}|{event_id}")


def decode_event_cursor(cursor: str | None) -> tuple[str, str] | None:
    raw = decode_cursor(cursor)
    if not raw:
        return None
    at, sep, event_id = raw.partition("|")
    if not (sep and at and event_id):
        raise ValidationError(f"invalid cursor {cursor!r}")
    return at, event_id


def event_request(
    asset_id: str,
    first: int,
    after: str | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    technician: str | None,
) -> EventPageRequest:
    return EventPageRequest(
        asset_id=asset_id,
        limit=check_first(first),
        after=decode_event_cursor(after),
        flt=MaintenanceFilter(kind=kind, since=since, until=until, technician=technician),
    )


def pages_loader(
    context: Context, name: str, fetch: Callable[[list[K]], Awaitable[dict[K, V]]]
) -> DataLoader[K, V]:
    """A per-request loader of pages keyed by (node, page arguments): every node of a
    tree level asking for the same field loads in one statement."""

    async def load(keys: list[K]) -> list[V]:
        found = await fetch(keys)
        return [found[k] for k in keys]

    return context.loader(name, lambda: DataLoader(load_fn=load))
