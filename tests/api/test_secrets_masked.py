"""Credentials in data-source endpoints and secret settings stay out of answers and logs.

Reproduces issue 10 item 8 (second half): ``mqtt://user:pw@…`` endpoints and settings
like ``auth_header`` were served to every reader and logged. Admins still see the
endpoint as written (they edit it); everyone else sees ``user:***@``.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from graph.bolt.embedded import free_port
from tests.support.app import Api
from tests.support.tokens import ADMIN, OPERATOR, VIEWER

QUERY = "query { dataSources { id endpoint settings status { endpoint lastError } } }"


async def test_endpoint_credentials_are_masked_for_all_but_admins(
    api: Api, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    endpoint = f"mqtt://plant:pw-9-secret@127.0.0.1:{free_port()}"
    source = {
        "id": f"{uid}-mq",
        "protocol": "MQTT",
        "endpoint": endpoint,
        "settings": {"auth_header": "Bearer hdr-7-secret", "qos": 1},
    }
    try:
        made = await api.ok(
            "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { endpoint } }",
            {"s": source},
        )
        assert made["upsertDataSource"]["endpoint"] == endpoint  # the admin wrote it
        masked = f"mqtt://plant:***@127.0.0.1:{endpoint.rsplit(':', 1)[1]}"
        for _ in range(50):  # until the connector has tried (and failed) to connect
            mine = await mine_as(api, uid, VIEWER)
            if mine["status"] and mine["status"]["lastError"]:
                break
            await asyncio.sleep(0.1)
        for token in (VIEWER, OPERATOR):
            mine = await mine_as(api, uid, token)
            assert mine["endpoint"] == masked
            assert mine["settings"] == {"qos": 1}
            assert "secret" not in str(mine)
        admin = await mine_as(api, uid, ADMIN)
        assert admin["endpoint"] == endpoint
        assert admin["status"]["endpoint"] == masked
        assert "secret" not in str(admin["settings"]) + str(admin["status"])
        first_party = ("twinql", "api", "graph", "ingest")
        logged = [r.getMessage() for r in caplog.records if r.name.startswith(first_party)]
        assert any(f"{uid}-mq" in m for m in logged)
        assert not [m for m in logged if "pw-9-secret" in m or "hdr-7-secret" in m]
    finally:
        await api.ok('mutation { deleteDataSource(id: "%s-mq") { deletedIds } }' % uid)


async def mine_as(api: Api, uid: str, token: str) -> dict[str, object]:
    listed = (await api.ok(QUERY, token=token))["dataSources"]
    (mine,) = [d for d in listed if d["id"] == f"{uid}-mq"]
    return mine
