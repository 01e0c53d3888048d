"""Wrong transports and refused connections get clear, coded answers (issue: protocol
errors were hidden behind INTERNAL "Unexpected error." and a bare 4403 "Forbidden")."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from api.live.transport import HTTP_SUBSCRIPTION, LEGACY_QUERY, close_reason
from tests.support.app import Api
from tests.support.tokens import ADMIN


def _ws_url(api: Api) -> str:
    return api.base.replace("http://", "ws://") + "/graphql"


async def test_a_subscription_over_http_says_where_subscriptions_go(api: Api) -> None:
    body = await api.gql('subscription { liveReadings(sensorIds: ["nope"]) { missed } }')
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["message"] == HTTP_SUBSCRIPTION
    assert body["data"] is None


async def test_a_mutation_over_get_is_refused_with_a_code(api: Api) -> None:
    r = await api.client.get(
        "/graphql",
        params={"query": 'mutation { deleteSensor(id: "x") { deletedIds } }'},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "mutation" in error["message"]


async def test_a_query_over_the_legacy_protocol_is_refused_with_a_code(api: Api) -> None:
    async with websockets.connect(_ws_url(api), subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {"type": "start", "id": "q1", "payload": {"query": "{ graphStats { assets } }"}}
            )
        )
        async with asyncio.timeout(10):
            while (msg := json.loads(await ws.recv()))["type"] == "ka":
                pass
    assert msg["type"] == "error" and msg["id"] == "q1"
    assert msg["payload"]["extensions"]["code"] == "VALIDATION"
    assert msg["payload"]["message"] == LEGACY_QUERY


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "UNAUTHENTICATED: subscriptions need an API token"),
        ({"Authorization": "Bearer not-a-token-of-ours"}, "UNAUTHENTICATED: unknown API token"),
    ],
)
async def test_a_refused_websocket_is_closed_with_the_reason(
    api: Api, params: dict[str, str], reason: str
) -> None:
    async with websockets.connect(_ws_url(api), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert closed.value.rcvd.reason == reason


def test_a_close_reason_fits_a_close_frame() -> None:
    reason = close_reason({"message": "é" * 200, "code": "FORBIDDEN"})
    assert len(reason.encode()) <= 123
    assert reason.startswith("FORBIDDEN: é")
