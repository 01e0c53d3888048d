"""twinql killed (SIGKILL) under MQTT and HTTP ingest together, then started again.

``twinql serve`` reads an MQTT source on a real mosquitto while a client posts batches
to ``POST /ingest``. A publisher sends N readings at QoS 1 (each with its own timestamp)
through the whole test; the service is killed -9 right after an HTTP answer, with MQTT
messages in flight, and started again on the same data directory while the publisher
keeps going. The broker acknowledged every publish, so all N must be stored: the ones
twinql had not acknowledged when it died (in flight) and the ones published while it
was down (queued on its session) are delivered to the next process, which resumes the
session (``ingest.connectors.mqtt_memo``). The HTTP client sends each batch until it is
answered (a batch cut by the kill is sent again: same timestamps, so idempotent), and
every reading answered ``accepted`` is stored. Exact counts, none twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import paho.mqtt.client as mqtt

from graph.bolt.embedded import free_port
from tests.support.broker import Mosquitto
from tests.support.polling import eventually_sync
from tests.support.serving import SERVE_ENV, connector_state, serve, stored_counts, wait_ready

TOKEN = SERVE_ENV["TWINQL_TOKENS"].split(":")[0]
N_MQTT = 2_000
BATCHES, PER_BATCH = 30, 200
KILL_AFTER = 12  # HTTP batches answered before the kill
ASSET, MQTT_SENSOR, HTTP_SENSOR = "kx-pump", "kx-temp", "kx-pt"
SPAN = timedelta(hours=3)  # the readings' time span from t0


def plant(url: str) -> str:
    return f"""
name: crash-mqtt-http
assets:
  - id: kx-site
    type: site
    level: site
    children:
      - {{id: {ASSET}, type: pump, level: equipment,
         sensors: [{{id: {MQTT_SENSOR}, kind: temperature, unit: degC, min_value: 0,
                     max_value: 1000000}},
                   {{id: {HTTP_SENSOR}, kind: pressure, unit: bar, min_value: 0,
                     max_value: 1000000}}]}}
data_sources:
  - id: kx-broker
    protocol: mqtt
    endpoint: {url}
    settings: {{reconnect_min_s: 0.1, reconnect_max_s: 0.5, keepalive_s: 10}}
    bindings:
      - {{sensor: {MQTT_SENSOR}, address: temp}}
"""


class Publisher(threading.Thread):
    """Publishes N_MQTT readings at QoS 1, each until the broker acknowledged it, about
    one every ``pace`` seconds; ``sent`` counts the acknowledged ones."""

    def __init__(self, port: int, t0: datetime, pace: float) -> None:
        super().__init__(name="kx-publisher", daemon=True)
        self.port, self.t0, self.pace = port, t0, pace
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kx-publisher")
        try:
            client.connect("127.0.0.1", self.port)
            client.loop_start()
            for i in range(N_MQTT):
                at = self.t0 + timedelta(seconds=i)
                body = json.dumps({"value": float(i), "timestamp": at.isoformat()})
                info = client.publish(f"assets/{ASSET}/sensors/temp/data", body, qos=1)
                info.wait_for_publish(timeout=30)
                assert info.is_published(), f"publish {i} not acknowledged by the broker"
                self.sent += 1
                time.sleep(self.pace)
            client.loop_stop()
            client.disconnect()
        except BaseException as exc:  # reported by the test, which joins this thread
            self.error = exc


def http_batch(k: int, t0: datetime) -> list[dict[str, object]]:
    return [
        {
            "sensor_id": HTTP_SENSOR,
            "timestamp": (t0 + timedelta(seconds=i)).isoformat(),
            "value": float(i),
        }
        for i in range(k * PER_BATCH, (k + 1) * PER_BATCH)
    ]


def post_until_answered(port: int, body: list[dict[str, object]], within: float = 120) -> int:
    """POST one batch until an answer comes (connection refused while twinql is down)."""
    deadline = time.monotonic() + within
    while True:
        try:
            r = httpx.post(
                f"http://127.0.0.1:{port}/ingest",
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                timeout=30,
            )
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        if r.status_code == 503 and time.monotonic() < deadline:  # starting up
            time.sleep(0.2)
            continue
        assert r.status_code == 200, r.text
        assert r.json()["rejected"] == 0, r.text
        return int(r.json()["accepted"])


def stored(path: Path) -> dict[str, tuple[int, int, set[int]]]:
    out = {}
    with duckdb.connect(str(path), read_only=True) as conn:
        for sensor in (MQTT_SENSOR, HTTP_SENSOR):
            rows = conn.execute(
                "SELECT ts, value FROM readings WHERE sensor_id = ?", [sensor]
            ).fetchall()
            out[sensor] = (len(rows), len({ts for ts, _ in rows}), {int(v) for _, v in rows})
    return out


def test_kill_9_under_mqtt_and_http_ingest_loses_and_repeats_nothing(tmp_path: Path) -> None:
    broker = Mosquitto()
    broker.start()
    data, log = tmp_path / "data", tmp_path / "serve.log"
    plant_file = tmp_path / "plant.yaml"
    plant_file.write_text(plant(broker.url))
    loaded = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", str(plant_file), "--data-dir", str(data)],
        env=SERVE_ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    t0 = datetime.now(UTC).replace(microsecond=0) - SPAN
    publisher = Publisher(broker.port, t0, pace=0.004)
    proc = serve(data, port, log)
    accepted = 0
    try:
        wait_ready(proc, port, log)
        eventually_sync(
            lambda: connector_state(port, TOKEN, "kx-broker") == "connected",
            within=60,
            what="the MQTT connector connected",
        )
        publisher.start()
        for k in range(KILL_AFTER):
            accepted += post_until_answered(port, http_batch(k, t0))
        eventually_sync(
            lambda: publisher.sent, done=lambda n: n >= N_MQTT // 4, within=60, what="MQTT flow"
        )
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: no flush, no PUBACK still to go
        proc.wait(timeout=60)
        at_kill = publisher.sent
        assert proc.returncode == -signal.SIGKILL

        proc = serve(data, port, log)  # same directory, same port: same MQTT client id
        for k in range(KILL_AFTER, BATCHES):  # refused until it listens, then answered
            accepted += post_until_answered(port, http_batch(k, t0))
        publisher.join(timeout=120)
        assert publisher.error is None, publisher.error
        assert publisher.sent == N_MQTT
        seen = eventually_sync(
            lambda: stored_counts(port, TOKEN, ASSET, t0 - timedelta(minutes=1), t0 + SPAN),
            done=lambda c: c.get(MQTT_SENSOR) == N_MQTT and c.get(HTTP_SENSOR) == accepted,
            within=60,
            every=0.5,
            what=f"{N_MQTT} MQTT and {accepted} HTTP readings stored",
        )
        time.sleep(1)  # anything still on its way (a duplicate would show below)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=120)
        broker.close()
    assert accepted == BATCHES * PER_BATCH
    assert at_kill < N_MQTT, "the kill came after the last publish: nothing was in flight"
    result = stored(data / "readings.duckdb")
    mqtt_rows, mqtt_distinct, mqtt_values = result[MQTT_SENSOR]
    http_rows, http_distinct, http_values = result[HTTP_SENSOR]
    assert (mqtt_rows, mqtt_distinct) == (N_MQTT, N_MQTT), (seen, log.read_text()[-3000:])
    assert mqtt_values == set(range(N_MQTT))
    assert (http_rows, http_distinct) == (accepted, accepted)
    assert http_values == set(range(BATCHES * PER_BATCH))
