"""How the QuestDB store handles its PostgreSQL-wire connection: a failed statement
discards it, a read whose kept connection was closed by the server (a restart) runs
once more on a fresh one, and nothing else is retried.

The store talks to a real PG-wire server through a TCP proxy in the test, which counts
the connections the store opens and can cut them all at once, as a server restart
does. The server is PostgreSQL when ``TWINQL_PG_URL`` names one (e.g.
``postgresql://postgres@127.0.0.1:5432/test``) and QuestDB when ``TWINQL_QUESTDB_URL``
does. PostgreSQL stands in only for the PG-wire behaviour of a connection closed under
the client (and for a statement failing); it says nothing of QuestDB's SQL, and on
PostgreSQL a connection stays usable after a failed statement anyway, so there the
test shows that the connection is replaced, not that replacing it was needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from graph.bolt.embedded import free_port
from graph.errors import Unavailable
from ingest.store import QuestDBStore
from tests.support.stores import QUESTDB_URL_ENV

PG_URL_ENV = "TWINQL_PG_URL"


@dataclass(frozen=True)
class Server:
    kind: str
    host: str
    port: int
    user: str
    password: str
    dbname: str


def server_from_env(kind: str) -> Server:
    if kind == "postgresql":
        url = os.environ.get(PG_URL_ENV)
        if not url:
            pytest.skip(f"{PG_URL_ENV} is not set: no PostgreSQL server to test against")
        info = conninfo_to_dict(url)
        return Server(
            kind,
            str(info.get("host") or "127.0.0.1"),
            int(info.get("port") or 5432),
            str(info.get("user") or "postgres"),
            str(info.get("password") or ""),
            str(info.get("dbname") or "postgres"),
        )
    url = os.environ.get(QUESTDB_URL_ENV)
    if not url:
        pytest.skip(f"{QUESTDB_URL_ENV} is not set: no QuestDB server to test against")
    return Server(kind, urlparse(url).hostname or "127.0.0.1", 8812, "admin", "quest", "qdb")


class CuttingProxy:
    """A TCP proxy to ``target``: counts the connections it accepts; ``cut()`` aborts
    every open one (both sides, as a server restart leaves them); ``stop()`` also stops
    listening (the server stays down)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.port = 0
        self.accepted = 0
        self.upstream_ports: list[int] = []  # our local port of each upstream connection

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self.upstream_ports.append(up_writer.get_extra_info("sockname")[1])
        pair = (writer, up_writer)
        self._open.add(pair)
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._open.discard(pair)
            for w in pair:
                w.close()

    def cut(self) -> None:
        for pair in list(self._open):
            for w in pair:
                w.transport.abort()
        self._open.clear()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.cut()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):  # the other side was cut
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@pytest.fixture(params=["postgresql", pytest.param("questdb", marks=pytest.mark.questdb)])
def server(request: pytest.FixtureRequest) -> Server:
    return server_from_env(request.param)


@pytest.fixture
async def proxy(server: Server) -> AsyncIterator[CuttingProxy]:
    p = CuttingProxy(server.host, server.port)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def store(server: Server, proxy: CuttingProxy) -> AsyncIterator[QuestDBStore]:
    opened = QuestDBStore(  # ILP is not used here; tables are not created
        f"http://127.0.0.1:{free_port()}",
        pg_port=proxy.port,
        pg_user=server.user,
        pg_password=server.password,
        pg_database=server.dbname,
        table_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_the_connection_is_kept_between_statements(
    store: QuestDBStore, proxy: CuttingProxy
) -> None:
    for _ in range(3):
        await store.ping()
    assert proxy.accepted == 1


async def test_a_failed_statement_discards_the_connection(
    store: QuestDBStore, proxy: CuttingProxy
) -> None:
    await store.ping()
    with pytest.raises(psycopg.Error) as failed:  # the table does not exist
        await store.latest(["s1"])
    assert not isinstance(failed.value, psycopg.OperationalError)
    assert proxy.accepted == 1
    await store.ping()
    assert proxy.accepted == 2  # a new connection after the failure
    await store.ping()
    assert proxy.accepted == 2


async def test_a_read_after_a_restart_runs_on_a_fresh_connection(
    store: QuestDBStore, proxy: CuttingProxy
) -> None:
    await store.ping()
    proxy.cut()  # the server went away and came back: our socket is dead
    await store.ping()  # no Unavailable: read once more on a new connection
    assert proxy.accepted == 2
    await store.ping()
    assert proxy.accepted == 2


@pytest.mark.parametrize("server", ["postgresql"], indirect=True)
async def test_a_backend_terminated_by_postgresql_is_replaced(
    server: Server, store: QuestDBStore, proxy: CuttingProxy
) -> None:
    """PostgreSQL's own way of closing a session: an error message (57P01), then EOF."""
    await store.ping()
    async with await psycopg.AsyncConnection.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname=server.dbname,
        autocommit=True,
    ) as admin:
        cur = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(%s)",
            [proxy.upstream_ports],
        )
        assert [r[0] for r in await cur.fetchall()] == [True]
    await store.ping()
    assert proxy.accepted == 2


async def test_a_statement_other_than_a_read_is_not_retried(
    store: QuestDBStore, proxy: CuttingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await store.ping()
    proxy.cut()
    await store.open()  # DDL: the dead connection surfaces, no second attempt
    assert proxy.accepted == 1
    assert "unreachable" in caplog.text  # the service starts; tables wait for the server
    await store.ping()
    assert proxy.accepted == 2


async def test_a_read_is_unavailable_when_the_server_stays_down(
    store: QuestDBStore, proxy: CuttingProxy
) -> None:
    await store.ping()
    await proxy.stop()
    with pytest.raises(Unavailable, match="unreachable"):
        await store.ping()  # the retry cannot connect either
    assert proxy.accepted == 1
