"""The SQL side of the QuestDB store: one PostgreSQL-wire connection (psycopg 3), kept
between statements and serialised by a lock.

Contract:
- ``read`` runs an idempotent statement (a SELECT) and returns its rows; ``execute``
  runs any other statement (DDL). Each statement is appended to ``sql_log`` when given
  (one JSON string per line), so the test session can lint it with QuestDB's parser.
- A statement that fails for any reason discards the connection (closed, replaced on
  the next statement): after a failed statement QuestDB's PG wire can leave a session
  in a state where later statements fail with wrong-type errors.
- When the kept connection turns out to be closed by the server (a QuestDB restart
  between two statements), a read runs once more on a fresh connection; ``execute``
  does not retry. A connection that cannot be opened, or that fails again, is
  ``Unavailable``; any other database error propagates unchanged.
- Booleans are bound as the text ``true``/``false`` (``register_adapters``). psycopg's
  default sends a bool as one byte (binary ``\x01``/``\x00`` under ``%s``, ``t``/``f`` in
  text), which QuestDB refuses: its PG wire decodes a binary BOOLEAN parameter by length
  alone (4 bytes true, 5 false, anything else "bad value for BOOLEAN parameter") and
  reads a text one as a string cast to BOOLEAN. The store's statements bind no boolean
  at all (``questdb_sql``); this keeps any future one working.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.adapt import AdaptersMap, Dumper

from graph.errors import Unavailable

__all__ = ["BoolWordDumper", "PgParams", "QuestDBSql", "register_adapters"]

Rows = list[tuple[Any, ...]]

log = logging.getLogger(__name__)


class BoolWordDumper(Dumper):
    """A Python bool as the text ``true``/``false`` (PostgreSQL accepts both forms)."""

    oid = psycopg.adapters.types["bool"].oid

    def dump(self, obj: Any) -> bytes:
        return b"true" if obj else b"false"


def register_adapters(adapters: AdaptersMap) -> None:
    """Make ``adapters`` (a connection's, or a copy for tests) dump bools as words."""
    adapters.register_dumper(bool, BoolWordDumper)


@dataclass(frozen=True, slots=True)
class PgParams:
    """Where and as whom to connect (checked by ``StoreSettings``)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str


class QuestDBSql:
    def __init__(self, params: PgParams, *, sql_log: Path | None = None) -> None:
        self._params = params
        self._sql_log = sql_log
        self._log_lock = threading.Lock()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def _unavailable(self, lost: _Lost) -> Unavailable:
        where = f"{self._params.host}:{self._params.port}"
        cause = str(lost.cause).strip().splitlines()[0] if str(lost.cause).strip() else ""
        return Unavailable(
            f"QuestDB at {where} is unreachable: {cause or type(lost.cause).__name__}"
        )

    async def read(self, query: str, params: Sequence[Any] = ()) -> Rows:
        """Rows of an idempotent statement; run once more on a fresh connection when the
        kept one was closed by the server."""
        self._log(query)
        async with self._lock:
            kept = self._conn is not None
            try:
                return await self._run(query, params)
            except _Lost as lost:
                if not (kept and lost.closed_by_server):
                    raise self._unavailable(lost) from lost.cause
                log.info("QuestDB closed the SQL connection (%s); reading on a new one", lost)
            try:  # a restart closed the connection we kept: once more on a new one
                return await self._run(query, params)
            except _Lost as lost:
                raise self._unavailable(lost) from lost.cause

    async def execute(self, query: str, params: Sequence[Any] = ()) -> Rows:
        """Rows (if any) of a statement that is not retried."""
        self._log(query)
        async with self._lock:
            try:
                return await self._run(query, params)
            except _Lost as lost:
                raise self._unavailable(lost) from lost.cause

    async def aclose(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()

    async def _run(self, query: str, params: Sequence[Any]) -> Rows:
        """One statement on the kept connection (opened when there is none). Any failure
        discards the connection; a connection error is raised as ``_Lost``."""
        try:
            if self._conn is None:
                self._conn = await psycopg.AsyncConnection.connect(
                    host=self._params.host,
                    port=self._params.port,
                    user=self._params.user,
                    password=self._params.password,
                    dbname=self._params.dbname,
                    autocommit=True,
                    prepare_threshold=None,
                )
                register_adapters(self._conn.adapters)
            async with self._conn.cursor() as cur:
                await cur.execute(query, params)
                return await cur.fetchall() if cur.description else []
        except BaseException as exc:  # a failed statement may leave the session unusable
            conn, self._conn = self._conn, None
            broken = conn is not None and conn.broken
            if conn is not None:
                await conn.close()
            if isinstance(exc, psycopg.OperationalError):
                raise _Lost(exc, closed_by_server=broken) from exc
            raise

    def _log(self, query: str) -> None:
        if self._sql_log is None:
            return
        with self._log_lock, self._sql_log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(query) + "\n")


class _Lost(Exception):
    """The connection failed: it could not be opened, or it broke during the statement
    (``closed_by_server``: the socket was closed under it, as a server restart does)."""

    def __init__(self, cause: psycopg.OperationalError, *, closed_by_server: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.closed_by_server = closed_by_server
