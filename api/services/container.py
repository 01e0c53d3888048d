"""The composition root: builds every service from settings, in one async context manager.

``open_services(settings)`` opens the knowledge graph, the readings store and the ingest
pipeline, then the application services in dependency order, and yields one frozen,
typed ``Services``; leaving the block closes everything in reverse order (connectors
first, the graph server last). A failure part-way closes what was opened. Each service's
constructor takes the narrow things it uses (a repository, the store, the bus), never
this container. Nothing below ``api/`` reads the environment: this module hands each
component its settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from analytics.assessment import HealthConfig
from api.services.alerting import AlertService
from api.services.audit import AUDIT_FILE, AuditLog
from api.services.auth import ROLES, Scopes, TokenStore
from api.services.control import ControlService
from api.services.energy import EnergyService
from api.services.health import HealthService
from api.services.jobs import JobService
from api.services.jwtauth import JwtSettings, JwtVerifier
from api.services.oee import OeeService
from api.services.ratelimit import RateLimits
from api.services.registry import RegistryService
from api.services.simulation.jobs import JobRunner, JobSettings
from api.services.simulation.service import SimulationService
from api.settings import Settings
from graph.bolt import server_lock
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings, GraphSettings
from graph.changes import RegistryChange, RegistryKind
from graph.errors import TwinqlError, Unavailable, ValidationError
from graph.model import Sensor
from ingest.manager import ConnectorManager, ManagerSettings
from ingest.pipeline import CachedCatalog, IngestPipeline, PipelineSettings
from ingest.reading import RawReading
from ingest.store import ReadingBatch, ReadingsStore, RejectedRow, StoreSettings, open_store
from sim.fastpath import default_cache_dir

__all__ = [
    "GraphSensorCatalog",
    "Services",
    "numba_cache_dir",
    "open_graph",
    "open_services",
    "serving_twinql",
    "store_settings",
]

log = logging.getLogger(__name__)


def numba_cache_dir(settings: Settings) -> Path:
    """Where the simulation workers cache compiled code: TWINQL_NUMBA_CACHE_DIR, else
    ``sim``'s per-user default under XDG_CACHE_HOME or ~/.cache (never the package)."""
    return settings.numba_cache_dir or default_cache_dir(settings.xdg_cache_home)


class GraphSensorCatalog:
    """The ingest pipeline's sensor catalogue, read from the knowledge graph."""

    def __init__(self, graph: GraphRepository) -> None:
        self._graph = graph

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        return await self._graph.devices.sensors(ids)


@dataclass(frozen=True, slots=True)
class Services:
    """Every service of one running twinql process."""

    settings: Settings
    tokens: TokenStore
    audit: AuditLog  # every mutation: api.services.audit
    limits: RateLimits  # per token: api.services.ratelimit
    graph: GraphRepository
    graph_server: EmbeddedGraphServer | None
    readings: ReadingsStore
    ingest: IngestPipeline
    catalog: CachedCatalog
    registry: RegistryService
    scopes: Scopes
    alerts: AlertService
    simulation: SimulationService
    connectors: ConnectorManager
    control: ControlService
    health: HealthService
    oee: OeeService
    energy: EnergyService
    jobs: JobService

    @property
    def repo(self) -> GraphRepository:
        """The graph, or UNAVAILABLE (saying why) once the embedded server has died."""
        server = self.graph_server
        if server is not None and server.exit_code is not None:
            raise Unavailable(
                f"the embedded graph server exited (code {server.exit_code}); "
                "restart twinql (its log holds the server's last output)"
            )
        return self.graph

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
                await self.graph.ping()
                checks["graph"] = "ok"
            except TwinqlError as exc:
                checks["graph"] = exc.message
        try:
            await self.readings.ping()
            checks["readings"] = "ok"
        except TwinqlError as exc:
            checks["readings"] = exc.message
        checks["ingest"] = self.ingest.writer.fault or "ok"  # cannot write nor spill (disk full)
        return checks


