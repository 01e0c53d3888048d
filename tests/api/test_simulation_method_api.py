"""The integration method through GraphQL: dopri5 by default, rk4 when a step is given,
tolerances accepted and bad values refused with VALIDATION."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.cli import EXAMPLE_PLANT
from graph.bolt.importer import import_plant
from graph.changes import RegistryChange
from graph.plantfile import load_plant_file
from tests.support.app import Api

RUN = """mutation($asset: ID!, $s: ScenarioInput!) {
  runSimulation(assetId: $asset, scenario: $s) { id status scenario }
}"""
GET = "query($id: ID!) { simulationRun(id: $id) { status message summary } }"


@pytest.fixture(scope="module")
async def example(api: Api) -> None:
    await import_plant(api.services.repo, load_plant_file(EXAMPLE_PLANT))
    await api.services.registry.publish(RegistryChange.everything())


async def _finished(api: Api, scenario: dict[str, Any]) -> dict[str, Any]:
    started = (await api.ok(RUN, {"asset": "pump-102", "s": scenario}))["runSimulation"]
    deadline = asyncio.get_running_loop().time() + 180
    while True:
        run = (await api.ok(GET, {"id": started["id"]}))["simulationRun"]
        if run["status"] in ("succeeded", "failed", "cancelled"):
            assert run["status"] == "succeeded", run
            return {"scenario": started["scenario"], **run["summary"]}
        assert asyncio.get_running_loop().time() < deadline, run
        await asyncio.sleep(0.2)


async def test_runs_default_to_dopri5_and_take_tolerances(api: Api, example: None) -> None:
    base = {"horizonSeconds": 600, "outputEverySeconds": 10}
    default = await _finished(api, base)
    assert default["method"] == "dopri5"
    assert default["scenario"]["method"] == "auto"
    assert default["stepSeconds"] is None and default["rtol"] == 1e-6
    assert default["points"] == 61
    tight = await _finished(api, {**base, "method": "dopri5", "rtol": 1e-9, "atol": 1e-9})
    assert (tight["method"], tight["rtol"], tight["atol"]) == ("dopri5", 1e-9, 1e-9)
    fixed = await _finished(api, {**base, "stepSeconds": 0.05})
    assert fixed["method"] == "rk4" and fixed["stepSeconds"] == 0.05 and fixed["rtol"] is None
    for name in ("flow_m3h", "speed_rpm", "bearing_temp_c"):
        a, b = tight["outputs"][name]["final"], fixed["outputs"][name]["final"]
        assert a == pytest.approx(b, rel=1e-6), name


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ({"method": "euler"}, "method"),
        ({"rtol": 0.0}, "rtol"),
        ({"rtol": 2.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"method": "dopri5", "stepSeconds": 0.1}, "step"),
        ({"stepSeconds": 0.0}, "step_s"),
    ],
)
async def test_bad_method_or_tolerance_is_a_validation_error(
    api: Api, example: None, bad: dict[str, Any], said: str
) -> None:
    body = await api.gql(RUN, {"asset": "pump-102", "s": {"horizonSeconds": 60, **bad}})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION", err
    assert said in err["message"], err
