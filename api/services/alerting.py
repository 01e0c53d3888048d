"""The alert service: evaluates the rules over every accepted batch of readings.

It subscribes to the ingest pipeline's live bus (a bounded queue: if it falls behind it
loses the oldest batches and logs how many), looks up the sensors' limits in the
pipeline's catalogue, runs ``analytics.alerts.AlertEvaluator`` and writes raised and
cleared alerts to the graph in one transaction per batch (UNWIND). Stored changes are
published on ``changes`` (a ``Fanout``: bounded per subscriber, never waits) for the
``alerts`` subscription. At start the alerts still active in the graph seed the rule
states, so a restart neither raises them again nor forgets to clear them. Writes that
fail (graph down) are kept, up to a bound, and retried with the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from analytics.alerts import AlertEvaluator, AlertEvent, AlertRules, EventKind, Rule, Severity
from graph.bolt.alerts import Alert, AlertClear, AlertRepository
from graph.errors import TwinqlError
from graph.timeutil import from_us
from ingest.fanout import Fanout, Missed
from ingest.store import ReadingBatch

if TYPE_CHECKING:
    from ingest.pipeline import CachedCatalog, Subscription
    from ingest.pipeline.bus import LiveBus

__all__ = ["AlertChange", "AlertService", "ChangeKind"]

log = logging.getLogger("twinql.api.alerts")


class ChangeKind(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class AlertChange:
    kind: ChangeKind
    alert: Alert


@dataclass(slots=True)
class AlertStats:
    batches: int = 0
    readings: int = 0
    raised: int = 0
    cleared: int = 0
    missed_batches: int = 0
    write_errors: int = 0
    dropped_events: int = 0


def _to_graph(events: list[AlertEvent]) -> tuple[list[Alert], list[AlertClear]]:
    raised = [
        Alert(
            id=e.alert_id,
            rule=str(e.rule),
            severity=str(e.severity),
            sensor_id=e.sensor_id,
            asset_id=e.asset_id,
            raised_at=from_us(e.at_us),
            message=e.message,
            value=e.value,
            threshold=e.threshold,
        )
        for e in events
        if e.kind is EventKind.RAISED
    ]
    cleared = [
        AlertClear(e.alert_id, from_us(e.at_us), e.value)
        for e in events
        if e.kind is EventKind.CLEARED
    ]
    return raised, cleared


class AlertService:
    def __init__(
        self,
        repo: AlertRepository,
        bus: LiveBus,
        catalog: CachedCatalog,
        rules: AlertRules | None = None,
        *,
        queue: int = 10_000,
        max_pending: int = 100_000,
        drain_s: float = 10.0,
        levels: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> None:
        self.drain_s = drain_s
        self.repo = repo
        self._bus = bus
        self._catalog = catalog
        self.evaluator = AlertEvaluator(rules, levels=levels)
        self.changes: Fanout[AlertChange] = Fanout(1_000)
        self.stats = AlertStats()
        self._queue = queue
        self._pending: deque[AlertEvent] = deque()
        self._max_pending = max_pending
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Seed the rules from the graph, then follow the live bus."""
        await self.seed()
        self._sub = self._bus.subscribe(None, maxsize=self._queue)
        self._task = asyncio.create_task(self._run(self._sub), name="twinql-alerts")

    async def seed(self) -> None:
        """Alerts still active in the graph become active rule states."""
        store = self.evaluator.store
        rules = {r.value for r in Rule}
        for a in await self.repo.active():
            if a.rule in rules:
                threshold = math.nan if a.threshold is None else a.threshold
                store.seed_active(a.sensor_id, Rule(a.rule), a.id, Severity(a.severity), threshold)

    async def aclose(self) -> None:
        """Stop taking batches, finish the ones queued (within ``drain_s``), stop."""
        if self._sub is not None:
            self._sub.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.drain_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self.changes.close()

    async def _run(self, sub: Subscription) -> None:
        while True:
            try:
                item = await sub.get()
            except StopAsyncIteration:
                return
            if isinstance(item, Missed):
                self.stats.missed_batches += item.updates
                log.warning(
                    "alert rules fell behind: %d batches (%d readings) not evaluated",
                    item.updates,
                    item.readings,
                )
                continue
            try:
                await self.evaluate(item)
            except Exception:  # one bad batch must not stop the alerts
                log.exception("alert evaluation failed for a batch of %d readings", len(item))

    async def evaluate(self, batch: ReadingBatch) -> list[Alert]:
        """Evaluate one batch, store and publish what changed; the stored alerts."""
        self.stats.batches += 1
        self.stats.readings += len(batch)
        ids = list(dict.fromkeys(batch.sensor_id.tolist()))  # distinct, without a sort
        sensors = await self._catalog.get_many(ids)
        events = self.evaluator.evaluate(batch, sensors)
        if not events and not self._pending:
            return []
        return await self._write([*self._pending, *events])

    async def _write(self, events: list[AlertEvent]) -> list[Alert]:
        self._pending.clear()
        raised, cleared = _to_graph(events)
        try:
            stored = await self.repo.record(raised, cleared)
        except TwinqlError as exc:
            self.stats.write_errors += 1
            keep = events[-self._max_pending :]
            self.stats.dropped_events += len(events) - len(keep)
            self._pending.extend(keep)
            log.error("alerts not stored yet (%d kept for retry): %s", len(keep), exc.message)
            return []
        made = {a.id for a in raised}
        if len(stored) < len(raised) + len(cleared):
            known = {a.id for a in stored}
            lost = [a.id for a in raised if a.id not in known]
            if lost:
                log.warning("alerts for sensors no longer in the graph not stored: %s", lost)
        for a in stored:
            kind = ChangeKind.RAISED if a.id in made else ChangeKind.CLEARED
            self.stats.raised += kind is ChangeKind.RAISED
            self.stats.cleared += kind is ChangeKind.CLEARED
            log.info("alert %s %s on %s: %s", a.id, kind, a.sensor_id, a.message)
            self.changes.publish(AlertChange(kind, a))
        return stored

    def acknowledged(self, alert: Alert) -> None:
        self.changes.publish(AlertChange(ChangeKind.ACKNOWLEDGED, alert))
