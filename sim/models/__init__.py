"""The built-in physics models."""

from sim.models.hvac import HvacZoneModel
from sim.models.pump import PumpModel
from sim.models.tank import TankModel
from sim.models.thermal import MotorThermalModel
from sim.models.valve import ValveModel

__all__ = ["HvacZoneModel", "MotorThermalModel", "PumpModel", "TankModel", "ValveModel"]
