"""Calibration of an asset's model to its history, and a production line's bottleneck.

Both read the graph and the readings store here, compute in the job runner's pool
(``api.services.simulation.work``) and, for calibration, store the fitted parameters in the asset's sim
spec so later runs use them.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from api.services.lines import flow_order
from api.services.simulation.inputs import output_targets, targets_of
from api.services.simulation.service import SimulationService
from api.services.simulation.work import work_bottleneck, work_calibrate
from graph.errors import ValidationError
from graph.timeutil import to_us
from sim import (
    BottleneckResult,
    CalibrationResult,
    InputSeries,
    LineConfig,
    LineResult,
    Station,
    get_model,
)

__all__ = ["CalibrationOutcome", "calibrate_asset", "check_line_study", "line_bottleneck"]

MAX_CAL_POINTS = 2000  # measured points per output after store-side downsampling
MAX_LINE_HOURS = 24 * 365
MAX_LINE_REPLICATIONS = 100
MAX_LINE_CYCLES = 20_000_000  # station cycles per bottleneck study, ~3 min of one worker


@dataclass(frozen=True)
class CalibrationOutcome:
    result: CalibrationResult
    points: dict[str, int]  # output -> measured points used
    sensors: dict[str, str]  # output -> sensor id
    stored: bool


async def _bucketed(
    service: SimulationService,
    mapping: dict[str, Any],
    names: tuple[str, ...],
    start: datetime,
    end: datetime,
    bucket: timedelta,
) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """``{model name: (sensor id, t_s, value)}`` averaged per bucket in the store; ``t`` is
    the bucket's middle in seconds from ``start`` (points outside the window dropped)."""
    targets = targets_of(mapping, names)
    if not targets:
        return {}
    found = await service.readings.history(list(targets), start, end, bucket)
    half = bucket.total_seconds() / 2
    out: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    for sid, (name, scale, offset) in targets.items():
        s = found.get(sid)
        if s is None or name in out:
            continue
        t = (s.times - to_us(start)) / 1e6 + half
        ok = np.isfinite(s.values) & (t >= 0) & (t <= (end - start).total_seconds())
        if ok.sum() >= 2:
            out[name] = (sid, t[ok], scale * s.values[ok] + offset)
    return out


