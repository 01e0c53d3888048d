"""The graph for tests: one embedded Bolt graph server for the whole run, isolated by ids
(``uid``), its client and repository.

Every Cypher statement the graph client sends is appended to the log that the lint
plugin checks with Neo4j's parser when the session ends.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings

__all__ = ["graph_client", "graph_server", "repo", "uid"]


@pytest.fixture(scope="session")
async def graph_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EmbeddedGraphServer]:
    data_dir = tmp_path_factory.mktemp("graph-data")
    server = EmbeddedGraphServer(EmbeddedGraphSettings(data_dir=data_dir, heap="1g"))
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture(scope="session")
async def graph_client(
    graph_server: EmbeddedGraphServer, cypher_log: Path
) -> AsyncIterator[GraphClient]:
    client = GraphClient(graph_server.graph_settings(record_statements_to=cypher_log))
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def repo(graph_client: GraphClient) -> GraphRepository:
    repository = GraphRepository(graph_client)
    await repository.ensure_schema()
    return repository


@pytest.fixture
def uid() -> str:
    """A short unique prefix so tests share the server without seeing each other's data."""
    return "t" + uuid.uuid4().hex[:10]
