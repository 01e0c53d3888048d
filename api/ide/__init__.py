"""GraphiQL served from files shipped in the package: /graphql works with no network.

The page (``graphiql.html``) loads React, GraphiQL and its explorer plugin from
``/graphql/ide/<file>``, which serves the gzipped copies in ``static/`` as they are
(``Content-Encoding: gzip``; unpacked once for the rare client that does not accept gzip).
File names carry their versions, so they are cached for a year. ``vendor.sh`` re-vendors
them from the versions pinned in ``package.json``; ``static/LICENSES.txt`` holds their
licences. The page opens with twinql's first example query and tells where the token goes;
subscriptions send the headers editor's ``Authorization`` as WebSocket connection
parameters, through a small graphql-transport-ws client of the page's own that shows a
refused connection's close code and reason at once (GraphiQL's default client retries a
4403 for half a minute, spinning).
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["ASSET_PATH", "graphiql_html", "routes"]

ASSET_PATH = "/graphql/ide"
_HERE = Path(__file__).parent
_STATIC = _HERE / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@cache
def graphiql_html() -> str:
    return (_HERE / "graphiql.html").read_text(encoding="utf-8").replace("{{base}}", ASSET_PATH)


@cache
def _packed(name: str) -> bytes | None:
    path = _STATIC / f"{name}.gz"
    if "/" in name or name.startswith(".") or not path.is_file():
        return None
    return path.read_bytes()


@cache
def _unpacked(name: str) -> bytes:
    packed = _packed(name)
    assert packed is not None
    return gzip.decompress(packed)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    packed = _packed(name)
    media = _TYPES.get(Path(name).suffix)
    if packed is None or media is None:
        return PlainTextResponse("not found", status_code=404)
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type=media, headers=headers)
    return Response(_unpacked(name), media_type=media, headers=headers)


def routes() -> list[BaseRoute]:
    return [Route(ASSET_PATH + "/{name}", asset, methods=["GET"])]
