"""An MQTT broker for the demo when none is configured: Mosquitto if installed, else amqtt.

``start_broker(kind)`` returns a running ``DemoBroker`` on a free loopback port;
``kind`` is ``"auto"`` (Mosquitto when the binary exists, otherwise amqtt in-process),
``"mosquitto"`` or ``"amqtt"``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from graph.errors import Unavailable, ValidationError

__all__ = ["BrokerKind", "DemoBroker", "free_port", "mosquitto_binary", "start_broker"]

BrokerKind = Literal["auto", "mosquitto", "amqtt"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


async def _wait_port(host: str, port: int, within_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if loop.time() > deadline:
                raise Unavailable(
                    f"the demo MQTT broker does not listen on {host}:{port}"
                ) from None
            await asyncio.sleep(0.05)


def _spawn(binary: str, conf: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)


class DemoBroker:
    """A broker the demo started; ``aclose()`` stops it."""

    def __init__(self, kind: str, host: str, port: int) -> None:
        self.kind, self.host, self.port = kind, host, port
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._amqtt: object | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def _start_mosquitto(self, binary: str) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="twinql-demo-mosquitto-"))
        conf = self._dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\n"  # room while twinql holds back (see mqtt)
        )
        self._proc = _spawn(binary, conf, self._dir / "mosquitto.log")
        await _wait_port(self.host, self.port, 10.0)

    async def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await broker.start()
        self._amqtt = broker
        await _wait_port(self.host, self.port, 10.0)

    async def aclose(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 5)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 5)
        broker, self._amqtt = self._amqtt, None
        if broker is not None:
            await broker.shutdown()  # type: ignore[attr-defined]
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


async def start_broker(kind: BrokerKind = "auto", host: str = "127.0.0.1") -> DemoBroker:
    if kind not in ("auto", "mosquitto", "amqtt"):
        raise ValidationError(f"broker must be auto, mosquitto or amqtt, got {kind!r}")
    binary = mosquitto_binary()
    if kind == "mosquitto" and binary is None:
        raise Unavailable("mosquitto is not installed")
    use = "mosquitto" if kind == "mosquitto" or (kind == "auto" and binary) else "amqtt"
    broker = DemoBroker(use, host, free_port(host))
    try:
        if use == "mosquitto":
            assert binary is not None
            await broker._start_mosquitto(binary)
        else:
            await broker._start_amqtt()
    except BaseException:
        await broker.aclose()
        raise
    return broker
