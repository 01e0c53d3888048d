"""Open tank or reservoir with flow totalisers.

Equations (``Q`` in m3/h, ``A`` the cross-section in m2, ``h`` the level in m):

- ``dh/dt = (Q_in - Q_out) / (3600 A)``
- the outflow is the demand (a pump drawing from the tank) tapered linearly to zero when
  the level falls below the suction cut-off: ``Q_out = Q_demand min(1, max(0, h / h_c))``,
  so the tank never goes below empty;
- totalisers, as on plant flow meters: ``dV_in/dt = Q_in / 3600``,
  ``dV_out/dt = Q_out / 3600`` (m3). Mass balance: ``A (h - h0) = V_in - V_out``.

The tank is open-topped and does not spill: catch overflow with an event on
``level_m`` rising through ``height_m``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec

__all__ = ["TankModel"]


class TankModel(Model):
    name = "tank"
    description = "Vertical tank or reservoir: level from the volume balance, with totalisers."
    states = (
        StateSpec("level_m", "m", "liquid level above the outlet", 2.0),
        StateSpec("inflow_total_m3", "m3", "volume that came in since the start", 0.0),
        StateSpec("outflow_total_m3", "m3", "volume that went out since the start", 0.0),
    )
    inputs = (
        InputSpec("inflow_m3h", "m3/h", "flow into the tank", 200.0),
        InputSpec("outflow_demand_m3h", "m3/h", "flow drawn from the tank when not empty", 200.0),
    )
    parameters = (
        ParamSpec("area_m2", "m2", "cross-section area", 50.0, (0.01, 1e6)),
        ParamSpec("height_m", "m", "height of the tank wall (overflow level)", 5.0, (0.1, 1000)),
        ParamSpec(
            "suction_cutoff_m", "m", "level below which the outflow tapers off", 0.1, (1e-4, 100)
        ),
    )
    outputs = (
        OutputSpec("level_m", "m", "liquid level"),
        OutputSpec("volume_m3", "m3", "liquid volume"),
        OutputSpec("outflow_m3h", "m3/h", "actual outflow"),
        OutputSpec("fill_fraction", "1", "level over wall height"),
    )

    def prepare(self, p: np.ndarray) -> Any:
        return (1.0 / (3600.0 * p[:, 0]), p[:, 0], 1.0 / p[:, 1], 1.0 / p[:, 2])

    @staticmethod
    def _outflow(x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        return u[:, 1] * np.clip(x[:, 0] * prep[3], 0.0, 1.0)

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        """``rhs`` for one scenario over floats (``c`` is ``prepare``'s tuple, flattened)."""
        q_out = u[1] * min(max(x[0] * c[3], 0.0), 1.0)
        dx[0] = (u[0] - q_out) * c[0]
        dx[1] = u[0] / 3600.0
        dx[2] = q_out / 3600.0

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        q_out = self._outflow(x, u, prep)
        q_in = u[:, 0]
        dx = np.empty_like(x)
        dx[:, 0] = (q_in - q_out) * prep[0]
        dx[:, 1] = q_in / 3600.0
        dx[:, 2] = q_out / 3600.0
        return dx

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        level = x[:, 0]
        cols = (level, level * prep[1], self._outflow(x, u, prep), level * prep[2])
        return np.stack(np.broadcast_arrays(*cols), axis=1)
