"""The status snapshot: the ingest, live-bus, connector and simulation counters of the
running services, taken in memory (no store round trip), read by the GraphQL query
``serviceStatus`` (``api.status.schema``) and the Prometheus exposition at ``GET /metrics``
(``api.status.prometheus``)."""

from __future__ import annotations

from dataclasses import dataclass

from api.services.container import Services
from ingest.connectors.base import ConnectorState
from ingest.pipeline.writer import WriterStats

__all__ = ["ConnectorCounts", "SimulationSlots", "StatusSnapshot", "snapshot"]


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


def _connectors(services: Services) -> ConnectorCounts:
    manager = services.connectors
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


def _simulation(services: Services) -> SimulationSlots:
    runner = services.simulation.runner
    return SimulationSlots(in_use=len(runner.active), slots=int(runner.settings.slots))


def snapshot(services: Services) -> StatusSnapshot:
    """The current figures of the running services (in memory, no I/O)."""
    pipeline = services.ingest
    return StatusSnapshot(
        started=True,  # a snapshot is taken of running services only
        ingest=pipeline.stats(),
        bus_published=pipeline.bus.published,
        bus_subscribers=pipeline.bus.subscribers,
        latest_cache_size=len(pipeline.latest),
        connectors=_connectors(services),
        simulation=_simulation(services),
    )
