"""Applied energy schedules as data, and their file in the data directory.

An ``AppliedSchedule`` is one ``applyEnergySchedule``: its start, step, the principal
that applied it (its writes act with that authority, re-checked by the control service
at every write), and per zone the actuator, the setpoints and each step's state:

- ``pending``: not yet due (or due now);
- ``written``: sent through the control service (the ``SetpointCommand`` in the audit
  trail says whether the device confirmed it);
- ``failed``: the control service refused it (its error is logged; a refused write is
  audited there too);
- ``skipped``: its time slot had ended before it could be written (a schedule applied
  with a start in the past, or twinql was stopped through the slot);
- ``cancelled``: ``cancelEnergySchedule``, or a newer schedule for the zone replaced it.

``ScheduleFile`` keeps the schedules that still have a pending step in one JSON file
(``<data dir>/energy/schedules.json``), rewritten whole on every change: written to a
temporary file, fsynced, renamed over the old one, and the directory fsynced, so a crash
leaves the old state or the new one, never a torn file. A schedule whose steps are all
done leaves the file (the audit trail keeps what was written).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from api.services.auth import Principal
from graph.errors import ValidationError

__all__ = ["STATES", "AppliedSchedule", "ScheduleFile", "ZoneSteps"]

STATES = ("pending", "written", "failed", "skipped", "cancelled")
VERSION = 1


@dataclass(slots=True)
class ZoneSteps:
    zone_id: str
    actuator_id: str
    setpoints_c: list[float]
    states: list[str]

    @property
    def pending(self) -> bool:
        return "pending" in self.states

    def cancel(self) -> None:
        self.states = ["cancelled" if s == "pending" else s for s in self.states]


@dataclass(slots=True)
class AppliedSchedule:
    id: str
    start: datetime
    step_s: float
    steps: int
    principal: Principal
    reason: str = ""
    zones: dict[str, ZoneSteps] = field(default_factory=dict)

    def at(self, k: int) -> datetime:
        return self.start + timedelta(seconds=k * self.step_s)

    def slot(self, now: datetime) -> int:
        """The step whose slot holds ``now`` (negative before the start, ``steps`` or
        more after the end)."""
        return math.floor((now - self.start).total_seconds() / self.step_s)

    @property
    def pending(self) -> bool:
        return any(z.pending for z in self.zones.values())

    def skip_before(self, k: int) -> None:
        """Steps before ``k`` still pending: their slots have ended."""
        for z in self.zones.values():
            for i in range(min(k, self.steps)):
                if z.states[i] == "pending":
                    z.states[i] = "skipped"

    def to_json(self) -> dict[str, Any]:
        p = self.principal
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "stepSeconds": self.step_s,
            "steps": self.steps,
            "reason": self.reason,
            "principal": {"name": p.name, "role": p.role, "scopes": list(p.scopes)},
            "zones": [
                {
                    "zoneId": z.zone_id,
                    "actuatorId": z.actuator_id,
                    "setpointsC": z.setpoints_c,
                    "states": z.states,
                }
                for z in self.zones.values()
            ],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AppliedSchedule:
        p = d["principal"]
        app = cls(
            id=str(d["id"]),
            start=datetime.fromisoformat(d["start"]),
            step_s=float(d["stepSeconds"]),
            steps=int(d["steps"]),
            principal=Principal(str(p["name"]), str(p["role"]), tuple(p.get("scopes", ()))),
            reason=str(d.get("reason", "")),
        )
        for z in d["zones"]:
            steps = ZoneSteps(
                str(z["zoneId"]),
                str(z["actuatorId"]),
                [float(v) for v in z["setpointsC"]],
                [str(s) for s in z["states"]],
            )
            if len(steps.states) != app.steps or len(steps.setpoints_c) != app.steps:
                raise ValidationError(f"schedule {app.id}: zone {steps.zone_id} has a bad length")
            if not set(steps.states) <= set(STATES):
                raise ValidationError(f"schedule {app.id}: unknown step state")
            app.zones[steps.zone_id] = steps
        if app.start.tzinfo is None or not app.step_s > 0:
            raise ValidationError(f"schedule {app.id}: bad start or step")
        return app


class ScheduleFile:
    """The pending schedules on disk; I/O only (call it off the event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[AppliedSchedule]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(text)
            if data.get("version") != VERSION:
                raise ValidationError(f"version {data.get('version')!r}, expected {VERSION}")
            return [AppliedSchedule.from_json(a) for a in data["applications"]]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ValidationError(f"{self.path}: not a valid energy schedule file: {exc}") from exc

    def set_aside(self) -> Path:
        """Rename an unreadable file out of the way; answers its new path."""
        aside = self.path.with_suffix(f".bad-{int(time.time())}")
        self.path.replace(aside)
        return aside

    def save(self, schedules: list[AppliedSchedule]) -> None:
        """Write-then-rename, fsynced (the file and its directory)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": VERSION, "applications": [a.to_json() for a in schedules]}
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(body, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
