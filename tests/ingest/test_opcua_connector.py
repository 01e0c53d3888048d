"""OpcUaConnector against a real in-process asyncua server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from asyncua import ua

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from ingest.connectors import Bindings, ConnectorState, DeadLetter
from ingest.connectors.opcua import OpcUaConnector, quality_of, queue_size, sampling_interval_ms
from ingest.connectors.runtime import raise_if_cancelled
from ingest.connectors.settings import OPCUA_SECURITY_POLICIES, OpcUaSettings
from ingest.reading import Quality, RawReading
from tests.support.devices import OpcUaDevice, SecureOpcUaDevice
from tests.support.polling import eventually


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[RawReading]] = []
        self.letters: list[DeadLetter] = []

    async def __call__(self, batch: list[RawReading]) -> None:
        self.batches.append(batch)

    async def on_error(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    @property
    def readings(self) -> list[RawReading]:
        return [r for b in self.batches for r in b]

    def last(self, sensor: str) -> RawReading | None:
        found = [r for r in self.readings if r.sensor_id == sensor]
        return found[-1] if found else None


def _rig(
    device: OpcUaDevice, extra: list[SensorBinding] | None = None
) -> tuple[DataSource, Bindings]:
    source = DataSource(
        id=f"plc-{uuid.uuid4().hex[:6]}",
        protocol="opcua",
        endpoint=device.url,
        settings={
            "sampling_interval_ms": 20,
            "publishing_interval_ms": 50,
            "watchdog_s": 0.3,
            "timeout_s": 1.0,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.3,
        },
    )
    n = device.node_id
    sensors = [
        SensorBinding(source.id, "speed", n("pump-101.speed"), scale=0.1),
        SensorBinding(source.id, "temp", n("pump-101.temp"), offset=-273.15),
        SensorBinding(source.id, "count", n("pump-101.count")),
        SensorBinding(source.id, "running", n("pump-101.running")),
        *(extra or []),
    ]
    actuators = [
        ActuatorBinding(source.id, "speed-sp", n("pump-101.setpoint"), scale=2.0),
        ActuatorBinding(source.id, "valve", n("pump-101.valve")),
    ]
    return source, Bindings.of(
        [(s, "pump-101") for s in sensors], [(a, "pump-101") for a in actuators]
    )


def test_status_codes_map_to_quality() -> None:
    assert quality_of(ua.StatusCode(ua.StatusCodes.Good)) is Quality.GOOD
    assert quality_of(ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)) is Quality.SUSPECT
    assert quality_of(ua.StatusCode(ua.StatusCodes.BadSensorFailure)) is Quality.BAD


async def test_monitored_items_arrive_as_scaled_readings_with_quality(
    opcua_device: OpcUaDevice,
) -> None:
    dev = opcua_device
    source, bindings = _rig(dev)
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink, on_error=sink.on_error) as connector:
        await eventually(lambda: len(sink.readings) >= 4)
        assert len(sink.batches[0]) == 4  # the initial burst is one batch
        await dev.write("pump-101.speed", 1500.0)
        await dev.write("pump-101.temp", 300.0)
        await dev.write("pump-101.count", 7)
        await dev.write("pump-101.running", True)
        await eventually(lambda: (r := sink.last("running")) is not None and r.value == 1.0)
        await eventually(lambda: sink.last("count").value == 7)
        speed, temp = sink.last("speed"), sink.last("temp")
        assert speed.value == pytest.approx(150.0) and speed.quality is Quality.GOOD
        assert temp.value == pytest.approx(26.85)
        assert speed.timestamp is not None and speed.timestamp.tzinfo is not None
        assert speed.source == source.id and speed.asset_id == "pump-101"
        await dev.write("pump-101.speed", 1600.0, ua.StatusCodes.UncertainLastUsableValue)
        await eventually(lambda: sink.last("speed").quality is Quality.SUSPECT)
        await dev.write("pump-101.speed", 0.0, ua.StatusCodes.BadSensorFailure)
        await eventually(lambda: sink.last("speed").quality is Quality.BAD)
        assert "Bad" in str(sink.last("speed").metadata["status"])
        status = connector.status()
        assert status.state is ConnectorState.CONNECTED and status.readings == len(sink.readings)


async def test_unknown_node_is_reported_and_the_rest_flows(opcua_device: OpcUaDevice) -> None:
    dev = opcua_device
    ghost = SensorBinding("x", "ghost", "ns=2;s=does.not.exist")
    source, bindings = _rig(dev)
    bindings = Bindings.of(
        [(s, "pump-101") for s in bindings.sensors]
        + [(SensorBinding(source.id, ghost.sensor_id, ghost.address), "pump-101")]
    )
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink, on_error=sink.on_error):
        await eventually(lambda: len(sink.readings) >= 4 and len(sink.letters) == 1)
        (letter,) = sink.letters
        assert letter.sensor_id == "ghost" and "BadNodeIdUnknown" in letter.reason


def test_bad_node_id_is_a_validation_error() -> None:
    source = DataSource(id="plc", protocol="opcua", endpoint="opc.tcp://127.0.0.1:4840/")
    bindings = Bindings.of([(SensorBinding("plc", "s", "pump.speed"), "a")])
    with pytest.raises(ValidationError, match="NodeId"):
        OpcUaConnector(source, bindings, Sink())
    with pytest.raises(ValidationError, match="endpoint"):
        OpcUaConnector(
            DataSource(id="plc", protocol="opcua", endpoint="tcp://x"), Bindings(), Sink()
        )


async def test_setpoints_are_written_and_read_back(opcua_device: OpcUaDevice) -> None:
    dev = opcua_device
    source, bindings = _rig(dev)
    setpoint, valve = bindings.actuators
    async with OpcUaConnector(source, bindings, Sink()) as connector:
        assert await connector.wait_connected(4)
        outcome = await connector.write(setpoint, 90.0)
        assert outcome.ok, outcome.message
        assert outcome.confirmed_value == pytest.approx(90.0)
        assert await dev.read("pump-101.setpoint") == pytest.approx(45.0)  # raw = value / scale
        outcome = await connector.write(valve, 12)
        assert outcome.ok and await dev.read("pump-101.valve") == 12
        with pytest.raises(ValidationError):
            await connector.write(setpoint, float("nan"))
        with pytest.raises(ValidationError, match="range"):
            await connector.write(valve, 1e6)
        with pytest.raises(ValidationError, match="integer"):
            await connector.write(valve, 1.5)
        assert connector.status().writes == 2


async def test_resubscribes_after_server_restart(opcua_device: OpcUaDevice) -> None:
    dev = opcua_device
    source, bindings = _rig(dev)
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink) as connector:
        await eventually(lambda: len(sink.readings) >= 4)
        await dev.stop()
        await eventually(lambda: connector.status().state is not ConnectorState.CONNECTED)
        assert connector.status().last_error is not None
        await dev.start()  # same port, fresh server: the old session is gone
        assert await connector.wait_connected(5)
        await dev.write("pump-101.speed", 4242.0)
        await eventually(lambda: sink.last("speed").value == pytest.approx(424.2))
        assert connector.status().reconnects >= 1
    assert connector.status().state is ConnectorState.DISCONNECTED
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"connector:{source.id}"]


def _secured(security: object) -> DataSource:
    return DataSource(
        id="plc", protocol="opcua", endpoint="opc.tcp://h:4840/", settings={"security": security}
    )


@pytest.mark.parametrize(
    ("security", "complaint"),
    [
        ("Basic256Sha256,SignAndEncrypt", "4 or 5 non-empty parts, got 2"),
        ("Basic256Sha256,SignAndEncrypt,cert.der", "got 3"),
        ("Basic256Sha256,SignAndEncrypt,cert.der,,srv.der", "non-empty"),
        ("Basic512,SignAndEncrypt,cert.der,key.pem", "unknown policy 'Basic512'"),
        ("Basic256Sha256,Encrypt,cert.der,key.pem", "unknown mode 'Encrypt'"),
        ("Basic256Sha256,Sign,cert.der,::secret", "client key path is empty"),
        ("a,b,c,d,e,f", "got 6"),
    ],
)
def test_security_setting_is_checked_at_configuration_time(security: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OpcUaSettings.from_source(_secured(security))
    err = caught.value
    assert err.code == "VALIDATION" and err.path == "settings.security"
    assert complaint in err.message
    assert "Policy,Mode,client_cert,client_key" in err.message  # names the format
    assert "secret" not in err.message  # never echoes a key password


def test_valid_security_settings_pass_unchanged() -> None:
    for text in (
        "Basic256Sha256,SignAndEncrypt,cert.der,key.pem",
        "Aes256Sha256RsaPss,Sign,cert.pem,key.pem::pw,server.der",
    ):
        assert OpcUaSettings.from_source(_secured(text)).security == text
    assert OpcUaSettings.from_source(_secured("")).security is None
    with pytest.raises(ValidationError, match="Basic256Sha256, Aes128Sha256RsaOaep"):
        OpcUaSettings.from_source(_secured("None,None,c,k"))


def test_known_policies_are_the_ones_asyncua_has() -> None:
    from asyncua.crypto import security_policies

    for name in OPCUA_SECURITY_POLICIES:
        assert hasattr(security_policies, f"SecurityPolicy{name}"), name
    for mode in ("Sign", "SignAndEncrypt"):
        assert hasattr(ua.MessageSecurityMode, mode)


@pytest.fixture(scope="module")
async def secure_device(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[SecureOpcUaDevice]:
    device = SecureOpcUaDevice(  # one per module: its RSA keys take seconds to make
        {
            "pump-101.speed": (0.0, ua.VariantType.Double),
            "pump-101.setpoint": (0.0, ua.VariantType.Double),
        },
        tmp_path_factory.mktemp("opcua-certs"),
        users={"olga": "s3cret"},
    )
    await device.start()
    yield device
    await device.stop()


def _secure_source(dev: SecureOpcUaDevice, password: str) -> tuple[DataSource, Bindings]:
    source = DataSource(
        id=f"plc-{uuid.uuid4().hex[:6]}",
        protocol="opcua",
        endpoint=dev.url,
        settings={
            "security": f"Basic256Sha256,SignAndEncrypt,{dev.client_cert},{dev.client_key}",
            "username": "olga",
            "password": password,
            "sampling_interval_ms": 20,
            "publishing_interval_ms": 50,
            "timeout_s": 2.0,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.3,
        },
    )
    return source, Bindings.of(
        [(SensorBinding(source.id, "speed", dev.node_id("pump-101.speed")), "pump-101")],
        [(ActuatorBinding(source.id, "sp", dev.node_id("pump-101.setpoint")), "pump-101")],
    )


async def test_signed_and_encrypted_session_with_a_user_name(
    secure_device: SecureOpcUaDevice,
) -> None:
    dev = secure_device
    source, bindings = _secure_source(dev, "s3cret")
    refused_before = dev.rejected_logins
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink, on_error=sink.on_error) as connector:
        assert await connector.wait_connected(10), connector.status().last_error
        await dev.write("pump-101.speed", 1234.0)
        await eventually(lambda: (r := sink.last("speed")) is not None and r.value == 1234.0)
        outcome = await connector.write(bindings.actuators[0], 55.0)
        assert outcome.ok, outcome.message
        assert await dev.read("pump-101.setpoint") == 55.0
    assert dev.rejected_logins == refused_before


async def test_wrong_password_is_an_error_in_the_status_and_retried(
    secure_device: SecureOpcUaDevice,
) -> None:
    dev = secure_device
    source, bindings = _secure_source(dev, "wrong")
    refused_before = dev.rejected_logins
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink) as connector:
        await eventually(lambda: connector.status().errors >= 2, within=10)
        status = connector.status()
        assert status.state is not ConnectorState.CONNECTED and status.restarts == 0
        assert "BadUserAccessDenied" in (status.last_error or ""), status.last_error
    assert dev.rejected_logins >= refused_before + 2 and not sink.readings


async def test_close_stops_the_retry_loop_at_any_point_of_its_cycle(
    secure_device: SecureOpcUaDevice,
) -> None:
    """A refused login cycles connect, fail, clean up, back off; closing the connector
    at any moment of that cycle (the clean-up included) ends it promptly."""
    dev = secure_device
    source, bindings = _secure_source(dev, "wrong")
    sink = Sink()
    for i in range(24):
        connector = OpcUaConnector(source, bindings, sink)
        await connector.start()
        await asyncio.sleep(0.025 * i)
        async with asyncio.timeout(5):
            await connector.aclose()
        assert connector.status().state is ConnectorState.DISCONNECTED


async def test_a_cancel_a_library_swallowed_still_stops_a_connector_loop() -> None:
    """asyncua's Client._cancel_task (run by every disconnect) swallows a CancelledError
    that lands while it waits; the loop's check before its backoff still stops it."""

    async def library_cleanup() -> None:  # what asyncua 2.1 does with a cancel
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    entered = asyncio.Event()

    async def loop() -> None:
        while True:
            entered.set()
            await library_cleanup()
            raise_if_cancelled()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await entered.wait()
    task.cancel()
    async with asyncio.timeout(2):
        with pytest.raises(asyncio.CancelledError):
            await task


