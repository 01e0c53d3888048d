"""Plain data of simulation runs: the request as received, progress updates, series ids
in the readings store, mapping targets of sim specs, and the run summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from graph.bolt.simruns import SimulationRunRecord
from graph.errors import ValidationError
from graph.timeutil import to_us
from ingest.reading import Quality
from ingest.store import ReadingBatch
from sim import Event, InputSeries, Scenario, ScenarioResult, Uncertain

__all__ = [
    "ProgressUpdate",
    "ScenarioRequest",
    "band_id",
    "mapping_target",
    "result_batch",
    "run_summary",
    "series_id",
]


def series_id(run_id: str, output: str) -> str:
    return f"{run_id}/{output}"


def band_id(run_id: str, output: str, q: float) -> str:
    return f"{run_id}/{output}@p{q:g}"


@dataclass(frozen=True)
class ScenarioRequest:
    """A what-if as the API receives it (times in seconds from ``start_at``)."""

    model: str | None = None
    horizon_s: float = 3600.0
    step_s: float | None = None
    output_every_s: float | None = None
    parameters: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, InputSeries] = field(default_factory=dict)
    initial_state: dict[str, float] = field(default_factory=dict)
    monte_carlo: dict[str, Uncertain] = field(default_factory=dict)
    samples: int = 0
    seed: int = 0
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)
    method: str = "auto"
    rtol: float = 1e-6
    atol: float = 1e-6
    start_at: datetime | None = None
    events: tuple[Event, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "horizonSeconds": self.horizon_s,
            "stepSeconds": self.step_s,
            "outputEverySeconds": self.output_every_s,
            "parameters": self.parameters,
            "inputs": {
                k: {
                    "times": list(s.times),
                    "values": list(s.values),
                    "interpolation": s.interpolation,
                }
                for k, s in self.inputs.items()
            },
            "initialState": self.initial_state,
            "monteCarlo": {
                k: {"distribution": u.distribution, "args": list(u.args)}
                for k, u in self.monte_carlo.items()
            },
            "samples": self.samples,
            "seed": self.seed,
            "percentiles": list(self.percentiles),
            "method": self.method,
            "rtol": self.rtol,
            "atol": self.atol,
            "startAt": self.start_at.isoformat() if self.start_at else None,
            "events": [
                {
                    "name": e.name,
                    "variable": e.variable,
                    "threshold": e.threshold,
                    "direction": e.direction,
                    "terminal": e.terminal,
                }
                for e in self.events
            ],
        }


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    run_id: str
    status: str
    progress: float
    message: str = ""


def mapping_target(t: object) -> tuple[str, float, float]:
    """A sim spec map's target as ``(name, scale, offset)``: a name, ``{name, scale?,
    offset?}`` (as stored) or an already resolved triple."""
    if isinstance(t, str):
        return t, 1.0, 0.0
    if isinstance(t, tuple | list) and len(t) == 3 and isinstance(t[0], str):
        return t[0], float(t[1]), float(t[2])
    if isinstance(t, dict) and isinstance(t.get("name"), str):
        return t["name"], float(t.get("scale", 1.0)), float(t.get("offset", 0.0))
    raise ValidationError(f"bad sim spec mapping target {t!r}")


def result_batch(record: SimulationRunRecord, result: ScenarioResult) -> ReadingBatch:
    """The run's series as one readings batch: ``{run}/{output}`` and its bands at
    ``start_at + t``, NaN (after a terminal event) left out. Pure numpy on columns (the
    id columns are filled in C, one repeated pointer per value); heavy for long runs, so
    the service builds it in a thread."""
    base = to_us(record.start_at)
    ts = base + np.round(result.times * 1e6).astype(np.int64)
    cols: list[tuple[str, np.ndarray]] = []
    for name, values in result.outputs.items():
        cols.append((series_id(record.id, name), values))
        for q, band in result.bands.get(name, {}).items():
            cols.append((band_id(record.id, name, q), band))
    if not cols:
        return ReadingBatch.empty()
    values = np.concatenate([v for _, v in cols])
    keep = np.isfinite(values)
    per = [int(np.count_nonzero(np.isfinite(v))) for _, v in cols]
    ids = np.empty(int(keep.sum()), dtype=object)
    at = 0
    for (sid, _), n in zip(cols, per, strict=True):
        ids[at : at + n] = sid
        at += n
    n = ids.size
    return ReadingBatch.from_columns(
        np.tile(ts, len(cols))[keep],
        ids,
        np.full(n, record.asset_id, dtype=object),
        values[keep],
        np.full(n, Quality.GOOD.value, dtype=object),
    )


def _final(a: np.ndarray) -> float | None:
    ok = a[np.isfinite(a)]
    return float(ok[-1]) if ok.size else None


def run_summary(
    record: SimulationRunRecord,
    scenario: Scenario,
    result: ScenarioResult,
    provenance: dict[str, Any],
    points_written: int,
) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for name, values in result.outputs.items():
        ok = values[np.isfinite(values)]
        outputs[name] = {
            "unit": result.units.get(name, ""),
            "seriesId": series_id(record.id, name),
            "initial": float(ok[0]) if ok.size else None,
            "final": float(ok[-1]) if ok.size else None,
            "min": float(ok.min()) if ok.size else None,
            "max": float(ok.max()) if ok.size else None,
            "bands": {f"p{q:g}": _final(b) for q, b in result.bands.get(name, {}).items()},
        }
    return {
        "model": result.model,
        "horizonSeconds": scenario.horizon_s,
        "method": scenario.solver,
        "stepSeconds": scenario.step if scenario.solver == "rk4" else None,
        "rtol": None if scenario.solver == "rk4" else scenario.rtol,
        "atol": None if scenario.solver == "rk4" else scenario.atol,
        "outputEverySeconds": scenario.output_interval_s,
        "points": int(result.times.size),
        "pointsWritten": points_written,
        "samples": result.samples,
        "percentiles": list(scenario.percentiles) if result.bands else [],
        "clippedSamples": result.clipped_samples,
        "parameters": result.parameters,
        "events": [
            {
                "event": e.event,
                "scenario": e.scenario,
                "timeSeconds": e.time_s,
                "at": (record.start_at + timedelta(seconds=e.time_s)).isoformat(),
                "terminal": e.terminal,
            }
            for e in result.events[:100]
        ],
        "eventProbability": result.event_probability,
        "outputs": outputs,
        **provenance,
    }
