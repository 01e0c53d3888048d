"""The job runner: long computations in a small process pool, off the event loop.

Each job gets a *slot* in two arrays of shared memory created with the pool: the worker
writes its progress there (``-1`` queued, ``0..1`` running) and reads its cancel flag
from there, through the progress hook it hands to ``sim`` (``sim.Cancelled`` ends the
computation at the next chunk). The event loop polls the slots of running jobs a few
times a second and tells the job's ``on_progress`` callback. Slots are bounded: more
jobs than slots is refused with ``Unavailable`` rather than queued without limit. A slot
is freed only once its worker has stopped: when the task awaiting a job is cancelled
(a client went away), the job's cancel flag is set and the slot stays taken until the
worker returns, so no later job inherits its progress or its cancel flag.

Worker functions take ``(hook, *args)``; they must be importable top-level functions
(the pool uses the ``spawn`` start method: no fork of a process that holds threads and
sockets). Each worker keeps numba's compiled code in ``JobSettings.numba_cache_dir``
(``sim.fastpath.use_cache_dir``), never in the installed package. A cancelled job's future resolves to ``Cancelled``; a ``TwinqlError`` raised in
the worker comes back with its code and message.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing as mp
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.errors import TwinqlError, Unavailable
from sim import Cancelled
from sim.fastpath import use_cache_dir

__all__ = ["JobRunner", "JobSettings"]

log = logging.getLogger(__name__)

_progress: Any = None
_cancel: Any = None


def _init_worker(progress: Any, cancel: Any, numba_cache_dir: Path | None) -> None:
    global _progress, _cancel
    _progress, _cancel = progress, cancel
    if numba_cache_dir is not None:
        use_cache_dir(numba_cache_dir)


def _hook(slot: int) -> Callable[[float], None]:
    def hook(fraction: float) -> None:
        if _cancel[slot]:
            raise Cancelled("cancelled", details={"progress": float(fraction)})
        _progress[slot] = min(1.0, max(0.0, float(fraction)))

    return hook


def _run(slot: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    """In the worker: run ``fn(hook, *args)``; errors travel back as plain data."""
    hook = _hook(slot)
    try:
        hook(0.0)
        return "ok", fn(hook, *args)
    except Cancelled as exc:
        return "cancelled", exc.message
    except TwinqlError as exc:
        return "error", (exc.code, exc.message)


@dataclass(frozen=True, slots=True)
class JobSettings:
    workers: int = 2
    slots: int = 16  # jobs queued or running at once
    poll_s: float = 0.2
    numba_cache_dir: Path | None = None  # None: sim.fastpath's default (never the package)


class JobError(TwinqlError):
    """A coded error raised inside a worker, re-raised in the service."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class JobRunner:
    def __init__(self, settings: JobSettings = JobSettings()) -> None:
        self.settings = settings
        ctx = mp.get_context("spawn")
        self._progress = ctx.Array(ctypes.c_double, settings.slots, lock=False)
        self._cancel = ctx.Array(ctypes.c_bool, settings.slots, lock=False)
        self._pool = ProcessPoolExecutor(
            max_workers=settings.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self._progress, self._cancel, settings.numba_cache_dir),
        )
        self._free = list(range(settings.slots))
        self._jobs: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def active(self) -> set[str]:
        return set(self._jobs)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; False when it is not running here."""
        slot = self._jobs.get(job_id)
        if slot is None:
            return False
        self._cancel[slot] = True
        return True

    async def run(
        self,
        job_id: str,
        fn: Callable[..., Any],
        *args: Any,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> Any:
        """Run ``fn(hook, *args)`` in the pool and return its result; raises ``Cancelled``
        when cancelled, the worker's coded error, or ``Unavailable`` when full."""
        if self._closed:
            raise Unavailable("the job runner is shut down")
        if job_id in self._jobs:
            raise Unavailable(f"job {job_id} is already running")
        if not self._free:
            raise Unavailable(
                f"{self.settings.slots} jobs (simulations and analytics) are queued or running: "
                "try again later"
            )
        slot = self._free.pop()
        self._progress[slot] = -1.0
        self._cancel[slot] = False
        self._jobs[job_id] = slot
        try:
            pending = self._pool.submit(_run, slot, fn, args)
        except BaseException:
            self._release(job_id, slot)
            raise
        future = asyncio.wrap_future(pending)
        try:
            seen = -1.0
            while not future.done():
                await asyncio.wait({future}, timeout=self.settings.poll_s)
                now = float(self._progress[slot])
                if on_progress is not None and now != seen and now >= 0:
                    seen = now
                    try:
                        await on_progress(now)
                    except Exception:
                        log.exception("progress callback of job %s failed", job_id)
        except BaseException:
            # the awaiting task was cancelled (a client went away) while the worker may
            # still run: stop it, and keep its slot until it has really stopped, so no
            # later job shares its progress and cancel flag
            self._cancel[slot] = True
            pending.cancel()  # a job still queued in the pool never starts
            if future.done():
                self._release(job_id, slot)
            else:
                future.add_done_callback(lambda f: self._stopped(job_id, slot, f))
            raise
        self._release(job_id, slot)
        kind, value = future.result()
        if kind == "cancelled":
            raise Cancelled(str(value))
        if kind == "error":
            raise JobError(*value)
        return value

    def _release(self, job_id: str, slot: int) -> None:
        del self._jobs[job_id]
        self._free.append(slot)

    def _stopped(self, job_id: str, slot: int, future: asyncio.Future[Any]) -> None:
        """A job whose caller went away has stopped: free its slot, log a failure."""
        self._release(job_id, slot)
        if not future.cancelled() and future.exception() is not None:
            log.warning("abandoned job %s failed: %r", job_id, future.exception())

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Keep a background task alive until it ends (and until ``aclose``)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        self._closed = True
        for slot in self._jobs.values():
            self._cancel[slot] = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
