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
- A dead socket is a lost connection, whatever the event loop makes of it. A broker
  killed with data in flight resets the TCP connection; uvloop then reports an error
  on the socket's poll handle, runs its reader once and closes the handle but keeps it
  registered for the descriptor. A reader that found buffered packets to read returned
  without meeting the reset, so nothing read the socket again and paho never learnt the
  connection was gone; every later ``add_writer`` (PUBACKs, pings) raised ``RuntimeError:
  unable to perform operation on <UVPoll closed=True>`` inside a loop callback, which
  the loop only logs: the connector stayed "connected", acknowledging nothing, until
  paho's keepalive gave up (twice ``keepalive_s``), if ever. So (``SocketGuard``): the
  reader and writer the loop calls are the connector's own; a reader that sees a pending
  socket error after reading, a register call that the loop refuses, or a watchdog tick
  (``watch``: every second) that finds the socket reset, at end of file or its reader
  handle dead, ends the connection as paho does on a socket error (``lose``): the
  socket closes, aiomqtt's message iteration raises ``MqttError`` and the connector
  reconnects.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable
from typing import Any, cast

import aiomqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.connectors.settings import MqttSettings

__all__ = [
    "OverflowQueue",
    "ReadFlow",
    "SocketGuard",
    "acknowledge",
    "clean_start",
    "drop",
    "client_identifier",
    "default_instance_id",
    "lose",
    "make_client",
    "watch",
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
    ``resume`` installs the connector's reader. A read error while resumed disconnects
    the client, which aiomqtt reports as a lost connection.

    The reader takes every packet the socket holds per wake-up (paho's ``loop_read``
    takes one), through a buffer that answers paho's byte-sized ``recv`` calls from one
    64 KiB ``recv`` (``_BufferedRecv``): a QoS 1 message costs one loop callback and a
    fraction of a system call instead of one callback and three or more calls, about
    15 % of twinql's CPU per single-reading message (``bench/bench_mqtt.py``). Packets
    still in the buffer when reading pauses are read on ``resume``.
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
        sock = _paho(self.client).socket()
        if sock is None or sock.fileno() != fd:
            return  # the connection went while paused: its reader went with it
        self.install()
        paho = _paho(self.client)
        if _holds_packets(paho):  # read before the pause, not yet handled
            asyncio.get_running_loop().call_soon(self._read, paho)

    def install(self) -> None:
        """Read the socket with the guarded reader (replacing aiomqtt's, or a reader
        handle the loop closed: ``add_reader`` then raises and the connection is lost)."""
        if self._fd is not None or self.client is None:
            return
        paho = _paho(self.client)
        sock = paho.socket()
        if sock is None or sock.fileno() < 0:
            return
        try:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._read, paho)
        except (RuntimeError, OSError, ValueError) as exc:
            lose(paho, f"the event loop cannot watch the socket for reading: {exc}")

    def _read(self, paho: Any) -> None:  # noqa: ANN401 - paho's client
        """Read what the socket holds, packet after packet, until it holds no more
        (paho's ``loop_read`` takes one packet per call), reading paused, or
        ``_BURST`` packets (then again after the loop's other callbacks)."""
        recv = _buffered(paho)
        try:
            for _ in range(_BURST):
                if self.paused or paho.socket() is None:
                    return
                rc = paho._packet_read()
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                    break
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    paho._loop_rc_handle(rc)
                    return
            else:
                if recv.holding:  # the socket may be quiet with packets in our buffer
                    asyncio.get_running_loop().call_soon(self._read, paho)
                    return
        except Exception as exc:
            log.exception("MQTT socket read failed: connection lost")
            lose(paho, f"socket read failed: {exc!r}")
            return
        error = _socket_error(paho.socket())
        if error:  # read what was buffered, but the connection was reset meanwhile
            lose(paho, f"socket error after reading: {error}")


_BURST = 256
_CHUNK = 65536


class _BufferedRecv:
    """paho's ``_sock_recv`` for a reader that reads until the socket is empty: paho
    asks for a packet in three or more ``recv`` calls (its command byte, each byte of
    its length, its body); this answers them from one call of paho's own ``_sock_recv``
    (its closed-socket and TLS handling included) for up to 64 KiB. Bound to one
    socket: a new socket starts with an empty buffer."""

    __slots__ = ("_buf", "_paho", "_pos", "_recv", "_sock")

    def __init__(self, paho: Any) -> None:  # noqa: ANN401 - paho's client
        self._paho = paho
        self._recv = functools.partial(type(paho)._sock_recv, paho)
        self._sock: Any = None
        self._buf = b""
        self._pos = 0

    @property
    def holding(self) -> bool:
        return self._pos < len(self._buf) and self._sock is self._paho.socket()

    def __call__(self, bufsize: int) -> bytes:
        sock = self._paho.socket()
        if sock is not self._sock:
            self._sock, self._buf, self._pos = sock, b"", 0
        if self._pos >= len(self._buf):
            data = self._recv(_CHUNK)  # raises as paho's does: closed, would block
            if not data:
                return data  # end of file: paho loses the connection
            self._buf, self._pos = data, 0
            _quick_ack(sock)
        start = self._pos
        self._pos = min(start + bufsize, len(self._buf))
        return self._buf[start : self._pos]


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux


def _quick_ack(sock: Any) -> None:  # noqa: ANN401 - paho's socket
    """Acknowledge at the TCP level at once, not after the kernel's delayed-ACK timer.

    twinql sends its PUBACK only once a message is durable, so the broker's packets
    mostly wait for a delayed ACK (up to 40 ms on Linux); a broker whose socket uses
    Nagle's algorithm (Mosquitto unless ``set_tcp_nodelay true``) holds back its next
    small packets until that ACK: measured, 8.6 ms of the 15 ms p50 from publish to
    subscriber at 1,000 messages/s. Linux clears the flag as it sees fit, hence once
    per read of the socket."""
    if _QUICKACK is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    except (OSError, AttributeError, ValueError):
        return  # not a TCP socket (or a closed one): nothing to speed up


