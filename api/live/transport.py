"""The GraphQL transports, with clear, coded refusals instead of silent ones.

- A WebSocket whose ``connection_init`` is refused (no token, a wrong one) is closed with
  code 4403 and the refusal's own words as the close reason (GraphiQL and graphql-ws show
  it), not a bare "Forbidden".
- A subscription sent over HTTP is answered ``VALIDATION`` saying where subscriptions go
  (``ws(s)://…/graphql``, protocol ``graphql-transport-ws``), instead of an internal error.
- A query or mutation sent over the legacy ``graphql-ws`` protocol (subscriptions only) is
  answered ``VALIDATION`` saying to use HTTP or ``graphql-transport-ws``.
"""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

__all__ = [
    "HTTP_SUBSCRIPTION",
    "LEGACY_QUERY",
    "TwinqlTransportWSHandler",
    "close_reason",
    "operation_refusal",
]

HTTP_SUBSCRIPTION = (
    "subscriptions run over a WebSocket at /graphql (protocol graphql-transport-ws, or "
    "graphql-ws for older clients), not over HTTP"
)
LEGACY_QUERY = (
    "the legacy graphql-ws protocol carries subscriptions only; send queries and mutations "
    "over HTTP POST /graphql or the graphql-transport-ws protocol"
)
_MAX_REASON = 123  # bytes a WebSocket close reason may hold


def close_reason(payload: dict[str, object]) -> str:
    """A refusal's message, cut to what a WebSocket close frame carries."""
    text = str(payload.get("message") or "Forbidden")
    code = payload.get("code")
    if code:
        text = f"{code}: {text}"
    raw = text.encode()[:_MAX_REASON]
    return raw.decode(errors="ignore")


def operation_refusal(exc: InvalidOperationTypeError, *, over_http: bool) -> str:
    """Why the transport does not carry this operation, in words a client can act on."""
    if exc.operation_type is OperationType.SUBSCRIPTION:
        return HTTP_SUBSCRIPTION
    if over_http:
        return f"{exc.operation_type.value} operations are not allowed with this HTTP method"
    return LEGACY_QUERY


class TwinqlTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, closing a refused connection with the refusal's words.

    ``handle_connection_init`` follows strawberry's own (0.341) step by step; only the
    refusal's close reason differs."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        if hasattr(self.context, "connection_params"):
            self.context.connection_params = payload
        try:
            ack = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as exc:
            await self.websocket.close(code=4403, reason=close_reason(exc.payload))
            return
        if isinstance(ack, UnsetType):
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack})
        self.connection_acknowledged = True
