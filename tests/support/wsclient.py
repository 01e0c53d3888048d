"""A small GraphQL-over-WebSocket client for tests: graphql-transport-ws and graphql-ws."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

__all__ = ["LEGACY_WS", "TRANSPORT_WS", "GraphQLWs", "Rejected", "connect"]

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class Rejected(Exception):
    """The server closed the connection (``code``) or sent ``connection_error``."""

    def __init__(self, code: int | None, payload: object = None) -> None:
        super().__init__(f"websocket rejected: code={code} payload={payload}")
        self.code = code
        self.payload = payload


class GraphQLWs:
    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._ids = itertools.count(1)

    async def _recv(self) -> dict[str, Any]:
        while True:
            try:
                msg = json.loads(await self.ws.recv())
            except websockets.ConnectionClosed as exc:
                raise Rejected(exc.rcvd.code if exc.rcvd else None) from exc
            kind = msg.get("type")
            if kind == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif kind in ("pong", "ka"):
                continue
            else:
                return msg

    async def init(self, token: str | None) -> None:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        msg = await self._recv()
        if msg["type"] != "connection_ack":
            raise Rejected(None, msg.get("payload"))

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op = str(next(self._ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op, "type": kind, "payload": payload}))
        return op

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        """The next result (``data`` dict); raises on an error message."""
        async with asyncio.timeout(within):
            msg = await self._recv()
        if msg["type"] in ("next", "data"):
            body = msg["payload"]
            if body.get("errors"):
                raise AssertionError(body["errors"])
            return body["data"]
        raise AssertionError(msg)

    async def error(self, within: float = 5.0) -> list[dict[str, Any]]:
        """The errors of the next message (a failed subscription)."""
        async with asyncio.timeout(within):
            msg = await self._recv()
            while msg["type"] == "complete":  # the end of an earlier operation
                msg = await self._recv()
        payload = msg.get("payload")
        if msg["type"] == "error":
            return payload if isinstance(payload, list) else [payload]
        if msg["type"] in ("next", "data") and payload.get("errors"):
            return payload["errors"]
        raise AssertionError(msg)


@asynccontextmanager
async def connect(
    base: str, token: str | None, protocol: str = TRANSPORT_WS
) -> AsyncIterator[GraphQLWs]:
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        client = GraphQLWs(ws, protocol)
        await client.init(token)
        yield client
