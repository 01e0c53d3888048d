"""Idle WebSockets cannot pile up: beyond TWINQL_MAX_WEBSOCKETS a new one is closed
with a coded reason (issue 10 item 10: 500 idle sockets were held)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import websockets

from api.app import create_app
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import ValidationError
from tests.support.app import app_settings, served
from tests.support.tokens import ADMIN

LIMIT = 3


@pytest.fixture(scope="module")
async def ws_url(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    port = free_port()
    settings = app_settings(
        graph_server,
        tmp_path_factory.mktemp("ws-limit"),
        port,
        f"{ADMIN}:admin:alice",
        max_websockets=LIMIT,
    )
    async with served(create_app(settings), port) as base:
        yield base.replace("http", "ws") + "/graphql"


async def acked(url: str, stack: contextlib.AsyncExitStack) -> websockets.ClientConnection:
    ws = await stack.enter_async_context(
        websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    )
    payload = {"Authorization": f"Bearer {ADMIN}"}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def test_sockets_beyond_the_limit_are_closed_with_the_reason(ws_url: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        held = [await acked(ws_url, stack) for _ in range(LIMIT)]
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as extra:  # type: ignore[list-item]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await extra.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert closed.value.rcvd.reason.startswith(f"UNAVAILABLE: {LIMIT} WebSocket connections")
        # The sockets already open still work.
        await held[0].send(json.dumps({"type": "ping"}))
        assert json.loads(await held[0].recv())["type"] == "pong"
    # Once they are closed (the server notices a moment later), new sockets are taken.
    for _ in range(100):
        async with contextlib.AsyncExitStack() as stack:
            with contextlib.suppress(websockets.ConnectionClosed):
                await acked(ws_url, stack)
                return
        await asyncio.sleep(0.05)
    pytest.fail("no socket was taken after the others closed")


def test_the_websocket_limit_setting() -> None:
    assert Settings.from_env({}).max_websockets == 200
    assert Settings.from_env({"TWINQL_MAX_WEBSOCKETS": "5"}).max_websockets == 5
    with pytest.raises(ValidationError, match="TWINQL_MAX_WEBSOCKETS"):
        Settings.from_env({"TWINQL_MAX_WEBSOCKETS": "0"})
