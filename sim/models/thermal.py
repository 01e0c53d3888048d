"""Motor/bearing thermal model, first order, with wear-driven friction heat.

Equations (``s = n / n_rated``, powers in kW, ``w`` wear):

- heat into the bearing: ``q = (f0 + f_w w) s + m (1/eta_m - 1) P_shaft``
  (friction grows with speed and wear; a share ``m`` of the motor losses reaches it);
- ``C dT/dt = q - (T - T_amb) / R``, time constant ``R C``;
- step response from ``T0`` at constant inputs:
  ``T(t) = T_amb + q R + (T0 - T_amb - q R) exp(-t / (R C))``;
- vibration proxy ``v = (v0 + v_w w) s^2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec
from sim.models.mechanics import bearing_heat_kw, vibration_mm_s

__all__ = ["MotorThermalModel"]


class MotorThermalModel(Model):
    name = "motor_thermal"
    description = "First-order thermal model of a motor bearing, heated by wear-driven friction."
    states = (StateSpec("bearing_temp_c", "degC", "bearing temperature", 25.0),)
    inputs = (
        InputSpec("speed_rpm", "rpm", "shaft speed", 2900.0),
        InputSpec("shaft_power_kw", "kW", "mechanical power delivered by the motor", 30.0),
        InputSpec("ambient_temp_c", "degC", "ambient air temperature", 25.0),
    )
    parameters = (
        ParamSpec(
            "rated_speed_rpm", "rpm", "speed the friction figures refer to", 2900.0, (1, 1e5)
        ),
        ParamSpec("motor_efficiency", "1", "motor efficiency", 0.93, (0.3, 1)),
        ParamSpec(
            "thermal_capacitance_kj_per_k",
            "kJ/K",
            "bearing housing heat capacity",
            30.0,
            (0.1, 1e5),
        ),
        ParamSpec(
            "thermal_resistance_k_per_kw",
            "K/kW",
            "bearing-to-ambient resistance",
            40.0,
            (0.01, 1e4),
        ),
        ParamSpec("friction_heat_kw", "kW", "friction heat, new bearing, rated", 0.3, (0, 100)),
        ParamSpec("wear_friction_heat_kw", "kW", "extra friction heat at full wear", 1.2, (0, 100)),
        ParamSpec("motor_loss_to_bearing", "1", "share of motor losses into bearing", 0.05, (0, 1)),
        ParamSpec("wear", "1", "bearing wear, 0 new .. 1 end of life", 0.0, (0, 1)),
        ParamSpec("vibration_base_mm_s", "mm/s", "vibration velocity, new, rated", 1.5, (0, 100)),
        ParamSpec("vibration_wear_mm_s", "mm/s", "extra vibration at full wear", 8.0, (0, 100)),
    )
    outputs = (
        OutputSpec("bearing_temp_c", "degC", "bearing temperature"),
        OutputSpec("heat_kw", "kW", "heat flowing into the bearing"),
        OutputSpec("vibration_mm_s", "mm/s", "vibration velocity (RMS)"),
    )

    def prepare(self, p: np.ndarray) -> Any:
        n_r, eta, cap, res, f0, fw, share, w, v0, vw = (p[:, i] for i in range(10))
        return (
            1.0 / n_r,
            f0 + fw * w,
            share * (1.0 / eta - 1.0),
            1.0 / cap,
            1.0 / res,
            v0 + vw * w,
        )

    @staticmethod
    def _heat(u: np.ndarray, prep: Any) -> tuple[np.ndarray, np.ndarray]:
        s = u[:, 0] * prep[0]
        return s, bearing_heat_kw(s, u[:, 1], prep[1], prep[2])

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        """``rhs`` for one scenario over floats (``c`` is ``prepare``'s tuple, flattened)."""
        s = u[0] * c[0]
        heat = c[1] * abs(s) + c[2] * u[1]
        dx[0] = (heat - (x[0] - u[2]) * c[4]) * c[3]

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        _, heat = self._heat(u, prep)
        d = (heat - (x[:, 0] - u[:, 2]) * prep[4]) * prep[3]
        return d[:, None]

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        s, heat = self._heat(u, prep)
        cols = (x[:, 0], heat, vibration_mm_s(s, prep[5]))
        return np.stack(np.broadcast_arrays(*cols), axis=1)
