"""Request body limit: an ASGI guard in front of every HTTP route.

A request whose body is larger than ``max_body`` bytes is answered 413
``{"error": {"code": "PAYLOAD_TOO_LARGE", "message"}}`` before any route sees it: at
once when ``Content-Length`` says so, else as soon as the bytes that arrived (chunked
bodies too) pass the limit. The rest is not kept: it is read and dropped for at most
``DRAIN_S`` seconds, so that a client still sending gets the answer instead of a reset
connection, then the connection is closed. A body within the limit is kept and
handed to the route as it came, in one piece. Requests without a body (GET) and
WebSocket connections pass through untouched.

The limit is ``TWINQL_MAX_BODY`` (``api.settings``): one rule for every route. Routes may
take less (``POST /ingest`` stops at its own limit); importPlant's documents travel
in a GraphQL body, so the default leaves room for its largest document, JSON-escaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DRAIN_S", "BodyLimit", "too_large"]

DRAIN_S = 2.0


def too_large(limit: int) -> tuple[int, bytes]:
    """The status and JSON body of the answer to a body over ``limit`` bytes."""
    message = f"the request body is larger than {limit} bytes (TWINQL_MAX_BODY)"
    body = {"error": {"code": "PAYLOAD_TOO_LARGE", "message": message}}
    return 413, json.dumps(body).encode()


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        if max_body < 1:
            raise ValueError("max_body must be positive")
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await _refuse(receive, send, self.max_body)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > self.max_body:
                await _refuse(receive, send, self.max_body, more=more)
                return
            chunks.append(chunk)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], then=receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else None
    return None


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is not None:  # after the body: wait for the client to go away
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _refuse(receive: Receive, send: Send, limit: int, *, more: bool = True) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            while more:
                message = await receive()
                more = message["type"] == "http.request" and message.get("more_body", False)
    status, body = too_large(limit)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
