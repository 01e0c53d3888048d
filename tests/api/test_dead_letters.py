"""Refused readings are kept with their raw payload and reason, and can be inspected."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.app import Api
from tests.support.plant import pump_line, register
from tests.support.tokens import INGEST


@pytest.fixture
def api(readings_api: Api) -> Api:
    """Every test here runs on each readings store (QuestDB when TWINQL_QUESTDB_URL is set)."""
    return readings_api


async def test_rejected_readings_are_queryable(api: Api, uid: str) -> None:
    await register(api, pump_line(uid, pumps=1))
    body = (
        '{"sensor_id": "%s-p0-pt", "value": 3.5, "unit": "psi"}\n'
        '{"sensor_id": "%s-nope", "value": 1}\n'
        '{"sensor_id": "%s-p0-pt", "value": 4.0}\n' % (uid, uid, uid)
    )
    r = await api.client.post(
        "/ingest",
        content=body,
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (1, 2)
    await api.settled()
    query = "query($s: ID) { rejectedReadings(sensorId: $s) { sensorId raw reason } }"
    for _ in range(50):
        wrong_unit = (await api.ok(query, {"s": f"{uid}-p0-pt"}))["rejectedReadings"]
        unknown = (await api.ok(query, {"s": f"{uid}-nope"}))["rejectedReadings"]
        if wrong_unit and unknown:
            break
        await asyncio.sleep(0.1)
    assert len(wrong_unit) == 1 and "unit" in wrong_unit[0]["reason"]
    assert '"psi"' in wrong_unit[0]["raw"]
    assert len(unknown) == 1 and "unknown sensor" in unknown[0]["reason"]
    body = await api.gql("query { rejectedReadings(limit: 0) { raw } }")
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
