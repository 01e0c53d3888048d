"""What an asset's sim spec says its sensors measure, and replayed inputs.

``output_targets`` lists the sensors that measure model outputs (residuals and
calibration compare with them): the ``output_map`` of the spec, plus ``state_map``
sensors whose state is also an output (``flow_m3h`` of the pump is both).

``replay_inputs`` drives a replay (a run starting in the past) with what the mapped
input points recorded: each input is a step series that starts at the last value
before the run's start and follows every change over the horizon, read from the store
bucketed (the last value per bucket, at most ``MAX_REPLAY_POINTS`` buckets per input,
each change applied at its bucket's end, so at most one bucket late).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from api.services.simulation.records import mapping_target
from graph.errors import ValidationError
from graph.timeutil import to_us
from ingest.store import Aggregate
from sim import InputSeries, Model

if TYPE_CHECKING:
    from api.services.simulation.service import SimulationService

__all__ = ["MAX_REPLAY_POINTS", "Target", "output_targets", "replay_inputs", "targets_of"]

MAX_REPLAY_POINTS = 20_000  # buckets of recorded history per replayed input

Target = tuple[str, float, float]  # model name, scale, offset: value = scale * reading + offset


def targets_of(mapping: dict[str, Any], names: tuple[str, ...]) -> dict[str, Target]:
    """``{point id: (name, scale, offset)}`` of the entries that name one of ``names``."""
    found = {sid: mapping_target(t) for sid, t in mapping.items()}
    return {sid: t for sid, t in found.items() if t[0] in names}


def output_targets(spec: dict[str, Any], model: Model) -> dict[str, Target]:
    """The sensors that measure outputs of ``model``: ``output_map`` (each must name an
    output: VALIDATION otherwise) and ``state_map`` entries whose state is an output."""
    out = targets_of(dict(spec.get("state_map") or {}), model.output_names)
    for sid, raw in dict(spec.get("output_map") or {}).items():
        target = mapping_target(raw)
        if target[0] not in model.output_names:
            raise ValidationError(
                f"output_map: sensor {sid} maps to {target[0]!r}, which is not an output of "
                f"model {model.name!r}; outputs: {', '.join(model.output_names)}",
                path=f"sim.output_map.{sid}",
            )
        out[sid] = target
    return out


def _bucket(horizon_s: float) -> timedelta:
    ms = max(1, math.ceil(horizon_s * 1000 / MAX_REPLAY_POINTS))
    return timedelta(milliseconds=ms)


def _steps(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first point and every change of value (a step series needs no repeats)."""
    keep = np.ones(v.size, dtype=bool)
    keep[1:] = v[1:] != v[:-1]
    return t[keep], v[keep]


async def replay_inputs(
    service: SimulationService,
    targets: dict[str, Target],
    start: datetime,
    horizon_s: float,
) -> tuple[dict[str, InputSeries], dict[str, dict[str, Any]]]:
    """Step series of the mapped inputs over ``[start, start + horizon_s]`` from their
    recorded history, and where each came from. The first point mapped to an input with
    any history wins; an input with none keeps the model's default."""
    if not targets:
        return {}, {}
    ids = list(targets)
    before = await service.readings_at(ids, start)
    bucket = _bucket(horizon_s)
    end = start + timedelta(seconds=horizon_s, microseconds=1)
    found = await service.readings.history(ids, start, end, bucket, Aggregate.LAST)
    w_s = bucket.total_seconds()
    series: dict[str, InputSeries] = {}
    sources: dict[str, dict[str, Any]] = {}
    for sid, (name, scale, offset) in targets.items():
        if name in series:
            continue
        s = found.get(sid)
        ok = np.isfinite(s.values) if s is not None else np.zeros(0, dtype=bool)
        t = np.empty(0)
        v = np.empty(0)
        if s is not None and ok.any():
            t = np.clip((s.times[ok] - to_us(start)) / 1e6 + w_s, 0.0, horizon_s)
            v = scale * s.values[ok] + offset
        if sid in before:
            reading, when = before[sid]
            t = np.concatenate([[0.0], t])
            v = np.concatenate([[scale * reading + offset], v])
        if v.size == 0:
            continue
        t, v = _steps(t, v)
        series[name] = InputSeries.steps(t.tolist(), v.tolist())
        sources[name] = {
            "source": "history",
            "sensorId": sid,
            "value": float(v[0]),
            "changes": int(v.size - 1),
            "bucketSeconds": w_s,
            **({"readingAt": before[sid][1].isoformat()} if sid in before else {}),
        }
    return series, sources
