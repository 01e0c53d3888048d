"""The ASGI app: GraphQL (HTTP, GraphiQL, WebSocket subscriptions), /healthz, /readyz,
the operator console at / (``api.console``).

``create_app`` opens the services (``api.services.container.open_services``) for the
app's lifespan; until they run, GraphQL answers UNAVAILABLE and /readyz "starting".
Routes of later layers (``POST /ingest``, ``/metrics``) are added once the services run.
``on_started(services, stack)`` runs after start-up (the demo loads its plant and starts
its devices there); what it pushes on ``stack`` closes before the services do. A start-up
failure is kept in ``app.state.startup_error`` for the CLI to report in one line.
Browsers on other origins are let in by ``TWINQL_CORS_ORIGINS`` (CORS).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.common.body_limit import BodyLimit
from api.common.hosts import HostGuard
from api.common.ws_limit import WebSocketLimit
from api.console import routes as console_routes
from api.context import Context
from api.ide import graphiql_html
from api.ide import routes as ide_routes
from api.limits import oversized_variable_list
from api.live.transport import TwinqlTransportWSHandler, operation_refusal
from api.readings.http import routes as readings_routes
from api.schema import build_schema
from api.services.container import Services, open_services
from api.settings import Settings
from api.status.prometheus import routes as status_routes
from graph.errors import Unauthenticated, Unavailable

__all__ = ["create_app"]

log = logging.getLogger("twinql.api")

# Later layers append (services -> routes) factories here.
ROUTE_FACTORIES: list[Callable[[Services], list[BaseRoute]]] = [readings_routes, status_routes]


class Running:
    """The services while the app runs (set and cleared by the lifespan)."""

    services: Services | None = None

    def get(self) -> Services:
        if self.services is None:
            raise Unavailable("twinql is starting or stopping")
        return self.services


_HTTP_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


class TwinqlGraphQL(GraphQL):
    graphql_transport_ws_handler_class = TwinqlTransportWSHandler

    def __init__(self, running: Running, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.running = running

    async def get_context(self, request: Any, response: Any = None) -> Context:  # type: ignore[override]
        header = request.headers.get("authorization")
        services = self.running.get()
        ctx = Context(services=services, principal=None, request=request, response=response)
        try:
            ctx.principal = services.tokens.authenticate(header)
        except Unauthenticated as exc:
            ctx.auth_error = exc
        return ctx

    async def execute_single(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> ExecutionResult:
        """One operation over HTTP: queries and mutations; a subscription is refused with
        a coded error saying where subscriptions go (strawberry's multipart subscriptions
        over HTTP are not offered)."""
        allowed = {OperationType.QUERY, OperationType.MUTATION}
        if request_adapter.method == "GET":
            allowed = {OperationType.QUERY}
        if reason := oversized_variable_list(request_data.variables):
            error = GraphQLError(reason, extensions={"code": "VALIDATION"})
            return ExecutionResult(data=None, errors=[error])
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            error = GraphQLError(
                operation_refusal(exc, over_http=True), extensions={"code": "VALIDATION"}
            )
            return ExecutionResult(data=None, errors=[error])
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's, but a request it refuses before execution (not JSON, no query,
        a batch, an unsupported content type or method) is answered like every other
        GraphQL error, as JSON with ``extensions.code``, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response: Response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            code = _HTTP_CODES.get(exc.status_code, "VALIDATION")
            error = {"message": exc.reason, "extensions": {"code": code}}
            response = JSONResponse({"errors": [error]}, status_code=exc.status_code)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html())  # shipped files, no CDN: works offline

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None and params.get("token"):
            header = f"Bearer {params['token']}"
        try:
            principal = context.services.tokens.authenticate(header)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from exc
        if principal is None:
            raise ConnectionRejectionError(
                {"message": "subscriptions need an API token", "code": "UNAUTHENTICATED"}
            )
        context.principal = principal
        return None


def create_app(
    settings: Settings,
    *,
    record_statements_to: Path | None = None,
    sql_log: Path | None = None,
    on_started: Callable[[Services, contextlib.AsyncExitStack], Awaitable[Any]] | None = None,
) -> Starlette:
    running = Running()
    schema = build_schema(max_depth=settings.max_depth, max_cost=settings.max_cost)
    graphql = TwinqlGraphQL(
        running,
        schema=schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=15,
    )

    async def healthz(_: Request) -> JSONResponse:
        # Liveness: the process works unless a child it cannot do without has died
        # (the embedded graph server is never restarted in-process: restart twinql).
        server = running.services.graph_server if running.services is not None else None
        if server is not None and server.exit_code is not None:
            return JSONResponse(
                {
                    "status": "failed",
                    "reason": f"the embedded graph server exited (code {server.exit_code})",
                },
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        if running.services is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        checks = await running.services.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.startup_error = None
        async with contextlib.AsyncExitStack() as stack:
            try:
                services = await stack.enter_async_context(
                    open_services(
                        settings, record_statements_to=record_statements_to, sql_log=sql_log
                    )
                )
                extras = await stack.enter_async_context(contextlib.AsyncExitStack())
                app.state.services = services
                for factory in ROUTE_FACTORIES:
                    app.router.routes.extend(factory(services))
                if on_started is not None:
                    await on_started(services, extras)
            except Exception as exc:
                app.state.startup_error = exc  # the CLI says it in one line (see api.cli)
                raise
            running.services = services
            try:
                yield
            finally:
                running.services = None

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *(ide_routes() if settings.graphiql else ()),
        *console_routes(),
    ]
    middleware: list[Middleware] = []
    if settings.cors_origins:
        # Bearer tokens, not cookies: no credentials mode is needed for a browser app on
        # another origin to send its Authorization header.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    # Inside CORS (which answers preflights itself), before everything else: a foreign
    # Host or Origin reaches no route.
    middleware.append(
        Middleware(
            HostGuard, allowed=settings.effective_allowed_hosts, origins=settings.cors_origins
        )
    )
    middleware.append(Middleware(BodyLimit, max_body=settings.max_body))
    middleware.append(Middleware(WebSocketLimit, max_sockets=settings.max_websockets))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
