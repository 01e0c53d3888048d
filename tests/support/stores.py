"""Fixtures of the readings path: a readings store per backend (DuckDB always, QuestDB
when ``TWINQL_QUESTDB_URL`` names a server), isolated per test.

``STORE_BACKENDS`` parametrises anything over both backends (the QuestDB case is marked
``questdb`` and skipped, saying why, without a server); ``questdb_app_settings()`` gives
the settings of an app keeping its readings in that server, under table names of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from ingest.store import ReadingsStore, StoreSettings, open_store

__all__ = [
    "QUESTDB_URL_ENV",
    "STORE_BACKENDS",
    "questdb_app_settings",
    "store",
    "store_settings",
]

QUESTDB_URL_ENV = "TWINQL_QUESTDB_URL"
STORE_BACKENDS = ["duckdb", pytest.param("questdb", marks=pytest.mark.questdb)]
_NO_QUESTDB = f"{QUESTDB_URL_ENV} is not set: no QuestDB server to run against"


def _table_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}_"


def store_settings(backend: str, tmp_path: Path, sql_log: Path | None) -> StoreSettings:
    if backend == "duckdb":
        return StoreSettings(backend="duckdb", path=tmp_path / "readings.duckdb", threads=1)
    url = os.environ.get(QUESTDB_URL_ENV)
    if not url:
        pytest.skip(_NO_QUESTDB)
    return StoreSettings(
        backend="questdb",
        questdb_url=url,
        table_prefix=_table_prefix(),
        sql_log=sql_log,
    )


def questdb_app_settings() -> dict[str, Any]:
    """``api.settings.Settings`` fields of an app on the QuestDB ``TWINQL_QUESTDB_URL``
    names: its ``TWINQL_QUESTDB_*`` variables as the service reads them (PG-wire port,
    user, password), and a fresh table prefix so that runs never see each other's rows.
    Skips the test when no server is named."""
    if not os.environ.get(QUESTDB_URL_ENV):
        pytest.skip(_NO_QUESTDB)
    named = Settings.from_env(
        {k: v for k, v in os.environ.items() if k.startswith("TWINQL_QUESTDB_")}
    )
    return {
        "questdb_url": named.questdb_url,
        "questdb_pg_port": named.questdb_pg_port,
        "questdb_user": named.questdb_user,
        "questdb_password": named.questdb_password,
        "questdb_table_prefix": named.questdb_table_prefix or _table_prefix(),
    }


@pytest.fixture(params=STORE_BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, questdb_sql_log: Path
) -> AsyncIterator[ReadingsStore]:
    settings = store_settings(request.param, tmp_path, questdb_sql_log)
    opened = await open_store(settings)
    try:
        yield opened
    finally:
        await opened.aclose()
