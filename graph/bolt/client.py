"""The Bolt client: one ``AsyncDriver`` per process, one session per unit of work.

Sessions are reused: a unit of work takes an idle session from a small free list (or
opens one) and gives it back when its transaction ended cleanly, so a GraphQL request's
many reads do not each build and close a session. A session is never shared by two
units at once (the driver's sessions are not concurrency-safe); one that saw an error
is closed, not reused; at most ``IDLE_SESSIONS`` idle ones are kept.

A single read statement (``read``) runs as an auto-commit transaction: RUN and PULL go
out together, one round trip, where a managed transaction adds BEGIN and COMMIT; its
retryable failures are retried here for the same ``max_retry_time``. Units of several
statements and every write run inside a managed transaction (``execute_read``/
``execute_write``, which retry transient failures, so the work functions are idempotent
and consume their results inside). Rows are built from the records' values directly
(``record.data()``'s recursive export only where a value is not plain data). Driver
errors are translated here, at the edge, into the twinql error tree. In tests, every statement sent can be appended to a JSON-lines file so the
suite lints it with Neo4j's own parser.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, LiteralString, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase, AsyncManagedTransaction
from neo4j import exceptions as neo4j_errors

from graph.bolt.settings import GraphSettings
from graph.errors import Conflict, TwinqlError, Unavailable, ValidationError

__all__ = ["GraphClient", "Tx", "translate"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = dict[str, Any]

DEFAULT_BATCH = 5_000
IDLE_SESSIONS = 32  # idle sessions kept for reuse (a session holds no connection idle)


class Tx:
    """A transaction handed to work functions: run statements, get rows back."""

    __slots__ = ("_client", "_tx")

    def __init__(self, client: GraphClient, tx: AsyncManagedTransaction) -> None:
        self._client = client
        self._tx = tx

    async def rows(self, query: LiteralString, **params: Any) -> list[Row]:
        self._client._record(query)
        result = await self._tx.run(query, params)
        return _rows_of(result.keys(), await result.fetch(_ALL))

    async def run(self, query: LiteralString, **params: Any) -> None:
        self._client._record(query)
        result = await self._tx.run(query, params)
        await result.consume()

    async def batched(
        self, query: LiteralString, rows: Sequence[Mapping[str, Any]], batch: int = DEFAULT_BATCH
    ) -> None:
        """Run an ``UNWIND $rows AS r ...`` statement over ``rows`` in chunks."""
        for i in range(0, len(rows), batch):
            await self.run(query, rows=list(rows[i : i + batch]))

    async def batched_rows(
        self, query: LiteralString, rows: Sequence[Mapping[str, Any]], batch: int = DEFAULT_BATCH
    ) -> list[Row]:
        """Like ``batched`` for statements that return rows: all chunks' rows, in order."""
        out: list[Row] = []
        for i in range(0, len(rows), batch):
            out += await self.rows(query, rows=list(rows[i : i + batch]))
        return out

    async def batched_now(
        self,
        query: LiteralString,
        rows: Sequence[Mapping[str, Any]],
        now: str | None,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        """Like ``batched`` for statements that also take a ``$now`` timestamp."""
        for i in range(0, len(rows), batch):
            await self.run(query, rows=list(rows[i : i + batch]), now=now)


class GraphClient:
    """Async access to Neo4j 5 (or the embedded ArcadeDB Bolt server)."""

    def __init__(self, settings: GraphSettings) -> None:
        if not settings.uri:
            raise ValidationError("GraphClient needs a Bolt URI")
        self.settings = settings
        self.database = settings.database
        self._driver = AsyncGraphDatabase.driver(
            settings.uri,
            auth=(settings.user, settings.password),
            max_connection_pool_size=settings.max_connection_pool_size,
            connection_timeout=settings.connection_timeout_s,
            max_transaction_retry_time=settings.max_retry_time_s,
        )
        self._idle: list[neo4j.AsyncSession] = []
        self._closed = False
        self._record_path: Path | None = settings.record_statements_to
        self._recorded: set[str] = set()
        self.sent_count = 0  # statements sent by this client (tests count round trips)

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for session in idle:
            await session.close()
        await self._driver.close()

    async def ping(self) -> None:
        """Raise Unavailable unless the server answers a trivial read."""
        await self.read(_PING)

    async def read(self, query: LiteralString, **params: Any) -> list[Row]:
        """One read-only statement's rows, in an auto-commit transaction (one round trip;
        retryable failures retried as a managed transaction would)."""
        self._record(query)
        deadline = time.monotonic() + self.settings.max_retry_time_s
        delay = 0.05
        while True:
            session = self._idle.pop() if self._idle else None
            try:
                if session is None:
                    session = self._driver.session(database=self.database)
                result = await session.run(query, params)
                rows = _rows_of(result.keys(), await result.fetch(_ALL))
            except BaseException as exc:
                if session is not None:
                    await _discard(session)
                if isinstance(exc, TwinqlError) or not isinstance(
                    exc, neo4j_errors.Neo4jError | neo4j_errors.DriverError | OSError
                ):
                    raise
                if _retryable(exc) and time.monotonic() + delay < deadline:
                    log.debug("retrying a read after %r", exc)
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
                raise translate(exc) from exc
            await self._release(session)
            return rows

    async def write(self, query: LiteralString, **params: Any) -> list[Row]:
        async def work(tx: Tx) -> list[Row]:
            return await tx.rows(query, **params)

        return await self.write_tx(work)

    async def read_tx(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        return await self._execute(work, write=False)

    async def write_tx(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction: all of it commits, or none of it."""
        return await self._execute(work, write=True)

    async def _execute(self, work: Callable[[Tx], Awaitable[T]], *, write: bool) -> T:
        async def unit(tx: AsyncManagedTransaction) -> T:
            return await work(Tx(self, tx))

        session = self._idle.pop() if self._idle else None
        try:
            if session is None:
                session = self._driver.session(database=self.database)
            if write:
                out = await session.execute_write(unit)
            else:
                out = await session.execute_read(unit)
        except BaseException as exc:
            if session is not None:
                await _discard(session)
            if isinstance(exc, TwinqlError) or not isinstance(
                exc, neo4j_errors.Neo4jError | neo4j_errors.DriverError | OSError
            ):
                raise
            raise translate(exc) from exc
        await self._release(session)
        return out

    async def _release(self, session: neo4j.AsyncSession) -> None:
        """Keep a session that ended cleanly for the next unit, up to ``IDLE_SESSIONS``."""
        if self._closed or len(self._idle) >= IDLE_SESSIONS:
            await session.close()
        else:
            self._idle.append(session)

    def _record(self, query: str) -> None:
        self.sent_count += 1
        if self._record_path is None or query in self._recorded:
            return
        self._recorded.add(query)
        with self._record_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(query) + "\n")


_ALL = 2**31 - 1
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _rows_of(keys: Sequence[str], records: Sequence[neo4j.Record]) -> list[Row]:
    """Records as dicts: values as they are when plain data (scalars, lists and maps of
    them: all twinql's statements return), ``record.data()`` otherwise (nodes,
    relationships, paths, temporal values, a value that failed to hydrate)."""
    out: list[Row] = []
    for record in records:
        values = tuple.__iter__(record)
        row = dict(zip(keys, values, strict=True))
        for v in row.values():
            if type(v) not in _PLAIN and not _plain(v):
                row = record.data()
                break
        out.append(row)
    return out


def _plain(value: Any) -> bool:
    t = type(value)
    if t in _PLAIN:
        return True
    if t is list:
        return all(_plain(v) for v in value)
    if t is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _retryable(exc: BaseException) -> bool:
    is_retryable = getattr(exc, "is_retryable", None)
    return bool(is_retryable()) if callable(is_retryable) else False


async def _discard(session: neo4j.AsyncSession) -> None:
    """Close a session that saw an error (the error in hand is what the caller gets)."""
    try:
        await session.close()
    except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError) as exc:
        log.debug("closing a failed session failed too: %r", exc)


def translate(exc: Exception) -> TwinqlError:
    """The twinql error for a driver or server error (the one place they are mapped).

    Transient server errors (deadlocks, a database that is not available right now) get
    here only once the managed transaction's retries ran out: the caller may retry
    later, so they are UNAVAILABLE, like a lost connection. Anything else the server
    refuses is a bug of ours (INTERNAL: logged in full and masked by the API)."""
    if isinstance(exc, neo4j_errors.ConstraintError):
        return Conflict(_server_message(exc))
    if isinstance(exc, neo4j_errors.TransientError):  # DatabaseUnavailable included
        return Unavailable(
            f"the graph server is busy or unavailable, retry: {_server_message(exc)}"
        )
    if isinstance(exc, neo4j_errors.ServiceUnavailable | neo4j_errors.SessionExpired | OSError):
        return Unavailable(f"the graph server is unavailable: {exc}")
    if isinstance(exc, neo4j_errors.AuthError):
        return Unavailable(f"the graph server refused our credentials: {exc}")
    if isinstance(exc, neo4j_errors.Neo4jError):
        return TwinqlError(f"graph query failed: {exc.code}: {_server_message(exc)}")
    if isinstance(exc, neo4j_errors.DriverError):
        return Unavailable(f"graph driver error: {exc}")
    return TwinqlError(f"graph client failed: {exc!r}")


def _server_message(exc: neo4j.exceptions.Neo4jError) -> str:
    return exc.message or str(exc)


_PING: LiteralString = "RETURN 1 AS ok"
