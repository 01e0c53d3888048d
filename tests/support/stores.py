"""Fixtures of the readings path: a readings store per backend (DuckDB always, QuestDB
when ``TWINQL_QUESTDB_URL`` names a server), isolated per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.store import ReadingsStore, StoreSettings, open_store

__all__ = ["QUESTDB_URL_ENV", "store", "store_settings"]

QUESTDB_URL_ENV = "TWINQL_QUESTDB_URL"


def store_settings(backend: str, tmp_path: Path, sql_log: Path | None) -> StoreSettings:
    if backend == "duckdb":
        return StoreSettings(backend="duckdb", path=tmp_path / "readings.duckdb", threads=1)
    url = os.environ.get(QUESTDB_URL_ENV)
    if not url:
        pytest.skip(f"{QUESTDB_URL_ENV} is not set: no QuestDB server to run the contract on")
    return StoreSettings(
        backend="questdb",
        questdb_url=url,
        table_prefix=f"t{uuid.uuid4().hex[:10]}_",
        sql_log=sql_log,
    )


@pytest.fixture(params=["duckdb", pytest.param("questdb", marks=pytest.mark.questdb)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, questdb_sql_log: Path
) -> AsyncIterator[ReadingsStore]:
    settings = store_settings(request.param, tmp_path, questdb_sql_log)
    opened = await open_store(settings)
    try:
        yield opened
    finally:
        await opened.aclose()
