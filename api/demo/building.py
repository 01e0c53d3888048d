"""Weather, occupancy, zone thermostats and indoor air for the demo's HVAC zones.

The ``hvac_zone`` model gives the air temperature; this module feeds its inputs (outdoor
temperature on a daily cycle, sun, people by time of day, HVAC heat from a PI thermostat
per zone) and tracks what the model does not: CO2 and relative humidity, first order
towards levels set by occupancy.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from api.demo.groups import ModelGroup

__all__ = ["Weather", "Zones"]

FloatArray = npt.NDArray[np.float64]

_KP_KW_PER_K, _KI_KW_PER_KS = 4.0, 0.01
_CO2_OUTDOOR, _CO2_FULL_RISE, _CO2_TAU_S = 420.0, 520.0, 900.0
_RH_BASE, _RH_FULL_RISE, _RH_TAU_S = 38.0, 12.0, 1800.0


class Weather:
    """Outdoor temperature (daily sine, coldest at 04:00) and sun, by hour of day."""

    def __init__(self, mean_c: float = 9.0, swing_c: float = 5.0, sun_w_m2: float = 550.0):
        self.mean_c, self.swing_c, self.sun_w_m2 = mean_c, swing_c, sun_w_m2

    def outdoor_c(self, hour: float) -> float:
        return self.mean_c + self.swing_c * math.sin(2 * math.pi * (hour - 10.0) / 24.0)

    def solar_w_m2(self, hour: float) -> float:
        return max(0.0, self.sun_w_m2 * math.sin(math.pi * (hour - 6.0) / 12.0))


def occupancy_share(hour: float) -> float:
    """Share of the zone's people present: office hours with a lunch dip."""
    if hour < 7.0 or hour >= 19.0:
        return 0.0
    if hour < 9.0:
        return (hour - 7.0) / 2.0
    if hour >= 17.0:
        return (19.0 - hour) / 2.0
    return 0.6 if 12.0 <= hour < 13.0 else 0.95


class Zones:
    """The controller and indoor-air state of every row of the ``hvac_zone`` group."""

    def __init__(self, group: ModelGroup, weather: Weather) -> None:
        self.group = group
        self.weather = weather
        n = len(group.asset_ids)
        window = group.p[:, group.model.index_of("parameter", "window_area_m2")]
        self.capacity = np.maximum(np.round(window / 2.0), 2.0)
        self.setpoint = np.full(n, 21.0)
        self.max_heat_kw = np.maximum(group.p[:, 0] / 75.0, 5.0)  # 40 kW for 3000 kJ/K
        self.integral = np.zeros(n)
        self.co2 = np.full(n, _CO2_OUTDOOR + 30.0)
        self.humidity = np.full(n, _RH_BASE)
        m = group.model
        self._cols = [
            m.index_of("input", name)
            for name in ("outdoor_temp_c", "occupancy", "solar_w_m2", "hvac_power_kw")
        ]
        self._temp = m.index_of("state", "zone_temp_c")

    @property
    def hvac_kw(self) -> FloatArray:
        return self.group.u[:, self._cols[3]]

    def update(self, hour: float, dt: float) -> None:
        """Set the model inputs for the next ``dt`` seconds and move the indoor air on."""
        g = self.group
        temp = g.x[:, self._temp]
        share = occupancy_share(hour)
        people = self.capacity * share
        error = self.setpoint - temp
        raw = _KP_KW_PER_K * error + self.integral
        power = np.clip(raw, -self.max_heat_kw, self.max_heat_kw)
        # anti-windup: integrate only while the output is not saturated in that direction
        free = (raw == power) | (np.sign(error) != np.sign(raw))
        self.integral += np.where(free, _KI_KW_PER_KS * error * dt, 0.0)
        out, occ, sun, hvac = self._cols
        g.u[:, out] = self.weather.outdoor_c(hour)
        g.u[:, occ] = people
        g.u[:, sun] = self.weather.solar_w_m2(hour)
        g.u[:, hvac] = power
        co2_target = _CO2_OUTDOOR + _CO2_FULL_RISE * share
        rh_target = _RH_BASE + _RH_FULL_RISE * share - 0.8 * (temp - 21.0)
        self.co2 += (co2_target - self.co2) * (1.0 - math.exp(-dt / _CO2_TAU_S))
        self.humidity += (rh_target - self.humidity) * (1.0 - math.exp(-dt / _RH_TAU_S))
