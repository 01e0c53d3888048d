"""Domain types validate themselves (pure unit tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.errors import ValidationError
from graph.model import Actuator, Asset, MaintenanceEvent, Sensor, SensorBinding


def test_alarm_levels_lie_within_the_range_and_in_order() -> None:
    Sensor("s", "a", "S", "vibration", "mm/s", 0, 20, warn_high=5.5)
    with pytest.raises(ValidationError, match="outside its range"):
        Sensor("s", "a", "S", "vibration", "mm/s", 0, 20, warn_high=25)
    with pytest.raises(ValidationError, match="above maxValue"):
        Sensor("s", "a", "S", "t", "C", 0, 100, warn_low=60, warn_high=50)


def test_setpoints_are_checked_against_actuator_limits() -> None:
    x = Actuator("x", "a", "Speed", "rpm", 0, 3000)
    x.check_value(2900)
    for bad in (3000.5, -1, float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            x.check_value(bad)


def test_ids_levels_and_bindings() -> None:
    with pytest.raises(ValidationError, match="asset id"):
        Asset("bad id!", "X", "pump", "equipment")
    with pytest.raises(ValidationError, match="asset level"):
        Asset("a", "X", "pump", "floor")
    with pytest.raises(ValidationError, match="own parent"):
        Asset("a", "X", "pump", "equipment", parent_id="a")
    with pytest.raises(ValidationError, match="scale cannot be 0"):
        SensorBinding("src", "s", "hr:1", scale=0)
    assert SensorBinding("src", "s", "hr:1", scale=0.1, offset=-5).scale == 0.1


def test_descriptions_are_bounded() -> None:
    """A description of megabytes stalls the embedded graph server: refuse it up front."""
    Asset("a", "A", "pump", "equipment", description="d" * 10_000)
    with pytest.raises(ValidationError, match="at most 10000 characters"):
        Asset("a", "A", "pump", "equipment", description="d" * 10_001)
    with pytest.raises(ValidationError, match="maintenance description"):
        MaintenanceEvent("m", "a", "repair", datetime.now(UTC), description="d" * 20_000)