def load_tokens(settings: Settings) -> TokenStore:
    tokens = TokenStore.open(settings.data_dir, settings.tokens)
    if settings.jwt_issuer:
        secret = settings.jwt_hs256_secret
        if secret is None and settings.jwt_hs256_secret_file is not None:
            secret = settings.jwt_hs256_secret_file.read_text().strip()
        if not settings.jwt_audience:
            raise ValidationError("TWINQL_JWT_ISSUER needs TWINQL_JWT_AUDIENCE")
        tokens.jwt = JwtVerifier(
            JwtSettings(
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                jwks=settings.jwt_jwks,
                hs256_secret=secret,
                role_claim=settings.jwt_role_claim,
                scopes_claim=settings.jwt_scopes_claim,
                name_claim=settings.jwt_name_claim,
            ),
            ROLES,
        )
    return tokens


def store_settings(settings: Settings, sql_log: Path | None = None) -> StoreSettings:
    s = settings
    if s.questdb_url:
        return StoreSettings(
            backend="questdb",
            questdb_url=s.questdb_url,
            pg_port=s.questdb_pg_port,
            pg_user=s.questdb_user,
            pg_password=s.questdb_password,
            table_prefix=s.questdb_table_prefix,
            sql_log=sql_log,
        )
    return StoreSettings(backend="duckdb", path=s.data_dir / "readings.duckdb")


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    record_statements_to: Path | None = None,
    sql_log: Path | None = None,
) -> AsyncIterator[Services]:
    """Everything, started in order: graph, readings, pipeline, registry, alerts (so the
    rules see the very first readings), simulation, connectors (last, once everything
    that consumes their data runs), control."""
    ensure_data_dir(settings.data_dir)
    tokens = load_tokens(settings)
    async with contextlib.AsyncExitStack() as stack:
        audit = AuditLog(settings.data_dir / AUDIT_FILE)
        stack.push_async_callback(audit.aclose)
        graph, server = await open_graph(settings, stack, record_statements_to=record_statements_to)
        store = await open_store(store_settings(settings, sql_log))
        stack.push_async_callback(store.aclose)
        catalog = CachedCatalog(GraphSensorCatalog(graph), ttl=30.0)
        pipeline = IngestPipeline(
            store, catalog, PipelineSettings(spill_dir=settings.data_dir / "spill")
        )
        await pipeline.start(warm_sensor_ids=[s.id for s in await _all_sensors(graph)])
        stack.push_async_callback(pipeline.aclose)

        registry = RegistryService(graph)

        async def invalidate(change: RegistryChange) -> None:
            if change.touches(RegistryKind.SENSORS, RegistryKind.ASSETS):
                catalog.invalidate()

        registry.listen(invalidate)
        scopes = Scopes(graph.assets)

        alerts = AlertService(graph.alerts, pipeline.bus, catalog)
        await alerts.start()
        stack.push_async_callback(alerts.aclose)

        simulation = SimulationService(
            graph.assets,
            graph.topology,
            graph.simruns,
            store,
            pipeline.latest,
            registry,
            JobRunner(JobSettings(numba_cache_dir=numba_cache_dir(settings))),
        )
        stack.push_async_callback(simulation.aclose)
        n = await simulation.runs.fail_interrupted("interrupted: the service restarted")
        if n:
            log.warning("%d simulation runs were left unfinished by a previous process", n)

        connectors = _connector_manager(settings, graph, pipeline, store)
        stack.push_async_callback(connectors.aclose)
        registry.listen(connectors.on_registry_change)
        await connectors.start()

        control = ControlService(graph.devices, graph.sources, graph.commands, connectors, scopes)
        health = HealthService(
            graph,
            store,
            settings.data_dir,
            HealthConfig(
                window_s=settings.health_window_s,
                step_s=settings.health_step_s,
                baseline_s=settings.health_baseline_s,
            ),
            interval_s=settings.health_interval_s,
        )
        await health.start()
        stack.push_async_callback(health.aclose)
        oee = OeeService(graph.assets, graph.devices, graph.topology, store)
        energy = EnergyService(
            graph.assets, graph.devices, graph.sources, store, control, scopes,
            schedules_file=settings.data_dir / "energy" / "schedules.json",
        )  # fmt: skip
        stack.push_async_callback(energy.aclose)
        resumed = await energy.resume()
        if resumed:
            log.info("%d energy schedules resumed", resumed)
        jobs = JobService(graph.jobs, simulation.runner, health, energy)
        stack.push_async_callback(jobs.aclose)
        n = await jobs.repo.fail_interrupted("interrupted: the service restarted")
        if n:
            log.warning("%d analytics jobs were left unfinished by a previous process", n)
        yield Services(
            settings=settings,
            tokens=tokens,
            audit=audit,
            limits=RateLimits.of(settings.rate_mutations, settings.rate_ingest),
            graph=graph,
            graph_server=server,
            readings=store,
            ingest=pipeline,
            catalog=catalog,
            registry=registry,
            scopes=scopes,
            alerts=alerts,
            simulation=simulation,
            connectors=connectors,
            control=control,
            health=health,
            oee=oee,
            energy=energy,
            jobs=jobs,
        )


