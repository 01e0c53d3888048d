"""The broker killed (SIGKILL) and restarted mid-stream under the real service.

``twinql serve`` (uvloop, the real pipeline and DuckDB) reads an MQTT source on a real
mosquitto; a publisher sends N readings at QoS 1, each with its own timestamp, and
publishes again whatever a kill cut before the broker acknowledged it.

- Persistent broker (sessions and queued messages saved on every change): none twice,
  and every reading stored but those mosquitto acknowledged to the publisher just before
  its SIGKILL and had not saved yet (its save follows its PUBACK).
- Broker without persistence: a kill loses the session twinql held there and the
  messages queued for it, so what is guaranteed is only what twinql acknowledged
  (PUBACK after the readings were durable): everything stored is a published reading,
  none twice, and readings published once twinql is subscribed again all arrive.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import paho.mqtt.client as mqtt
import pytest

from graph.bolt.embedded import free_port
from tests.support.broker import Mosquitto
from tests.support.polling import eventually_sync
from tests.support.serving import SERVE_ENV, connector_state, serve, stored_counts, wait_ready

TOKEN = SERVE_ENV["TWINQL_TOKENS"].split(":")[0]
N, KILLS = 1500, 3
WINDOW = 20  # publishes the broker may have acknowledged but not saved before a kill
ASSET, SENSOR = "bk-pump", "bk-temp"


def plant(url: str) -> str:
    return f"""
name: broker-kill
assets:
  - id: bk-site
    type: site
    level: site
    children:
      - {{id: {ASSET}, type: pump, level: equipment,
         sensors: [{{id: {SENSOR}, kind: temperature, unit: degC, min_value: 0, max_value: 1000000}}]}}
data_sources:
  - id: bk-broker
    protocol: mqtt
    endpoint: {url}
    settings: {{reconnect_min_s: 0.1, reconnect_max_s: 0.5, keepalive_s: 10}}
    bindings:
      - {{sensor: {SENSOR}, address: temp}}
"""


class Publisher:
    """QoS 1 publishes through kills: paho, reconnecting, each reading published until
    the broker acknowledged it (so at least once)."""

    def __init__(self, port: int, t0: datetime) -> None:
        self.port, self.t0 = port, t0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bk-publisher")
        self.client.reconnect_delay_set(1, 2)

    def payload(self, i: int) -> str:
        at = self.t0 + timedelta(seconds=i)
        return json.dumps({"value": float(i), "timestamp": at.isoformat()})

    def send(self, items: range, kill: dict[int, Mosquitto] | None = None) -> None:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        try:
            for i in items:
                if kill and i in kill:
                    kill[i].kill()
                    time.sleep(0.3)
                    kill[i].start()
                while True:
                    info = self.client.publish(
                        f"assets/{ASSET}/sensors/temp/data", self.payload(i), qos=1
                    )
                    if acknowledged(info):
                        break
                    time.sleep(0.05)
        finally:
            self.client.loop_stop()
            self.client.disconnect()


def acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    """The broker acknowledged the publish within 5 s (False when paho was not connected:
    the reading is published again)."""
    try:
        info.wait_for_publish(timeout=5)
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


def count(port: int, t0: datetime) -> int:
    got = stored_counts(port, TOKEN, ASSET, t0 - timedelta(minutes=1), t0 + timedelta(hours=1))
    return got.get(SENSOR, 0)


def stored(path: Path) -> tuple[int, int, set[int]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT ts, value FROM readings WHERE sensor_id = ?", [SENSOR]
        ).fetchall()
    return len(rows), len({ts for ts, _ in rows}), {int(v) for _, v in rows}


def run(
    tmp_path: Path, broker: Mosquitto, kills: dict[int, Mosquitto], expect: int
) -> tuple[Path, int, str]:
    """Serve, publish N readings with ``kills``, wait until at least ``expect`` are
    stored; returns the store file, the count then and the service log."""
    data, log = tmp_path / "data", tmp_path / "serve.log"
    plant_file = tmp_path / "plant.yaml"
    plant_file.write_text(plant(broker.url))
    loaded = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", str(plant_file), "--data-dir", str(data)],
        env=SERVE_ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    proc = serve(data, port, log)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    try:
        wait_ready(proc, port, log)
        eventually_sync(
            lambda: connector_state(port, TOKEN, "bk-broker") == "connected",
            within=60,
            what="the MQTT connector connected",
        )
        Publisher(broker.port, t0).send(range(N), kills)
        seen = eventually_sync(
            lambda: count(port, t0),
            done=lambda n: n >= expect,
            within=30,
            every=0.5,
            what=f"at least {expect} readings stored",
        )
        time.sleep(1)  # anything still on its way (a duplicate would show below)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    return data / "readings.duckdb", seen, log.read_text()


def test_a_persistent_broker_killed_mid_stream_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Nothing twice, nothing invented, nothing lost but what mosquitto acknowledged to
    the publisher in its last moments: its save follows its PUBACK, so a SIGKILL between
    the two loses those (a paho subscriber loses them too). Everything twinql's session
    held on the broker, in flight to twinql or queued for it, arrives."""
    broker = Mosquitto(persistent=True)
    broker.start()
    try:
        kills = {N * (k + 1) // (KILLS + 1): broker for k in range(KILLS)}
        path, _, log = run(tmp_path, broker, kills, N - KILLS * WINDOW)
    finally:
        broker.close()
    rows, distinct, values = stored(path)
    assert rows == distinct, log[-3000:]
    assert values <= set(range(N))
    missing = set(range(N)) - values
    assert all(any(k - WINDOW <= m < k for k in kills) for m in missing), sorted(missing)


@pytest.mark.parametrize("kills", [KILLS])
def test_a_broker_without_persistence_killed_mid_stream(tmp_path: Path, kills: int) -> None:
    """What twinql acknowledged is stored once; nothing invented, nothing twice; the
    readings published after the last restart (once twinql resubscribed) all arrive."""
    broker = Mosquitto()
    broker.start()
    try:
        at = {N * (k + 1) // (kills + 2): broker for k in range(kills)}
        tail = set(range(max(at) + N // 10, N))  # published after twinql resubscribed
        path, _, log = run(tmp_path, broker, at, len(tail))
    finally:
        broker.close()
    rows, distinct, values = stored(path)
    assert rows == distinct, log[-3000:]
    assert values <= set(range(N))
    assert tail <= values, sorted(tail - values)[:20]
