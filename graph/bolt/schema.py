"""Idempotent schema bootstrap: uniqueness constraints on every id, a few indexes."""

from __future__ import annotations

from graph.bolt.client import GraphClient
from graph.bolt.cypher import schema as q

__all__ = ["ensure_schema"]


async def ensure_schema(client: GraphClient) -> None:
    """Create what is missing; safe to run at every start-up (``IF NOT EXISTS``)."""
    for statement in q.ALL:
        await client.write(statement)
