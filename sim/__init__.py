"""twinql simulation: physics models, the ODE engine, what-if scenarios, calibration and
the production-line event simulation. Pure computation: numpy in, dataclasses out."""

from sim.calibration import CalibrationResult, calibrate
from sim.dopri import dopri5
from sim.engine import Limits, rk4, solve_adaptive
from sim.events import Cancelled, Event, EventHit, Progress, Trajectory, cancel_on
from sim.inputs import InputSchedule, InputSeries
from sim.line import (
    BottleneckResult,
    LineConfig,
    LineResult,
    Station,
    StationGain,
    StationStats,
    find_bottleneck,
    simulate_line,
)
from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec
from sim.models.valve import equal_percentage
from sim.registry import MODELS, get_model
from sim.scenario import (
    METHODS,
    ResidualStats,
    Scenario,
    ScenarioResult,
    Uncertain,
    initial_state_from_readings,
    residual_stats,
    residuals,
    run_scenario,
)

__all__ = [
    "BottleneckResult",
    "LineConfig",
    "LineResult",
    "Station",
    "StationGain",
    "StationStats",
    "find_bottleneck",
    "simulate_line",
    "METHODS",
    "MODELS",
    "CalibrationResult",
    "Cancelled",
    "Event",
    "EventHit",
    "InputSchedule",
    "InputSeries",
    "InputSpec",
    "Limits",
    "Model",
    "OutputSpec",
    "ParamSpec",
    "Progress",
    "ResidualStats",
    "Scenario",
    "ScenarioResult",
    "StateSpec",
    "Trajectory",
    "Uncertain",
    "calibrate",
    "cancel_on",
    "dopri5",
    "equal_percentage",
    "get_model",
    "initial_state_from_readings",
    "residual_stats",
    "residuals",
    "rk4",
    "run_scenario",
    "solve_adaptive",
]
