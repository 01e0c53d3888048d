"""Simulation in GraphQL: models, what-if runs as jobs, calibration, line bottlenecks.

``runSimulation`` returns at once with a queued ``SimulationRun``; the run executes in
the job runner's process pool, reports over ``simulationProgress`` and stores its
series in the readings store (``SimulationRun.series``). Runs, calibrations and
bottleneck studies need the ``engineer`` role to start; reading them, ``viewer``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Annotated

import numpy as np
import strawberry

from api.assets.types import AssetNode, Info
from api.common.scoping import see_or_not_found
from api.common.types import (
    JSON,
    Connection,
    Edge,
    PageInfo,
    check_first,
    decode_cursor,
    encode_cursor,
)
from api.permissions import needs, reads
from api.readings.types import AggregateEnum, SeriesNode
from api.readings.window import check_points, make_window
from api.services.simulation.fit import calibrate_asset, line_bottleneck
from api.services.simulation.inputs import output_targets
from api.services.simulation.records import band_id, series_id
from api.services.simulation.service import SimulationService
from api.simulation.types import (
    CalibrationResultNode,
    FittedParameterNode,
    LineBottleneckNode,
    OutputFitNode,
    ResidualNode,
    ScenarioInput,
    SimModelNode,
    SimSpecNode,
    SimulationProgressNode,
    StationResultNode,
    finite_or_none,
)
from graph.bolt.simruns import SimulationRunRecord
from graph.errors import ValidationError
from graph.timeutil import to_us, utcnow
from ingest.store import Aggregate
from sim import MODELS, get_model, residual_stats

__all__ = ["SimulationMutation", "SimulationQuery", "SimulationRunNode", "SimulationSubscription"]

From = Annotated[datetime | None, strawberry.argument(name="from")]


def _service(info: Info) -> SimulationService:
    return info.context.services.simulation


@strawberry.type(name="SimulationRun")
class SimulationRunNode:
    id: strawberry.ID
    model: str
    status: str = strawberry.field(description="queued, running, succeeded, failed, cancelled")
    progress: float
    message: str
    scenario: JSON
    summary: JSON
    start_at: datetime = strawberry.field(description="Simulated time zero.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str
    record: strawberry.Private[SimulationRunRecord]

    @classmethod
    def from_record(cls, r: SimulationRunRecord) -> SimulationRunNode:
        return cls(
            id=strawberry.ID(r.id),
            model=r.model,
            status=r.status,
            progress=r.progress,
            message=r.message,
            scenario=JSON(r.scenario),
            summary=JSON(r.summary),
            start_at=r.start_at,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            created_by=r.created_by,
            record=r,
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.record.asset_id))

    @strawberry.field(description="The outputs stored for this run (empty until it succeeds).")
    def outputs(self) -> list[str]:
        return list((self.record.summary.get("outputs") or {}).keys())

    @strawberry.field(description="Band percentiles stored (empty without Monte Carlo).")
    def percentiles(self) -> list[float]:
        return [float(q) for q in self.record.summary.get("percentiles") or []]

    def _end(self) -> datetime:
        horizon = float(self.record.scenario.get("horizonSeconds") or 0.0)
        return self.record.start_at + timedelta(seconds=horizon, microseconds=1)

    @strawberry.field(
        extensions=reads(),
        description="A stored output series (nominal, or a band percentile), read from the "
        "readings store like sensor readings. Default window: the whole run.",
    )
    async def series(
        self,
        info: Info,
        output: str,
        percentile: float | None = None,
        from_: From = None,
        to: datetime | None = None,
        bucket: str | None = None,
        aggregate: AggregateEnum = AggregateEnum.AVG,  # type: ignore[attr-defined]  # members made at run time
    ) -> SeriesNode:
        model = get_model(self.model)
        model.index_of("output", output)
        if percentile is not None and float(percentile) not in self.percentiles():
            raise ValidationError(
                f"run {self.id} has no p{percentile:g} band; stored: {self.percentiles()}"
            )
        sid = (
            series_id(self.record.id, output)
            if percentile is None
            else band_id(self.record.id, output, float(percentile))
        )
        window = make_window(
            from_ or self.record.start_at, to or self._end(), bucket, Aggregate(aggregate.value)
        )
        found = await info.context.services.readings.history(
            [sid], window.start, window.end, window.bucket, window.aggregate
        )
        series = found[sid]
        if window.bucket is None:
            check_points(len(series), window, f"series {sid}")
        unit = model.units().get(output, "")
        return SeriesNode.from_store(
            series,
            unit,
            window.aggregate if window.bucket else None,
            window.bucket.total_seconds() if window.bucket else None,
        )

    @strawberry.field(
        extensions=reads(),
        description="Measured minus simulated (nominal) for each sensor that measures an "
        "output (the sim spec's outputMap, and stateMap sensors of states that are also "
        "outputs), over the part of the run the sensors have already recorded (bucketed at "
        "the output interval).",
    )
    async def residuals(self, info: Info) -> list[ResidualNode]:
        if self.record.status != "succeeded":
            return []
        store = info.context.services.readings
        model = get_model(self.model)
        end = min(self._end(), utcnow())
        start = self.record.start_at
        if end <= start:
            return []
        every = float(self.record.summary.get("outputEverySeconds") or 1.0)
        maps = {
            "state_map": self.record.summary.get("stateMap") or {},
            "output_map": self.record.summary.get("outputMap") or {},
        }
        targets = output_targets(maps, model)
        if not targets:
            return []
        bucket = timedelta(seconds=max(every, 0.001))
        measured = await store.history(list(targets), start, end, bucket)
        sim_ids = {sid: series_id(self.record.id, t[0]) for sid, t in targets.items()}
        simulated = await store.history(list(set(sim_ids.values())), start, end)
        t0 = to_us(start)
        out = []
        for sid, (name, scale, offset) in targets.items():
            m, s = measured[sid], simulated[sim_ids[sid]]
            ok = np.isfinite(m.values)
            # bucket middles, in seconds from the run's start
            mt = (m.times[ok] - t0) / 1e6 + bucket.total_seconds() / 2
            stats = residual_stats(
                (s.times - t0) / 1e6, s.values, mt, scale * m.values[ok] + offset
            )
            out.append(
                ResidualNode(
                    sensor_id=strawberry.ID(sid),
                    output=name,
                    n=stats.n,
                    rmse=finite_or_none(stats.rmse),
                    bias=finite_or_none(stats.bias),
                    max_abs=finite_or_none(stats.max_abs),
                )
            )
        return out


def _cursor(r: SimulationRunRecord) -> str:
    return encode_cursor(f"{r.created_at.isoformat()}|{r.id}")


@strawberry.type
class SimulationQuery:
    @strawberry.field(description="The simulation models this service can run.", extensions=reads())
    def simulation_models(self, info: Info) -> list[SimModelNode]:
        return [SimModelNode.from_model(m) for m in MODELS.values()]

    @strawberry.field(
        extensions=reads(),
        description="How an asset is simulated: its model, parameters and which sensors and "
        "actuators map to the model's states, inputs and outputs (null without a sim spec).",
    )
    async def simulation_spec(self, info: Info, asset_id: strawberry.ID) -> SimSpecNode | None:
        spec = await _service(info).sim_spec(str(asset_id))
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        if not spec.get("model"):
            return None
        return SimSpecNode.from_spec(
            str(asset_id), spec, output_targets(spec, get_model(str(spec["model"])))
        )

    @strawberry.field(extensions=reads())
    async def simulation_run(self, info: Info, id: strawberry.ID) -> SimulationRunNode:
        found = await _service(info).get(str(id))
        await see_or_not_found(info, found.asset_id, f"simulation run {id} not found")
        return SimulationRunNode.from_record(found)

    @strawberry.field(description="An asset's simulation runs, newest first.", extensions=reads())
    async def simulation_runs(
        self, info: Info, asset_id: strawberry.ID, first: int = 20, after: str | None = None
    ) -> Connection[SimulationRunNode]:
        check_first(first)
        key = decode_cursor(after)
        position = None
        if key:
            at, _, rid = key.partition("|")
            try:
                position = (datetime.fromisoformat(at), rid)
            except ValueError:
                raise ValidationError(f"invalid cursor {after!r}") from None
        await info.context.loaders.asset.load(str(asset_id))
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        rows = await _service(info).runs.list_for_asset(
            str(asset_id), limit=first + 1, after=position
        )
        page = rows[:first]
        edges = [Edge(cursor=_cursor(r), node=SimulationRunNode.from_record(r)) for r in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(
        extensions=needs("engineer"),
        description="Which station limits a production line's throughput, and by how much: "
        "a discrete-event simulation of the line's stations (children with a station spec, in "
        "FEEDS order), each sped up 10% in turn with common random numbers. Needs the "
        "engineer role; the study's size (replications x (stations + 1) runs of `hours`) is "
        "capped. `warmupHours` runs each replication that long first and leaves it out of "
        "the statistics, so a line that starts empty does not bias the steady state.",
    )
    async def line_bottleneck(
        self,
        info: Info,
        line_id: strawberry.ID,
        hours: float,
        seed: int = 0,
        replications: int = 3,
        warmup_hours: float = 0.0,
    ) -> LineBottleneckNode:
        await info.context.repo.assets.get(str(line_id))
        await see_or_not_found(info, str(line_id), f"asset {line_id} not found")
        config, found, base = await line_bottleneck(
            _service(info), str(line_id), hours, seed, replications, warmup_hours
        )
        stations = []
        for i, st in enumerate(config.stations):
            gain = found.gains[st.name]
            stats = base.stations[st.name]
            stations.append(
                StationResultNode(
                    station_id=strawberry.ID(st.name),
                    cycle_time_seconds=st.cycle_time_s,
                    buffer_after=config.buffers[i] if i < len(config.buffers) else 0,
                    gain_per_hour=gain.units_per_hour,
                    gain_percent=gain.percent,
                    gain_stderr=finite_or_none(gain.stderr),
                    utilisation=stats.utilisation,
                    blocked=stats.blocked,
                    starved=stats.starved,
                    down=stats.down,
                    parts=stats.parts,
                )
            )
        return LineBottleneckNode(
            line_id=line_id,
            bottleneck=strawberry.ID(found.station),
            baseline_throughput_per_hour=found.baseline_throughput_per_hour,
            hours=hours,
            warmup_hours=warmup_hours,
            replications=found.replications,
            speedup=found.speedup,
            stations=stations,
        )


@strawberry.type
class SimulationMutation:
    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Start a what-if run of an asset's model from its current measured state. "
        "Returns at once (status queued); follow it with simulationProgress.",
    )
    async def run_simulation(
        self, info: Info, asset_id: strawberry.ID, scenario: ScenarioInput
    ) -> SimulationRunNode:
        who = info.context.caller
        await info.context.services.scopes.check(who, str(asset_id))
        record = await _service(info).submit(str(asset_id), scenario.to_request(), who.name)
        return SimulationRunNode.from_record(record)

    @strawberry.mutation(
        description="Ask a queued or running simulation to stop.", extensions=needs("engineer")
    )
    async def cancel_simulation(self, info: Info, id: strawberry.ID) -> SimulationRunNode:
        service = _service(info)
        if info.context.caller.scopes:
            record = await service.runs.get(str(id))
            await info.context.services.scopes.check(info.context.caller, record.asset_id)
        return SimulationRunNode.from_record(await service.cancel(str(id)))

    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Fit parameters of the asset's model to its recorded history (least "
        "squares) and store them in its simulation spec, so later runs use them.",
    )
    async def calibrate_model(
        self,
        info: Info,
        asset_id: strawberry.ID,
        parameters: list[str],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        step_seconds: float = 0.1,
        store: bool = True,
    ) -> CalibrationResultNode:
        who = info.context.caller
        await info.context.services.scopes.check(who, str(asset_id))
        out = await calibrate_asset(
            _service(info), str(asset_id), parameters, from_, to, step_seconds, store
        )
        res = out.result
        r2s = [v for v in res.r2.values() if v == v]
        return CalibrationResultNode(
            asset_id=asset_id,
            model=res.model,
            parameters=[
                FittedParameterNode(
                    name=k, value=v, std_error=finite_or_none(res.std_errors.get(k, float("nan")))
                )
                for k, v in res.fitted.items()
            ],
            fits=[
                OutputFitNode(
                    output=name,
                    sensor_id=strawberry.ID(out.sensors[name]),
                    points=out.points[name],
                    rmse=res.rmse[name],
                    r2=finite_or_none(res.r2[name]),
                )
                for name in res.rmse
            ],
            r2=float(np.mean(r2s)) if r2s else None,
            success=res.success,
            message=res.message,
            evaluations=res.nfev,
            stored=out.stored,
        )


@strawberry.type
class SimulationSubscription:
    @strawberry.subscription(
        extensions=needs("viewer"),
        description="A run's status and progress: the current state, then every change "
        "until it ends.",
    )
    async def simulation_progress(
        self, info: Info, run_id: strawberry.ID
    ) -> AsyncGenerator[SimulationProgressNode, None]:
        found = await _service(info).runs.get(str(run_id))
        await see_or_not_found(info, found.asset_id, f"simulation run {run_id} not found")
        async for u in _service(info).watch(str(run_id)):
            yield SimulationProgressNode(
                run_id=strawberry.ID(u.run_id),
                status=u.status,
                progress=u.progress,
                message=u.message,
            )