def _installed(paho: Any) -> _BufferedRecv | None:  # noqa: ANN401 - paho's client
    recv = paho.__dict__.get("_sock_recv")
    return recv if isinstance(recv, _BufferedRecv) else None


def _holds_packets(paho: Any) -> bool:  # noqa: ANN401 - paho's client
    """Whether the reader's buffer holds bytes of this socket not yet handled (reading
    paused after the broker sent them)."""
    recv = _installed(paho)
    return recv is not None and recv.holding


def _buffered(paho: Any) -> _BufferedRecv:  # noqa: ANN401 - paho's client
    recv = _installed(paho)
    if recv is None:
        recv = _BufferedRecv(paho)
        paho._sock_recv = recv  # the instance's reads, from here on through the buffer
    return recv


def _socket_error(sock: Any) -> str | None:  # noqa: ANN401 - paho's socket
    """The pending error of ``sock`` (clearing it), None when there is none."""
    if sock is None or not hasattr(sock, "getsockopt"):
        return None
    try:
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError as exc:
        return repr(exc)
    return os.strerror(code) if code else None


def lose(paho: Any, reason: str) -> None:  # noqa: ANN401 - paho's client
    """End the connection as paho does on a socket error: close the socket (its reader
    and writer leave the loop), state "connection lost", ``on_disconnect`` (aiomqtt's
    message iteration raises ``MqttError``; aiomqtt ignores a second report)."""
    log.warning("MQTT connection lost: %s", reason)
    paho._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)  # noqa: SLF001


class SocketGuard:
    """paho's ``on_socket_register_write``, instead of aiomqtt's: the writer is added on
    the loop only if the socket is still the client's (paho may close it between the
    call, made from any thread, and the loop turn), and a loop that refuses it (a dead
    poll handle on the descriptor) loses the connection instead of logging only."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def register_write(self, paho: Any, _userdata: object, sock: Any) -> None:  # noqa: ANN401
        self._loop.call_soon_threadsafe(self._add_writer, paho, sock)

    def _add_writer(self, paho: Any, sock: Any) -> None:  # noqa: ANN401 - paho's client
        if paho.socket() is not sock or sock.fileno() < 0:
            return  # closed (or replaced) meanwhile: nothing to write to
        try:
            self._loop.add_writer(sock.fileno(), self._write, paho)
        except (RuntimeError, OSError, ValueError) as exc:
            lose(paho, f"the event loop cannot watch the socket for writing: {exc}")

    @staticmethod
    def _write(paho: Any) -> None:  # noqa: ANN401 - paho's client
        try:
            paho.loop_write()
        except Exception as exc:
            lose(paho, f"socket write failed: {exc!r}")


async def watch(client: aiomqtt.Client, flow: ReadFlow, every: float = 1.0) -> None:
    """Until the connection ends: notice a socket that died without the loop saying so.

    Each tick: a pending socket error or end of file (peeked, nothing consumed) loses
    the connection; otherwise, unless reading is paused, the guarded reader is put in
    place again (a no-op for a live handle; a handle the loop closed makes ``add_reader``
    raise, which loses the connection).
    """
    paho = _paho(client)
    while True:
        await asyncio.sleep(every)
        sock = paho.socket()
        if sock is None:
            lose(paho, "socket closed")
            return
        error = _socket_error(sock)
        if error:
            lose(paho, f"socket error: {error}")
            return
        if _at_eof(sock) and not _holds_packets(paho):  # else read them first (resume)
            lose(paho, "the broker closed the connection")
            return
        if not flow.paused:
            flow.install()


def _at_eof(sock: Any) -> bool:  # noqa: ANN401 - paho's socket
    if not isinstance(sock, socket.socket) or hasattr(sock, "pending"):
        return False  # TLS: a peek would read records; the reader handles its end
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


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
    # ``lose`` uses paho's ``_loop_rc_handle``, what paho runs on a socket error.
    paho = getattr(client, "_client", None)
    if paho is None or not all(
        hasattr(paho, name) for name in ("manual_ack_set", "ack", "_loop_rc_handle")
    ):
        raise RuntimeError("this aiomqtt version does not expose paho's client as expected")
    return paho


def make_client(
    st: MqttSettings,
    identifier: str,
    *,
    first: bool,
    on_overflow: Overflow,
    flow: ReadFlow | None = None,
    redelivered: set[int] | None = None,
) -> aiomqtt.Client:
    """A client of the persistent session, acknowledging manually.

    ``first``: the connector's first connection; MQTT 5 then starts clean (3.1.1 needs
    ``clean_start()`` before). ``redelivered``: the packet ids of QoS 1/2 messages the
    broker sent again (DUP flag: it sent them before and got no acknowledgement) are
    added there as they arrive; aiomqtt's message does not carry the flag.
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
    if redelivered is not None:
        paho = _paho(client)
        deliver = paho.on_message  # aiomqtt's: queues an aiomqtt.Message

        def on_message(c: Any, userdata: Any, msg: Any) -> None:  # noqa: ANN401 - paho's
            if msg.dup and msg.qos > 0:
                redelivered.add(msg.mid)
            deliver(c, userdata, msg)

        paho.on_message = on_message
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
    paho = _paho(client)
    paho.manual_ack_set(True)
    paho.on_socket_register_write = SocketGuard(asyncio.get_running_loop()).register_write
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
