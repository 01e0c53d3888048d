"""Host and Origin allow-list: an ASGI guard against DNS rebinding.

A web page whose name an attacker rebinds to 127.0.0.1 reaches a loopback twinql with
its own name in ``Host`` (and ``Origin``). Every HTTP request and WebSocket handshake
is checked before any route sees it:

- ``Host`` (its name, without the port) must be one of the allowed hosts, else 421
  ``{"error": {"code": "MISDIRECTED_HOST", "message"}}``;
- ``Origin``, when a browser sends one, must name an allowed host too (any scheme and
  port) or be one of the CORS origins (``TWINQL_CORS_ORIGINS``), else 403 ``{"error": {"code": "FORBIDDEN_ORIGIN", "message"}}``.

A refused WebSocket handshake gets the same HTTP answer where the server offers the
ASGI ``websocket.http.response`` extension (uvicorn does), else it is closed before it
is accepted (code 4403, reason ``"CODE: message"`` cut to a close frame's 123 bytes).
The allowed hosts are ``Settings.effective_allowed_hosts``: ``TWINQL_ALLOWED_HOSTS``,
else ``localhost``, ``127.0.0.1`` and ``::1`` when twinql listens on loopback, else any
(``*``). A name starting with a dot allows its subdomains (``.example.com``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HostGuard", "host_name"]


def host_name(value: str) -> str:
    """The name in a ``Host`` value: ``"[::1]:8000"`` -> ``"::1"``, ``"a.b:80"`` -> ``"a.b"``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value.rstrip(".")


class HostGuard:
    def __init__(
        self, app: ASGIApp, *, allowed: Iterable[str], origins: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.origins = {o.rstrip("/").lower() for o in origins}
        names = {host_name(a) if not a.startswith(".") else a.lower() for a in allowed}
        self.any = "*" in names
        self.exact = {n for n in names if not n.startswith(".")}
        self.suffixes = tuple(n for n in names if n.startswith("."))

    def allows(self, name: str) -> bool:
        return self.any or name in self.exact or (bool(name) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or self.any:
            await self.app(scope, receive, send)
            return
        headers = {k: v.decode("latin-1") for k, v in scope.get("headers", ())}
        host = host_name(headers.get(b"host", ""))
        if not self.allows(host):
            message = (
                f"host {host[:100]!r} is not served here (TWINQL_ALLOWED_HOSTS lists the names "
                "this twinql answers to)"
            )
            await _refuse(scope, receive, send, 421, "MISDIRECTED_HOST", message)
            return
        origin = headers.get(b"origin")
        if origin is not None:
            name = host_name(urlsplit(origin).netloc) if origin != "null" else ""
            if not self.allows(name) and not self._cors(origin):
                message = (
                    f"origin {origin[:100]!r} may not call this twinql (TWINQL_ALLOWED_HOSTS "
                    "lists the names pages may come from)"
                )
                await _refuse(scope, receive, send, 403, "FORBIDDEN_ORIGIN", message)
                return
        await self.app(scope, receive, send)

    def _cors(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/").lower() in self.origins


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
) -> None:
    data = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    prefix = ""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" not in scope.get("extensions", {}):
            reason = f"{code}: {message}".encode()[:123].decode(errors="ignore")
            await send({"type": "websocket.close", "code": 4403, "reason": reason})
            return
        prefix = "websocket."
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": data})