def test_sampling_interval_and_queue_size_of_a_node() -> None:
    assert sampling_interval_ms([None, None], 100.0) == 100.0
    assert sampling_interval_ms([0.5, None, 0.02], 100.0) == pytest.approx(20.0)
    assert queue_size(20.0, 50.0) == 3  # every sample between two publishes
    assert queue_size(1000.0, 50.0) == 1
    assert queue_size(0.1, 1000.0) == 100  # bounded
    assert queue_size(0.0, 100.0) == 0 and queue_size(-1.0, 100.0) == 0  # server decides


async def test_each_node_is_sampled_at_its_sensors_registered_rate(
    opcua_device: OpcUaDevice,
) -> None:
    dev = opcua_device
    source, plain = _rig(dev)
    rates = {"speed": 0.02, "temp": 5.0}  # count and running keep the source's 20 ms
    bindings = Bindings(
        sensors=plain.sensors,
        actuators=plain.actuators,
        sensor_asset=plain.sensor_asset,
        actuator_asset=plain.actuator_asset,
        sensor_sampling_s=rates,
    )
    sink = Sink()
    async with OpcUaConnector(source, bindings, sink) as connector:
        await eventually(lambda: len(sink.readings) >= 4)
        await dev.write("pump-101.temp", 300.0)
        await eventually(lambda: sink.last("temp").value == pytest.approx(26.85))
        assert connector.status().state is ConnectorState.CONNECTED
    assert dev.monitored["pump-101.speed"] == (pytest.approx(20.0), 3)
    assert dev.monitored["pump-101.temp"] == (pytest.approx(5000.0), 1)
    assert dev.monitored["pump-101.count"] == (pytest.approx(20.0), 3)
