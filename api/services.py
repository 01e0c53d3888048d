"""The composition root: builds every component from settings, owns their lifecycle.

Nothing below ``api/`` reads the environment; this module hands each component its
settings and keeps the shared clients for the app's lifespan.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from api.auth import TokenStore
from api.settings import Settings
from graph.client import GraphClient
from graph.embedded import EmbeddedGraphServer
from graph.errors import TwinqlError, Unavailable
from graph.repository import GraphRepository
from graph.settings import EmbeddedGraphSettings, GraphSettings

__all__ = ["Services"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    tokens: TokenStore
    graph: GraphRepository | None = None
    graph_server: EmbeddedGraphServer | None = None
    started: bool = False
    registry_listeners: list[Callable[[str], Awaitable[None]]] = field(default_factory=list)
    _client: GraphClient | None = field(default=None, repr=False)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        if settings.tokens:
            tokens = TokenStore.parse(settings.tokens)
        else:
            tokens = TokenStore.from_file(settings.data_dir / "tokens.json")
        return cls(settings=settings, tokens=tokens)

    @property
    def repo(self) -> GraphRepository:
        if self.graph is None:
            raise Unavailable("the knowledge graph is not connected")
        return self.graph

    async def start(self, *, record_statements_to: Path | None = None) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if s.neo4j_uri:
                gs = GraphSettings(
                    uri=s.neo4j_uri,
                    user=s.neo4j_user,
                    password=s.neo4j_password,
                    database=s.neo4j_database,
                    record_statements_to=record_statements_to,
                )
            else:
                server = EmbeddedGraphServer(
                    EmbeddedGraphSettings(data_dir=s.data_dir, heap=s.graph_heap)
                )
                await server.start()
                self._stack.push_async_callback(server.aclose)
                self.graph_server = server
                gs = server.graph_settings(record_statements_to=record_statements_to)
            client = GraphClient(gs)
            self._stack.push_async_callback(client.aclose)
            self._client = client
            self.graph = GraphRepository(client)
            await self.graph.ensure_schema()
            self.started = True
        except BaseException:
            await self.aclose()
            raise

    async def registry_changed(self, what: str) -> None:
        """Tell caches and connectors that the registry changed (``sensors``, ``sources``,
        ``assets`` or ``all``). A failing listener is logged, never fatal to the write."""
        for listener in list(self.registry_listeners):
            try:
                await listener(what)
            except Exception:
                log.exception("registry listener %r failed on %s change", listener, what)

    async def aclose(self) -> None:
        self.started = False
        await self._stack.aclose()

    async def readiness(self) -> dict[str, object]:
        """Each component's state, for /readyz."""
        checks: dict[str, object] = {}
        if self.graph_server is not None and not self.graph_server.running:
            checks["graph"] = "embedded graph server is not running"
        else:
            try:
                await self.repo.ping()
                checks["graph"] = "ok"
            except TwinqlError as exc:
                checks["graph"] = exc.message
        return checks
