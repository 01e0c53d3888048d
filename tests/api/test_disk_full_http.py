"""A full disk under the served app, for real: its data directory (the DuckDB readings
file and the spill log; the graph lives elsewhere) is a small tmpfs the test fills.
``POST /ingest`` then answers 503 for what it cannot make durable and ``accepted`` only
for what is durable, /readyz says why, and once space returns both recover by
themselves, without a restart; the store then holds every accepted reading exactly
once, and nothing became a dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from api.app import create_app
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from tests.support.app import Api, app_settings, served
from tests.support.disk import Disk
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import ADMIN, INGEST

T0 = datetime(2024, 3, 1, tzinfo=UTC)
CHUNK = 2_000


def plant(u: str) -> Plant:
    return Plant.of(
        {
            "assets": [{"id": f"{u}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}],
            "sensors": [
                {"id": f"{u}-pt", "assetId": f"{u}-pump", "name": "P", "kind": "pressure",
                 "unit": "bar", "minValue": 0, "maxValue": 1e6}
            ],
        }
    )  # fmt: skip


def body(u: str, k: int) -> str:
    return json.dumps(
        [
            {
                "sensor_id": f"{u}-pt",
                "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
                "value": float(i),
            }
            for i in range(k * CHUNK, (k + 1) * CHUNK)
        ]
    )


async def test_a_full_disk_answers_503_then_ingest_recovers_by_itself(
    graph_server: EmbeddedGraphServer, small_disk: Disk, uid: str
) -> None:
    port = free_port()
    tokens = f"{ADMIN}:admin:alice,{INGEST}:ingest:dev"
    app = create_app(app_settings(graph_server, small_disk.root, port, tokens))
    accepted, refused = 0, []
    auth = {"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"}
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        await register(Api(base, http, app.state.services), plant(uid))
        writer = app.state.services.ingest.writer
        small_disk.fill()
        for k in range(60):
            r = await http.post("/ingest", content=body(uid, k), headers=auth)
            if r.status_code == 200:
                assert r.json() == {"accepted": CHUNK, "rejected": 0, "errors": []}
                accepted += CHUNK
            else:
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "UNAVAILABLE"
                refused.append(k)
                if writer.fault is not None:
                    break
        assert refused, "the full disk refused nothing"
        down = await http.get("/readyz")
        assert down.status_code == 503 and "No space left" in down.json()["checks"]["ingest"]
        small_disk.free()
        await eventually(
            lambda: http.get("/readyz"),
            done=lambda r: r.status_code == 200,
            within=30,
            what="/readyz recovers by itself",
        )
        for k in refused:  # the client sends again what was answered 503
            r = await http.post("/ingest", content=body(uid, k), headers=auth)
            assert r.status_code == 200, r.text
            accepted += CHUNK
        stats = writer.stats()
        assert (stats.dead_lettered, stats.quarantined, stats.fault) == (0, 0, None)
    assert stored(small_disk.root / "readings.duckdb", f"{uid}-pt") == (accepted, accepted)


def stored(path: Path, sensor: str) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT ts) FROM readings WHERE sensor_id = ?", [sensor]
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
