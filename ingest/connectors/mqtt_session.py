"""The MQTT session of one connector: who it is, how it connects, when it acknowledges.

- Identity: a stable client id, ``twinql-{instance}-{source}`` unless the data source
  names one (``client_id``), so the broker knows the connector again after a reconnect.
  The instance id tells twinql processes apart (two processes with one id would take the
  session from each other in turns).
- Session: the connector's first connection is clean (it drops what an earlier run left
  on the broker); every later connection resumes the session, so QoS 1 messages
  published while the connection was down are delivered when it is back. MQTT 3.1.1:
  ``clean_session=False``, the clean start being a short clean connection before the
  persistent one; MQTT 5: ``clean_start`` on the first connection only, and a
  ``SessionExpiryInterval``. With 3.1.1 the broker decides how long it keeps the
  session of a client that is away (Mosquitto: ``persistent_client_expiration``).
- Acknowledgement: QoS 1 messages are acknowledged (PUBACK) once the connector has
  handled them and the readings they carried are durable (in the store, the fsynced
  spill log, or dead letters), not when they arrive: the connector hands each message's
  durability futures to an acker task (a bounded queue, in arrival order) that
  acknowledges in order. If the pipeline cannot make them durable (a writer fault: the
  disk is full), the acker acknowledges nothing more and drops the connection
  (``drop``); the session resumes and the broker delivers the unacknowledged messages
  again. A message the connector never handled (connection lost, stopped) is delivered
  again too.
- Backpressure: a broker's in-flight window cannot be relied on (Mosquitto 2.0 holds to
  20 unacknowledged messages only while none is acknowledged: once acks flow it sends
  as fast as it can, measured here). So the connector stops reading its socket while
  aiomqtt's incoming queue holds ``max_queued_messages`` (``ReadFlow``) and reads again
  once the queue is down to half: TCP flow control then holds the messages on the
  broker, which queues them for the session (its ``max_queued_messages`` policy).
  Nothing is taken in that cannot be handled.
- Queue: aiomqtt's incoming queue is ``OverflowQueue``. Beyond twice the limit (packets
  paho had already read when reading paused), a message goes to an overflow callback
  (the connector counts and dead-letters it) instead of aiomqtt's discard-with-a-warning;
  with reading paused at the limit that does not happen in practice.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import socket
from collections.abc import Callable
from typing import Any, cast

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.connectors.settings import MqttSettings

__all__ = [
    "OverflowQueue",
    "ReadFlow",
    "acknowledge",
    "clean_start",
    "drop",
    "client_identifier",
    "default_instance_id",
    "make_client",
]

log = logging.getLogger(__name__)

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_ID = 64

Overflow = Callable[[aiomqtt.Message], None]


def default_instance_id() -> str:
    """The host name: distinct per machine or container unless configured otherwise."""
    return socket.gethostname() or "twinql"


def client_identifier(source_id: str, instance_id: str, explicit: str | None = None) -> str:
    """``explicit`` when given, else ``twinql-{instance}-{source}`` (at most 64 safe chars)."""
    if explicit:
        return explicit
    ident = _ID_UNSAFE.sub("_", f"twinql-{instance_id}-{source_id}")
    if len(ident) <= _MAX_ID:
        return ident
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return f"{ident[: _MAX_ID - 17]}-{digest}"


class ReadFlow:
    """Pauses reading the client's socket while its incoming queue is full.

    aiomqtt reads the socket from an event-loop reader; ``pause`` removes it (the
    kernel's receive buffer fills, then the broker's send buffer: TCP backpressure),
    ``resume`` installs a reader that reads like aiomqtt's own. A read error while
    resumed disconnects the client, which aiomqtt reports as a lost connection.
    """

    def __init__(self, on_pause: Callable[[], None] | None = None) -> None:
        self.client: aiomqtt.Client | None = None
        self._on_pause = on_pause
        self._fd: int | None = None

    @property
    def paused(self) -> bool:
        return self._fd is not None

    def pause(self) -> None:
        if self._fd is not None or self.client is None:
            return
        sock = _paho(self.client).socket()
        if sock is None:
            return
        fd = sock.fileno()
        if fd < 0:
            return
        asyncio.get_running_loop().remove_reader(fd)
        self._fd = fd
        if self._on_pause is not None:
            self._on_pause()

    def resume(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None or self.client is None:
            return
        paho = _paho(self.client)
        sock = paho.socket()
        if sock is None or sock.fileno() != fd:
            return  # the connection went while paused: its reader went with it
        asyncio.get_running_loop().add_reader(fd, self._read, paho)

    @staticmethod
    def _read(paho: Any) -> None:  # noqa: ANN401 - paho's client
        try:
            while True:
                paho.loop_read()
                # an SSL socket may hold decoded bytes that select() does not signal
                sock = paho.socket()
                if sock is not None and hasattr(sock, "pending") and sock.pending() > 0:
                    continue
                break
        except Exception:
            log.exception("MQTT socket read failed: disconnecting")
            paho.disconnect()


class OverflowQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming messages: reading pauses at ``limit`` (``maxsize``) and
    resumes at half of it; beyond twice ``limit`` a message goes to ``on_overflow``,
    never silently away."""

    def __init__(
        self, maxsize: int = 0, *, on_overflow: Overflow, flow: ReadFlow | None = None
    ) -> None:
        super().__init__(0)  # the bounds are enforced here
        self.limit = max(0, maxsize)
        self._on_overflow = on_overflow
        self._flow = flow

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self.limit and self.qsize() >= 2 * self.limit:
            self._on_overflow(item)
            return
        super().put_nowait(item)
        if self._flow is not None and self.limit and self.qsize() >= self.limit:
            self._flow.pause()

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()  # Queue.get() ends here too
        if self._flow is not None and self._flow.paused and self.qsize() <= self.limit // 2:
            self._flow.resume()
        return item


