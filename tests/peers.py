"""Real protocol peers for tests: a mosquitto broker, an asyncua server, a pymodbus server.

Import the fixtures into a test module (or tests/conftest.py)::

    from tests.peers import mosquitto, mosquitto_url, opcua_device, modbus_device

``mosquitto`` is one broker per session (isolate by unique asset ids in topics);
``mosquitto_factory``, ``opcua_device`` and ``modbus_device`` give a fresh peer per test,
each with ``stop()`` / ``start()`` on the same port for reconnect tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Server, ua
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

__all__ = [
    "Mosquitto",
    "TlsFiles",
    "TlsMosquitto",
    "OpcUaDevice",
    "ModbusDevice",
    "RawModbusDevice",
    "SecureOpcUaDevice",
    "TcpProxy",
    "free_port",
    "modbus_device",
    "mosquitto",
    "mosquitto_factory",
    "mosquitto_url",
    "opcua_device",
    "raw_modbus_device",
]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Mosquitto:
    """A mosquitto child process on a loopback port, restartable on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="twinql-mosquitto-"))
        self._conf = self._dir / "mosquitto.conf"
        self._conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\n"  # room while twinql holds back (see mqtt)
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.fail(f"mosquitto binary not found at {MOSQUITTO}; install mosquitto")
        log = open(self._dir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the child
        self._proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self._conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        _wait_port(self.port)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a broker certificate for 127.0.0.1 and a client certificate (PEM)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def make(cls, directory: Path) -> TlsFiles:
        ca_key = _rsa_key()
        ca_name = _x509_name("twinql test CA")
        ca = _certificate(ca_name, ca_key, ca_name, ca_key, is_ca=True)
        files = cls(*(directory / n for n in _TLS_NAMES))
        _write_pem(files.ca, ca)
        for cert_path, key_path, name, san in (
            (files.server_cert, files.server_key, "127.0.0.1", True),
            (files.client_cert, files.client_key, "twinql client", False),
        ):
            key = _rsa_key()
            cert = _certificate(_x509_name(name), key, ca_name, ca_key, loopback_san=san)
            _write_pem(cert_path, cert)
            _write_pem(key_path, key)
        return files


_TLS_NAMES = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")


def _rsa_key():  # noqa: ANN202 - cryptography RSAPrivateKey
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _x509_name(common_name: str):  # noqa: ANN202 - cryptography Name
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID

    return Name([NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, *, is_ca=False, loopback_san=False):  # noqa: ANN001, ANN202
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if loopback_san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pem(path: Path, item) -> None:  # noqa: ANN001 - certificate or private key
    from cryptography.hazmat.primitives import serialization

    if hasattr(item, "public_bytes"):
        data = item.public_bytes(serialization.Encoding.PEM)
    else:
        data = item.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)


class TlsMosquitto(Mosquitto):
    """A mosquitto that speaks MQTT over TLS only and wants a client certificate signed
    by the test CA (``tls.ca``)."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self._dir.chmod(0o755)  # mosquitto run as root reads its files as user mosquitto
        self.tls = TlsFiles.make(self._dir)
        for path in (self.tls.server_key, self.tls.client_key):
            path.chmod(0o644)
        self._conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"cafile {self.tls.ca}\ncertfile {self.tls.server_cert}\n"
            f"keyfile {self.tls.server_key}\nrequire_certificate true\n"
        )

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    broker = Mosquitto()
    broker.start()
    yield broker
    broker.close()


@pytest.fixture(scope="session")
def mosquitto_url(mosquitto: Mosquitto) -> str:
    return mosquitto.url


@pytest.fixture
def mosquitto_factory() -> Iterator[Mosquitto]:
    """A broker of the test's own (for restart tests)."""
    broker = Mosquitto()
    broker.start()
    yield broker
    broker.close()


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


class TcpProxy:
    """A loopback TCP forwarder to ``target_port``: a network path that tests can cut.

    ``cut()`` drops every connection and stops listening (the peer behind stays up, as
    when a cable or a NAT entry goes); ``start()`` listens again on the same port.
    """

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self.connections = 0

    def url(self, scheme: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pumps):
            task.cancel()
        if self._pumps:
            await asyncio.wait(list(self._pumps))
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            return  # the other side went away: so does this direction
        finally:
            self._writers.discard(dst)
            dst.transport.abort()
