"""MqttConnector through broker deaths: a real mosquitto killed with SIGKILL and started
again mid-stream, under load, on asyncio's loop and on uvloop (the service's loop, whose
poll handles close themselves on a reset socket: see ``mqtt_session``).

The uvloop case runs its own loop in a worker thread (the suite's loop is asyncio's).
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiomqtt
import pytest
import uvloop

from graph.model import DataSource, DeviceProtocol, SensorBinding
from ingest.connectors import Bindings, ConnectorState
from ingest.connectors.mqtt import MqttConnector
from ingest.reading import RawReading
from tests.support.broker import Mosquitto
from tests.support.polling import eventually

KILLS = 4
ASSET = "kill-pump"
TOPIC = f"assets/{ASSET}/sensors/temp/data"


def _connector(
    url: str, sink: Callable[[list[RawReading]], Any], **settings: object
) -> MqttConnector:
    source = DataSource(
        "kill-broker",
        DeviceProtocol.MQTT,
        url,
        settings={"reconnect_min_s": 0.1, "reconnect_max_s": 0.3, **settings},
    )
    bindings = Bindings.of(sensors=[(SensorBinding(source.id, f"{ASSET}-temp", "temp"), ASSET)])
    return MqttConnector(source, bindings, sink, instance_id="kill-test")


class Publisher:
    """Publishes 0, 1, 2... at QoS 1 through broker deaths; ``acked``: what the broker
    acknowledged (a publish cut by a kill is sent again, at least once).

    It runs on an asyncio loop of its own thread (``start``/``halt``): on the loop under
    test (uvloop), aiomqtt's own writer callback can spin on a socket the killed broker
    reset, which would starve the connector and the test's timeout alike."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acked: set[int] = set()
        self.next = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)
        self._thread.start()

    def halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "the publisher did not stop"

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, timeout=2) as client:
                    while not self._stop.is_set():
                        i = self.next
                        await client.publish(TOPIC, json.dumps({"value": float(i)}), qos=1)
                        self.acked.add(i)
                        self.next += 1
                        if i % 20 == 0:
                            await asyncio.sleep(0.005)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)


async def _kills(broker: Mosquitto) -> None:
    loop = asyncio.get_running_loop()
    got: set[int] = set()

    async def sink(batch: list[RawReading]) -> asyncio.Future[None]:
        got.update(int(float(str(r.value))) for r in batch)
        durable = loop.create_future()  # durable a little later: acks wait, reading pauses
        loop.call_later(0.01, _settle, durable)
        return durable

    connector = _connector(broker.url, sink, max_queued_messages=50, keepalive_s=60)
    publisher = Publisher(broker.port)
    kill_at: list[int] = []
    async with connector:
        assert await connector.wait_connected(10)
        publisher.start()
        try:
            for k in range(KILLS):
                await eventually(
                    functools.partial(_at_least, got, (k + 1) * 200),
                    within=30,
                    what="readings flowing",
                )
                before = connector.status().reconnects
                kill_at.append(publisher.next)
                broker.kill()
                await asyncio.sleep(0.2)
                broker.start()
                await eventually(
                    functools.partial(_reconnected, connector, before),
                    within=15,
                    what=f"the connector reconnected after kill {k + 1}",
                )
            sent = set(publisher.acked)
            # all but what mosquitto acknowledged just before a SIGKILL and had not saved
            # yet (its save follows its PUBACK): those are its loss, not the connector's
            await eventually(
                lambda: sorted(m for m in sent - got if not _at_a_kill(m, kill_at)),
                done=lambda missing: not missing,
                within=30,
                what="every reading the broker acknowledged and kept delivered",
            )
        finally:
            publisher.halt()
    assert connector.status().reconnects >= KILLS


def _at_a_kill(i: int, kill_at: list[int], window: int = 20) -> bool:
    return any(k - window <= i < k + 1 for k in kill_at)


def _at_least(got: set[int], n: int) -> bool:
    return len(got) >= n


def _reconnected(connector: MqttConnector, before: int) -> bool:
    status = connector.status()
    return status.reconnects > before and status.state is ConnectorState.CONNECTED


def _settle(durable: asyncio.Future[None]) -> None:
    if not durable.done():
        durable.set_result(None)


def _in_thread(
    factory: Callable[[], Coroutine[Any, Any, None]], runner: Callable[..., Any]
) -> None:
    """Run ``factory()`` on a loop of ``runner`` in a worker thread, for 2 minutes at most
    (pytest's timeout cannot interrupt a worker thread)."""

    async def bounded() -> None:
        async with asyncio.timeout(120):
            await factory()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(runner, bounded()).result()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_connector_reconnects_after_every_kill_under_load(loop: str) -> None:
    broker = Mosquitto(persistent=True)
    broker.start()
    try:
        _in_thread(lambda: _kills(broker), uvloop.run if loop == "uvloop" else asyncio.run)
    finally:
        broker.close()


async def _unwatched(broker: Mosquitto) -> None:
    async def sink(batch: list[RawReading]) -> None:
        return None

    connector = _connector(broker.url, sink, keepalive_s=600)
    async with connector:
        assert await connector.wait_connected(10)
        client = connector._client  # noqa: SLF001 - the test plays the dead poll handle
        assert client is not None
        sock = client._client.socket()  # noqa: SLF001
        assert isinstance(sock, socket.socket)
        asyncio.get_running_loop().remove_reader(sock.fileno())  # nobody reads it now
        before = connector.status().reconnects
        broker.kill()
        broker.start()
        await eventually(
            lambda: (
                connector.status().reconnects > before
                and connector.status().state is ConnectorState.CONNECTED
            ),
            within=15,
            what="the watchdog noticed the dead socket (keepalive alone: 10 minutes)",
        )


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_socket_the_loop_stopped_watching_is_noticed(loop: str) -> None:
    """The stuck-"connected" case: the loop no longer calls the reader (uvloop closed its
    poll handle), the broker dies; without the watchdog only the keepalive would tell."""
    broker = Mosquitto()
    broker.start()
    try:
        _in_thread(lambda: _unwatched(broker), uvloop.run if loop == "uvloop" else asyncio.run)
    finally:
        broker.close()
