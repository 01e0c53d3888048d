"""Input time series and their evaluation over many times at once.

``InputSeries`` is one input as breakpoints, held (``step``) or interpolated
(``linear``) between them and held flat outside them. ``InputSchedule`` is the model's
full input vector over time for a batch: each input a series shared by every scenario,
or one series per scenario.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graph.errors import ValidationError
from sim.model import Model

__all__ = ["InputSchedule", "InputSeries"]

_KINDS = ("step", "linear")


@dataclass(frozen=True, slots=True)
class InputSeries:
    """Breakpoints ``times`` (s, non-decreasing, relative to the run start) and ``values``."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    interpolation: str = "step"

    def __post_init__(self) -> None:
        times = tuple(float(t) for t in self.times)
        values = tuple(float(v) for v in self.values)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        if self.interpolation not in _KINDS:
            raise ValidationError(
                f"interpolation must be one of {_KINDS}, not {self.interpolation!r}"
            )
        if not times or len(times) != len(values):
            raise ValidationError("an input series needs as many times as values, at least one")
        if not all(math.isfinite(v) for v in (*times, *values)):
            raise ValidationError("input series times and values must be finite")
        if any(b < a for a, b in zip(times, times[1:], strict=False)):
            raise ValidationError("input series times must be non-decreasing")

    @classmethod
    def constant(cls, value: float) -> InputSeries:
        return cls((0.0,), (value,))

    @classmethod
    def ramp(cls, start: float, end: float, duration_s: float, delay_s: float = 0.0) -> InputSeries:
        """``start`` until ``delay_s``, then linear to ``end`` over ``duration_s``."""
        if duration_s <= 0 or delay_s < 0:
            raise ValidationError("a ramp needs duration_s > 0 and delay_s >= 0")
        return cls((delay_s, delay_s + duration_s), (start, end), "linear")

    @classmethod
    def steps(cls, times: Sequence[float], values: Sequence[float]) -> InputSeries:
        return cls(tuple(times), tuple(values), "step")

    def at(self, t: np.ndarray, left: bool = False) -> np.ndarray:
        """Values at the times ``t`` (any shape); ``left``: limits from the left at jumps."""
        times = np.asarray(self.times)
        values = np.asarray(self.values)
        if self.interpolation == "linear":
            return np.interp(t, times, values)
        idx = np.searchsorted(times, t, side="left" if left else "right") - 1
        return values[np.clip(idx, 0, len(values) - 1)]


class InputSchedule:
    """The model's inputs over time for a batch of ``width`` (1 = shared) scenarios."""

    def __init__(self, model: Model, columns: list[list[InputSeries]]) -> None:
        self.model = model
        self.columns = columns  # per input, per scenario (length 1 or width)
        self.width = max(len(c) for c in columns) if columns else 1
        self.constant = all(len(s.times) == 1 for col in columns for s in col)

    @classmethod
    def build(
        cls,
        model: Model,
        inputs: Mapping[str, InputSeries | float]
        | Sequence[Mapping[str, InputSeries | float]]
        | None,
    ) -> InputSchedule:
        """From one mapping (shared) or one mapping per scenario; unset inputs take defaults."""
        per = [inputs or {}] if inputs is None or isinstance(inputs, Mapping) else list(inputs)
        if not per:
            raise ValidationError("per-scenario inputs must not be empty")
        for mapping in per:
            for key in mapping:
                model.index_of("input", key)
        columns: list[list[InputSeries]] = []
        for spec in model.inputs:
            col = [_series(m.get(spec.name, spec.default), spec.name) for m in per]
            if all(s == col[0] for s in col):
                col = col[:1]
            columns.append(col)
        return cls(model, columns)

    def at(self, t: np.ndarray, left: bool = False) -> np.ndarray:
        """Inputs at times ``t`` (shape ``(k,)``): ``(k, width, n_inputs)``.

        ``left`` takes step inputs' values just before a jump at ``t`` (for the last stage
        of a step that ends on a jump)."""
        t = np.asarray(t, dtype=float)
        out = np.empty((t.shape[0], self.width, len(self.columns)))
        for j, col in enumerate(self.columns):
            if len(col) == 1:
                out[:, :, j] = col[0].at(t, left)[:, None]
            else:
                for b, series in enumerate(col):
                    out[:, b, j] = series.at(t, left)
        return out

    def breakpoints(self, t_end: float) -> list[float]:
        """Times in ``(0, t_end)`` where a step input jumps (for adaptive integration)."""
        points = {
            t
            for col in self.columns
            for s in col
            if s.interpolation == "step"
            for t in s.times
            if 0.0 < t < t_end
        }
        return sorted(points)


def _series(value: InputSeries | float, name: str) -> InputSeries:
    if isinstance(value, InputSeries):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValidationError(
            f"input {name!r} must be a number or an InputSeries, got {value!r}",
            path=f"inputs.{name}",
        )
    if not math.isfinite(float(value)):
        raise ValidationError(f"input {name!r} must be finite", path=f"inputs.{name}")
    return InputSeries.constant(float(value))
