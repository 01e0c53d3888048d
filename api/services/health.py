"""Health assessments: the predictive half of the twin, from the stores to work orders.

``HealthService.compute(asset_id, as_of)`` reads an asset's sensors and failure limits and
its life's start (last failure or replacement at or before ``as_of``) from the graph,
the readings since then (at most ``lookback``, bucketed by the store) and, for the
anomaly score, the raw readings of the last windows, then runs ``analytics.assessment``
(health index and RUL, the fleet of the asset's type as the RUL's library) and the
asset's latest anomaly model trained on data before ``as_of``. Only data up to ``as_of``
is used, so a past instant gives what the twin would have said then (a backtest), and
history pushed in bulk with past timestamps counts the same as streamed readings.

``compute_many(asset_ids, as_of)`` does the same for many assets in a few reads: the
graph's facts for all of them at once, every sensor's life in one bucketed store read
(``ReadingsStore.bucket_stats``: per-span means and counts, each span from its own
life's start), the anomaly models' last windows in one raw read, the numbers in one
worker thread per core; ``compute`` is it for one asset.

``assess(asset_id)`` / ``assess_many`` store the results as ``HealthAssessment``s and
apply the work order rule (``analytics.planner``): an order opens unless one is active
for the asset; all of it in one graph transaction; the stored assessments are published
on ``changes``.
``assess_due()`` assesses every asset whose sensors declare failure limits or that has
an anomaly model; with ``interval_s`` > 0 it runs on a timer (``start``).

``train_anomaly_model(asset_id, start, end)`` fits the detector on that (healthy)
window's raw readings, writes its artifact under ``<data dir>/models/`` and records it in
the graph as the asset's next version. Artifacts are read back only from there.

The fleet library (histories of the recorded lives of assets of a type, up to each
failure) and its calibration are cached per type and set of failures; numeric work runs
in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analytics.anomaly import AnomalyModel as Detector
from analytics.anomaly import AnomalyResult, assess_anomaly
from analytics.assessment import HealthConfig, LifeData, LifeHealth, assess_life, fleet_history
from analytics.features import series_features
from analytics.health import SensorLimits
from analytics.planner import Priority, WorkOrderDecision, plan_work_order
from analytics.rul import RulCalibration, calibrate_on_fleet
from analytics.rul_fleet import FleetHistory
from analytics.rul_types import RulEstimate
from api.services.jobwork import work_train
from graph.bolt.anomaly import MAX_LIST
from graph.bolt.client import Tx
from graph.bolt.repository import GraphRepository
from graph.bolt.workorders import OpenedWorkOrder
from graph.errors import NotFound, TwinqlError, ValidationError
from graph.health import AnomalyModel, HealthAssessment
from graph.model import Asset, Sensor, WorkOrder, WorkOrderStatus
from graph.timeutil import utcnow
from ingest.fanout import Fanout
from ingest.store import ReadingsStore
from ingest.store.port import Span

__all__ = ["AnomalyFigures", "AssetHealth", "HealthService"]

log = logging.getLogger("twinql.health")

_PRIORITY = {Priority.CRITICAL: 1, Priority.HIGH: 2, Priority.MEDIUM: 3, Priority.LOW: 4}
_MAX_TRAIN_READINGS = 20_000_000
# a long job's progress report (phase, fraction) and the runner of its numeric work
Phase = Callable[[str, float], Awaitable[None]]
Compute = Callable[..., Awaitable[Any]]


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


@dataclass(frozen=True, slots=True)
class AnomalyFigures:
    """The anomaly part of an assessment: the score, or the reason there is none."""

    score: float | None
    anomalous: bool
    threshold: float
    contributions: tuple[tuple[str, float], ...] = ()
    model: AnomalyModel | None = None
    window_from: datetime | None = None
    window_to: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AssetHealth:
    """One computed assessment with what is not stored: each sensor's index, the
    anomaly details, the RUL estimate, the work-order decision (and order, once stored)."""

    assessment: HealthAssessment
    life: LifeHealth
    rul: RulEstimate
    anomaly: AnomalyFigures
    decision: WorkOrderDecision
    stored: bool = False
    work_order: OpenedWorkOrder | None = None
    fleet_lives: int = 0


@dataclass(slots=True)
class _Fleet:
    key: tuple[object, ...]
    library: list[FleetHistory]
    calibration: RulCalibration | None


@dataclass(slots=True)
class _Detectors:
    by_id: dict[str, Detector] = field(default_factory=dict)


class HealthService:
    def __init__(
        self,
        graph: GraphRepository,
        store: ReadingsStore,
        data_dir: Path,
        config: HealthConfig | None = None,
        *,
        interval_s: float = 0.0,
        concurrency: int = 8,
    ) -> None:
        self._graph = graph
        self._store = store
        self._dir = data_dir
        self.config = config or HealthConfig()
        self.interval_s = interval_s
        self.changes: Fanout[HealthAssessment] = Fanout(1_000)
        self._fleets: dict[str, _Fleet] = {}
        self._fleet_locks: dict[str, asyncio.Lock] = {}
        self._detectors = _Detectors()
        self._limit = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self.last_run: datetime | None = None
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._every(), name="health-assessments")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.changes.close()

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                done = await self.assess_due()
                self.last_run, self.last_error = utcnow(), None
                opened = sum(1 for h in done if h.work_order and h.work_order.opened)
                log.info("health: assessed %d assets, %d work orders opened", len(done), opened)
            except TwinqlError as exc:  # a store or graph outage: try again next round
                self.last_error = exc.message
                log.warning("health: assessment round failed: %s", exc.message)

    # -- computing -------------------------------------------------------------------

    async def compute(self, asset_id: str, as_of: datetime | None = None) -> AssetHealth:
        """The assessment from data up to ``as_of`` (now when None); nothing is stored."""
        return (await self.compute_many([asset_id], as_of))[0]

    async def compute_many(
        self, asset_ids: Sequence[str], as_of: datetime | None = None
    ) -> list[AssetHealth]:
        """``compute`` for many assets in a few reads: the graph's facts for all of them
        at once, one bucketed store read of every sensor's life (and one raw read for
        the anomaly windows), the numbers in one worker thread. In the order given."""
        now = utcnow()
        if as_of is not None:
            if as_of.tzinfo is None:
                raise ValidationError("asOf needs a timezone (e.g. 2025-01-01T00:00:00Z)")
            if as_of > now:
                raise ValidationError("asOf is in the future: an assessment uses data up to it")
        at = as_of or now
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return []
        found = await self._graph.assets.get_many(ids)
        if missing := [a for a in ids if a not in found]:
            raise NotFound(f"asset(s) not found: {', '.join(missing[:20])}")
        by_asset = await self._graph.devices.sensors_of(ids)
        for sensors in by_asset.values():
            sensors.sort(key=lambda s: s.id)
        renewed = await self._graph.maintenance.last_renewals(ids, until=at)
        fleets = {}
        for a in ids:
            t = found[a].type
            if t not in fleets:
                fleets[t] = await self._fleet(found[a], at)
        async with self._limit:
            datas = await self._life_data_many(
                [(by_asset.get(a, []), renewed.get(a), at) for a in ids]
            )
            cfg, at_us = self.config, _us(at)

            def numbers(part: range) -> list[tuple[LifeHealth, RulEstimate]]:
                out = []
                for k in part:
                    fleet = fleets[found[ids[k]].type]
                    out.append(assess_life(datas[k], cfg, at_us, fleet.library, fleet.calibration))
                return out

            # the fleet match (compiled, without the GIL) and numpy's loops run in as
            # many worker threads as there are cores, each on a share of the assets
            n_threads = max(1, min(os.cpu_count() or 1, len(ids) // 50))
            parts = [range(k, len(ids), n_threads) for k in range(n_threads)]
            shares = await asyncio.gather(*(asyncio.to_thread(numbers, p) for p in parts))
            computed: list[tuple[LifeHealth, RulEstimate]] = [None] * len(ids)  # type: ignore[list-item]
            for part, share in zip(parts, shares, strict=True):
                for k, result in zip(part, share, strict=True):
                    computed[k] = result
            anomalies = await self._anomalies(ids, at)
        open_orders = await self._graph.work_orders.active_for_assets(ids)
        out = []
        for a, (life, rul), anomaly in zip(ids, computed, anomalies, strict=True):
            open_order = open_orders.get(a)
            decision = plan_work_order(rul, anomaly.anomalous,
                                       open_work_order=open_order is not None)  # fmt: skip
            out.append(
                AssetHealth(
                    assessment=self._record(a, now, at, life, rul, anomaly),
                    life=life,
                    rul=rul,
                    anomaly=anomaly,
                    decision=decision,
                    work_order=None if open_order is None else OpenedWorkOrder(open_order, False),
                    fleet_lives=len(fleets[found[a].type].library),
                )
            )
        by_id = {h.assessment.asset_id: h for h in out}
        return [by_id[a] for a in asset_ids]

    async def assess(self, asset_id: str) -> AssetHealth:
        """Compute now, store the assessment and open a work order where the rule says."""
        return (await self.assess_many([asset_id]))[0]

    async def assess_many(self, asset_ids: Sequence[str]) -> list[AssetHealth]:
        """``compute_many`` now, then every assessment and the orders the rule opens in
        one graph transaction (an order opens unless one is active for the asset)."""
        done = await self.compute_many(asset_ids)
        if not done:
            return []
        orders = []
        for h in done:
            if not h.decision.open:
                continue
            due = h.decision.due_in_hours
            orders.append(
                WorkOrder(
                    id=f"wo-{uuid.uuid4().hex[:16]}",
                    asset_id=h.assessment.asset_id,
                    status=WorkOrderStatus.OPEN,
                    priority=_PRIORITY[h.decision.priority],
                    created_at=h.assessment.at,
                    reason=f"{h.decision.priority.value}: {h.decision.reason}"[:1000],
                    due_at=None if due is None else h.assessment.at + timedelta(hours=due),
                    assessment_id=h.assessment.id,
                )
            )

        async def work(tx: Tx) -> list[OpenedWorkOrder]:
            await self._graph.health.save_in(tx, [h.assessment for h in done])
            return await self._graph.work_orders.open_many_in(tx, orders)

        opened = {o.order.asset_id: o for o in await self._graph.client.write_tx(work)}
        out = []
        for h in done:
            self.changes.publish(h.assessment)
            o = opened.get(h.assessment.asset_id)
            if o is not None and o.opened:
                log.info("health: work order %s opened for %s (%s)", o.order.id,
                         h.assessment.asset_id, h.decision.reason)  # fmt: skip
            out.append(AssetHealth(h.assessment, h.life, h.rul, h.anomaly, h.decision, True,
                                   o or h.work_order, h.fleet_lives))  # fmt: skip
        return out

    async def due_assets(self) -> list[str]:
        """Assets with a sensor that declares a failure limit, or with an anomaly model."""
        ids: set[str] = set()
        after = ""
        while True:
            page = await self._graph.devices.all_sensors(after=after, limit=10_000)
            ids.update(
                s.asset_id for s in page if s.fail_low is not None or s.fail_high is not None
            )
            if len(page) < 10_000:
                break
            after = page[-1].id
        for m in await self._graph.anomaly_models.list(limit=MAX_LIST):
            ids.add(m.asset_id)
        return sorted(ids)

    async def assess_due(self) -> list[AssetHealth]:
        return await self.assess_many(await self.due_assets())

    # -- data ------------------------------------------------------------------------

    async def _life_data_many(
        self, lives: Sequence[tuple[Sequence[Sensor], datetime | None, datetime]]
    ) -> list[LifeData]:
        """Each ``(sensors, renewed, at)`` life's bucketed data since its start (the
        renewal, or ``at`` minus the lookback), all in one store read."""
        cfg = self.config
        bucket = timedelta(seconds=cfg.step_s)
        spans: list[Span] = []
        starts: list[datetime] = []
        for sensors, renewed, at in lives:
            start = at - timedelta(seconds=cfg.lookback)
            if renewed is not None and renewed > start:
                start = renewed
            starts.append(start)
            if start < at:
                spans += [Span(s.id, start, at) for s in sensors]
        stats = iter(await self._store.bucket_stats(spans, bucket) if spans else [])
        out = []
        for (sensors, renewed, at), start in zip(lives, starts, strict=True):
            limits = [SensorLimits(s.id, s.fail_low, s.fail_high) for s in sensors]
            series = []
            if start < at:
                series = [(b.times, b.means, b.counts) for b in (next(stats) for _ in sensors)]
            life_start = _us(renewed) if renewed is not None else _first(series, _us(start))
            # the grid starts where the read did: a life renewed years ago is read (and
            # gridded) only over the lookback, while its age still counts from the renewal
            out.append(LifeData.from_buckets(limits, life_start, _us(at), cfg.step_us, series,
                                             read_from_us=_us(start)))  # fmt: skip
        return out

    async def _fleet(self, asset: Asset, at: datetime) -> _Fleet:
        """The recorded lives of ``asset``'s type up to ``at``, with their calibration."""
        failures = await self._graph.maintenance.failures_of_type(asset.type, until=at)
        key = (tuple((f.event_id, f.failed_at) for f in failures), self.config)
        lock = self._fleet_locks.setdefault(asset.type, asyncio.Lock())
        async with lock:
            cached = self._fleets.get(asset.type)
            if cached is not None and cached.key == key:
                return cached
            by_asset = await self._graph.devices.sensors_of({f.asset_id for f in failures})
            datas = await self._life_data_many([
                (sorted(by_asset.get(f.asset_id, []), key=lambda s: s.id), f.renewed_at,
                 f.failed_at) for f in failures
            ])  # fmt: skip
            cfg = self.config

            def histories() -> list[FleetHistory]:
                found = (fleet_history(f"{f.asset_id}@{f.event_id}", d, cfg, _us(f.failed_at))
                         for f, d in zip(failures, datas, strict=True))  # fmt: skip
                return [life for life in found if life is not None]

            lives = await asyncio.to_thread(histories)
            cal = None
            if len(lives) >= 2:
                t0 = time.perf_counter()
                cal = await asyncio.to_thread(
                    calibrate_on_fleet, lives, confidence=self.config.confidence
                )
                log.info("health: %s fleet of %d recorded lives calibrated in %.1f s",
                         asset.type, len(lives), time.perf_counter() - t0)  # fmt: skip
            fleet = _Fleet(key, lives, cal)
            self._fleets[asset.type] = fleet
            return fleet

    async def _anomalies(self, asset_ids: Sequence[str], at: datetime) -> list[AnomalyFigures]:
        """Each asset's anomaly figures from its usable model: the models' last windows
        of raw readings in one store read, scored in one worker thread."""
        thr = self.config.anomaly_threshold
        latest = await self._graph.anomaly_models.latest(asset_ids)
        records: dict[str, AnomalyModel] = {}
        for a in asset_ids:
            m = latest.get(a)
            if m is not None and m.trained_to > at:
                m = await self._usable_model(a, at)
            if m is not None:
                records[a] = m
        detectors = {a: await self._detector(m) for a, m in records.items()}
        end_us = _us(at)
        origins: dict[str, int] = {}
        for a, d in detectors.items():
            span_us = int(round((d.window_s + (self.config.last - 1) * d.step_s) * 1e6))
            step_us = int(round(d.step_s * 1e6))
            origin = end_us - span_us
            origins[a] = origin - origin % step_us
        raw = {}
        if detectors:
            ids = sorted({s for d in detectors.values() for s in d.sensor_ids})
            raw = await self._store.history(ids, _dt(min(origins.values())), at)
        last = self.config.last

        def scores() -> dict[str, AnomalyResult | None]:
            out = {}
            for a, d in detectors.items():
                series = []
                for s in d.sensor_ids:
                    t, v = raw[s].times, raw[s].values
                    k = int(np.searchsorted(t, origins[a]))
                    series.append((t[k:], v[k:]))
                out[a] = _score(d, series, origins[a], end_us, last, thr)
            return out

        found = await asyncio.to_thread(scores) if detectors else {}
        figures = []
        for a in asset_ids:
            record = records.get(a)
            if record is None:
                figures.append(AnomalyFigures(None, False, thr, reason="no_model"))
                continue
            r = found[a]
            if r is None:
                figures.append(AnomalyFigures(None, False, thr, model=record,
                                              reason="no_complete_window"))  # fmt: skip
                continue
            figures.append(AnomalyFigures(
                r.score, r.anomalous, thr, r.contributions, record,
                _dt(r.window_start_us), _dt(r.window_end_us),
            ))  # fmt: skip
        return figures

    async def _usable_model(self, asset_id: str, at: datetime) -> AnomalyModel | None:
        latest = (await self._graph.anomaly_models.latest([asset_id])).get(asset_id)
        if latest is None or latest.trained_to <= at:
            return latest
        # a backtest must not use a model that saw data after asOf: the newest one before
        earlier = [m for m in await self._graph.anomaly_models.list(asset_id, limit=100)
                   if m.trained_to <= at]  # fmt: skip
        return max(earlier, key=lambda m: m.version) if earlier else None

    async def _detector(self, record: AnomalyModel) -> Detector:
        found = self._detectors.by_id.get(record.id)
        if found is None:
            path = self._dir / Path(*record.artifact.split("/"))
            try:
                blob = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                raise NotFound(
                    f"the artifact of anomaly model {record.id} ({record.artifact}) is missing "
                    "from the data directory: train the model again"
                ) from None
            found = await asyncio.to_thread(Detector.from_bytes, blob)
            self._detectors.by_id[record.id] = found
        return found

    # -- training --------------------------------------------------------------------

    async def check_training(
        self, asset_id: str, start: datetime, end: datetime
    ) -> tuple[str, ...]:
        """The training request's checks (cheap: done before a job is started); the
        sensors it learns from."""
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValidationError("training needs a window [from, to) with timezones, from < to")
        if end > utcnow():
            raise ValidationError("the training window ends in the future")
        await self._graph.assets.get(asset_id)
        sensors = sorted(
            (await self._graph.devices.sensors_of([asset_id])).get(asset_id, []), key=lambda s: s.id
        )
        if not sensors:
            raise ValidationError(f"asset {asset_id} has no sensors to learn from")
        return tuple(s.id for s in sensors)

    async def train_anomaly_model(
        self,
        asset_id: str,
        start: datetime,
        end: datetime,
        *,
        seed: int = 0,
        phase: Phase | None = None,
        compute: Compute | None = None,
    ) -> AnomalyModel:
        """Fit the detector on ``[start, end)`` (a period the asset was healthy).

        ``phase(name, fraction)`` hears the steps (reading, training, saving); ``compute``
        runs the numeric work (``api.services.jobwork.work_train``), in the job runner's
        pool when the training is a job, else in a worker thread."""
        tell = phase or _quiet
        ids = await self.check_training(asset_id, start, end)
        await tell("reading", 0.0)
        summary = await self._store.summary(list(ids), start, end)
        total = sum(v.count for v in summary.values())
        if total > _MAX_TRAIN_READINGS:
            raise ValidationError(
                f"the training window holds {total:,} readings (at most "
                f"{_MAX_TRAIN_READINGS:,}): choose a shorter window"
            )
        raw = await self._store.history(list(ids), start, end)
        series = [(raw[s].times, raw[s].values) for s in ids]
        cfg = self.config
        origin = _us(start) - _us(start) % cfg.step_us
        await tell("training", 0.3)
        blob = await (compute or _in_thread)(
            work_train, series, cfg, origin, _us(end), asset_id, ids, seed
        )
        await tell("saving", 0.9)
        detector = await asyncio.to_thread(Detector.from_bytes, blob)
        model_id = f"am-{uuid.uuid4().hex}"
        artifact = f"models/{model_id}.iforest"
        path = self._dir / "models" / f"{model_id}.iforest"
        await asyncio.to_thread(_write_artifact, path, blob)
        m = detector.metrics
        metrics: dict[str, object] = {
            "windows": m.n_windows,
            "incompleteWindows": m.n_skipped,
            "sensors": list(ids),
            "windowSeconds": detector.window_s,
            "stepSeconds": detector.step_s,
            "rawScoreQuantiles": dict(
                zip(("p05", "p50", "p95", "p99"), m.raw_quantiles, strict=True)
            ),
        }
        try:
            record = await self._graph.anomaly_models.save(
                asset_id, _dt(detector.trained_from_us), _dt(detector.trained_to_us),
                artifact, metrics, model_id=model_id,
            )  # fmt: skip
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._detectors.by_id[record.id] = detector
        log.info("health: anomaly model %s v%d trained for %s on %d windows", record.id,
                 record.version, asset_id, m.n_windows)  # fmt: skip
        return record

    # -- records ---------------------------------------------------------------------

    def _record(
        self,
        asset_id: str,
        now: datetime,
        at: datetime,
        life: LifeHealth,
        rul: RulEstimate,
        anomaly: AnomalyFigures,
    ) -> HealthAssessment:
        cfg = self.config
        index = life.index.index if life.index is not None else None
        model = f"anomaly v{anomaly.model.version}" if anomaly.model else "no anomaly model"
        method = (
            f"index min over sensors (window {cfg.window_s:g} s every {cfg.step_s:g} s); "
            f"rul {rul.method}; {model}"
        )
        reasons = [r for r in (life.reason, rul.reason) if r]
        known = rul.known
        window_from = None
        if len(life.times_h):  # the first window's start: life start + its end - its length
            start_us = _us(at) - life.age_h * 3.6e9 + life.times_h[0] * 3.6e9 - cfg.window_s * 1e6
            window_from = min(_dt(int(start_us)), at)
        return HealthAssessment(
            id=f"ha-{uuid.uuid4().hex}",
            asset_id=asset_id,
            at=now,
            as_of=at,
            method=method,
            health_index=None if index is None or not math.isfinite(index) else index,
            anomaly_score=anomaly.score,
            rul_hours=rul.hours if known else None,
            rul_low=rul.low if known else None,
            rul_high=rul.high if known else None,
            confidence=rul.confidence if known else None,
            window_from=window_from,
            window_to=at if window_from else None,
            unknown_reason=None if known else (reasons[0] if reasons else "unknown"),
            contributions=dict(anomaly.contributions),
        )


def _first(series: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], default: int) -> int:
    firsts = [int(t[0]) for t, _, _ in series if len(t)]
    return min(firsts) if firsts else default


def _score(
    detector: Detector,
    series: list[tuple[np.ndarray, np.ndarray]],
    origin_us: int,
    end_us: int,
    last: int,
    threshold: float,
) -> AnomalyResult | None:
    f = series_features(series, window_s=detector.window_s, step_s=detector.step_s,
                        origin_us=origin_us, end_us=end_us)  # fmt: skip
    return assess_anomaly(detector, f, last=last, threshold=threshold)


async def _quiet(name: str, fraction: float) -> None:
    return None


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(hook, *args)`` in a worker thread, with a hook that hears nothing."""
    return await asyncio.to_thread(fn, lambda f: None, *args)


def _write_artifact(path: Path, blob: bytes) -> None:
    """Write-then-rename, fsynced: a crash leaves the old state or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
