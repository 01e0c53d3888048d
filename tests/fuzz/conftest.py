"""Fixtures of the fuzz suite: ONE served app for the folder (its own data dir and DuckDB,
so every dead letter it keeps came from these tests), its own Mosquitto, and a small
plant registered once; plus the hypothesis settings every property here runs under.

The properties go through the real paths (HTTP ``/ingest``, ``/graphql``, MQTT through
the broker), so examples are few and derandomized: the folder runs in well under a
minute on a 2-core CI machine and a failure reproduces on the next run.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from graph.bolt.embedded import EmbeddedGraphServer, free_port
from tests.support.app import Api, app_settings, served_api
from tests.support.broker import Mosquitto
from tests.support.plant import Plant, register
from tests.support.tokens import ADMIN, TOKENS

__all__ = ["FUZZ", "STAMPS", "U", "examples", "fuzz_api", "fuzz_broker", "rejected_since"]

U = "fz" + uuid.uuid4().hex[:8]  # the prefix of every id this folder registers
# Epoch milliseconds for the readings of every module here, each used once: readings
# dedup on (ts, sensor_id), and a test counts what is stored at its own timestamps.
# Half an hour back: none is from the future, none older than a store keeps.
STAMPS = itertools.count(int((datetime.now(UTC) - timedelta(minutes=30)).timestamp() * 1000))

# Each property states its max_examples; the rest is shared. The fixtures the properties
# take are package- or module-scoped (one app, one broker, one device for all examples):
# hypothesis's health check refuses function-scoped ones, and rightly (they would not be
# reset between examples). Derandomized, no example database: CI runs the same examples.
FUZZ: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile("fuzz", **FUZZ)
# A longer hunt than CI's, e.g. overnight: TWINQL_FUZZ_SCALE=20 multiplies every count.
_SCALE = max(1, int(os.environ.get("TWINQL_FUZZ_SCALE", "1")))


def examples(n: int) -> int:
    """``n`` examples, times ``TWINQL_FUZZ_SCALE``."""
    return n * _SCALE


def plant() -> Plant:
    """A pump with a pressure sensor (0..16 bar) and a temperature sensor (no range)."""
    return Plant.of(
        {
            "assets": [
                {"id": f"{U}-site", "name": "Site", "type": "site", "level": "SITE"},
                {
                    "id": f"{U}-pump",
                    "name": "Pump",
                    "type": "pump",
                    "level": "EQUIPMENT",
                    "parentId": f"{U}-site",
                },
            ],
            "sensors": [
                {
                    "id": f"{U}-pt",
                    "assetId": f"{U}-pump",
                    "name": "Pressure",
                    "kind": "pressure",
                    "unit": "bar",
                    "minValue": 0,
                    "maxValue": 16,
                },
                {
                    "id": f"{U}-tt",
                    "assetId": f"{U}-pump",
                    "name": "Temperature",
                    "kind": "temperature",
                    "unit": "degC",
                },
            ],
        }
    )


@pytest.fixture(scope="package")
def fuzz_broker() -> Iterator[Mosquitto]:
    broker = Mosquitto()
    broker.start()
    yield broker
    broker.close()


@pytest.fixture(scope="package")
async def fuzz_api(
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
    cypher_log: Path,
    questdb_sql_log: Path,
    fuzz_broker: Mosquitto,
) -> AsyncIterator[Api]:
    settings_ = app_settings(
        graph_server,
        tmp_path_factory.mktemp("fuzz-data"),
        free_port(),
        TOKENS,
        mqtt_url=fuzz_broker.url,
    )
    async with served_api(settings_, cypher_log, questdb_sql_log) as api:
        await register(api, plant())
        yield api


REJECTED = """query($since: DateTime, $limit: Int!) {
  rejectedReadings(since: $since, limit: $limit) { receivedAt sensorId assetId raw reason }
}"""


async def rejected_since(api: Api, since: datetime) -> list[dict[str, Any]]:
    """The dead letters the app kept since ``since`` (all of them: the app is ours)."""
    await api.settled()
    data = await api.ok(REJECTED, {"since": since.isoformat(), "limit": 1000}, token=ADMIN)
    rows: list[dict[str, Any]] = data["rejectedReadings"]
    assert len(rows) < 1000, "more dead letters than one query lists: fewer per example"
    return rows
