"""Operator status: the ingest, live-bus, connector and simulation counters, as the
GraphQL query ``serviceStatus`` and as Prometheus text at ``GET /metrics``.

Both read one ``StatusSnapshot`` taken from the running services (no store round
trip: every figure is an in-memory counter or gauge). A component that is not running
(the pipeline before start, no connector manager, no simulation runner) is left out:
null in GraphQL, no sample in the exposition.

``/metrics`` needs a token of role ``viewer`` (any role implies it) unless the
deployment allows anonymous reads (``Settings.allow_anonymous_read``), like queries.
Metric names start with ``twinql_``; counters end in ``_total``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import strawberry
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from api.context import Context
from api.control.schema import ConnectorStateEnum
from api.services.container import Services
from graph.errors import Forbidden, Unauthenticated
from ingest.connectors.base import ConnectorState
from ingest.pipeline.writer import WriterStats

__all__ = [
    "CONTENT_TYPE",
    "ServiceStatus",
    "StatusQuery",
    "StatusSnapshot",
    "metrics_endpoint",
    "render_metrics",
    "routes",
    "snapshot",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# -- the snapshot (plain data) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectorCounts:
    by_state: dict[str, int]  # every ConnectorState, zero included
    dead_letters: int
    events: int
    events_stored: int
    event_queue_waits: int
    event_store_errors: int
    reconciles: int
    reconcile_errors: int

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass(frozen=True, slots=True)
class SimulationSlots:
    in_use: int
    slots: int


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    started: bool
    ingest: WriterStats | None = None
    bus_published: int | None = None
    bus_subscribers: int | None = None
    latest_cache_size: int | None = None
    connectors: ConnectorCounts | None = None
    simulation: SimulationSlots | None = None


def _connectors(services: Services) -> ConnectorCounts | None:
    manager = services.connectors
    if manager is None:
        return None
    by_state = {state.value: 0 for state in ConnectorState}
    for status in manager.statuses().values():
        by_state[status.state.value] = by_state.get(status.state.value, 0) + 1
    c = manager.counters
    return ConnectorCounts(
        by_state=by_state,
        dead_letters=c.dead_letters,
        events=c.events,
        events_stored=c.events_stored,
        event_queue_waits=c.event_queue_waits,
        event_store_errors=c.event_store_errors,
        reconciles=c.reconciles,
        reconcile_errors=c.reconcile_errors,
    )


def _simulation(services: Services) -> SimulationSlots | None:
    # services.simulation is typed ``object`` (api.services.simulation.service imports api.services).
    runner = getattr(services.simulation, "runner", None)
    settings = getattr(runner, "settings", None)
    if runner is None or settings is None:
        return None
    return SimulationSlots(in_use=len(runner.active), slots=int(settings.slots))


def snapshot(services: Services) -> StatusSnapshot:
    """The current figures of the running services (in memory, no I/O)."""
    pipeline = services.pipeline
    if pipeline is None:
        return StatusSnapshot(
            started=services.started,
            connectors=_connectors(services),
            simulation=_simulation(services),
        )
    return StatusSnapshot(
        started=services.started,
        ingest=pipeline.stats(),
        bus_published=pipeline.bus.published,
        bus_subscribers=pipeline.bus.subscribers,
        latest_cache_size=len(pipeline.latest),
        connectors=_connectors(services),
        simulation=_simulation(services),
    )


# -- Prometheus text exposition --------------------------------------------------------

_Sample = tuple[str, str, str, list[tuple[str, float]]]  # name, type, help, [(labels, v)]


def _samples(s: StatusSnapshot) -> Iterator[_Sample]:
    def one(name: str, kind: str, text: str, value: float) -> _Sample:
        return (name, kind, text, [("", float(value))])

    yield one("twinql_up", "gauge", "1 when every component has started, else 0", s.started)
    if (w := s.ingest) is not None:
        for name, value, text in (
            ("received", w.received, "readings submitted to the batching writer"),
            ("stored", w.stored, "readings written to the store (directly or by replay)"),
            ("rejected", w.rejected, "rejected readings kept in rejected_readings"),
            ("spilled", w.spilled, "readings appended to the spill log (store down)"),
            ("replayed", w.replayed, "readings written back from the spill log"),
            ("store_errors", w.store_errors, "failed writes to the readings store"),
            ("dead_lettered", w.dead_lettered, "readings the store refused, kept as dead letters"),
            ("quarantined", w.quarantined, "rows refused even as dead letters (quarantine log)"),
        ):
            yield one(f"twinql_ingest_{name}_total", "counter", text, value)
        yield one("twinql_ingest_queue_depth", "gauge", "readings queued in memory", w.queue_depth)
        yield one(
            "twinql_ingest_lag_seconds",
            "gauge",
            "age of the oldest reading not yet in the store",
            w.lag_s,
        )
        yield one(
            "twinql_ingest_spill_pending",
            "gauge",
            "1 while the spill log holds readings not yet replayed",
            w.spill_pending,
        )
    if s.bus_published is not None:
        yield one(
            "twinql_live_bus_published_total", "counter", "batches published", s.bus_published
        )
    if s.bus_subscribers is not None:
        yield one("twinql_live_bus_subscribers", "gauge", "live bus subscribers", s.bus_subscribers)
    if s.latest_cache_size is not None:
        yield one(
            "twinql_latest_cache_sensors",
            "gauge",
            "sensors held in the latest-value cache",
            s.latest_cache_size,
        )
    if (c := s.connectors) is not None:
        yield (
            "twinql_connectors",
            "gauge",
            "device connectors by state",
            [(f'state="{state}"', float(n)) for state, n in sorted(c.by_state.items())],
        )
        for name, value, text in (
            ("dead_letters", c.dead_letters, "device messages that could not be decoded"),
            ("events", c.events, "asset events received from connectors"),
            ("events_stored", c.events_stored, "asset events written to the store"),
            ("event_queue_waits", c.event_queue_waits, "asset events that waited for room in the full queue"),
            ("event_store_errors", c.event_store_errors, "failed asset-event writes"),
            ("reconciles", c.reconciles, "reconciliations of connectors with the graph"),
            ("reconcile_errors", c.reconcile_errors, "failed reconciliations"),
        ):
            yield one(f"twinql_connector_{name}_total", "counter", text, value)
    if (sim := s.simulation) is not None:
        yield one(
            "twinql_simulation_slots_in_use",
            "gauge",
            "simulation jobs queued or running",
            sim.in_use,
        )
        yield one("twinql_simulation_slots", "gauge", "simulation job slots", sim.slots)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def render_metrics(s: StatusSnapshot) -> str:
    """The snapshot in the Prometheus text format (version 0.0.4)."""
    lines: list[str] = []
    for name, kind, text, values in _samples(s):
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in values:
            lines.append(
                f"{name}{{{labels}}} {_number(value)}" if labels else f"{name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def metrics_endpoint(services: Services) -> Callable[[Request], object]:
    async def metrics(request: Request) -> Response:
        try:
            principal = services.tokens.authenticate(request.headers.get("authorization"))
            if principal is None and not services.settings.allow_anonymous_read:
                raise Unauthenticated("GET /metrics needs an API token (Authorization: Bearer ...)")
            if principal is not None:
                principal.require("viewer")
        except (Unauthenticated, Forbidden) as exc:
            status = 401 if exc.code == "UNAUTHENTICATED" else 403
            response = JSONResponse(
                {"error": {"code": exc.code, "message": exc.message}}, status_code=status
            )
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return PlainTextResponse(render_metrics(snapshot(services)), media_type=CONTENT_TYPE)

    return metrics


def routes(services: Services) -> list[BaseRoute]:
    """``GET /metrics``, for ``api.app.ROUTE_FACTORIES``."""
    return [Route("/metrics", metrics_endpoint(services), methods=["GET"])]


# -- GraphQL ---------------------------------------------------------------------------

Info = strawberry.Info[Context, None]


# Counters are Float: GraphQL's Int is 32-bit and a busy plant passes 2**31 readings in
# days; a double counts exactly to 2**53.


@strawberry.type(description="The batching writer of the ingest pipeline (counts as Float).")
class IngestStatus:
    received: float = strawberry.field(description="Readings submitted to the writer.")
    stored: float = strawberry.field(description="Readings written to the store.")
    rejected: float = strawberry.field(description="Rejected readings kept for inspection.")
    spilled: float = strawberry.field(description="Readings appended to the spill log.")
    replayed: float = strawberry.field(description="Readings written back from the spill log.")
    store_errors: float = strawberry.field(description="Failed writes to the readings store.")
    dead_lettered: float = strawberry.field(
        description="Readings the store refused (not an outage): kept in rejectedReadings."
    )
    quarantined: float = strawberry.field(
        description="Rows refused even as dead letters: kept in the quarantine log on disk."
    )
    queue_depth: int = strawberry.field(description="Readings queued in memory.")
    lag_seconds: float = strawberry.field(description="Age of the oldest unstored reading.")
    spill_pending: bool = strawberry.field(description="The spill log awaits replay.")


@strawberry.type(description="The live bus that feeds subscriptions.")
class LiveBusStatus:
    published: float = strawberry.field(description="Batches published.")
    subscribers: int


@strawberry.type
class ConnectorStateCount:
    state: ConnectorStateEnum
    count: int


@strawberry.type(description="The device connectors and their manager's counters.")
class ConnectorsStatus:
    total: int
    by_state: list[ConnectorStateCount]
    dead_letters: float
    events: float
    events_stored: float
    event_queue_waits: float
    event_store_errors: float
    reconciles: float
    reconcile_errors: float


@strawberry.type(description="The simulation job runner.")
class SimulationStatus:
    slots_in_use: int
    slots: int


@strawberry.type(description="Counters and gauges of the running service (also at /metrics).")
class ServiceStatus:
    started: bool
    ingest: IngestStatus | None
    live_bus: LiveBusStatus | None
    latest_cache_size: int | None = strawberry.field(
        description="Sensors held in the latest-value cache."
    )
    connectors: ConnectorsStatus | None
    simulation: SimulationStatus | None

    @classmethod
    def from_snapshot(cls, s: StatusSnapshot) -> ServiceStatus:
        w, c, sim = s.ingest, s.connectors, s.simulation
        return cls(
            started=s.started,
            ingest=None
            if w is None
            else IngestStatus(
                received=w.received,
                stored=w.stored,
                rejected=w.rejected,
                spilled=w.spilled,
                replayed=w.replayed,
                store_errors=w.store_errors,
                dead_lettered=w.dead_lettered,
                quarantined=w.quarantined,
                queue_depth=w.queue_depth,
                lag_seconds=w.lag_s,
                spill_pending=w.spill_pending,
            ),
            live_bus=None
            if s.bus_published is None
            else LiveBusStatus(published=s.bus_published, subscribers=s.bus_subscribers or 0),
            latest_cache_size=s.latest_cache_size,
            connectors=None
            if c is None
            else ConnectorsStatus(
                total=c.total,
                by_state=[
                    ConnectorStateCount(state=ConnectorStateEnum(k), count=n)
                    for k, n in sorted(c.by_state.items())
                ],
                dead_letters=c.dead_letters,
                events=c.events,
                events_stored=c.events_stored,
                event_queue_waits=c.event_queue_waits,
                event_store_errors=c.event_store_errors,
                reconciles=c.reconciles,
                reconcile_errors=c.reconcile_errors,
            ),
            simulation=None
            if sim is None
            else SimulationStatus(slots_in_use=sim.in_use, slots=sim.slots),
        )


@strawberry.type
class StatusQuery:
    @strawberry.field(
        description="Counters of ingest, live bus, latest cache, connectors and simulation "
        "jobs (role viewer); the same figures as GET /metrics."
    )
    def service_status(self, info: Info) -> ServiceStatus:
        info.context.reader()
        return ServiceStatus.from_snapshot(snapshot(info.context.services))
