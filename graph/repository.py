"""The graph repository: one object per aggregate over one Bolt client."""

from __future__ import annotations

from graph.assets import AssetRepository
from graph.client import GraphClient
from graph.commands import CommandRepository
from graph.devices import DeviceRepository
from graph.maintenance import MaintenanceRepository
from graph.schema import ensure_schema
from graph.sources import SourceRepository
from graph.topology import TopologyRepository

__all__ = ["GraphRepository"]


class GraphRepository:
    """What the rest of twinql uses to read and write the knowledge graph."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client
        self.assets = AssetRepository(client)
        self.devices = DeviceRepository(client)
        self.sources = SourceRepository(client)
        self.topology = TopologyRepository(client)
        self.maintenance = MaintenanceRepository(client)
        self.commands = CommandRepository(client)

    async def ensure_schema(self) -> None:
        await ensure_schema(self.client)

    async def ping(self) -> None:
        await self.client.ping()
