"""WebSocket connection limit: an ASGI guard in front of the subscriptions endpoint.

Every open WebSocket holds a task, buffers and, once subscribed, bus subscriptions.
Beyond ``max_sockets`` open at once, a new one is accepted and closed at once with
code 1013 ("try again later") and the reason ``"UNAVAILABLE: ..."`` naming the limit
(``TWINQL_MAX_WEBSOCKETS``), so that a client sees why instead of a bare refusal. The
sockets already open are not disturbed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["WebSocketLimit"]


class WebSocketLimit:
    def __init__(self, app: ASGIApp, *, max_sockets: int) -> None:
        if max_sockets < 1:
            raise ValueError("max_sockets must be positive")
        self.app = app
        self.max_sockets = max_sockets
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        if self.open >= self.max_sockets:
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            reason = (
                f"UNAVAILABLE: {self.max_sockets} WebSocket connections are open, the most "
                "this twinql takes (TWINQL_MAX_WEBSOCKETS)"
            )
            await send({"type": "websocket.close", "code": 1013, "reason": reason[:123]})
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
