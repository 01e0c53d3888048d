"""Real device servers for tests: an asyncua OPC UA server (plain or secured), a pymodbus
Modbus TCP server, and a hand-written Modbus server for device bugs.

``opcua_device``, ``modbus_device`` and ``raw_modbus_device`` give a fresh device per test,
each with ``stop()`` / ``start()`` on the same port for reconnect tests. The fixtures are
registered suite-wide by tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Server, ua
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.support.net import free_port

__all__ = [
    "ModbusDevice",
    "OpcUaDevice",
    "RawModbusDevice",
    "SecureOpcUaDevice",
    "modbus_device",
    "opcua_device",
    "raw_modbus_device",
]


class OpcUaDevice:
    """An in-process asyncua server simulating a device.

    ``variables`` maps a string NodeId name (``pump-101.speed``) to ``(value, VariantType)``;
    every variable lives in namespace 2 (``ns=2;s=<name>``) and is writable.
    ``monitored`` records what clients asked when they created monitored items: node
    name to ``(sampling interval ms, queue size)`` (asyncua's server samples on change
    whatever the interval, so the request is what a test can check).
    """

    NAMESPACE = "urn:twinql:test-device"

    def __init__(
        self, variables: dict[str, tuple[object, ua.VariantType]], port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.variables = dict(variables)
        self.url = f"opc.tcp://127.0.0.1:{self.port}/twinql/"
        self._server: Server | None = None
        self.ns = 2
        self.monitored: dict[str, tuple[float, int]] = {}

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        await self._serve_device(server)

    async def _serve_device(self, server: Server) -> None:
        """The device object with one writable variable per entry of ``variables``."""
        self.ns = await server.register_namespace(self.NAMESPACE)
        self._record_monitored_items(server)
        device = await server.nodes.objects.add_object(self.ns, "device")
        for name, (value, vtype) in self.variables.items():
            var = await device.add_variable(
                ua.NodeId(name, self.ns), name, value, varianttype=vtype
            )
            await var.set_writable()
        await server.start()
        self._server = server

    def _record_monitored_items(self, server: Server) -> None:
        service = server.iserver.subscription_service
        create = service.create_monitored_items

        async def recording(params: ua.CreateMonitoredItemsParameters) -> list:
            for item in params.ItemsToCreate:
                asked = item.RequestedParameters
                name = str(item.ItemToMonitor.NodeId.Identifier)
                self.monitored[name] = (asked.SamplingInterval, asked.QueueSize)
            return await create(params)

        service.create_monitored_items = recording

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:  # asyncua's stop waits for every connection to close: bound it, say who
                async with asyncio.timeout(15):
                    await server.stop()
            except TimeoutError:
                pytest.fail(f"the OPC UA test server at {self.url} did not stop within 15 s")

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s={name}"

    def _node(self, name: str):  # noqa: ANN202 - asyncua Node
        if self._server is None:
            raise RuntimeError("OPC UA device is stopped")
        return self._server.get_node(self.node_id(name))

    async def write(self, name: str, value: object, status: int | None = None) -> None:
        vtype = self.variables[name][1]
        dv = ua.DataValue(
            ua.Variant(value, vtype),
            StatusCode=ua.StatusCode(status if status is not None else ua.StatusCodes.Good),
            SourceTimestamp=datetime.now(UTC),
        )
        await self._node(name).write_value(dv)

    async def read(self, name: str) -> object:
        return await self._node(name).read_value()


@pytest_asyncio.fixture
async def opcua_device() -> AsyncIterator[OpcUaDevice]:
    device = OpcUaDevice(
        {
            "pump-101.speed": (0.0, ua.VariantType.Double),
            "pump-101.temp": (0.0, ua.VariantType.Float),
            "pump-101.count": (0, ua.VariantType.Int32),
            "pump-101.running": (False, ua.VariantType.Boolean),
            "pump-101.setpoint": (0.0, ua.VariantType.Double),
            "pump-101.valve": (0, ua.VariantType.Int16),
        }
    )
    await device.start()
    yield device
    await device.stop()


class ModbusDevice:
    """A pymodbus TCP server with 300 holding/input registers and 64 coils/discrete inputs."""

    def __init__(self, port: int | None = None, *, size: int = 300) -> None:
        self.port = port or free_port()
        self.size = size
        self._server: ModbusTcpServer | None = None

    @property
    def url(self) -> str:
        return f"modbus://127.0.0.1:{self.port}"

    def _device(self) -> SimDevice:
        bits = [SimData(0, count=64, values=False, datatype=DataType.BITS)]
        regs = [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(id=0, simdata=(bits, list(bits), regs, list(regs)))

    async def start(self) -> None:
        server = ModbusTcpServer(self._device(), address=("127.0.0.1", self.port))
        await server.serve_forever(background=True)
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)

    def _live(self) -> ModbusTcpServer:
        if self._server is None:
            raise RuntimeError("Modbus device is stopped")
        return self._server

    _FC = {"coil": 1, "di": 2, "hr": 3, "ir": 4}

    async def set(self, table: str, address: int, values: list[int] | list[bool]) -> None:
        await self._live().async_setValues(1, self._FC[table], address, values)

    async def get(self, table: str, address: int, count: int = 1) -> list[int] | list[bool]:
        return await self._live().async_getValues(1, self._FC[table], address, count)


@pytest_asyncio.fixture
async def modbus_device() -> AsyncIterator[ModbusDevice]:
    device = ModbusDevice()
    await device.start()
    yield device
    with contextlib.suppress(RuntimeError):
        await device.stop()


class RawModbusDevice:
    """A hand-written Modbus TCP server for device bugs pymodbus's simulator cannot show.

    It serves holding and input registers from ``registers`` (a dict, 0 by default) and
    writes of the ``writes`` function codes (16, and 6 if asked: some devices only
    implement 6); ``write_codes`` lists the codes of the writes it took. While
    ``short_by`` is above 0, every register read answers that many registers fewer
    than asked (a real firmware bug: a well-formed but short response).
    """

    def __init__(self, writes: tuple[int, ...] = (16,)) -> None:
        self.writes = writes
        self.write_codes: list[int] = []
        self.registers: dict[int, int] = {}
        self.short_by = 0
        self.reads = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"modbus://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    header = await reader.readexactly(7)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the client hung up
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                fc = pdu[0]
                if fc in (3, 4):
                    start, count = struct.unpack(">HH", pdu[1:5])
                    self.reads += 1
                    n = max(0, count - self.short_by)
                    words = [self.registers.get(start + i, 0) for i in range(n)]
                    body = bytes([fc, 2 * n]) + struct.pack(f">{n}H", *words)
                elif fc == 16 and fc in self.writes:
                    start, count = struct.unpack(">HH", pdu[1:5])
                    words = struct.unpack(f">{count}H", pdu[6 : 6 + 2 * count])
                    self.registers.update({start + i: w for i, w in enumerate(words)})
                    self.write_codes.append(fc)
                    body = pdu[:5]
                elif fc == 6 and fc in self.writes:
                    start, word = struct.unpack(">HH", pdu[1:5])
                    self.registers[start] = word
                    self.write_codes.append(fc)
                    body = pdu[:5]  # function 6 echoes the request
                else:
                    body = bytes([fc | 0x80, 1])  # illegal function
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest_asyncio.fixture
async def raw_modbus_device() -> AsyncIterator[RawModbusDevice]:
    device = RawModbusDevice()
    await device.start()
    yield device
    await device.stop()


class SecureOpcUaDevice(OpcUaDevice):
    """An asyncua server offering only Basic256Sha256 SignAndEncrypt, with user names.

    Certificates are self-signed, made in ``directory`` by asyncua's helper (on the
    ``cryptography`` package): the server's, and one for the client (``client_cert``,
    ``client_key``) with the application URI asyncua's client uses. ``users`` maps user
    names to passwords; anonymous sessions and wrong passwords are refused.
    """

    APP_URI = "urn:twinql:test-secure-device"
    CLIENT_URI = "urn:example.org:FreeOpcUa:opcua-asyncio"  # asyncua Client's default

    def __init__(
        self,
        variables: dict[str, tuple[object, ua.VariantType]],
        directory: Path,
        users: dict[str, str],
    ) -> None:
        super().__init__(variables)
        self.directory = directory
        self.users = dict(users)
        self.client_cert = directory / "client-cert.der"
        self.client_key = directory / "client-key.pem"
        self.rejected_logins = 0

    async def _certificates(self) -> tuple[Path, Path]:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        host = socket.gethostname()
        cert, key = self.directory / "server-cert.der", self.directory / "server-key.pem"
        await setup_self_signed_certificate(
            key,
            cert,
            self.APP_URI,
            host,
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "twinql test device", "organizationName": "twinql"},
        )
        await setup_self_signed_certificate(
            self.client_key,
            self.client_cert,
            self.CLIENT_URI,
            host,
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "twinql test client", "organizationName": "twinql"},
        )
        return cert, key

    def get_user(self, iserver, username=None, password=None, certificate=None):  # noqa: ANN001, ANN201 - asyncua UserManager
        from asyncua.crypto.permission_rules import User, UserRole

        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        self.rejected_logins += 1
        return None

    async def start(self) -> None:
        cert, key = await self._certificates()
        server = Server(user_manager=self)
        await server.init()
        server.set_endpoint(self.url)
        await server.set_application_uri(self.APP_URI)
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        await self._serve_device(server)
