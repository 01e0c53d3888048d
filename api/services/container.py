"""The composition root: builds every component from settings, owns their lifecycle.

Nothing below ``api/`` reads the environment; this module hands each component its
settings and keeps the shared clients for the app's lifespan.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from api.services.auth import TokenStore
from api.settings import Settings
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings, GraphSettings
from graph.errors import TwinqlError, Unavailable
from graph.model import Sensor
from ingest.manager import ConnectorManager, ManagerSettings
from ingest.pipeline import CachedCatalog, IngestPipeline, PipelineSettings
from ingest.reading import RawReading
from ingest.store import ReadingBatch, ReadingsStore, RejectedRow, StoreSettings, open_store

if TYPE_CHECKING:
    from api.demo import DemoDevices
    from graph.plantfile import PlantDescription

__all__ = ["GraphSensorCatalog", "Services", "open_graph"]

log = logging.getLogger(__name__)


class GraphSensorCatalog:
    """The ingest pipeline's sensor catalogue, read from the knowledge graph."""

    def __init__(self, graph: GraphRepository) -> None:
        self._graph = graph

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        return await self._graph.devices.sensors(ids)


@dataclass
class Services:
    settings: Settings
    tokens: TokenStore
    graph: GraphRepository | None = None
    graph_server: EmbeddedGraphServer | None = None
    store: ReadingsStore | None = None
    pipeline: IngestPipeline | None = None
    catalog: CachedCatalog | None = None
    connectors: ConnectorManager | None = None
    simulation: object | None = None  # api.services.simulation.service.SimulationService (its starter)
    alerts: object | None = None  # api.services.alerting.AlertService (its starter)
    started: bool = False
    registry_listeners: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)
    # Later layers (connectors, jobs) start here, after the stores, in order.
    starters: list[Callable[[Services], Awaitable[None]]] = field(default_factory=list)
    _client: GraphClient | None = field(default=None, repr=False)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        if settings.tokens:
            tokens = TokenStore.parse(settings.tokens)
        else:
            tokens = TokenStore.from_file(settings.data_dir / "tokens.json")
        services = cls(settings=settings, tokens=tokens)
        # These modules import Services themselves: import them late.
        from api.services.alerting import start_alerts  # noqa: PLC0415
        from api.services.simulation.service import start_simulation  # noqa: PLC0415

        # Listeners first, so the alert rules see the very first readings; connectors
        # last, once everything that consumes their data is running.
        services.starters.extend((start_alerts, start_simulation, start_connectors))
        return services

    @property
    def readings(self) -> ReadingsStore:
        if self.store is None:
            raise Unavailable("the readings store is not open")
        return self.store

    @property
    def ingest(self) -> IngestPipeline:
        if self.pipeline is None:
            raise Unavailable("the ingest pipeline is not running")
        return self.pipeline

    def store_settings(self, sql_log: Path | None = None) -> StoreSettings:
        s = self.settings
        if s.questdb_url:
            return StoreSettings(
                backend="questdb",
                questdb_url=s.questdb_url,
                pg_port=s.questdb_pg_port,
                pg_user=s.questdb_user,
                pg_password=s.questdb_password,
                sql_log=sql_log,
            )
        return StoreSettings(backend="duckdb", path=s.data_dir / "readings.duckdb")

    @property
    def repo(self) -> GraphRepository:
        if self.graph is None:
            raise Unavailable("the knowledge graph is not connected")
        server = self.graph_server
        if server is not None and server.exit_code is not None:
            raise Unavailable(
                f"the embedded graph server exited (code {server.exit_code}); "
                "restart twinql (its log holds the server's last output)"
            )
        return self.graph

    async def start(
        self, *, record_statements_to: Path | None = None, sql_log: Path | None = None
    ) -> None:
        try:
            self.graph, self.graph_server = await open_graph(
                self.settings, self._stack, record_statements_to=record_statements_to
            )
            self._client = self.graph.client
            await self._start_readings(sql_log)
            for starter in list(self.starters):
                await starter(self)
            self.started = True
        except BaseException:
            await self.aclose()
            raise

    async def _start_readings(self, sql_log: Path | None) -> None:
        store = await open_store(self.store_settings(sql_log))
        self._stack.push_async_callback(store.aclose)
        self.store = store
        self.catalog = CachedCatalog(GraphSensorCatalog(self.repo), ttl=30.0)
        pipeline = IngestPipeline(
            store, self.catalog, PipelineSettings(spill_dir=self.settings.data_dir / "spill")
        )
        sensor_ids = [s.id for s in await self._all_sensors()]
        await pipeline.start(warm_sensor_ids=sensor_ids)
        self._stack.push_async_callback(pipeline.aclose)
        self.pipeline = pipeline

        async def invalidate(what: str) -> None:
            if what in ("sensors", "assets", "all") and self.catalog is not None:
                self.catalog.invalidate()

        self.registry_listeners.append(invalidate)

    async def _all_sensors(self) -> list[Sensor]:
        out: list[Sensor] = []
        after = ""
        while True:
            page = await self.repo.devices.all_sensors(after=after, limit=10_000)
            out.extend(page)
            if len(page) < 10_000:
                return out
            after = page[-1].id

    async def registry_changed(self, what: str) -> None:
        """Tell caches and connectors that the registry changed (``sensors``, ``sources``,
        ``assets`` or ``all``). A failing listener is logged, never fatal to the write."""
        for listener in list(self.registry_listeners):
            try:
                await listener(what)
            except Exception:
                log.exception("registry listener %r failed on %s change", listener, what)

    async def start_demo_devices(self, plant: PlantDescription, **demo: object) -> DemoDevices:
        """Start the simulated devices of ``plant`` (``twinql demo``) and point its data
        sources in the graph at them, so the connectors reconnect. ``demo`` overrides
        ``api.demo.DemoSettings`` fields (``speedup``, ``seed``, ...). Returns the
        running ``DemoDevices``; they stop with the services."""
        from api.demo import DemoDevices, DemoSettings

        settings = DemoSettings(mqtt_url=self.settings.mqtt_url, **demo)  # type: ignore[arg-type]
        devices = DemoDevices(plant, settings)
        await devices.start()

        async def stop() -> None:
            if self.connectors is not None:  # connectors first, or they see devices vanish
                await self.connectors.aclose()
            await devices.aclose()

        self._stack.push_async_callback(stop)
        await self.repo.sources.upsert(devices.sources())
        await self.registry_changed("sources")
        return devices

    async def aclose(self) -> None:
        self.started = False
        await self._stack.aclose()

    async def readiness(self) -> dict[str, object]:
        """Each component's state, for /readyz."""
        checks: dict[str, object] = {}
        if self.graph_server is not None and not self.graph_server.running:
            code = self.graph_server.exit_code
            checks["graph"] = (
                f"the embedded graph server exited (code {code})"
                if code is not None
                else "the embedded graph server is not running"
            )
        else:
            try:
                await self.repo.ping()
                checks["graph"] = "ok"
            except TwinqlError as exc:
                checks["graph"] = exc.message
        try:
            await self.readings.ping()
            checks["readings"] = "ok"
        except TwinqlError as exc:
            checks["readings"] = exc.message
        return checks


