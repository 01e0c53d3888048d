"""Routes of the console: ``/`` (the page), ``/console/assets/<file>``, ``/console/session``.

The page and its assets are the files Vite built into ``static/`` (``src/README``'s
command), read once and served as they are: a ``<file>.gz`` beside an asset is sent with
``Content-Encoding: gzip`` to clients that accept it. Asset names carry a content hash,
so they are cached for a year; the page itself is revalidated on every load.

``GET /console/session`` tells the console who a token belongs to (name, role, the roles
it implies, subtree scopes), so it shows only the controls the role may use. Without a
token it answers whether anonymous reads are allowed; a wrong token gets 401 with the
API's own words and code.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from api.services.auth import ROLES
from graph.errors import Unauthenticated

__all__ = ["ASSET_PATH", "routes"]

ASSET_PATH = "/console/assets"
_STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def _read(name: str) -> bytes | None:
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _STATIC / "assets" / name
    return path.read_bytes() if path.is_file() else None


async def page(_: Request) -> Response:
    index = _STATIC / "index.html"
    if not index.is_file():
        return PlainTextResponse(
            "the console is not built: run `npm ci && npm run build` in api/console/src",
            status_code=404,
        )
    return HTMLResponse(index.read_bytes(), headers={"Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media = _TYPES.get(Path(name).suffix)
    raw = _read(name) if media is not None else None
    if raw is None or media is None:
        return PlainTextResponse("not found", status_code=404)
    headers = {"Cache-Control": _IMMUTABLE, "Vary": "Accept-Encoding"}
    packed = _read(name + ".gz")
    if packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type=media, headers=headers)
    return Response(raw, media_type=media, headers=headers)


async def session(request: Request) -> JSONResponse:
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse(
            {"code": "UNAVAILABLE", "message": "twinql is starting or stopping"}, status_code=503
        )
    try:
        principal = services.tokens.authenticate(request.headers.get("authorization"))
    except Unauthenticated as exc:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=401)
    if principal is None:
        allowed = services.settings.allow_anonymous_read
        return JSONResponse(
            {
                "anonymous": True,
                "anonymousRead": allowed,
                "name": "anonymous",
                "role": "viewer" if allowed else None,
                "roles": ["viewer"] if allowed else [],
                "scopes": [],
            }
        )
    return JSONResponse(
        {
            "anonymous": False,
            "anonymousRead": services.settings.allow_anonymous_read,
            "name": principal.name,
            "role": principal.role,
            "roles": [r for r in ROLES if principal.has(r)],
            "scopes": list(principal.scopes),
        }
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", page, methods=["GET"]),
        Route(ASSET_PATH + "/{name}", asset, methods=["GET"]),
        Route("/console/session", session, methods=["GET"]),
    ]
