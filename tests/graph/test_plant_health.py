"""Plant files: sensor failure limits and the maintenance kind vocabulary."""

from __future__ import annotations

import pytest

from graph.errors import ValidationError
from graph.model import MaintenanceKind, Sensor
from graph.plantfile import dump_plant, parse_plant

BASE = """\
version: 1
assets:
  - id: pump-1
    type: pump
    level: equipment
    sensors:
      - {id: pump-1.vib, kind: vibration, unit: mm/s, min_value: 0, max_value: 20, warn_high: 5.5, fail_high: 11}
      - {id: pump-1.temp, kind: temperature, unit: C, min_value: -20, max_value: 120, warn_low: 5, warn_high: 62, fail_low: -5, fail_high: 85}
maintenance:
  - {id: mx-1, asset: pump-1, kind: replacement, at: "2025-01-01T00:00:00Z"}
  - {id: mx-2, asset: pump-1, kind: failure, at: "2025-09-01T00:00:00Z"}
"""  # noqa: E501


def _faults(text: str) -> list[dict[str, object]]:
    with pytest.raises(ValidationError) as info:
        parse_plant(text, source_name="plant.yaml")
    errors = info.value.details["errors"]
    assert isinstance(errors, list)
    return errors


def test_failure_limits_and_kinds_parse_and_round_trip() -> None:
    plant = parse_plant(BASE)
    vib, temp = sorted(plant.sensors, key=lambda s: s.id)[::-1]
    assert (vib.id, vib.warn_high, vib.fail_low, vib.fail_high) == ("pump-1.vib", 5.5, None, 11)
    assert (temp.fail_low, temp.fail_high) == (-5, 85)
    assert [e.kind for e in plant.maintenance] == [
        MaintenanceKind.REPLACEMENT,
        MaintenanceKind.FAILURE,
    ]
    assert all(e.kind.renews for e in plant.maintenance)
    text = dump_plant(plant)
    assert "fail_high: 11" in text and "kind: failure" in text
    assert parse_plant(text).same_content(plant)


@pytest.mark.parametrize(
    ("old", "new", "path", "part"),
    [
        ("fail_high: 11", "fail_high: 25", "assets[0].sensors[0].fail_high",
         "outside its range [0, 20]"),
        ("fail_high: 11", "fail_high: 4", "assets[0].sensors[0].fail_high",
         "below its warning level 5.5"),
        ("fail_low: -5", "fail_low: 10", "assets[0].sensors[1].fail_low",
         "above its warning level 5"),
        ("fail_low: -5, fail_high: 85", "fail_low: 90, fail_high: 85",
         "assets[0].sensors[1].fail_low", "must be below fail_high"),
        ("fail_high: 11", "fail_high: high", "assets[0].sensors[0].fail_high",
         "expected a number"),
        ("fail_high: 11", "fail_hihg: 11", "assets[0].sensors[0].fail_hihg",
         "did you mean 'fail_high'"),
        ("kind: failure", "kind: failiure", "maintenance[1].kind", "did you mean 'failure'"),
        ("kind: failure", "kind: overhaul", "maintenance[1].kind",
         "expected one of failure, replacement, repair, inspection, check, preventive"),
    ],
)  # fmt: skip
def test_faults_name_the_field(old: str, new: str, path: str, part: str) -> None:
    assert old in BASE
    errors = _faults(BASE.replace(old, new, 1))
    hits = [e for e in errors if e["path"] == path]
    assert hits, errors
    assert part in str(hits[0]["message"])
    assert isinstance(hits[0]["line"], int)


def test_existing_kinds_stay_valid() -> None:
    """Kinds the example plant, the benchmarks and older records use."""
    for kind in ("inspection", "repair", "seal_replacement", "filter_replacement", "lubrication",
                 "calibration", "bearing_replacement", "check", "preventive"):  # fmt: skip
        assert MaintenanceKind.parse(kind).value == kind
        assert not MaintenanceKind.parse(kind).renews


def test_failure_limit_ordering() -> None:
    """min <= fail_low <= warn_low <= warn_high <= fail_high <= max, where given."""
    ok = Sensor("s", "a", "S", "t", "C", -20, 120, None, 0, 60, -10, 80)
    assert (ok.fail_low, ok.fail_high) == (-10, 80)
    Sensor("s", "a", "S", "t", "C", None, None, fail_low=-1e9, fail_high=1e9)  # open range
    Sensor("s", "a", "S", "t", "C", 0, 100, warn_high=60, fail_high=60)  # trip at the alarm
    with pytest.raises(ValidationError, match="fail_low 70 is above its warning level 60"):
        Sensor("s", "a", "S", "t", "C", 0, 100, warn_high=60, fail_low=70)
    with pytest.raises(ValidationError, match="finite"):
        Sensor("s", "a", "S", "t", "C", 0, 100, fail_high=float("nan"))
