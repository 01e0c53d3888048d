"""The service's job workers keep numba's compiled code in the configured cache directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.services.container import numba_cache_dir
from api.services.simulation.jobs import JobRunner, JobSettings
from api.services.simulation.work import work_scenario
from api.settings import Settings
from sim import Scenario


def test_the_setting_follows_twinql_then_xdg_then_home() -> None:
    def where(env: dict[str, str]) -> Path:
        return numba_cache_dir(Settings.from_env(env))

    assert where({}) == Path.home() / ".cache" / "twinql" / "numba"
    assert where({"XDG_CACHE_HOME": "/x"}) == Path("/x/twinql/numba")
    assert where({"XDG_CACHE_HOME": "/x", "TWINQL_NUMBA_CACHE_DIR": "/y/n"}) == Path("/y/n")


async def test_workers_compile_into_the_configured_directory(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    runner = JobRunner(JobSettings(workers=1, slots=1, poll_s=0.05, numba_cache_dir=cache))
    try:
        scenario = Scenario(model="pump", horizon_s=20.0)
        assert scenario.solver == "dopri5"
        result = await asyncio.wait_for(runner.run("one", work_scenario, scenario), 240)
        assert result.times[-1] == 20.0
    finally:
        await runner.aclose()
    names = {p.name.split("-")[0] for p in cache.rglob("*.nbi")}
    assert {"dopri._advance__sim_models_pump_PumpModel", "pump.PumpModel.kernel"} <= names, names
