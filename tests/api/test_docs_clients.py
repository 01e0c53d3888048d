"""The Python subscription client of docs/integrator.md, run as written against the real
app: it connects with a token, subscribes, and yields a reading posted to /ingest."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.api.conftest import ADMIN, INGEST, Api

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrator.md"


def _client() -> dict[str, Any]:
    (source,) = [
        b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
        if "async def subscribe(" in b
    ]  # fmt: skip
    namespace: dict[str, Any] = {"__name__": "integrator_example"}
    exec(compile(source, str(GUIDE), "exec"), namespace)  # the guide's code, unchanged
    return namespace


def test_every_python_example_compiles() -> None:
    for source in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S):
        compile(source, str(GUIDE), "exec")


async def test_the_guide_client_receives_live_readings(api: Api, uid: str) -> None:
    await api.ok(
        """mutation($a: [AssetInput!]!, $s: [SensorInput!]!) {
             upsertAssets(assets: $a) { id } upsertSensors(sensors: $s) { id } }""",
        {
            "a": [{"id": f"{uid}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}],
            "s": [{"id": f"{uid}-pump.flow", "assetId": f"{uid}-pump", "name": "Flow",
                   "kind": "flow", "unit": "m3/h", "minValue": 0, "maxValue": 400}],
        },
    )  # fmt: skip
    subscribe = _client()["subscribe"]
    url = api.base.replace("http://", "ws://") + "/graphql"
    query = """subscription($asset: ID!) {
      liveReadings(assetId: $asset) { readings { sensorId value quality } missed }
    }"""
    stream = subscribe(url, ADMIN, query, {"asset": f"{uid}-pump"})
    first = asyncio.ensure_future(stream.__anext__())
    got: dict[str, Any] | None = None
    for _ in range(100):  # post until the subscription, started meanwhile, sees one
        r = await api.client.post(
            "/ingest",
            json=[{"sensor_id": f"{uid}-pump.flow", "value": 151.2, "unit": "m3/h"}],
            headers={"Authorization": f"Bearer {INGEST}"},
        )
        assert r.json()["accepted"] == 1
        done, _ = await asyncio.wait({first}, timeout=0.2)
        if done:
            got = first.result()
            break
    assert got is not None, "the guide's client received nothing"
    (reading,) = got["liveReadings"]["readings"][:1]
    assert reading == {"sensorId": f"{uid}-pump.flow", "value": 151.2, "quality": "good"}
    await stream.aclose()
