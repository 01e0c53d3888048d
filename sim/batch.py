"""What every integrator checks first: the batch's arrays, the time grid, the limits.

``prepare_batch`` turns ``x0``/``params``/``inputs`` into ``(batch, n)`` arrays and an
``InputSchedule``, refusing shapes, sizes and non-finite values with ``ValidationError``;
``check_time`` counts the steps (or rows) of a horizon at a step (or interval).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graph.errors import ValidationError
from sim.inputs import InputSchedule, InputSeries
from sim.model import Model

__all__ = ["DEFAULT_LIMITS", "InputsArg", "Limits", "check_time", "prepare_batch"]

InputsArg = InputSchedule | Mapping[str, InputSeries | float] | None


@dataclass(frozen=True, slots=True)
class Limits:
    """Guards against runs that would not fit (steps, batch, recorded floats)."""

    max_steps: int = 10_000_000
    max_batch: int = 100_000
    max_recorded_values: int = 50_000_000
    chunk_values: int = 2_000_000  # input values evaluated per chunk


DEFAULT_LIMITS = Limits()


def prepare_batch(
    model: Model,
    x0: np.ndarray | Sequence[float],
    params: np.ndarray | Sequence[float] | None,
    inputs: InputsArg,
    limits: Limits,
) -> tuple[np.ndarray, np.ndarray, InputSchedule]:
    x = np.array(x0, dtype=float, ndmin=2)
    if x.ndim != 2 or x.shape[1] != len(model.states):
        raise ValidationError(
            f"x0 must be (batch, {len(model.states)}) for model {model.name!r}, got {x.shape}"
        )
    if not 1 <= x.shape[0] <= limits.max_batch:
        raise ValidationError(f"batch must be 1..{limits.max_batch}, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise ValidationError("initial state must be finite")
    p = model.param_vector()[None] if params is None else np.array(params, float, ndmin=2)
    if p.ndim != 2 or p.shape[1] != len(model.parameters) or p.shape[0] not in (1, x.shape[0]):
        raise ValidationError(
            f"params must be (1 or batch, {len(model.parameters)}), got {p.shape}"
        )
    if not np.all(np.isfinite(p)):
        raise ValidationError("parameters must be finite")
    schedule = inputs if isinstance(inputs, InputSchedule) else InputSchedule.build(model, inputs)
    if schedule.width not in (1, x.shape[0]):
        raise ValidationError(f"inputs given for {schedule.width} scenarios, batch is {x.shape[0]}")
    return x, p, schedule


def check_time(horizon_s: float, dt: float, limits: Limits) -> int:
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise ValidationError(f"horizon must be a positive number of seconds, got {horizon_s}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValidationError(f"step must be a positive number of seconds, got {dt}")
    n = math.ceil(horizon_s / dt - 1e-9)
    if n > limits.max_steps:
        raise ValidationError(
            f"horizon {horizon_s} s at step {dt} s is {n} steps, more than {limits.max_steps}"
        )
    return n
