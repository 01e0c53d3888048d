"""twinql simulation: physics models, the ODE engine, what-if scenarios, calibration and
the production-line event simulation. Pure computation: numpy in, dataclasses out."""

from sim.engine import Limits, rk4, solve_adaptive
from sim.events import Cancelled, Event, EventHit, Progress, Trajectory, cancel_on
from sim.inputs import InputSchedule, InputSeries
from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec
from sim.registry import MODELS, get_model

__all__ = [
    "MODELS",
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
    "StateSpec",
    "Trajectory",
    "cancel_on",
    "get_model",
    "rk4",
    "solve_adaptive",
]
