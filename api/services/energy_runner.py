"""The timers of applied energy schedules, and their file.

``ScheduleRunner`` takes schedules that ``api.services.energy.EnergyService.apply`` has
checked (``start``), writes each step at its start through ``ControlService`` (audited,
with the authority of the principal that applied it, re-checked at every write), keeps
every step's state in ``api.services.energy_schedules.ScheduleFile`` at each change, and
takes the file up again at start-up (``resume``): steps whose slot has ended are
skipped, the step in force is written at once, later ones at their start. One timer per
schedule; a schedule with no pending step left leaves the runner and the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from api.services.control import ControlService
from api.services.energy_schedules import AppliedSchedule, ScheduleFile
from graph.bolt.commands import SetpointCommand
from graph.errors import TwinqlError, ValidationError
from graph.timeutil import utcnow

__all__ = ["ScheduleRunner"]

log = logging.getLogger("twinql.api.energy")


class ScheduleRunner:
    def __init__(self, control: ControlService, file: Path | None = None) -> None:
        self._control = control
        self._file = ScheduleFile(file) if file is not None else None
        self._saving = asyncio.Lock()
        self._apps: dict[str, AppliedSchedule] = {}  # with a pending step
        self._zone_app: dict[str, str] = {}  # zone -> the schedule running there
        self._tasks: dict[str, asyncio.Task[None]] = {}  # schedule -> its timer

    async def start(self, app: AppliedSchedule) -> list[SetpointCommand]:
        """Take a checked schedule: it replaces the ones running on its zones; steps
        whose slot has ended are skipped, the step in force now is written (answered),
        later ones are left to its timer. Durable before the first write."""
        current = app.slot(utcnow())
        app.skip_before(current)
        for z in app.zones:
            self._release(z)
        if app.pending:
            self._track(app)
        await self._save()
        written: list[SetpointCommand] = []
        if 0 <= current < app.steps:
            written = await self._write_step(app, current)
            if not app.pending:
                self._forget(app)
            await self._save()
        if app.pending:
            self._start(app, current + 1)
        return written

    async def _write_step(self, app: AppliedSchedule, k: int) -> list[SetpointCommand]:
        """Write step ``k`` of every zone still pending there; each state is updated."""
        written = []
        for z in list(app.zones.values()):
            if z.states[k] != "pending":
                continue
            why = f"energy schedule {app.id}, step {k + 1}/{app.steps}" + (
                f": {app.reason}" if app.reason else ""
            )
            try:
                cmd = await self._control.write_setpoint(
                    app.principal, z.actuator_id, z.setpoints_c[k], why
                )
            except TwinqlError as exc:  # audited by the control service; go on
                z.states[k] = "failed"
                log.warning("energy schedule %s step %d on %s: %s", app.id, k, z.actuator_id, exc)
                continue
            z.states[k] = "written"
            written.append(cmd)
        return written

    def _track(self, app: AppliedSchedule) -> None:
        self._apps[app.id] = app
        for z in app.zones:
            self._zone_app[z] = app.id

    def _start(self, app: AppliedSchedule, first: int) -> None:
        self._tasks[app.id] = asyncio.create_task(self._run(app, first), name=app.id)

    async def _run(self, app: AppliedSchedule, first: int) -> None:
        """Write each later step at its start; a step whose slot has ended by the time
        the loop gets to it (a stalled loop) is skipped, not written late."""
        try:
            for k in range(max(first, 0), app.steps):
                if not app.pending:
                    break
                await asyncio.sleep(max(0.0, (app.at(k) - utcnow()).total_seconds()))
                if app.slot(utcnow()) > k:
                    app.skip_before(k + 1)
                else:
                    await self._write_step(app, k)
                if not app.pending:
                    self._forget(app)
                await self._save()
        finally:
            if self._tasks.get(app.id) is asyncio.current_task():
                del self._tasks[app.id]

    def _forget(self, app: AppliedSchedule) -> None:
        self._apps.pop(app.id, None)
        for z in app.zones:
            if self._zone_app.get(z) == app.id:
                del self._zone_app[z]

    def _release(self, zone_id: str) -> None:
        """Take a zone off the schedule running there (its pending steps are cancelled)."""
        app_id = self._zone_app.pop(zone_id, None)
        app = self._apps.get(app_id or "")
        if app is None:
            return
        app.zones.pop(zone_id).cancel()
        if not app.pending:
            self._forget(app)
            task = self._tasks.pop(app.id, None)
            if task is not None:
                task.cancel()

    async def _save(self) -> None:
        if self._file is None:
            return
        async with self._saving:
            await asyncio.to_thread(self._file.save, list(self._apps.values()))

    async def resume(self) -> int:
        """At start-up: take up the schedules the file holds. Steps whose slot has ended
        are skipped; the step in force now is written at once; later ones at their start.
        Answers how many schedules were resumed."""
        if self._file is None:
            return 0
        try:
            found = await asyncio.to_thread(self._file.load)
        except ValidationError as exc:  # keep the file for a person, start without it
            aside = await asyncio.to_thread(self._file.set_aside)
            log.error("energy schedules not resumed: %s (kept as %s)", exc.message, aside)
            return 0
        now = utcnow()
        for app in found:
            app.skip_before(app.slot(now))
            if app.pending:
                self._track(app)
        await self._save()
        for app in list(self._apps.values()):
            k = app.slot(now)
            log.info("energy schedule %s resumed at step %d/%d on %s", app.id, k + 1,
                     app.steps, ", ".join(app.zones))  # fmt: skip
            self._start(app, k)
        return len(self._apps)

    async def cancel(self, zone_ids: list[str]) -> list[str]:
        """Stop the schedules running on these zones; the zones whose schedule stopped."""
        stopped = [z for z in dict.fromkeys(zone_ids) if z in self._zone_app]
        for z in stopped:
            self._release(z)
        if stopped:
            await self._save()
        return stopped

    def running(self) -> list[str]:
        """Zones with a schedule still running."""
        return sorted(self._zone_app)

    def schedule_of(self, zone_id: str) -> AppliedSchedule | None:
        """The schedule running on a zone, with each step's state."""
        return self._apps.get(self._zone_app.get(zone_id, ""))

    async def aclose(self) -> None:
        """Stop the timers; pending steps stay pending in the file, for the next start."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
