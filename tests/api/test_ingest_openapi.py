"""docs/ingest.openapi.yaml against the real app: every request example is posted over
HTTP and answered as the response example of the same name says; every answer (the error
statuses included) fits the schema the document gives for its status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.app import Api
from tests.support.tokens import INGEST, VIEWER

SPEC_FILE = Path(__file__).resolve().parents[2] / "docs" / "ingest.openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text())
POST = SPEC["paths"]["/ingest"]["post"]
REQUESTS = [
    (media, name, example["value"])
    for media, content in POST["requestBody"]["content"].items()
    for name, example in content["examples"].items()
]


def _response_schema(status: int) -> dict[str, Any]:
    schema = POST["responses"][str(status)]["content"]["application/json"]["schema"]
    # Resolve "#/components/..." against the whole document.
    return {**schema, "$defs": {}, "components": SPEC["components"]}


def _fits(status: int, body: object) -> None:
    jsonschema.validate(body, _response_schema(status), cls=jsonschema.Draft202012Validator)


def _ours(text: str, uid: str) -> str:
    """The example's ids as this test registered them (tests share one graph)."""
    return text.replace("pump-", f"{uid}-pump-")


async def _add_example_sensors(api: Api, uid: str) -> None:
    # As the example plant registers pump-101's flow and vibration sensors.
    await api.ok(
        """mutation($assets: [AssetInput!]!, $sensors: [SensorInput!]!) {
             upsertAssets(assets: $assets) { id } upsertSensors(sensors: $sensors) { id } }""",
        {
            "assets": [{"id": f"{uid}-pump-101", "name": "Pump 101", "type": "pump",
                        "level": "EQUIPMENT"}],
            "sensors": [
                {"id": f"{uid}-pump-101.flow", "assetId": f"{uid}-pump-101", "name": "Flow",
                 "kind": "flow", "unit": "m3/h", "minValue": 0, "maxValue": 400},
                {"id": f"{uid}-pump-101.vibration", "assetId": f"{uid}-pump-101",
                 "name": "Vibration", "kind": "vibration", "unit": "mm/s", "minValue": 0,
                 "maxValue": 20},
            ],
        },
    )  # fmt: skip


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # Every request example fits its media type's schema (NDJSON: each line a Reading).
    reading = {**SPEC["components"]["schemas"]["Reading"], "components": SPEC["components"]}
    columns = {**SPEC["components"]["schemas"]["Columns"], "components": SPEC["components"]}
    for media, name, value in REQUESTS:
        if isinstance(value, dict):  # the columnar body
            jsonschema.validate(value, columns, cls=jsonschema.Draft202012Validator)
            continue
        items = (
            value
            if media == "application/json"
            else [json.loads(line) for line in value.splitlines() if line.strip().startswith("{")]
        )
        for item in items:
            if name == "misspeltField":  # refused by design
                assert not jsonschema.Draft202012Validator(reading).is_valid(item)
            else:
                jsonschema.validate(item, reading, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(("media", "name", "value"), REQUESTS, ids=[r[1] for r in REQUESTS])
async def test_each_request_example_gets_its_documented_answer(
    api: Api, uid: str, media: str, name: str, value: object
) -> None:
    await _add_example_sensors(api, uid)
    text = value if isinstance(value, str) else json.dumps(value)
    r = await api.client.post(
        "/ingest",
        content=_ours(text, uid).encode(),
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": media},
    )
    expected = POST["responses"]["200"]["content"]["application/json"]["examples"][name]["value"]
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(_ours(json.dumps(expected), uid))
    _fits(200, r.json())


async def test_documented_error_answers(api: Api) -> None:
    body = b'[{"sensor_id": "pump-101.flow", "value": 1.0}]'
    examples = {
        status: POST["responses"][str(status)]["content"]["application/json"].get("examples", {})
        for status in (400, 401)
    }

    r = await api.client.post("/ingest", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == examples[401]["noToken"]["value"]
    _fits(401, r.json())

    viewer = {"Authorization": f"Bearer {VIEWER}"}
    r = await api.client.post("/ingest", content=body, headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    _fits(403, r.json())

    ingest = {"Authorization": f"Bearer {INGEST}"}
    r = await api.client.post("/ingest", content=b"  \n", headers=ingest)
    assert r.status_code == 400 and r.json() == examples[400]["empty"]["value"]
    _fits(400, r.json())

    r = await api.client.post(
        "/ingest", content=b"[{", headers={**ingest, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION"
    _fits(400, r.json())

    r = await api.client.post("/ingest", content=b"\xff\xfe", headers=ingest)
    assert r.status_code == 400
    _fits(400, r.json())

    r = await api.client.post(
        "/ingest", content=b"sensor,value\n", headers={**ingest, "Content-Type": "text/csv"}
    )
    assert r.status_code == 415 and r.json()["error"]["code"] == "VALIDATION"
    _fits(415, r.json())

    too_many = b'{"sensor_id": "x", "value": 1}\n' * 100_001  # the documented item limit + 1
    r = await api.client.post(
        "/ingest", content=too_many, headers={**ingest, "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "VALIDATION"
    _fits(413, r.json())
