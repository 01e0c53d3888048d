"""Lookup tables of the demo plant: sensor kinds to model outputs, measurement noise."""

from __future__ import annotations

__all__ = ["KIND_OUTPUT", "NOISE", "target_of"]

# a simulated asset's sensor that no state_map names reads the model output of its kind
KIND_OUTPUT = {
    "pump": {
        "pressure": "discharge_pressure_bar",
        "flow": "flow_m3h",
        "vibration": "vibration_mm_s",
        "temperature": "bearing_temp_c",
        "power": "power_kw",
        "speed": "speed_rpm",
    },
    "motor_thermal": {"temperature": "bearing_temp_c", "vibration": "vibration_mm_s"},
    "tank": {"level": "level_m"},
    "hvac_zone": {"temperature": "zone_temp_c"},
}
# measurement noise by sensor kind: (absolute sigma, relative sigma)
NOISE = {
    "vibration": (0.02, 0.04),
    "pressure": (0.01, 0.004),
    "flow": (0.3, 0.004),
    "power": (0.05, 0.01),
    "temperature": (0.05, 0.0),
    "speed": (0.5, 0.0005),
    "level": (0.003, 0.0),
    "humidity": (0.3, 0.0),
    "co2": (4.0, 0.0),
    "position": (0.05, 0.0),
    "voltage": (0.6, 0.0),
}


def target_of(target: object) -> tuple[str, float, float]:
    """A state_map/input_map target as ``(name, scale, offset)``."""
    if isinstance(target, tuple):
        name, scale, offset = target
        return str(name), float(scale), float(offset)
    return str(target), 1.0, 0.0
