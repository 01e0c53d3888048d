"""A token limited to asset subtrees acts only there: setpoints, simulations, calibration;
what it reads is scoped too (tests/api/test_scoped_reads.py covers every field)."""

from __future__ import annotations

from tests.support.app import Api
from tests.support.plant import pump_line, register
from tests.support.tokens import SCOPED_ENGINEER


async def test_scoped_engineer_cannot_act_outside_its_subtree(api: Api, uid: str) -> None:
    await register(api, pump_line(uid, pumps=1))
    pump = f"{uid}-p0"
    run = await api.gql(
        'mutation { runSimulation(assetId: "%s", scenario: {model: "pump", horizonSeconds: 10}) '
        "{ id } }" % pump,
        token=SCOPED_ENGINEER,
    )
    assert run["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "outside" in run["errors"][0]["message"]
    fit = await api.gql(
        'mutation { calibrateModel(assetId: "%s", parameters: ["wear"], '
        'from: "2026-01-01T00:00:00Z", to: "2026-01-01T01:00:00Z") { success } }' % pump,
        token=SCOPED_ENGINEER,
    )
    assert fit["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    write = await api.gql(
        'mutation { writeSetpoint(actuatorId: "%s-sp", value: 100, reason: "x") { status } }'
        % pump,
        token=SCOPED_ENGINEER,
    )
    assert write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Reads are scoped too: outside its subtree the asset is as unknown to it.
    data = await api.ok('query { asset(id: "%s") { id } }' % pump, token=SCOPED_ENGINEER)
    assert data["asset"] is None
