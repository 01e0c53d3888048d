"""Choose and open the readings store the settings name."""

from __future__ import annotations

from ingest.store.duckdb_store import DuckDBStore
from ingest.store.port import ReadingsStore, StoreSettings
from ingest.store.questdb_store import QuestDBStore

__all__ = ["open_store"]


async def open_store(settings: StoreSettings) -> ReadingsStore:
    """An opened store (tables created); close it with ``aclose()``."""
    if settings.backend == "questdb":
        assert settings.questdb_url is not None  # checked by StoreSettings
        return await QuestDBStore(
            settings.questdb_url,
            pg_port=settings.pg_port,
            pg_user=settings.pg_user,
            pg_password=settings.pg_password,
            pg_database=settings.pg_database,
            table_prefix=settings.table_prefix,
            sql_log=settings.sql_log,
        ).open()
    path = settings.path if settings.path is not None else ":memory:"
    return await DuckDBStore(
        path,
        table_prefix=settings.table_prefix,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
    ).open()
