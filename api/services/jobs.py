"""Long analytics jobs: anomaly training and energy optimisation, on the job runner.

Contract:

- ``JobService.train_anomaly_model(asset_id, start, end, seed, who)`` and
  ``JobService.optimize_energy(request, who)`` check the request (the cheap part: a bad
  window, an unknown asset, too large a problem are coded errors at once, and no job is
  made), record a ``Job`` in the graph (status ``queued``, bound to its asset, so its
  scope is its asset's) and answer it at once; the work goes on in the background: its
  I/O on the event loop, its numeric part in the job runner's process pool
  (``api.services.simulation.jobs.JobRunner``, shared with simulation runs, with the
  same slots, cancel flags and progress through shared memory).
- Progress is a fraction in [0, 1] and a phase name (``reading``, ``training``,
  ``saving``; ``optimising``, ``storing``); each change is published to ``watch``ers
  (bounded queues that keep the newest tick) and written to the record at most every
  second and at every phase change.
- The job ends ``succeeded`` with its result in the record (``{"modelId"}`` for a
  training, ``api.services.energy.plan_dict`` for an optimisation), ``failed`` with the
  coded error (``errorCode``, ``message``; ``INTERNAL`` for an unexpected one, logged) or
  ``cancelled``. ``cancel`` asks a live job to stop at its next report (in the pool,
  through the runner's cancel flag); a job left queued or running by a process that
  stopped is failed at start-up (``UNAVAILABLE``, "interrupted").

Jobs live in this process: another instance's jobs are seen through their records only
(status, result), not followed live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.services.energy import EnergyRequest, EnergyService, plan_dict
from api.services.health import HealthService
from api.services.progress import ProgressBoard
from api.services.simulation.jobs import JobRunner
from graph.bolt.jobs import TERMINAL, JobRecord, JobRepository
from graph.errors import TwinqlError
from graph.timeutil import iso, utcnow
from sim import Cancelled

__all__ = ["JobService", "JobUpdate"]

log = logging.getLogger("twinql.jobs")
PERSIST_EVERY_S = 1.0
TRAINING = "anomaly_training"
ENERGY = "energy_optimisation"
# The role each kind needs (to start it, and to cancel it).
ROLE_OF = {TRAINING: "engineer", ENERGY: "operator"}


@dataclass(frozen=True, slots=True)
class JobUpdate:
    job_id: str
    kind: str
    status: str
    progress: float
    phase: str
    message: str = ""
    error_code: str | None = None

    @classmethod
    def of(cls, r: JobRecord) -> JobUpdate:
        return cls(r.id, r.kind, r.status, r.progress, r.phase, r.message, r.error_code)


class _Run:
    """One live job: its progress reports and its numeric work in the pool."""

    def __init__(self, service: JobService, record: JobRecord) -> None:
        self.service = service
        self.record = record
        self.phase = "queued"
        self.progress = 0.0
        self.started = False
        self.last_write = 0.0

    def check(self) -> None:
        s, job_id = self.service, self.record.id
        if job_id in s._cancel_asked or job_id in s._stopping:
            raise Cancelled("cancelled")

    async def report(self, phase: str, fraction: float) -> None:
        self.check()
        fraction = min(1.0, max(self.progress, float(fraction)))
        changed = phase != self.phase or not self.started
        self.phase, self.progress = phase, fraction
        s = self.service
        s._publish(JobUpdate(self.record.id, self.record.kind, "running", fraction, phase))
        now = time.monotonic()
        if changed or now - self.last_write >= PERSIST_EVERY_S:
            self.last_write = now
            first = not self.started
            self.started = True
            await s.repo.update(
                self.record.id,
                status="running",
                progress=fraction,
                phase=phase,
                started_at=utcnow() if first else None,
            )

    async def compute(
        self, phase: str, span: tuple[float, float], fn: Callable[..., Any], *args: Any
    ) -> Any:
        """``fn(hook, *args)`` in the runner's pool, its progress mapped into ``span``."""
        self.check()
        lo, hi = span
        await self.report(phase, lo)

        async def on_progress(f: float) -> None:
            await self.report(phase, lo + (hi - lo) * f)

        return await self.service.runner.run(self.record.id, fn, *args, on_progress=on_progress)


