"""Durable acknowledgement, proven by a crash: readings answered ``accepted`` by
``POST /ingest`` survive a ``kill -9`` of the service that came right after the answer.

The real ``twinql serve`` runs as a child process over its own data directory. A plant
is loaded first (``twinql load``), readings are posted in batches, and the process is
killed (SIGKILL) the moment the last answer is in. A second ``twinql serve`` on the
same directory replays what it finds; once it has stopped, the DuckDB file holds every
accepted reading exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx

from graph.bolt.embedded import free_port
from tests.support.serving import SERVE_ENV, serve, wait_ready

PLANT = """
name: crash
assets:
  - id: crash-site
    type: site
    level: site
    children:
      - {id: crash-pump, type: pump, level: equipment,
         sensors: [{id: crash-pt, kind: pressure, unit: bar, min_value: 0, max_value: 16},
                   {id: crash-ft, kind: flow, unit: m3/h, min_value: 0, max_value: 500}]}
"""
TOKEN = SERVE_ENV["TWINQL_TOKENS"].split(":")[0]
BATCHES, PER_BATCH = 20, 500


def batch(k: int) -> list[dict[str, object]]:
    """Readings k*PER_BATCH.. of two sensors, one second apart: all distinct (sensor, ts)."""
    out = []
    for i in range(k * PER_BATCH, (k + 1) * PER_BATCH):
        sensor = ("crash-pt", "crash-ft")[i % 2]
        second = i // 2
        ts = f"2024-03-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        out.append({"sensor_id": sensor, "timestamp": ts, "value": float(i % 10)})
    return out


def stored(path: Path) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM readings "
            "WHERE sensor_id IN ('crash-pt', 'crash-ft')"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_accepted_readings_survive_a_kill_9_right_after_the_answer(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "serve.log"
    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT)
    loaded = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", str(plant), "--data-dir", str(data)],
        env=SERVE_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    first = serve(data, port, log)
    accepted = 0
    try:
        wait_ready(first, port, log)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        ) as http:
            for k in range(BATCHES):
                r = http.post(
                    "/ingest",
                    content=json.dumps(batch(k)),
                    headers={"Content-Type": "application/json"},
                )
                assert r.status_code == 200, r.text
                assert r.json()["rejected"] == 0, r.text
                accepted += r.json()["accepted"]
        os.kill(first.pid, signal.SIGKILL)  # no flush, no shutdown: a crash
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert accepted == BATCHES * PER_BATCH

    second = serve(data, port, log)  # the same directory: replays what the crash left
    try:
        wait_ready(second, port, log)
    finally:
        second.terminate()
        second.wait(timeout=120)
    assert stored(data / "readings.duckdb") == (accepted, accepted), log.read_text()[-3000:]
