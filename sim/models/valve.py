"""Control valve with a flow coefficient, equal-percentage (or linear) trim and actuator lag.

Equations (``x`` stem position 0..1, pressures in bar, flow in m3/h):

- actuator, first order: ``dx/dt = (clip(x_cmd, 0, 1) - x) / tau``;
- equal-percentage characteristic, shifted to close tight:
  ``f(x) = (R^(x-1) - 1/R) / (1 - 1/R)`` (``f(0) = 0``, ``f(1) = 1``, rangeability ``R``;
  ``R = 1`` is its linear limit ``f(x) = x``),
  the relative flow coefficient ``Kv / Kvs`` (``equal_percentage``, which the pump model
  uses for its discharge valve too);
- IEC 60534 liquid sizing (non-choked): ``Q = Kv f(x) sqrt(dp / SG)``, ``dp`` in bar,
  no reverse flow (``dp < 0`` gives 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec

__all__ = ["ValveModel", "equal_percentage"]

_LINEAR_BELOW = 1e-6  # rangeability - 1 under which the trim is taken as linear


def equal_percentage(position: np.ndarray | float, rangeability: np.ndarray | float) -> np.ndarray:
    """Relative flow coefficient ``Kv / Kvs`` of an equal-percentage trim at stem
    ``position`` (clipped to 0..1): ``(R^(x-1) - 1/R) / (1 - 1/R)``, 0 closed, 1 open.

    Its limit at ``R -> 1`` is the linear trim, ``Kv / Kvs = x``; ``R = 1`` gives exactly
    that. Vectorised over both arguments."""
    x = np.clip(np.asarray(position, dtype=float), 0.0, 1.0)
    r = np.asarray(rangeability, dtype=float)
    linear = r - 1.0 < _LINEAR_BELOW
    rr = np.where(linear, 2.0, r)  # any R > 1 where the linear branch is taken
    curved = (rr ** (x - 1.0) - 1.0 / rr) / (1.0 - 1.0 / rr)
    return np.where(linear, x, curved)


class ValveModel(Model):
    name = "valve"
    description = "Control valve: Kv flow coefficient, equal-percentage trim, first-order actuator."
    states = (StateSpec("position", "1", "stem position, 0 closed .. 1 open", 0.5),)
    inputs = (
        InputSpec("command", "1", "position command, 0..1", 0.5),
        InputSpec("upstream_pressure_bar", "bar", "pressure before the valve", 3.0),
        InputSpec("downstream_pressure_bar", "bar", "pressure after the valve", 1.0),
    )
    parameters = (
        ParamSpec("kv_m3h", "m3/h", "flow at 1 bar drop, fully open", 100.0, (0.01, 1e5)),
        ParamSpec(
            "rangeability",
            "1",
            "equal-percentage rangeability R (1 = linear trim)",
            50.0,
            (1, 1000),
        ),
        ParamSpec("stroke_time_constant_s", "s", "actuator time constant", 5.0, (1e-3, 3600)),
        ParamSpec("specific_gravity", "1", "liquid density over water's", 1.0, (0.1, 20)),
    )
    outputs = (
        OutputSpec("position", "1", "stem position"),
        OutputSpec("flow_m3h", "m3/h", "flow through the valve"),
        OutputSpec("pressure_drop_bar", "bar", "pressure drop across the valve"),
    )

    def prepare(self, p: np.ndarray) -> Any:
        kv, r, tau, sg = (p[:, i] for i in range(4))
        return kv, r, 1.0 / r, 1.0 / tau, 1.0 / sg

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        """``rhs`` for one scenario over floats (``c`` is ``prepare``'s tuple, flattened)."""
        dx[0] = (min(max(u[0], 0.0), 1.0) - x[0]) * c[3]

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        d = (np.clip(u[:, 0], 0.0, 1.0) - x[:, 0]) * prep[3]
        return d[:, None]

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        kv, r, _, _, inv_sg = prep
        char = equal_percentage(x[:, 0], r)
        dp = u[:, 1] - u[:, 2]
        flow = kv * char * np.sqrt(np.maximum(dp, 0.0) * inv_sg)
        return np.stack(np.broadcast_arrays(x[:, 0], flow, dp), axis=1)
