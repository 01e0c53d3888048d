"""A real MQTT broker for tests: mosquitto child processes, plain or TLS with client
certificates, restartable on the same port.

``mosquitto`` is one broker per test module (isolate by unique asset ids in topics) and
``mosquitto_url`` its URL; ``mosquitto_factory`` gives a test its own broker (for restart
tests). The fixtures are registered suite-wide by tests/conftest.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_port

__all__ = [
    "MOSQUITTO",
    "Mosquitto",
    "TlsFiles",
    "TlsMosquitto",
    "mosquitto",
    "mosquitto_factory",
    "mosquitto_url",
]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """A mosquitto child process on a loopback port, restartable on the same port.

    ``persistent``: sessions and queued messages are saved on every change
    (``autosave_on_changes``), so they survive ``kill()`` (SIGKILL) too.
    """

    def __init__(self, port: int | None = None, *, persistent: bool = False) -> None:
        self.port = port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="twinql-mosquitto-"))
        self._conf = self._dir / "mosquitto.conf"
        if persistent:  # mosquitto run as root saves as user mosquitto
            self._dir.chmod(0o777)
        persistence = (
            f"persistence true\npersistence_location {self._dir}/\n"
            "autosave_interval 1\nautosave_on_changes true\n"
            if persistent
            else "persistence false\n"
        )
        self._conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{persistence}"
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
        wait_port(self.port)

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

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, nothing saved beyond what already was."""
        proc, self._proc = self._proc, None
        if proc is not None:
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


@pytest.fixture(scope="module")
def mosquitto() -> Iterator[Mosquitto]:
    broker = Mosquitto()
    broker.start()
    yield broker
    broker.close()


@pytest.fixture(scope="module")
def mosquitto_url(mosquitto: Mosquitto) -> str:
    return mosquitto.url


@pytest.fixture
def mosquitto_factory() -> Iterator[Mosquitto]:
    """A broker of the test's own (for restart tests)."""
    broker = Mosquitto()
    broker.start()
    yield broker
    broker.close()
