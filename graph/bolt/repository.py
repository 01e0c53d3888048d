"""The graph repository: one object per aggregate over one Bolt client."""

from __future__ import annotations

from graph.bolt.alerts import AlertRepository
from graph.bolt.anomaly import AnomalyModelRepository
from graph.bolt.assets import AssetRepository
from graph.bolt.client import GraphClient
from graph.bolt.commands import CommandRepository
from graph.bolt.devices import DeviceRepository
from graph.bolt.health import HealthRepository
from graph.bolt.jobs import JobRepository
from graph.bolt.maintenance import MaintenanceRepository
from graph.bolt.schema import ensure_schema
from graph.bolt.simruns import SimRunRepository
from graph.bolt.sources import SourceRepository
from graph.bolt.topology import TopologyRepository
from graph.bolt.workorders import WorkOrderRepository

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
        self.alerts = AlertRepository(client)
        self.simruns = SimRunRepository(client)
        self.jobs = JobRepository(client)
        self.health = HealthRepository(client)
        self.work_orders = WorkOrderRepository(client)
        self.anomaly_models = AnomalyModelRepository(client)

    async def ensure_schema(self) -> None:
        await ensure_schema(self.client)

    async def ping(self) -> None:
        await self.client.ping()
