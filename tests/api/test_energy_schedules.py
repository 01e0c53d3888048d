"""Applied energy schedules on disk: the past-due rule and the file's round trip (the
restart itself, against a Modbus device, is in tests/api/test_operations_api.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.services.auth import Principal
from api.services.energy_schedules import AppliedSchedule, ScheduleFile, ZoneSteps
from graph.errors import ValidationError

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def schedule(states: list[str]) -> AppliedSchedule:
    return AppliedSchedule(
        id="energy-1",
        start=T0,
        step_s=900.0,
        steps=len(states),
        principal=Principal("olga", "operator", ("site-a",)),
        reason="peak",
        zones={"z": ZoneSteps("z", "z.sp", [21.0 + k for k in range(len(states))], states)},
    )


def test_steps_whose_slot_has_ended_are_skipped_and_the_current_one_stays_due() -> None:
    app = schedule(["written", "pending", "pending", "pending"])
    now = T0 + timedelta(minutes=31)  # in the third slot (30-45 min)
    assert app.slot(now) == 2 and app.at(2) == T0 + timedelta(minutes=30)
    app.skip_before(app.slot(now))
    assert app.zones["z"].states == ["written", "skipped", "pending", "pending"]
    assert app.pending
    app.skip_before(app.slot(T0 + timedelta(hours=2)))  # after the end: nothing left
    assert app.zones["z"].states == ["written", "skipped", "skipped", "skipped"]
    assert not app.pending
    assert schedule(["pending"]).slot(T0 - timedelta(seconds=1)) == -1


def test_the_file_round_trips_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    f = ScheduleFile(tmp_path / "energy" / "schedules.json")
    assert f.load() == []
    app = schedule(["written", "pending"])
    f.save([app])
    (back,) = f.load()
    assert back.to_json() == app.to_json()
    assert back.principal == Principal("olga", "operator", ("site-a",))
    f.path.write_text('{"version": 1, "applications": [{"id": "x"}]}')
    with pytest.raises(ValidationError, match="not a valid energy schedule file"):
        f.load()
    aside = f.set_aside()
    assert aside.is_file() and not f.path.exists() and f.load() == []
