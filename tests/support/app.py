"""The real ASGI app under uvicorn on a free loopback port, sharing the session graph server.

``api`` is one served app per session (isolate by ``uid``), on DuckDB; ``Api.gql`` /
``Api.ok`` post GraphQL with a token from ``tests.support.tokens``; ``app_settings`` builds
the settings of an app a test serves itself, on either readings store (``store=``).

``readings_api`` is the readings test matrix: parametrised over ``STORE_BACKENDS``, it is
the session's ``api`` for DuckDB and a second served app (same graph server) keeping its
readings in the QuestDB ``TWINQL_QUESTDB_URL`` names, skipped with that reason when unset.
A module whose tests should run on both says so by overriding ``api`` with it::

    @pytest.fixture
    def api(readings_api: Api) -> Api:
        return readings_api
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from api.app import create_app
from api.services.container import Services
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from tests.support.polling import eventually
from tests.support.stores import STORE_BACKENDS, questdb_app_settings
from tests.support.tokens import ADMIN, TOKENS

__all__ = ["Api", "api", "app_settings", "duckdb_api", "readings_api", "served", "served_api"]


@dataclass
class Api:
    base: str
    client: httpx.AsyncClient
    services: Services = field(repr=False)  # a failing test prints Api: no secrets in it

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = ADMIN
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def settled(self) -> None:
        """Wait until what the app accepted is readable: the batching writer flushed and
        the store caught up (QuestDB applies its WAL asynchronously; DuckDB at once)."""
        await self.services.ingest.writer.flush()
        await self.services.readings.sync()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self.gql(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]


@contextlib.asynccontextmanager
async def served(app: Starlette, port: int) -> AsyncIterator[str]:
    """``app`` under uvicorn on 127.0.0.1:``port`` for the block; yields its base URL.

    The block starts once the app's startup finished (it raises what the startup raised);
    leaving it shuts the server down and waits for the app's shutdown.
    """
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(_serve(server))
    try:
        await eventually(lambda: server.started or task.done(), within=300, every=0.05)
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _serve(server: uvicorn.Server) -> None:
    """uvicorn's serve, with its start-up failure (``sys.exit(3)``, which would unwind
    pytest-asyncio's event loop and fail every later test) as an ordinary error."""
    try:
        await server.serve()
    except SystemExit as e:
        raise RuntimeError(f"the app did not start (uvicorn exit {e.code}; see the log)") from e


def app_settings(
    graph_server: EmbeddedGraphServer,
    data_dir: Path,
    port: int,
    tokens: str,
    *,
    store: str = "duckdb",
    **extra: Any,
) -> Settings:
    """Settings of an app under test: the session's graph server, its own data dir, and
    its readings in DuckDB (in the data dir) or, ``store="questdb"``, in the QuestDB
    ``TWINQL_QUESTDB_URL`` names (skipping the test when none is); no health assessments
    on a timer unless asked (tests assess when they mean to)."""
    extra.setdefault("health_interval_s", 0.0)
    if store == "questdb":
        extra = {**questdb_app_settings(), **extra}
    elif store != "duckdb":
        raise ValueError(f"no readings store {store!r}")
    return Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        neo4j_uri=graph_server.bolt_uri,
        neo4j_user="root",
        neo4j_password=graph_server.graph_settings().password,
        neo4j_database=graph_server.settings.database,
        tokens=tokens,
        anonymous_read=False,
        **extra,
    )


@contextlib.asynccontextmanager
async def served_api(
    settings: Settings, cypher_log: Path | None = None, sql_log: Path | None = None
) -> AsyncIterator[Api]:
    """An app of ``settings`` served for the block (a test that stops and starts its own
    app on one data dir: pass the session's ``cypher_log`` and ``questdb_sql_log`` so its
    statements are linted too)."""
    app = create_app(settings, record_statements_to=cypher_log, sql_log=sql_log)
    async with (
        served(app, settings.port) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        yield Api(base=base, client=client, services=app.state.services)


@pytest.fixture(scope="session")
async def duckdb_api(
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
    cypher_log: Path,
    questdb_sql_log: Path,
) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("api-data")
    settings = app_settings(graph_server, data_dir, free_port(), TOKENS)
    async with served_api(settings, cypher_log, questdb_sql_log) as api:
        yield api


@pytest.fixture(scope="session")
def api(duckdb_api: Api) -> Api:
    return duckdb_api


@pytest.fixture(scope="session", params=STORE_BACKENDS)
async def readings_api(
    request: pytest.FixtureRequest,
    duckdb_api: Api,
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
    cypher_log: Path,
    questdb_sql_log: Path,
) -> AsyncIterator[Api]:
    if request.param == "duckdb":
        yield duckdb_api
        return
    data_dir = tmp_path_factory.mktemp("api-questdb-data")  # tokens, spill, dead letters
    settings = app_settings(graph_server, data_dir, free_port(), TOKENS, store=request.param)
    async with served_api(settings, cypher_log, questdb_sql_log) as api:
        yield api
