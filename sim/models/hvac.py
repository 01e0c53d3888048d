"""HVAC zone thermal model: a 2R2C network (zone air and building mass).

Nodes: zone air ``T_a`` (capacity ``C_a``) and the building mass ``T_m`` (capacity
``C_m``: slabs, walls, furniture). Resistances (K/kW): air-mass ``R_am``, air-outdoor
``R_ao`` (windows, infiltration, ventilation), mass-outdoor ``R_mo`` (opaque envelope).

- gains: people ``N q_p``, solar ``I A_w g / 1000`` (kW), split a fraction ``f_m`` to the
  mass and the rest to the air; HVAC power ``Q_h`` (kW, heating > 0, cooling < 0) to air;
- ``C_a dT_a/dt = (T_m - T_a)/R_am + (T_o - T_a)/R_ao + Q_h + N q_p + (1 - f_m) Q_sol``
- ``C_m dT_m/dt = (T_a - T_m)/R_am + (T_o - T_m)/R_mo + f_m Q_sol``

Linear with constant inputs, so ``x(t) = x_ss + expm(A t) (x0 - x_ss)`` is exact.
Defaults describe a ~500 m2 open-plan office floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec

__all__ = ["HvacZoneModel"]


class HvacZoneModel(Model):
    name = "hvac_zone"
    description = "Building zone as a 2R2C thermal network with outdoor, occupancy and solar gains."
    states = (
        StateSpec("zone_temp_c", "degC", "zone air temperature", 21.0),
        StateSpec("mass_temp_c", "degC", "building mass temperature", 21.0),
    )
    inputs = (
        InputSpec("outdoor_temp_c", "degC", "outdoor air temperature", 5.0),
        InputSpec("occupancy", "people", "people in the zone", 0.0),
        InputSpec("solar_w_m2", "W/m2", "solar irradiance on the glazing", 0.0),
        InputSpec("hvac_power_kw", "kW", "heat delivered by HVAC (cooling < 0)", 0.0),
    )
    parameters = (
        ParamSpec("air_capacitance_kj_per_k", "kJ/K", "air and furniture", 3000.0, (1, 1e8)),
        ParamSpec("mass_capacitance_kj_per_k", "kJ/K", "building mass", 60000.0, (1, 1e9)),
        ParamSpec("r_air_mass_k_per_kw", "K/kW", "air to mass resistance", 0.5, (1e-4, 1e4)),
        ParamSpec("r_air_out_k_per_kw", "K/kW", "air to outdoor resistance", 2.0, (1e-4, 1e4)),
        ParamSpec("r_mass_out_k_per_kw", "K/kW", "mass to outdoor resistance", 4.0, (1e-4, 1e4)),
        ParamSpec("window_area_m2", "m2", "glazing area", 60.0, (0, 1e5)),
        ParamSpec("solar_gain_factor", "1", "solar heat gain coefficient (g)", 0.4, (0, 1)),
        ParamSpec("solar_to_mass", "1", "fraction of solar gain absorbed by mass", 0.7, (0, 1)),
        ParamSpec("heat_per_person_kw", "kW", "sensible heat per occupant", 0.1, (0, 1)),
    )
    outputs = (
        OutputSpec("zone_temp_c", "degC", "zone air temperature"),
        OutputSpec("mass_temp_c", "degC", "building mass temperature"),
        OutputSpec("heat_loss_kw", "kW", "heat flowing to outdoors"),
        OutputSpec("internal_gains_kw", "kW", "people plus solar gains"),
    )

    def prepare(self, p: np.ndarray) -> Any:
        ca, cm, ram, rao, rmo, aw, g, fm, qp = (p[:, i] for i in range(9))
        return (1 / ca, 1 / cm, 1 / ram, 1 / rao, 1 / rmo, aw * g / 1000.0, fm, qp)

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        """``rhs`` for one scenario over floats (``c`` is ``prepare``'s tuple, flattened)."""
        ta = x[0]
        tm = x[1]
        to = u[0]
        solar = u[2] * c[5]
        flow_am = (tm - ta) * c[2]
        dx[0] = (flow_am + (to - ta) * c[3] + u[3] + u[1] * c[7] + (1 - c[6]) * solar) * c[0]
        dx[1] = (-flow_am + (to - tm) * c[4] + c[6] * solar) * c[1]

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        ica, icm, gam, gao, gmo, sol_k, fm, qp = prep
        ta, tm, to = x[:, 0], x[:, 1], u[:, 0]
        solar = u[:, 2] * sol_k
        flow_am = (tm - ta) * gam
        dx = np.empty_like(x)
        dx[:, 0] = (flow_am + (to - ta) * gao + u[:, 3] + u[:, 1] * qp + (1 - fm) * solar) * ica
        dx[:, 1] = (-flow_am + (to - tm) * gmo + fm * solar) * icm
        return dx

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        ica, icm, gam, gao, gmo, sol_k, fm, qp = prep
        ta, tm, to = x[:, 0], x[:, 1], u[:, 0]
        loss = (ta - to) * gao + (tm - to) * gmo
        gains = u[:, 1] * qp + u[:, 2] * sol_k
        return np.stack(np.broadcast_arrays(ta, tm, loss, gains), axis=1)
