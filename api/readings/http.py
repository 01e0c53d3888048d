"""``POST /ingest``: batch ingest over HTTP for systems that push.

The body is a JSON array of reading objects (``application/json``), one object per
line (``application/x-ndjson``), or one object of equal-length arrays (the columnar
body, ``application/json``: ``{"sensor_id": [...], "value": [...], "timestamp": [...]}``,
no object per reading, for gateways and backfills; ``ingest/pipeline/columns.py``); the
fields are described in ``ingest/pipeline/httpparse.py``; errors of the columnar body
give each reading's position as its index. The answer is ``{"accepted": n, "rejected": m,
"errors": [{"index", "sensor_id", "reason"}, ...]}``; rejected items are kept in
``rejected_readings`` by the pipeline.

Status codes: 200 when the body was read (even if every item was rejected); 400 when
the body as a whole is unusable (empty, not UTF-8, not JSON); 401 without or with an
unknown token; 403 when the token lacks the ``ingest`` role; 413 when the body is
larger than ``max_body`` bytes or holds more items than the pipeline takes; 415 for
other content types; 429 with ``Retry-After`` when the token's rate is spent
(``api.services.ratelimit``); 503 when the pipeline is not running. A token limited to asset
subtrees has readings of sensors outside them refused one by one (``"code":
"FORBIDDEN"`` beside the reason), kept as dead letters like other rejections. Errors other than 200
answer ``{"error": {"code", "message"}}`` (400 and 413 keep the counts beside it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from api.services.container import Services
from graph.errors import Forbidden, RateLimited, TwinqlError, Unauthenticated, ValidationError
from graph.timeutil import utcnow
from ingest.pipeline import IngestResult
from ingest.pipeline.columns import is_columnar, parse_columns
from ingest.pipeline.httpparse import decode_json

__all__ = ["MAX_BODY", "ingest_endpoint", "routes"]

MAX_BODY = 16 * 1024 * 1024
_NDJSON = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)
_ACCEPTED_TYPES = _NDJSON | {"application/json", "text/plain", ""}
_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "VALIDATION": 400,
    "CONFLICT": 409,
    "UNAVAILABLE": 503,
}


class _TooLarge(Exception):
    pass


def _error(code: str, message: str, status: int, **extra: object) -> JSONResponse:
    return JSONResponse({**extra, "error": {"code": code, "message": message}}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _is_ndjson(text: str, media: str) -> bool:
    if media in _NDJSON:
        return True
    if media == "application/json":
        return False
    return not text.lstrip().startswith("[")


def _body_fault(body: bytes, media: str, result: IngestResult, max_items: int) -> int | None:
    """The status for a body that failed as a whole (None: it was read item by item).

    Only called when nothing was accepted and one error sits at index 0, the shape of a
    whole-body failure; the body is re-examined rather than the reason's wording."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400
    if _is_ndjson(text, media):
        lines = sum(1 for line in text.splitlines() if line.strip())
        return 413 if lines > max_items else None
    decoded, problem = decode_json(text)
    if problem is not None:
        return 400
    if isinstance(decoded, list) and len(decoded) > max_items:
        return 413
    if is_columnar(decoded):
        assert isinstance(decoded, dict)
        if len(decoded["sensor_id"]) > max_items:
            return 413
        try:
            parse_columns(decoded, received_at=utcnow(), max_items=max_items)
        except ValidationError:  # not columns as described: unknown key, lengths differ
            return 400
    return None


def ingest_endpoint(services: Services, max_body: int = MAX_BODY) -> Callable[[Request], object]:
    async def ingest(request: Request) -> JSONResponse:
        try:
            principal = services.tokens.authenticate(request.headers.get("authorization"))
            if principal is None:
                raise Unauthenticated("POST /ingest needs an API token (Authorization: Bearer ...)")
            principal.require("ingest")
            services.limits.ingest.take(principal.key_id or principal.name)
        except RateLimited as exc:
            response = _error(exc.code, exc.message, 429)
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            return response
        except (Unauthenticated, Forbidden) as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.code == "UNAUTHENTICATED" else None
            response = _error(exc.code, exc.message, _STATUS[exc.code])
            if headers:
                response.headers.update(headers)
            return response
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _ACCEPTED_TYPES:
            return _error(
                "VALIDATION",
                f"content type {media!r} is not accepted: send application/json "
                "(an array of readings, or an object of arrays) or application/x-ndjson",
                415,
            )
        try:
            body = await _read_body(request, max_body)
        except _TooLarge:
            return _error("VALIDATION", f"the body is larger than {max_body} bytes", 413)
        except ClientDisconnect:
            return _error("VALIDATION", "the client went away before sending the body", 400)
        if not body.strip():
            return _error("VALIDATION", "the body is empty: send readings", 400)
        try:
            pipeline = services.ingest
            outside = partial(services.scopes.outside, principal) if principal.scopes else None
            result = await pipeline.ingest_body(body, media or None, source="http", outside=outside)
        except TwinqlError as exc:
            return _error(exc.code, exc.message, _STATUS.get(exc.code, 500))
        answer = result.as_dict()
        if result.accepted == 0 and len(result.errors) == 1 and result.errors[0].index == 0:
            status = _body_fault(body, media, result, pipeline.settings.max_body_items)
            if status is not None:
                return _error("VALIDATION", result.errors[0].reason, status, **answer)
        return JSONResponse(answer)

    return ingest


def routes(services: Services, max_body: int = MAX_BODY) -> list[BaseRoute]:
    """The HTTP routes of the readings path, for ``api.app.ROUTE_FACTORIES``."""
    if max_body < 1:
        raise ValidationError("max_body must be positive")
    return [Route("/ingest", ingest_endpoint(services, max_body), methods=["POST"])]
