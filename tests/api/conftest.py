"""The real ASGI app under uvicorn on a free loopback port, sharing the session graph server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.services.container import Services
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port

ADMIN = "admin-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
INGEST = "ingest-token-0123456789abcdef"
SCOPED_ENGINEER = "scoped-engineer-token-0123456789"  # may operate below "elsewhere" only


@dataclass
class Api:
    base: str
    client: httpx.AsyncClient
    services: Services

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = ADMIN
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self.gql(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]


def app_settings(
    graph_server: EmbeddedGraphServer, data_dir: Path, port: int, tokens: str, **extra: Any
) -> Settings:
    """Settings of an app under test: the session's graph server, its own data dir."""
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


@pytest.fixture(scope="session")
async def api(
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
    cypher_log: Path,
    questdb_sql_log: Path,
) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("api-data")
    port = free_port()
    settings = app_settings(
        graph_server,
        data_dir,
        port,
        f"{ADMIN}:admin:alice,{OPERATOR}:operator:olga,{VIEWER}:viewer:vic,"
        f"{INGEST}:ingest:dev,{SCOPED_ENGINEER}:engineer:sam:elsewhere",
    )
    app = create_app(settings, record_statements_to=cypher_log, sql_log=questdb_sql_log)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        yield Api(base=base, client=client, services=app.state.services)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task
