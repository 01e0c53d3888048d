"""One simulation model's assets stepped together: states, inputs and parameters as arrays.

A ``ModelGroup`` holds every asset simulated by one model as rows of ``x`` (states),
``u`` (inputs) and ``p`` (parameters) and advances them with one vectorised RK4 step
over the model's prepared right-hand side, whatever the number of assets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sim import Model

__all__ = ["ModelGroup", "Tap"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(slots=True)
class Tap:
    """Index arrays moving values between a flat vector and a group's columns.

    ``vector[slots] = (matrix[rows, cols] - offset) / scale`` when reading a group out,
    ``matrix[rows, cols] = scale * vector[slots] + offset`` when feeding it.
    """

    rows: IntArray
    cols: IntArray
    slots: IntArray
    scale: FloatArray
    offset: FloatArray

    @classmethod
    def build(cls, entries: list[tuple[int, int, int, float, float]]) -> Tap:
        arr = np.asarray(entries, dtype=np.float64).reshape(-1, 5)
        return cls(
            arr[:, 0].astype(np.intp),
            arr[:, 1].astype(np.intp),
            arr[:, 2].astype(np.intp),
            arr[:, 3].copy(),
            arr[:, 4].copy(),
        )

    def read(self, matrix: FloatArray, vector: FloatArray) -> None:
        if self.rows.size:
            vector[self.slots] = (matrix[self.rows, self.cols] - self.offset) / self.scale

    def feed(self, vector: FloatArray, matrix: FloatArray) -> None:
        if self.rows.size:
            matrix[self.rows, self.cols] = self.scale * vector[self.slots] + self.offset


@dataclass(slots=True)
class ModelGroup:
    """Every asset of one model: row ``i`` is ``asset_ids[i]``."""

    model: Model
    asset_ids: list[str]
    x: FloatArray
    u: FloatArray
    p: FloatArray
    prep: Any = None
    obs: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))

    @classmethod
    def create(cls, model: Model, rows: list[tuple[str, dict[str, float]]]) -> ModelGroup:
        """One row per ``(asset_id, parameters)``; states and inputs start at defaults."""
        n = len(rows)
        x = np.tile(model.state_vector(), (n, 1))
        u = np.tile(model.input_vector(), (n, 1))
        p = np.stack([model.param_vector(params) for _, params in rows])
        group = cls(model, [a for a, _ in rows], x, u, p)
        group.reprepare()
        group.observe(0.0)
        return group

    @property
    def n_outputs(self) -> int:
        return len(self.model.outputs)

    def column(self, name: str) -> int:
        """Column of ``name`` in ``obs`` (outputs first, then states)."""
        if name in self.model.output_names:
            return self.model.output_names.index(name)
        return self.n_outputs + self.model.index_of("state", name)

    def reprepare(self) -> None:
        self.prep = self.model.prepare(self.p)

    def step(self, t: float, dt: float) -> None:
        """One classic RK4 step of every row, inputs held over the step."""
        f, x, u, prep = self.model.rhs, self.x, self.u, self.prep
        k1 = f(t, x, u, prep)
        k2 = f(t + dt / 2, x + (dt / 2) * k1, u, prep)
        k3 = f(t + dt / 2, x + (dt / 2) * k2, u, prep)
        k4 = f(t + dt, x + dt * k3, u, prep)
        self.x = x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    def observe(self, t: float) -> FloatArray:
        y = self.model.observe(t, self.x, self.u, self.prep)
        self.obs = np.concatenate([y, self.x], axis=1)
        return self.obs
