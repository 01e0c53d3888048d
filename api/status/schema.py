"""Operator status: the ingest, live-bus, connector and simulation counters, as the
GraphQL query ``serviceStatus`` and as Prometheus text at ``GET /metrics``.

Both read one ``StatusSnapshot`` (``api.status.snapshot``) taken from the running
services; the exposition is ``api.status.prometheus``. This module holds the GraphQL types.
"""

from __future__ import annotations

import strawberry

from api.common.scoping import plant_wide_read
from api.context import Context
from api.control.schema import ConnectorStateEnum
from api.permissions import reads
from api.status.snapshot import StatusSnapshot, snapshot

__all__ = ["ServiceStatus", "StatusQuery"]

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
    faults: float = strawberry.field(
        description="Times queued readings could go neither to the store nor to the spill "
        "log (disk full, I/O errors): retried, never dropped."
    )
    fault: str | None = strawberry.field(
        description="Why the writer can write neither to the store nor to the spill log, "
        "while that lasts (POST /ingest then answers 503); null when writing."
    )


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
                faults=w.faults,
                fault=w.fault,
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
        extensions=reads(),
        description="Counters of ingest, live bus, latest cache, connectors and simulation "
        "jobs (role viewer); the same figures as GET /metrics.",
    )
    def service_status(self, info: Info) -> ServiceStatus:
        plant_wide_read(info, "the service's counters")
        return ServiceStatus.from_snapshot(snapshot(info.context.services))
