"""What a connector writes to the log: one line per change of state, never a traceback
per reconnect attempt (a real asyncua server, stopped and started on the same port)."""

from __future__ import annotations

import logging
import uuid

import pytest

from graph.model import DataSource, SensorBinding
from ingest.connectors import Bindings, ConnectorState
from ingest.connectors.opcua import OpcUaConnector
from ingest.reading import RawReading
from tests.support.devices import OpcUaDevice
from tests.support.polling import eventually


async def _sink(batch: list[RawReading]) -> None:
    del batch


async def _until_reconnects(connector: OpcUaConnector, n: int) -> None:
    await eventually(
        lambda: connector.status().reconnects, done=lambda k: k >= n, what=f"{n} reconnects"
    )


async def test_a_dead_device_logs_its_failure_once_and_its_recovery_once(
    opcua_device: OpcUaDevice, caplog: pytest.LogCaptureFixture
) -> None:
    dev = opcua_device
    source = DataSource(
        id=f"plc-{uuid.uuid4().hex[:6]}",
        protocol="opcua",
        endpoint=dev.url,
        settings={"timeout_s": 1.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.1},
    )
    bindings = Bindings.of(
        [(SensorBinding(source.id, "speed", dev.node_id("pump-101.speed")), "pump-101")]
    )
    await dev.stop()
    caplog.set_level(logging.DEBUG)
    async with OpcUaConnector(source, bindings, _sink) as connector:
        await _until_reconnects(connector, 5)
        failures = [
            r for r in caplog.records
            if r.levelno >= logging.WARNING and source.id in r.getMessage()
        ]  # fmt: skip
        assert len(failures) == 1, [r.getMessage() for r in failures]
        assert "ConnectionRefusedError" in failures[0].getMessage()
        assert "retrying" in failures[0].getMessage()
        # nobody, asyncua included, logs an error (with its traceback) per attempt
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not [r for r in caplog.records if r.exc_info]

        caplog.clear()
        await dev.start()
        assert await connector.wait_connected(5)
        connected = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        assert connected.count(f"data source {source.id}: connected") == 1
        assert connector.status().state is ConnectorState.CONNECTED
    assert [r.getMessage() for r in caplog.records][-1] == f"data source {source.id}: disconnected"
