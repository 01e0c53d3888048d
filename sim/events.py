"""Events that end or mark a run, cancellation, and the run result container."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from graph.errors import TwinqlError, ValidationError
from sim.model import Model

__all__ = [
    "Cancelled",
    "Event",
    "EventHit",
    "Progress",
    "Trajectory",
    "cancel_on",
]

Progress = Callable[[float], None]
"""Called with the fraction done (0..1) between chunks; it may raise to cancel the run."""

_DIRECTIONS = ("rising", "falling", "either")


class Cancelled(TwinqlError):
    """A run was cancelled from outside (through its progress hook or cancel event)."""

    code = "CANCELLED"


def cancel_on(event: threading.Event, progress: Progress | None = None) -> Progress:
    """A progress hook that raises ``Cancelled`` once ``event`` is set (and forwards)."""

    def hook(fraction: float) -> None:
        if event.is_set():
            raise Cancelled("simulation cancelled", details={"progress": fraction})
        if progress is not None:
            progress(fraction)

    return hook


@dataclass(frozen=True, slots=True)
class Event:
    """``variable`` (a state or output name) crossing ``threshold`` in ``direction``.

    A terminal event ends the scenario it happens in; others only mark the time.
    """

    name: str
    variable: str
    threshold: float
    direction: str = "either"
    terminal: bool = True

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise ValidationError(f"event direction must be one of {_DIRECTIONS}")
        if not np.isfinite(self.threshold):
            raise ValidationError(f"event {self.name!r} threshold must be finite")

    def resolve(self, model: Model) -> tuple[str, int]:
        """``("state"|"output", column)`` of the watched variable (states win)."""
        if self.variable in model.state_names:
            return "state", model.state_names.index(self.variable)
        if self.variable in model.output_names:
            return "output", model.output_names.index(self.variable)
        raise ValidationError(
            f"event {self.name!r}: model {model.name!r} has no state or output {self.variable!r}",
            path=f"events.{self.name}",
        )

    def crossed(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Mask of crossings between two values of ``variable - threshold``."""
        up = (before < 0) & (after >= 0)
        down = (before > 0) & (after <= 0)
        if self.direction == "rising":
            return up
        if self.direction == "falling":
            return down
        return up | down


@dataclass(frozen=True, slots=True)
class EventHit:
    event: str
    scenario: int
    time_s: float
    terminal: bool


@dataclass(frozen=True, slots=True)
class Trajectory:
    """Recorded run of a batch: ``states (m, batch, n_states)``, ``outputs (m, batch, n_out)``.

    Rows after a scenario's terminal event are NaN; ``end_times`` says where each stopped.
    """

    model: str
    times: np.ndarray
    states: np.ndarray
    outputs: np.ndarray
    state_names: tuple[str, ...]
    output_names: tuple[str, ...]
    end_times: np.ndarray
    events: tuple[EventHit, ...] = field(default=())
    steps: int = 0

    @property
    def batch(self) -> int:
        return int(self.states.shape[1])

    def output(self, name: str) -> np.ndarray:
        """``(m, batch)`` series of one output."""
        if name not in self.output_names:
            raise ValidationError(f"no output {name!r}; known: {', '.join(self.output_names)}")
        return self.outputs[:, :, self.output_names.index(name)]

    def state(self, name: str) -> np.ndarray:
        if name not in self.state_names:
            raise ValidationError(f"no state {name!r}; known: {', '.join(self.state_names)}")
        return self.states[:, :, self.state_names.index(name)]