class JobService:
    def __init__(
        self,
        repo: JobRepository,
        runner: JobRunner,
        health: HealthService,
        energy: EnergyService,
    ) -> None:
        self.repo = repo
        self.runner = runner
        self._health = health
        self._energy = energy
        self._board: ProgressBoard[JobUpdate] = ProgressBoard()
        self._live: dict[str, asyncio.Task[None]] = {}
        self._cancel_asked: set[str] = set()  # by cancelJob
        self._stopping: set[str] = set()  # by the service's shutdown

    # -- starting ----------------------------------------------------------------------
    async def train_anomaly_model(
        self, asset_id: str, start: datetime, end: datetime, seed: int, who: str
    ) -> JobRecord:
        health = self._health
        await health.check_training(asset_id, start, end)
        params = {"from": iso(start), "to": iso(end), "seed": seed}

        async def body(run: _Run) -> dict[str, Any]:
            async def compute(fn: Callable[..., Any], *args: Any) -> Any:
                return await run.compute("training", (0.3, 0.9), fn, *args)

            model = await health.train_anomaly_model(
                asset_id, start, end, seed=seed, phase=run.report, compute=compute
            )
            log.info("anomaly model %s v%d of %s trained by %s (job %s)", model.id,
                     model.version, asset_id, who, run.record.id)  # fmt: skip
            return {"modelId": model.id, "version": model.version}

        return await self._submit(TRAINING, asset_id, who, params, body)

    async def optimize_energy(self, req: EnergyRequest, who: str) -> JobRecord:
        energy = self._energy
        prepared = await energy.prepare(req)
        params = {
            "start": iso(req.start),
            "horizonHours": req.horizon_hours,
            "stepMinutes": req.step_minutes,
            "zones": [z.zone_id for z in prepared.zones],
            "comfortC": list(req.comfort_c),
            "setbackC": list(req.setback_c),
        }

        async def body(run: _Run) -> dict[str, Any]:
            async def compute(fn: Callable[..., Any], *args: Any) -> Any:
                return await run.compute("optimising", (0.0, 0.95), fn, *args)

            plan = await energy.solve(prepared, compute)
            await run.report("storing", 0.95)
            return await asyncio.to_thread(plan_dict, plan)

        return await self._submit(ENERGY, req.asset_id, who, params, body)

    async def _submit(
        self,
        kind: str,
        asset_id: str,
        who: str,
        params: dict[str, Any],
        body: Callable[[_Run], Awaitable[dict[str, Any]]],
    ) -> JobRecord:
        record = JobRecord(
            id=f"job-{uuid.uuid4().hex[:20]}",
            asset_id=asset_id,
            kind=kind,
            status="queued",
            created_at=utcnow(),
            params=params,
            created_by=who,
        )
        await self.repo.create(record)
        task = asyncio.create_task(self._execute(_Run(self, record), body), name=record.id)
        self._live[record.id] = task
        return record

    async def _execute(self, run: _Run, body: Callable[[_Run], Awaitable[dict[str, Any]]]) -> None:
        job_id = run.record.id
        try:
            result = await body(run)
            await self._finish(run, "succeeded", 1.0, "", None, result)
        except Cancelled:
            why = "cancelled: the service stopped" if job_id in self._stopping else "cancelled"
            await self._finish(run, "cancelled", run.progress, why, "CANCELLED", None)
        except TwinqlError as exc:
            await self._finish(run, "failed", run.progress, exc.message, exc.code, None)
        except asyncio.CancelledError:
            await self._finish(run, "cancelled", run.progress, "the service stopped", "CANCELLED",
                               None)  # fmt: skip
            raise
        except Exception:
            log.exception("job %s (%s) failed", job_id, run.record.kind)
            await self._finish(run, "failed", run.progress, "internal error (see the service log)",
                               "INTERNAL", None)  # fmt: skip
        finally:
            self._live.pop(job_id, None)
            self._cancel_asked.discard(job_id)
            self._stopping.discard(job_id)

    async def _finish(
        self,
        run: _Run,
        status: str,
        progress: float,
        message: str,
        code: str | None,
        result: dict[str, Any] | None,
    ) -> None:
        phase = "done" if status == "succeeded" else run.phase
        try:
            await self.repo.update(
                run.record.id,
                status=status,
                progress=progress,
                phase=phase,
                message=message,
                error_code=code,
                result=result,
                finished_at=utcnow(),
            )
        finally:
            self._publish(
                JobUpdate(run.record.id, run.record.kind, status, progress, phase, message, code)
            )

    # -- following and stopping ----------------------------------------------------------
    async def get(self, job_id: str) -> JobRecord:
        return await self.repo.get(job_id)

    async def cancel(self, job_id: str) -> JobRecord:
        """Ask a live job to stop; a job left unfinished by a stopped process is closed
        here; a finished one is answered as it is."""
        record = await self.repo.get(job_id)
        if record.status in TERMINAL:
            return record
        if job_id in self._live:
            self._cancel_asked.add(job_id)
            self.runner.cancel(job_id)
            return record
        await self.repo.update(
            job_id,
            status="cancelled",
            progress=record.progress,
            phase=record.phase,
            message="cancelled (no live job)",
            error_code="CANCELLED",
            finished_at=utcnow(),
        )
        return await self.repo.get(job_id)

    def _publish(self, update: JobUpdate) -> None:
        self._board.publish(update.job_id, update)

    async def watch(self, job_id: str) -> AsyncIterator[JobUpdate]:
        """The job's current state, then each change until it ends."""

        async def current() -> JobUpdate:
            return JobUpdate.of(await self.repo.get(job_id))

        async for update in self._board.watch(
            job_id,
            current,
            live=lambda: job_id in self._live,
            done=lambda u: u.status in TERMINAL,
        ):
            yield update

    async def wait(self, job_id: str) -> None:
        """Until the job running here has ended (tests, the CLI)."""
        task = self._live.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def aclose(self) -> None:
        """Stop the live jobs (each is recorded cancelled) before the runner shuts down."""
        tasks = list(self._live.values())
        for job_id in list(self._live):
            self._stopping.add(job_id)
            self.runner.cancel(job_id)
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
