"""Scalars, enums and cursor pagination shared by the GraphQL types."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry

from graph.errors import ValidationError
from graph.model import AssetLevel, DeviceProtocol, RelationType, WorkOrderStatus

__all__ = [
    "JSON",
    "AssetLevelEnum",
    "Connection",
    "Edge",
    "PageInfo",
    "ProtocolEnum",
    "RelationTypeEnum",
    "WorkOrderStatusEnum",
    "decode_cursor",
    "encode_cursor",
    "paginate",
]

from strawberry.scalars import JSON  # noqa: E402  (re-exported)


def _mirror(name: str, source: type[Enum], description: str) -> type[Enum]:
    """A GraphQL enum mirroring a domain enum (the domain stays free of strawberry)."""
    mirrored = Enum(name, {m.name: m.value for m in source})  # type: ignore[misc]
    return strawberry.enum(mirrored, description=description)


if TYPE_CHECKING:  # mypy cannot see the members of a class made at run time: plain Enums
    AssetLevelEnum = Enum
    RelationTypeEnum = Enum
    ProtocolEnum = Enum
    WorkOrderStatusEnum = Enum
else:
    AssetLevelEnum = _mirror("AssetLevel", AssetLevel, "ISA-95 level of an asset.")
    RelationTypeEnum = _mirror("RelationType", RelationType, "Process relation between assets.")
    ProtocolEnum = _mirror("Protocol", DeviceProtocol, "Protocol of a data source.")
    WorkOrderStatusEnum = _mirror("WorkOrderStatus", WorkOrderStatus, "Status of a work order.")

T = TypeVar("T")
MAX_PAGE = 500


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of the edges, for callers who need no cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        raise ValidationError(f"invalid cursor {cursor!r}") from None
    if not isinstance(value, str):
        raise ValidationError(f"invalid cursor {cursor!r}")
    return value


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError(f"first must be between 1 and {MAX_PAGE}, got {first}")
    return first


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    first: int,
    after: str | None,
    wrap: Callable[[T], object],
) -> Connection:
    """Slice an ordered, already-loaded list by cursor (the order is ``key``'s)."""
    check_first(first)
    start = decode_cursor(after)
    seq = list(items)
    if start:
        keys = [key(i) for i in seq]
        if start not in keys:
            raise ValidationError("the cursor does not point into this list any more")
        seq = seq[keys.index(start) + 1 :]
    page = seq[:first]
    edges = [Edge(cursor=encode_cursor(key(i)), node=wrap(i)) for i in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(seq) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )
