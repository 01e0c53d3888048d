"""Simulation runs as jobs: build the scenario from the twin, run it in the pool, store it.

``SimulationService.submit`` turns a request into a ``sim.Scenario`` whose initial state
comes from the asset's sim spec (``state_map``: sensor -> state, with scale/offset) and
the sensors' readings at the run's start (the latest values for a run starting now, the
last value before ``start_at`` for a replay). Mapped inputs (``input_map``) are held at
their latest value for a run starting now; a replay follows what they recorded over its
horizon (``api.services.simulation.inputs.replay_inputs``); the scenario's own inputs override both.
It records a ``SimulationRun`` in the graph (queued) and runs it in the job runner.
Results go to the readings store under the run's id: ``{run}/{output}`` for the nominal series, ``{run}/{output}@p{q}`` for the
bands, timestamped ``start_at + t``. Progress and status changes are published to
subscribers (bounded queues) and written to the run record (at most every second).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from api.services.progress import ProgressBoard
from api.services.simulation.inputs import output_targets, replay_inputs, targets_of
from api.services.simulation.jobs import JobRunner
from api.services.simulation.records import (
    ProgressUpdate,
    ScenarioRequest,
    result_batch,
    run_summary,
)
from api.services.simulation.work import work_scenario
from graph.bolt.simruns import TERMINAL, SimRunRepository, SimulationRunRecord
from graph.errors import TwinqlError, ValidationError
from graph.timeutil import utcnow
from sim import Cancelled, InputSeries, Scenario, ScenarioResult, get_model

if TYPE_CHECKING:
    from api.services.registry import RegistryService
    from graph.bolt.assets import AssetRepository
    from graph.bolt.topology import TopologyRepository
    from ingest.pipeline.latest import LatestCache
    from ingest.store import ReadingsStore

__all__ = ["SimulationService"]

log = logging.getLogger(__name__)
REPLAY_LOOKBACK = timedelta(hours=1)
PERSIST_EVERY_S = 1.0


class SimulationService:
    def __init__(
        self,
        assets: AssetRepository,
        topology: TopologyRepository,
        runs: SimRunRepository,
        readings: ReadingsStore,
        latest: LatestCache,
        registry: RegistryService,
        runner: JobRunner,
    ) -> None:
        self.assets = assets
        self.topology = topology
        self.runs = runs
        self.readings = readings
        self.latest = latest
        self.registry = registry
        self.runner = runner
        self._board: ProgressBoard[ProgressUpdate] = ProgressBoard()
        self._live: set[str] = set()
        self._cancel_asked: set[str] = set()

    # -- the asset's sim spec and its readings -----------------------------------------
    async def sim_spec(self, asset_id: str) -> dict[str, Any]:
        await self.assets.get(asset_id)  # NotFound for an unknown asset
        specs = await self.assets.specs([asset_id])
        return dict(specs.get(asset_id, {}).get("sim") or {})

    async def readings_at(
        self, ids: list[str], at: datetime | None
    ) -> dict[str, tuple[float, datetime]]:
        """Each sensor's value at ``at`` (latest when None): ``{id: (value, when)}``."""
        if not ids:
            return {}
        store = self.readings
        out: dict[str, tuple[float, datetime]] = {}
        if at is None:
            cache = self.latest
            cached = {sid: lv for sid in ids if (lv := cache.get(sid)) is not None}
            missing = [sid for sid in ids if sid not in cached]
            stored = await store.latest(missing) if missing else {}
            for sid, lv in {**stored, **cached}.items():
                if lv.value is not None and math.isfinite(lv.value):
                    out[sid] = (float(lv.value), lv.ts)
            return out
        found = await store.history(ids, at - REPLAY_LOOKBACK, at + timedelta(microseconds=1))
        for sid, s in found.items():
            ok = np.flatnonzero(np.isfinite(s.values))
            if ok.size:
                i = ok[-1]
                out[sid] = (float(s.values[i]), datetime.fromtimestamp(s.times[i] / 1e6, at.tzinfo))
        return out

    async def _from_readings(
        self, mapping: dict[str, Any], names: tuple[str, ...], at: datetime | None
    ) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
        targets = targets_of(mapping, names)
        got = await self.readings_at(list(targets), at)
        values: dict[str, float] = {}
        sources: dict[str, dict[str, Any]] = {}
        for sid, (name, scale, offset) in targets.items():
            if sid in got and name not in values:
                reading, when = got[sid]
                values[name] = scale * reading + offset
                sources[name] = {
                    "source": "sensor",
                    "sensorId": sid,
                    "reading": reading,
                    "readingAt": when.isoformat(),
                    "value": values[name],
                }
        return values, sources

    # -- runs ----------------------------------------------------------------------------
    async def submit(self, asset_id: str, req: ScenarioRequest, who: str) -> SimulationRunRecord:
        spec = await self.sim_spec(asset_id)
        model_name = req.model or spec.get("model")
        if not model_name:
            raise ValidationError(
                f"asset {asset_id} has no simulation model: give scenario.model",
                path="scenario.model",
            )
        model = get_model(str(model_name))
        if spec.get("model") != model.name:
            spec = {}  # the asset's maps and parameters belong to another model
        if not (math.isfinite(req.horizon_s) and req.horizon_s > 0):
            raise ValidationError(
                "horizonSeconds must be a positive number", path="scenario.horizonSeconds"
            )
        output_targets(spec, model)  # a bad output_map fails here, not in residuals later
        now = utcnow()
        start_at = req.start_at or now
        if start_at.tzinfo is None:
            raise ValidationError("startAt needs a UTC offset", path="scenario.startAt")
        replay = start_at < now - timedelta(seconds=1)
        at = start_at if replay else None
        state, state_src = await self._from_readings(
            dict(spec.get("state_map") or {}), model.state_names, at
        )
        for name, value in req.initial_state.items():
            state[name] = value
            state_src[name] = {"source": "override", "value": value}
        for spec_ in model.states:
            state_src.setdefault(spec_.name, {"source": "default", "value": spec_.default})
        input_map = dict(spec.get("input_map") or {})
        measured_inputs: dict[str, InputSeries] | dict[str, float]
        if replay:  # drive the replay with what the inputs recorded over its horizon
            measured_inputs, input_src = await replay_inputs(
                self, targets_of(input_map, model.input_names), start_at, req.horizon_s
            )
        else:
            measured_inputs, input_src = await self._from_readings(
                input_map, model.input_names, None
            )
        inputs: dict[str, InputSeries | float] = {
            k: v for k, v in measured_inputs.items() if k not in req.inputs
        }
        inputs.update(req.inputs)
        for name in req.inputs:
            input_src[name] = {"source": "scenario"}
        params = {k: float(v) for k, v in (spec.get("parameters") or {}).items()}
        params.update(req.parameters)
        scenario = Scenario(
            model=model.name,
            initial_state=state,
            parameters=params,
            inputs=inputs,
            horizon_s=req.horizon_s,
            step_s=req.step_s,
            output_every_s=req.output_every_s,
            monte_carlo=req.monte_carlo,
            samples=req.samples,
            seed=req.seed,
            percentiles=req.percentiles,
            method=req.method,
            rtol=req.rtol,
            atol=req.atol,
            events=req.events,
        )
        record = SimulationRunRecord(
            id=f"simrun-{uuid.uuid4().hex[:20]}",
            asset_id=asset_id,
            model=model.name,
            status="queued",
            start_at=start_at,
            created_at=now,
            scenario=req.as_dict(),
            created_by=who,
        )
        await self.runs.create(record)
        provenance = {
            "initialState": state_src,
            "inputs": input_src,
            "stateMap": dict(spec.get("state_map") or {}),
            "outputMap": dict(spec.get("output_map") or {}),
            "replay": replay,
        }
        self._live.add(record.id)
        self.runner.spawn(self._execute(record, scenario, provenance))
        return record

    async def _execute(
        self, record: SimulationRunRecord, scenario: Scenario, provenance: dict[str, Any]
    ) -> None:
        run_id = record.id
        last_write = 0.0
        running = False

        async def on_progress(fraction: float) -> None:
            nonlocal last_write, running
            now = time.monotonic()
            first = not running
            running = True
            self._publish(ProgressUpdate(run_id, "running", fraction))
            if first or now - last_write >= PERSIST_EVERY_S:
                last_write = now
                await self.runs.update(
                    run_id,
                    status="running",
                    progress=fraction,
                    started_at=utcnow() if first else None,
                )

        try:
            if run_id in self._cancel_asked:
                raise Cancelled("simulation cancelled before it started")
            result: ScenarioResult = await self.runner.run(
                run_id, work_scenario, scenario, on_progress=on_progress
            )
            n = await self._store(record, result)
            summary = run_summary(record, scenario, result, provenance, n)
            await self._finish(run_id, "succeeded", 1.0, "", summary)
        except Cancelled as exc:
            await self._finish(run_id, "cancelled", None, exc.message, None)
        except TwinqlError as exc:
            await self._finish(run_id, "failed", None, f"{exc.code}: {exc.message}", None)
        except Exception:
            log.exception("simulation run %s failed", run_id)
            await self._finish(run_id, "failed", None, "internal error (see the service log)", None)
        finally:
            self._live.discard(run_id)
            self._cancel_asked.discard(run_id)

    async def _finish(
        self, run_id: str, status: str, progress: float | None, message: str, summary: Any
    ) -> None:
        if progress is None:
            progress = (await self.runs.get(run_id)).progress
        try:
            await self.runs.update(
                run_id,
                status=status,
                progress=progress,
                message=message,
                summary=summary,
                finished_at=utcnow(),
            )
        finally:
            self._publish(ProgressUpdate(run_id, status, progress, message))

    async def _store(self, record: SimulationRunRecord, result: ScenarioResult) -> int:
        # up to tens of millions of values: build the columns off the event loop
        batch = await asyncio.to_thread(result_batch, record, result)
        written = await self.readings.write(batch)
        await self.readings.sync()
        return int(written)

    async def cancel(self, run_id: str) -> SimulationRunRecord:
        record = await self.runs.get(run_id)
        if record.status in TERMINAL:
            return record
        if run_id in self._live:
            self._cancel_asked.add(run_id)
            self.runner.cancel(run_id)
            return record
        # queued/running in no live process (e.g. left by a crash): close it here
        await self._finish(run_id, "cancelled", None, "cancelled (no live job)", None)
        return await self.runs.get(run_id)

    # -- progress subscriptions -------------------------------------------------------
    def _publish(self, update: ProgressUpdate) -> None:
        self._board.publish(update.run_id, update)

    async def watch(self, run_id: str) -> AsyncIterator[ProgressUpdate]:
        """The run's current state, then each change until it ends."""

        async def current() -> ProgressUpdate:
            record = await self.runs.get(run_id)
            return ProgressUpdate(run_id, record.status, record.progress, record.message)

        async for update in self._board.watch(
            run_id,
            current,
            live=lambda: run_id in self._live,
            done=lambda u: u.status in TERMINAL,
        ):
            yield update

    async def get(self, run_id: str) -> SimulationRunRecord:
        return await self.runs.get(run_id)

    async def aclose(self) -> None:
        await self.runner.aclose()