async def calibrate_asset(
    service: SimulationService,
    asset_id: str,
    parameters: list[str],
    start: datetime,
    end: datetime,
    step_s: float = 0.1,
    store: bool = True,
) -> CalibrationOutcome:
    """Fit ``parameters`` of the asset's model to its mapped sensors over ``[start, end)``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from and to need a UTC offset")
    if end <= start:
        raise ValidationError("'to' must be after 'from'")
    if not parameters:
        raise ValidationError("name at least one parameter to fit", path="parameters")
    spec = await service.sim_spec(asset_id)
    if not spec.get("model"):
        raise ValidationError(f"asset {asset_id} has no simulation spec to calibrate")
    model = get_model(str(spec["model"]))
    for p in parameters:
        model.index_of("parameter", p)
    span = (end - start).total_seconds()
    bucket_s = max(step_s, span / MAX_CAL_POINTS)
    bucket = timedelta(seconds=math.ceil(bucket_s * 1000) / 1000)
    state_map = dict(spec.get("state_map") or {})
    outputs = output_targets(spec, model)
    measured = await _bucketed(service, outputs, model.output_names, start, end, bucket)
    if not measured:
        raise ValidationError(
            f"no recorded history of the sensors mapped to outputs of {model.name!r} "
            f"between {start.isoformat()} and {end.isoformat()}",
            details={"sensors": list(outputs)},
        )
    states = await _bucketed(service, state_map, model.state_names, start, end, bucket)
    initial = {name: float(v[0]) for name, (_, _, v) in states.items()}
    inputs_seen = await _bucketed(
        service, dict(spec.get("input_map") or {}), model.input_names, start, end, bucket
    )
    inputs = {
        name: InputSeries(tuple(np.maximum(t - bucket_s / 2, 0.0)), tuple(v), "step")
        for name, (_, t, v) in inputs_seen.items()
    }
    fixed = {k: float(v) for k, v in (spec.get("parameters") or {}).items()}
    kwargs = {
        "model_name": model.name,
        "fit": {p: None for p in parameters},
        "measured": {name: (t, v) for name, (_, t, v) in measured.items()},
        "inputs": inputs,
        "initial_state": initial,
        "fixed_params": fixed,
        "step_s": step_s,
    }
    result: CalibrationResult = await service.runner.run(
        f"calibrate-{uuid.uuid4().hex[:12]}", work_calibrate, kwargs
    )
    stored = False
    if store and result.success:
        spec["parameters"] = {**fixed, **result.fitted}
        await service.registry.set_sim_spec(asset_id, spec)
        stored = True
    return CalibrationOutcome(
        result=result,
        points={name: int(t.size) for name, (_, t, _) in measured.items()},
        sensors={name: sid for name, (sid, _, _) in measured.items()},
        stored=stored,
    )


async def _line_config(service: SimulationService, line_id: str) -> LineConfig:
    await service.assets.get(line_id)
    children = (await service.assets.children_of([line_id])).get(line_id, [])
    ids = [c.id for c in children]
    specs = await service.assets.specs(ids)
    # JSON objects, written from checked StationSpecs by the plant import
    stations: dict[str, dict[str, Any]] = {
        i: s["station"] for i, s in specs.items() if s.get("station")
    }
    if not stations:
        raise ValidationError(f"line {line_id} has no stations (children with a station spec)")
    edges = await service.topology.relations_of(ids)
    feeds: dict[str, set[str]] = {}
    for es in edges.values():
        for e in es:
            if e.type == "FEEDS":
                feeds.setdefault(e.source, set()).add(e.target)

    order = flow_order(line_id, stations, feeds)

    def station(sid: str) -> Station:
        s = stations[sid]
        mtbf, mttr = s.get("mtbf_h"), s.get("mttr_h")
        return Station(
            name=sid,
            cycle_time_s=float(s["cycle_time_s"]),
            cycle_time_cv=float(s.get("cv") or 0.0),
            mtbf_s=float(mtbf) * 3600 if mtbf else None,
            mttr_s=float(mttr) * 3600 if mtbf and mttr else None,
        )

    buffers = tuple(max(1, int(stations[sid].get("buffer_capacity") or 0)) for sid in order[:-1])
    return LineConfig(stations=tuple(station(s) for s in order), buffers=buffers)


def check_line_study(
    config: LineConfig, hours: float, replications: int, warmup_hours: float = 0.0
) -> int:
    """The station cycles a bottleneck study would simulate; VALIDATION past the cap.

    The study runs the line ``replications x (stations + 1)`` times plus one baseline,
    each ``warmup_hours + hours`` long; a run costs about ``hours x 3600 / cycle time``
    cycles per station (the fastest station's cycle time bounds it from above)."""
    if not (math.isfinite(hours) and 0 < hours <= MAX_LINE_HOURS):
        raise ValidationError(f"hours must be in (0, {MAX_LINE_HOURS}]", path="hours")
    if not (math.isfinite(warmup_hours) and 0 <= warmup_hours <= MAX_LINE_HOURS):
        raise ValidationError(f"warmupHours must be in [0, {MAX_LINE_HOURS}]", path="warmupHours")
    hours += warmup_hours
    if isinstance(replications, bool) or not 1 <= replications <= MAX_LINE_REPLICATIONS:
        raise ValidationError(
            f"replications must be in 1..{MAX_LINE_REPLICATIONS}", path="replications"
        )
    n = len(config.stations)
    runs = replications * (n + 1) + 1
    per_run = hours * 3600.0 / min(s.cycle_time_s for s in config.stations) * n
    cycles = math.ceil(runs * per_run)
    if cycles > MAX_LINE_CYCLES:
        raise ValidationError(
            f"the study would simulate {cycles:,} station cycles ({replications} replications "
            f"x {n + 1} variants + 1 baseline, {hours:g} h each with warm-up, {n} stations), more than "
            f"{MAX_LINE_CYCLES:,}: lower hours or replications",
            path="hours",
            details={"cycles": cycles, "max": MAX_LINE_CYCLES},
        )
    return cycles


async def line_bottleneck(
    service: SimulationService,
    line_id: str,
    hours: float,
    seed: int = 0,
    replications: int = 3,
    warmup_hours: float = 0.0,
) -> tuple[LineConfig, BottleneckResult, LineResult]:
    config = await _line_config(service, line_id)
    check_line_study(config, hours, replications, warmup_hours)
    found, baseline = await service.runner.run(
        f"line-{uuid.uuid4().hex[:12]}",
        work_bottleneck,
        config,
        hours,
        seed,
        replications,
        warmup_hours,
    )
    return config, found, baseline
