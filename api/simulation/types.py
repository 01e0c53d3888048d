"""GraphQL types of the simulation layer (kept apart from ``sim``'s dataclasses)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.services.simulation.records import ScenarioRequest, mapping_target
from graph.errors import ValidationError
from sim import Event, InputSeries, Model, Uncertain

__all__ = [
    "CalibrationResultNode",
    "EventDirection",
    "EventInput",
    "Interpolation",
    "LineBottleneckNode",
    "MonteCarloInput",
    "ParameterValueInput",
    "ScenarioInput",
    "SimModelNode",
    "SimSpecNode",
    "SimulationProgressNode",
]

MAX_INPUT_POINTS = 100_000
MAX_EVENTS = 20


@strawberry.type(name="ModelVariable")
class ModelVariableNode:
    name: str
    unit: str
    description: str
    default: float | None


@strawberry.type(name="ModelParameter")
class ModelParameterNode:
    name: str
    unit: str
    description: str
    default: float
    min: float
    max: float


@strawberry.type(name="SimModel")
class SimModelNode:
    name: str
    description: str
    states: list[ModelVariableNode]
    inputs: list[ModelVariableNode]
    parameters: list[ModelParameterNode]
    outputs: list[ModelVariableNode]

    @classmethod
    def from_model(cls, m: Model) -> SimModelNode:
        def var(s: Any) -> ModelVariableNode:
            return ModelVariableNode(
                name=s.name,
                unit=s.unit,
                description=s.description,
                default=getattr(s, "default", None),
            )

        return cls(
            name=m.name,
            description=m.description,
            states=[var(s) for s in m.states],
            inputs=[var(s) for s in m.inputs],
            parameters=[
                ModelParameterNode(
                    name=p.name,
                    unit=p.unit,
                    description=p.description,
                    default=p.default,
                    min=p.bounds[0],
                    max=p.bounds[1],
                )
                for p in m.parameters
            ],
            outputs=[var(s) for s in m.outputs],
        )


@strawberry.enum
class Interpolation(Enum):
    STEP = "step"
    LINEAR = "linear"


@strawberry.input
class ParameterValueInput:
    name: str
    value: float


@strawberry.input
class InputSeriesInput:
    name: str
    times: list[float] = strawberry.field(description="Seconds from the run's start.")
    values: list[float]
    interpolation: Interpolation = Interpolation.STEP


@strawberry.input
class MonteCarloInput:
    parameter: str
    distribution: str = strawberry.field(
        description="normal(mean, sd), uniform(low, high), lognormal(median, sigma), "
        "triangular(low, mode, high)"
    )
    args: list[float]


@strawberry.enum
class EventDirection(Enum):
    UP = "rising"
    DOWN = "falling"
    BOTH = "either"


@strawberry.input(description="A threshold crossing that ends or marks a run.")
class EventInput:
    name: str
    variable: str = strawberry.field(description="A state or output of the model.")
    threshold: float
    direction: EventDirection = strawberry.field(
        default=EventDirection.BOTH, description="UP: rising through, DOWN: falling through."
    )
    terminal: bool = strawberry.field(
        default=True,
        description="End the run (each Monte Carlo sample on its own) where it happens; "
        "false only marks the time.",
    )

    def to_domain(self, path: str) -> Event:
        if not self.name.strip():
            raise ValidationError("an event needs a name", path=path)
        return Event(
            name=self.name,
            variable=self.variable,
            threshold=self.threshold,
            direction=self.direction.value,
            terminal=self.terminal,
        )


@strawberry.input
class ScenarioInput:
    model: str | None = strawberry.field(
        default=None, description="Default: the model of the asset's simulation spec."
    )
    horizon_seconds: float = 3600.0
    step_seconds: float | None = strawberry.field(
        default=None,
        description="A fixed step (s): integrates with RK4 at that step. Default: none, "
        "adaptive steps at rtol/atol (see method).",
    )
    output_every_seconds: float | None = strawberry.field(
        default=None, description="Default: horizon / 1000."
    )
    parameters: list[ParameterValueInput] = strawberry.field(default_factory=list)
    inputs: list[InputSeriesInput] = strawberry.field(default_factory=list)
    initial_state: list[ParameterValueInput] = strawberry.field(
        default_factory=list, description="Overrides of the state read from the sensors."
    )
    monte_carlo: list[MonteCarloInput] = strawberry.field(default_factory=list)
    samples: int = 0
    seed: int = 0
    percentiles: list[float] = strawberry.field(default_factory=lambda: [5.0, 50.0, 95.0])
    method: str = strawberry.field(
        default="auto",
        description="auto: dopri5 when no stepSeconds is given and no events are watched, "
        "rk4 otherwise; dopri5: compiled adaptive Dormand-Prince 5(4) with error control "
        "(rtol, atol); rk4: fixed step stepSeconds (default 0.1 s); adaptive: LSODA per "
        "scenario (events located exactly).",
    )
    rtol: float = strawberry.field(
        default=1e-6, description="Relative tolerance of the adaptive methods, 1e-13..0.1."
    )
    atol: float = strawberry.field(
        default=1e-6,
        description="Absolute tolerance of the adaptive methods, in each state's unit.",
    )
    events: list[EventInput] = strawberry.field(
        default_factory=list,
        description="Threshold crossings to watch (summary.events lists the hits; with "
        "Monte Carlo, summary.eventProbability the share of samples that hit each).",
    )
    start_at: datetime | None = strawberry.field(
        default=None,
        description="Simulated start (default now). A past start replays from the readings "
        "then, so the run can be compared with what the sensors showed.",
    )

    def to_request(self) -> ScenarioRequest:
        def pairs(items: list[ParameterValueInput], what: str) -> dict[str, float]:
            out: dict[str, float] = {}
            for p in items:
                if p.name in out:
                    raise ValidationError(f"{what} {p.name!r} given twice", path=f"scenario.{what}")
                out[p.name] = p.value
            return out

        inputs: dict[str, InputSeries] = {}
        for i, s in enumerate(self.inputs):
            if len(s.times) > MAX_INPUT_POINTS:
                raise ValidationError(
                    f"input series hold at most {MAX_INPUT_POINTS} points",
                    path=f"scenario.inputs[{i}]",
                )
            if s.name in inputs:
                raise ValidationError(f"input {s.name!r} given twice", path=f"scenario.inputs[{i}]")
            inputs[s.name] = InputSeries(tuple(s.times), tuple(s.values), s.interpolation.value)
        monte: dict[str, Uncertain] = {}
        for mc in self.monte_carlo:
            monte[mc.parameter] = Uncertain(mc.distribution, tuple(mc.args))
        if len(self.events) > MAX_EVENTS:
            raise ValidationError(f"at most {MAX_EVENTS} events", path="scenario.events")
        events: list[Event] = []
        for i, e in enumerate(self.events):
            if any(e.name == seen.name for seen in events):
                raise ValidationError(f"event {e.name!r} given twice", path=f"scenario.events[{i}]")
            events.append(e.to_domain(f"scenario.events[{i}]"))
        return ScenarioRequest(
            model=self.model,
            horizon_s=self.horizon_seconds,
            step_s=self.step_seconds,
            output_every_s=self.output_every_seconds,
            parameters=pairs(self.parameters, "parameters"),
            inputs=inputs,
            initial_state=pairs(self.initial_state, "initialState"),
            monte_carlo=monte,
            samples=self.samples,
            seed=self.seed,
            percentiles=tuple(self.percentiles),
            method=self.method,
            rtol=self.rtol,
            atol=self.atol,
            start_at=self.start_at,
            events=tuple(events),
        )


@strawberry.type(name="SimMapping")
class SimMappingNode:
    point_id: strawberry.ID = strawberry.field(description="A sensor (or actuator) id.")
    name: str = strawberry.field(description="The model state, input or output it maps to.")
    scale: float
    offset: float = strawberry.field(description="model value = scale * reading + offset")

    @classmethod
    def rows(cls, mapping: dict[str, Any]) -> list[SimMappingNode]:
        out = []
        for pid, target in mapping.items():
            name, scale, offset = mapping_target(target)
            out.append(cls(point_id=strawberry.ID(pid), name=name, scale=scale, offset=offset))
        return out


@strawberry.type(name="ParameterValue")
class ParameterValueNode:
    name: str
    value: float


@strawberry.type(name="SimSpec")
class SimSpecNode:
    asset_id: strawberry.ID
    model: str
    parameters: list[ParameterValueNode]
    state_map: list[SimMappingNode] = strawberry.field(
        description="Sensors that set a run's initial state."
    )
    input_map: list[SimMappingNode] = strawberry.field(
        description="Actuators and sensors that drive the model's inputs."
    )
    output_map: list[SimMappingNode] = strawberry.field(
        description="Sensors that measure model outputs."
    )
    measured_outputs: list[SimMappingNode] = strawberry.field(
        description="What residuals and calibration compare with: outputMap, plus stateMap "
        "sensors whose state is also an output."
    )

    @classmethod
    def from_spec(
        cls, asset_id: str, spec: dict[str, Any], measured: dict[str, Any]
    ) -> SimSpecNode:
        params = dict(spec.get("parameters") or {})
        return cls(
            asset_id=strawberry.ID(asset_id),
            model=str(spec.get("model")),
            parameters=[ParameterValueNode(name=k, value=float(v)) for k, v in params.items()],
            state_map=SimMappingNode.rows(dict(spec.get("state_map") or {})),
            input_map=SimMappingNode.rows(dict(spec.get("input_map") or {})),
            output_map=SimMappingNode.rows(dict(spec.get("output_map") or {})),
            measured_outputs=SimMappingNode.rows(measured),
        )


@strawberry.type(name="SimulationProgress")
class SimulationProgressNode:
    run_id: strawberry.ID
    status: str
    progress: float
    message: str


@strawberry.type(name="SimResidual")
class ResidualNode:
    sensor_id: strawberry.ID
    output: str
    n: int
    rmse: float | None
    bias: float | None
    max_abs: float | None


@strawberry.type(name="FittedParameter")
class FittedParameterNode:
    name: str
    value: float
    std_error: float | None


@strawberry.type(name="OutputFit")
class OutputFitNode:
    output: str
    sensor_id: strawberry.ID
    points: int
    rmse: float
    r2: float | None


@strawberry.type(name="CalibrationResult")
class CalibrationResultNode:
    asset_id: strawberry.ID
    model: str
    parameters: list[FittedParameterNode]
    fits: list[OutputFitNode]
    r2: float | None = strawberry.field(description="Mean r2 over the fitted outputs.")
    success: bool
    message: str
    evaluations: int
    stored: bool


@strawberry.type(name="StationResult")
class StationResultNode:
    station_id: strawberry.ID
    cycle_time_seconds: float
    buffer_after: int
    gain_per_hour: float = strawberry.field(
        description="Throughput gained by making this station 10% faster."
    )
    gain_percent: float
    gain_stderr: float | None
    utilisation: float
    blocked: float
    starved: float
    down: float
    parts: int


@strawberry.type(name="LineBottleneck")
class LineBottleneckNode:
    line_id: strawberry.ID
    bottleneck: strawberry.ID
    baseline_throughput_per_hour: float
    hours: float
    warmup_hours: float = strawberry.field(
        description="Hours run before the statistics start (the line fills up meanwhile)."
    )
    replications: int
    speedup: float
    stations: list[StationResultNode]


def finite_or_none(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None
