"""The served app on the QuestDB store while QuestDB cannot be reached (nothing listens on
its ports: a fresh deployment whose QuestDB is still starting, or an outage).

The service still starts; what ``POST /ingest`` answered ``accepted`` is in the fsynced
spill log, whole, never dead-lettered; reads answer UNAVAILABLE with the reason, never
INTERNAL; /readyz says why in one line. Replay into a QuestDB that came back runs in the
readings matrix when ``TWINQL_QUESTDB_URL`` names a server; the spill log and its replay
are the same for every store (tests/ingest/test_durable_writer.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from api.app import create_app
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from ingest.pipeline.spill import SpillLog
from ingest.store import ReadingBatch
from tests.support.app import Api, app_settings, served
from tests.support.plant import Plant, register
from tests.support.tokens import ADMIN, INGEST

T0 = datetime(2024, 3, 1, tzinfo=UTC)
N = 500


async def test_accepted_readings_spill_while_questdb_is_unreachable(
    graph_server: EmbeddedGraphServer, tmp_path: Path, uid: str
) -> None:
    port, pg_port = free_port(), free_port()
    settings = app_settings(
        graph_server,
        tmp_path,
        port,
        f"{ADMIN}:admin:alice,{INGEST}:ingest:dev",
        questdb_url=f"http://127.0.0.1:{free_port()}",
        questdb_pg_port=pg_port,
        questdb_table_prefix="outage_",
    )
    app = create_app(settings)
    sensor = f"{uid}-pt"
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        api = Api(base, http, app.state.services)
        await register(
            api,
            Plant.of(
                {
                    "assets": [{"id": f"{uid}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}],
                    "sensors": [{"id": sensor, "assetId": f"{uid}-pump", "name": "P", "kind": "pressure", "unit": "bar"}],
                }
            ),
        )  # fmt: skip
        body = [
            {"sensor_id": sensor, "timestamp": (T0 + timedelta(seconds=i)).isoformat(), "value": i}
            for i in range(N)
        ]
        r = await http.post(
            "/ingest", content=json.dumps(body), headers={"Authorization": f"Bearer {INGEST}"}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": N, "rejected": 0, "errors": []}

        ready = await http.get("/readyz")
        assert ready.status_code == 503
        reason = ready.json()["checks"]["readings"]
        assert reason.startswith(f"QuestDB at 127.0.0.1:{pg_port} is unreachable:"), reason
        assert "\n" not in reason

        read = await api.gql(
            "query($s: ID!) { sensor(id: $s) { readings { values } } }", {"s": sensor}
        )
        (error,) = read["errors"]
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert "QuestDB" in error["message"] and "unreachable" in error["message"]

        stats = app.state.services.ingest.writer.stats()
        assert (stats.received, stats.stored, stats.spilled) == (N, 0, N)
        assert (stats.dead_lettered, stats.quarantined, stats.spill_pending) == (0, 0, True)

    # A restart while QuestDB is still away: the graph now has sensors, so the start-up
    # would load their latest values from the store; it starts all the same and keeps
    # accepting (the latest values load once QuestDB answers).
    app = create_app(settings)
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        body = [
            {"sensor_id": sensor, "timestamp": (T0 + timedelta(seconds=i)).isoformat(), "value": i}
            for i in range(N, 2 * N)
        ]
        r = await http.post(
            "/ingest", content=json.dumps(body), headers={"Authorization": f"Bearer {INGEST}"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == N
        assert (await http.get("/readyz")).status_code == 503

    spill = SpillLog(tmp_path / "spill")
    batches = [rec for seg in spill.segments() for rec in spill.read(seg)]
    assert all(isinstance(b, ReadingBatch) for b in batches)
    values = np.concatenate([b.value for b in batches if isinstance(b, ReadingBatch)])
    assert sorted(values.tolist()) == [float(i) for i in range(2 * N)]