def _paho(client: aiomqtt.Client) -> Any:  # noqa: ANN401 - paho's client
    # aiomqtt 2.x keeps the paho client in ``_client`` and has no manual-ack option of
    # its own; paho's ``manual_ack_set``/``ack`` are public. A test pins this down.
    paho = getattr(client, "_client", None)
    if paho is None or not hasattr(paho, "manual_ack_set") or not hasattr(paho, "ack"):
        raise RuntimeError("this aiomqtt version does not expose paho's client for manual acks")
    return paho


def make_client(
    st: MqttSettings,
    identifier: str,
    *,
    first: bool,
    on_overflow: Overflow,
    flow: ReadFlow | None = None,
) -> aiomqtt.Client:
    """A client of the persistent session, acknowledging manually.

    ``first``: the connector's first connection; MQTT 5 then starts clean (3.1.1 needs
    ``clean_start()`` before).
    """
    if st.mqtt_version == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = st.session_expiry_s
        session: dict[str, Any] = {
            "protocol": aiomqtt.ProtocolVersion.V5,
            "clean_start": first,
            "properties": props,
        }
    else:
        session = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
    client = _client(st, identifier, session, on_overflow, flow)
    if flow is not None:
        flow.client = client
    return client


def _client(
    st: MqttSettings,
    identifier: str,
    session: dict[str, Any],
    on_overflow: Overflow,
    flow: ReadFlow | None = None,
) -> aiomqtt.Client:
    queue = functools.partial(OverflowQueue, on_overflow=on_overflow, flow=flow)
    client = aiomqtt.Client(
        st.host,
        st.port,
        username=st.username,
        password=st.password,
        identifier=identifier,
        keepalive=st.keepalive_s,
        timeout=max(st.ack_timeout_s, 1.0),
        tls_context=st.ssl_context(),
        max_queued_incoming_messages=st.max_queued_messages,
        queue_type=cast("type[asyncio.Queue[aiomqtt.Message]]", queue),
        **session,
    )
    _paho(client).manual_ack_set(True)
    return client


async def clean_start(st: MqttSettings, identifier: str) -> None:
    """MQTT 3.1.1: drop the broker's session of ``identifier`` (connect clean, leave)."""
    if st.mqtt_version == "5":
        return  # MQTT 5 connects with clean_start instead
    session = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": True}
    async with _client(st, identifier, session, lambda _m: None):
        pass


def acknowledge(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """PUBACK (QoS 1) / PUBCOMP (QoS 2) for a handled message; a no-op for QoS 0.

    Without a connection paho returns an error code and sends nothing: the broker then
    delivers the message again on the resumed session (at least once).
    """
    if message.qos > 0:
        _paho(client).ack(message.mid, message.qos)


def drop(client: aiomqtt.Client) -> None:
    """Close the connection now, acknowledging nothing more: the client's message
    iteration then ends with ``MqttError`` and the connector reconnects (resuming its
    session, so the broker sends again what was not acknowledged)."""
    _paho(client).disconnect()
