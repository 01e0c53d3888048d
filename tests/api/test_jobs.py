"""The job runner with a real process pool: a caller that goes away stops its job."""

from __future__ import annotations

import asyncio

import pytest

from api.services.simulation.jobs import JobRunner, JobSettings
from api.services.simulation.work import work_scenario
from sim import Scenario, Uncertain
from tests.support.polling import eventually


async def test_cancelled_caller_stops_the_worker_and_the_next_job_starts_clean() -> None:
    # one worker, one slot: the next job can run only once the first has really stopped
    runner = JobRunner(JobSettings(workers=1, slots=1, poll_s=0.05))
    try:
        seen: list[float] = []

        async def record(fraction: float) -> None:
            seen.append(fraction)

        # a day at 10 ms for 201 scenarios: many minutes of work if nothing stops it
        long = Scenario(
            model="pump",
            horizon_s=86400.0,
            step_s=0.01,
            monte_carlo={"wear": Uncertain("uniform", (0.0, 0.5))},
            samples=200,
        )
        task = asyncio.create_task(runner.run("long", work_scenario, long, on_progress=record))
        await eventually(
            lambda: seen, within=120, every=0.05, what="the long job never reported progress"
        )
        task.cancel()  # e.g. the WebSocket of the caller closed
        with pytest.raises(asyncio.CancelledError):
            await task
        # the worker sees its cancel flag at the next chunk and returns; only then is the
        # slot free again
        since = asyncio.get_running_loop().time()
        await eventually(
            lambda: not runner.active, within=30, every=0.05, what="the worker kept running"
        )
        stopped = asyncio.get_running_loop().time() - since
        assert stopped < 30

        ticks: list[float] = []

        async def record_next(fraction: float) -> None:
            ticks.append(fraction)

        short = Scenario(model="pump", horizon_s=60.0, step_s=0.01)
        result = await asyncio.wait_for(
            runner.run("short", work_scenario, short, on_progress=record_next), 60
        )
        assert result.times[-1] == pytest.approx(60.0)
        assert ticks and ticks == sorted(ticks) and ticks[-1] == 1.0
        assert runner.active == set()
    finally:
        await runner.aclose()