async def open_graph(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    *,
    record_statements_to: Path | None = None,
    attach: bool = False,
) -> tuple[GraphRepository, EmbeddedGraphServer | None]:
    """The knowledge graph alone, schema ensured: the configured Neo4j, or the embedded
    server in the data directory (``attach``: the one a running twinql already owns
    there, if any). Everything opened is closed by ``stack``. ``twinql load`` needs no
    more than this: no readings store, no connectors, no devices."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server: EmbeddedGraphServer | None = None
    if settings.neo4j_uri:
        gs = GraphSettings(
            uri=settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password,
            database=settings.neo4j_database,
            record_statements_to=record_statements_to,
        )
    else:
        server = EmbeddedGraphServer(
            EmbeddedGraphSettings(data_dir=settings.data_dir, heap=settings.graph_heap)
        )
        stack.push_async_callback(server.aclose)
        await server.start(attach=attach)
        gs = server.graph_settings(record_statements_to=record_statements_to)
    client = GraphClient(gs)
    stack.push_async_callback(client.aclose)
    graph = GraphRepository(client)
    await graph.ensure_schema()
    return graph, server


async def start_connectors(services: Services) -> None:
    """The connector manager: device data sources of the graph feed the pipeline."""
    pipeline = services.ingest

    async def sink(raws: list[RawReading]) -> None:
        await pipeline.ingest(raws)

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    manager = ConnectorManager(
        services.repo.sources,
        sink,
        reject=reject,
        store_events=services.readings.write_events,
        settings=ManagerSettings(
            default_mqtt_url=services.settings.mqtt_url,
            instance_id=services.settings.effective_instance_id,
            resync_s=services.settings.resync_s,
        ),
    )
    services._stack.push_async_callback(manager.aclose)
    services.connectors = manager
    services.registry_listeners.append(manager.on_registry_change)
    await manager.start()
