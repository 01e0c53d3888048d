"""Centrifugal pump with VFD motor, pipe inertia and a bearing that wears.

Defaults describe a ~30 kW end-suction water pump on a 37 kW motor, rated
2,900 rpm, best efficiency point (BEP) 200 m3/h at 45 m and 80 % efficiency,
discharging through 200 m of DN200 pipe against 35 m of static head.

Equations (``s = n / n_rated``, ``Q`` in m3/h, heads in m, powers in kW, ``w`` wear):

- pump curve, affinity-law form:  ``H_p = (H0 s^2 - a Q|Q|) (1 - k_h w)``
- shaft power (affinity: P ~ s^3 at similar points):
  ``P = (P0 s^3 + c s^2 Q) (1 + k_p w)``
- efficiency: ``eta = rho g Q H_p / P`` (hydraulic over shaft power); at similar points
  ``Q ~ s``, ``H ~ s^2``, ``P ~ s^3`` so ``eta`` is speed-independent, as the affinity
  laws say; wear lowers head and raises power, so it lowers efficiency.
- system: ``H_sys = H_static - H_in + (k_pipe + k_valve / phi^2) Q|Q|`` with
  ``H_in = p_in / (rho g)`` the suction head and ``phi = Kv / Kvs`` the discharge valve's
  relative flow coefficient (floored at 0.01). The valve loss is ``k_valve Q^2`` fully
  open and grows as ``1 / phi^2`` (``dp = (Q / Kv)^2``). ``phi`` comes from the valve's
  stem position ``x`` (input ``valve_opening``) through its trim characteristic
  (``valve.equal_percentage``, rangeability ``R``): ``R = 1`` is a linear trim
  (``phi = x``); give the valve's own ``R`` for an equal-percentage trim, so a stem
  position sensor can feed ``valve_opening`` as it is.
- pipe inertia (rigid water column): ``dQ/dt = 3600 g A / L (H_p - H_sys)``, with a
  non-return valve (flow does not go below zero).
- VFD speed loop, first order: ``dn/dt = (n_set - n) / tau_n``.
- bearing thermal, first order (see ``_thermal``): ``C dT/dt = q_b - (T - T_amb) / R``,
  ``q_b = (f0 + f_w w) s + m (1/eta_m - 1) P``.
- vibration proxy: ``v_rms = s^2 (v0 + v_w w)``.
- electrical power ``P_el = P / eta_m``; discharge pressure ``p_in + rho g H_p``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec
from sim.models.mechanics import BAR_PER_M, RHO_G_KW, G, bearing_heat_kw, vibration_mm_s
from sim.models.valve import equal_percentage

__all__ = ["PumpModel"]


class PumpModel(Model):
    name = "pump"
    description = (
        "Centrifugal pump driven by a VFD motor: quadratic pump curve with affinity laws, "
        "efficiency from head and power curves, first-order speed loop, pipe water-column "
        "inertia, and a bearing whose friction heat and vibration grow with wear."
    )
    states = (
        StateSpec("speed_rpm", "rpm", "shaft speed", 2900.0),
        StateSpec("flow_m3h", "m3/h", "volumetric flow through the pump", 200.0),
        StateSpec("bearing_temp_c", "degC", "drive-end bearing temperature", 41.6),
    )
    inputs = (
        InputSpec("speed_setpoint_rpm", "rpm", "speed reference to the VFD", 2900.0),
        InputSpec("inlet_pressure_bar", "bar", "suction pressure (gauge)", 1.0),
        InputSpec(
            "valve_opening",
            "1",
            "discharge valve stem position, 0 closed .. 1 open (relative Kv through the "
            "trim characteristic, valve_rangeability)",
            1.0,
        ),
        InputSpec("ambient_temp_c", "degC", "ambient air temperature", 25.0),
    )
    parameters = (
        ParamSpec("rated_speed_rpm", "rpm", "speed the curves are given at", 2900.0, (500, 6000)),
        ParamSpec("shutoff_head_m", "m", "head at zero flow, rated speed (H0)", 56.0, (1, 500)),
        ParamSpec("head_coeff", "m/(m3/h)^2", "curve droop a in H0 - aQ^2", 2.75e-4, (1e-8, 1.0)),
        ParamSpec("shutoff_power_kw", "kW", "shaft power at zero flow (P0)", 13.8, (0, 5000)),
        ParamSpec(
            "power_slope_kw_per_m3h", "kW/(m3/h)", "shaft power rise per flow", 0.0843, (0, 50)
        ),
        ParamSpec("wear", "1", "impeller/bearing wear, 0 new .. 1 end of life", 0.0, (0, 1)),
        ParamSpec("wear_head_loss", "1", "fraction of head lost at full wear", 0.25, (0, 0.9)),
        ParamSpec("wear_power_gain", "1", "fraction of extra power at full wear", 0.15, (0, 2)),
        ParamSpec("speed_time_constant_s", "s", "VFD speed loop time constant", 2.0, (1e-3, 600)),
        ParamSpec("static_head_m", "m", "static head on the discharge side", 35.2, (-200, 500)),
        ParamSpec(
            "pipe_resistance", "m/(m3/h)^2", "friction loss coefficient of the pipe", 4e-4, (0, 1)
        ),
        ParamSpec(
            "valve_resistance", "m/(m3/h)^2", "valve loss coefficient, fully open", 1e-4, (0, 1)
        ),
        ParamSpec(
            "valve_rangeability",
            "1",
            "equal-percentage rangeability R of the discharge valve's trim (1 = linear)",
            1.0,
            (1, 1000),
        ),
        ParamSpec("pipe_length_m", "m", "length of the water column", 200.0, (1, 1e5)),
        ParamSpec("pipe_diameter_m", "m", "pipe inner diameter", 0.2, (0.01, 5)),
        ParamSpec("motor_efficiency", "1", "motor + VFD efficiency", 0.93, (0.3, 1)),
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
        ParamSpec("friction_heat_kw", "kW", "bearing friction heat, new, rated", 0.3, (0, 100)),
        ParamSpec("wear_friction_heat_kw", "kW", "extra friction heat at full wear", 1.2, (0, 100)),
        ParamSpec("motor_loss_to_bearing", "1", "share of motor losses into bearing", 0.05, (0, 1)),
        ParamSpec("vibration_base_mm_s", "mm/s", "vibration velocity, new, rated", 1.5, (0, 100)),
        ParamSpec("vibration_wear_mm_s", "mm/s", "extra vibration at full wear", 8.0, (0, 100)),
    )
    outputs = (
        OutputSpec("speed_rpm", "rpm", "shaft speed"),
        OutputSpec("flow_m3h", "m3/h", "flow"),
        OutputSpec("head_m", "m", "head developed by the pump"),
        OutputSpec("discharge_pressure_bar", "bar", "discharge pressure (gauge)"),
        OutputSpec("power_kw", "kW", "electrical power drawn"),
        OutputSpec("efficiency", "1", "pump hydraulic efficiency"),
        OutputSpec("bearing_temp_c", "degC", "bearing temperature"),
        OutputSpec("vibration_mm_s", "mm/s", "bearing vibration velocity (RMS)"),
    )

    def prepare(self, p: np.ndarray) -> Any:
        c = [p[:, i] for i in range(p.shape[1])]
        (n_r, h0, a, p0, c1, w, kh, kp, tau, hst, kpipe, kvalve, r_valve) = c[:13]
        (length, dia, eta_m, cap, res, f0, fw, share, v0, vw) = c[13:]
        area = np.pi * dia * dia / 4.0
        return (
            1.0 / n_r,
            h0 * (1 - kh * w),  # worn shutoff head
            a * (1 - kh * w),  # worn droop
            1.0 / tau,
            hst,
            kpipe,
            kvalve,
            3600.0 * G * area / length,  # (m3/h)/s per m of head
            p0 * (1 + kp * w),
            c1 * (1 + kp * w),
            eta_m,
            f0 + fw * w,
            share * (1.0 / eta_m - 1.0),
            1.0 / cap,
            1.0 / res,
            v0 + vw * w,
            r_valve,  # [16] trim rangeability (1 = linear)
        )

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        """``rhs`` for one scenario over floats (``c`` is ``prepare``'s tuple, flattened)."""
        s = x[0] * c[0]
        q = x[1]
        qq = q * abs(q)
        head = c[1] * s * s - c[2] * qq
        shaft = (c[8] * s + c[9] * q) * s * s
        stem = min(max(u[2], 0.0), 1.0)
        r = c[16]
        if r - 1.0 < 1e-6:  # linear trim (valve.equal_percentage's limit at R = 1)
            phi = stem
        else:
            phi = (r ** (stem - 1.0) - 1.0 / r) / (1.0 - 1.0 / r)
        opening = max(phi, 0.01)
        h_sys = c[4] - u[1] / BAR_PER_M + (c[5] + c[6] / (opening * opening)) * qq
        dq = c[7] * (head - h_sys)
        if q <= 0.0 and dq < 0.0:
            dq = 0.0
        heat = c[11] * abs(s) + c[12] * shaft
        dx[0] = (u[0] - x[0]) * c[3]
        dx[1] = dq
        dx[2] = (heat - (x[2] - u[3]) * c[14]) * c[13]

    def _hydraulics(
        self, x: np.ndarray, u: np.ndarray, pr: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, ...]:
        s = x[:, 0] * pr[0]
        q = x[:, 1]
        qq = q * np.abs(q)
        head = pr[1] * s * s - pr[2] * qq
        shaft = (pr[8] * s + pr[9] * q) * s * s
        return s, q, qq, head, shaft

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        pr = prep
        s, q, qq, head, shaft = self._hydraulics(x, u, pr)
        opening = np.maximum(equal_percentage(u[:, 2], pr[16]), 0.01)
        h_sys = pr[4] - u[:, 1] / BAR_PER_M + (pr[5] + pr[6] / (opening * opening)) * qq
        dq = pr[7] * (head - h_sys)
        dq = np.where((q <= 0.0) & (dq < 0.0), 0.0, dq)
        heat = bearing_heat_kw(s, shaft, pr[11], pr[12])
        dx = np.empty_like(x)
        dx[:, 0] = (u[:, 0] - x[:, 0]) * pr[3]
        dx[:, 1] = dq
        dx[:, 2] = (heat - (x[:, 2] - u[:, 3]) * pr[14]) * pr[13]
        return dx

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        pr = prep
        s, q, qq, head, shaft = self._hydraulics(x, u, pr)
        hydraulic = RHO_G_KW * np.maximum(q, 0.0) / 3600.0 * head
        eff = np.where(shaft > 1e-9, hydraulic / np.maximum(shaft, 1e-9), 0.0)
        return np.stack(
            np.broadcast_arrays(
                x[:, 0],
                q,
                head,
                u[:, 1] + head * BAR_PER_M,
                shaft / pr[10],
                np.clip(eff, 0.0, 1.0),
                x[:, 2],
                vibration_mm_s(s, pr[15]),
            ),
            axis=1,
        )