async def _all_sensors(graph: GraphRepository) -> list[Sensor]:
    out: list[Sensor] = []
    after = ""
    while True:
        page = await graph.devices.all_sensors(after=after, limit=10_000)
        out.extend(page)
        if len(page) < 10_000:
            return out
        after = page[-1].id


def _connector_manager(
    settings: Settings, graph: GraphRepository, pipeline: IngestPipeline, store: ReadingsStore
) -> ConnectorManager:
    """The connector manager: device data sources of the graph feed the pipeline."""

    async def sink(raws: list[RawReading]) -> asyncio.Future[None]:
        # validated, published and queued now; MQTT acknowledges once ``durable`` resolves
        _, durable = await pipeline.ingest_deferred(raws)
        return durable

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    return ConnectorManager(
        graph.sources,
        sink,
        reject=reject,
        store_events=store.write_events,
        settings=ManagerSettings(
            default_mqtt_url=settings.mqtt_url,
            instance_id=settings.effective_instance_id,
            mqtt_session_dir=settings.data_dir / "mqtt-sessions",
            resync_s=settings.resync_s,
        ),
    )


def serving_twinql(settings: Settings) -> int | None:
    """The pid of a live twinql whose embedded graph server holds ``settings.data_dir``
    (None: none does, or the graph is an external Neo4j)."""
    if settings.neo4j_uri:
        return None
    root = EmbeddedGraphServer(
        EmbeddedGraphSettings(data_dir=settings.data_dir, heap=settings.graph_heap)
    ).root
    rec = server_lock.read_record(root)
    if rec is None or not server_lock.pid_alive(rec.pid):
        return None
    if not (server_lock.is_our_server(rec.pid, root) and server_lock.owner_alive(rec)):
        return None
    return rec.owner


def ensure_data_dir(path: Path) -> None:
    """The data directory, made if missing; a clear error if it cannot be one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"the data directory {path} (TWINQL_DATA_DIR or --data-dir) cannot be used: "
            f"{exc.strerror or exc}"
        ) from None


async def open_graph(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    *,
    record_statements_to: Path | None = None,
    attach: bool = False,
) -> tuple[GraphRepository, EmbeddedGraphServer | None]:
    """The knowledge graph alone, schema ensured: the configured Neo4j, or the embedded
    server in the data directory (``attach``: the one a running twinql already owns
    there, if any; ``twinql load`` refuses instead, see ``serving_twinql``). Everything opened is closed by ``stack``. ``twinql load`` needs no
    more than this: no readings store, no connectors, no devices."""
    ensure_data_dir(settings.data_dir)
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
