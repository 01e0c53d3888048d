"""The MQTT reader's buffer (``mqtt_session._BufferedRecv``): paho asks for a packet in
small ``recv`` calls (command byte, length bytes, body); the buffer answers them from one
large ``recv`` of a real socket, byte for byte in order, and says when it is empty.
End to end (a real broker, reading paused with packets in the buffer and resumed) is in
``test_mqtt_connector.py``: a full queue pauses reading and nothing is dropped."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import paho.mqtt.client as paho_mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.connectors import mqtt_session


class _Client(paho_mqtt.Client):
    """A real paho client whose socket is the test's (``sock``: what a connect set)."""

    def __init__(self, sock: socket.socket | None) -> None:
        super().__init__(CallbackAPIVersion.VERSION2)
        self.sock = sock

    @property
    def sock(self) -> socket.socket | None:
        return self._sock  # type: ignore[no-any-return]

    @sock.setter
    def sock(self, value: socket.socket | None) -> None:
        self._sock = value


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_small_reads_come_from_one_recv_in_order(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    packets = [bytes([0x30, 3]) + b"abc", bytes([0x30, 5]) + b"hello", bytes([0x40, 2, 0, 1])]
    peer.sendall(b"".join(packets))
    recv = mqtt_session._BufferedRecv(_Client(ours))
    got = []
    for packet in packets:  # as paho reads: command, one length byte, then the body
        command, length = recv(1), recv(1)
        got.append(command + length + recv(length[0]))
        assert recv.holding == (packet is not packets[-1])
    assert got == packets
    with pytest.raises(BlockingIOError):  # empty buffer, empty socket: paho's "again"
        recv(1)


def test_a_body_split_across_reads_is_completed_by_the_next_recv(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    recv = mqtt_session._BufferedRecv(_Client(ours))
    peer.sendall(bytes([0x30, 6]) + b"abc")
    assert recv(1) == b"\x30" and recv(1) == b"\x06"
    assert recv(6) == b"abc"  # what there is; paho asks again for the rest
    peer.sendall(b"def")
    assert recv(3) == b"def"


def test_a_new_socket_starts_empty_and_end_of_file_reads_empty(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    client = _Client(ours)
    recv = mqtt_session._BufferedRecv(client)
    peer.sendall(b"\x30\x01xleft-over")
    assert recv(1) == b"\x30" and recv.holding
    other, other_peer = socket.socketpair()
    other.setblocking(False)
    try:
        client.sock = other  # a reconnect: bytes of the old connection are not served
        assert not recv.holding
        other_peer.sendall(b"\xd0\x00")
        assert recv(2) == b"\xd0\x00"
        other_peer.close()
        assert recv(1) == b""  # paho takes that as the connection lost
    finally:
        other.close()
    client.sock = None
    with pytest.raises(ConnectionError):
        recv(1)


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_each_read_asks_tcp_to_acknowledge_at_once() -> None:
    """twinql acknowledges MQTT messages late (once durable), so without a quick TCP ACK
    a Nagle-ing broker holds its next packets for the delayed-ACK timer."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        ours = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with ours, peer:
            ours.setblocking(False)
            ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            peer.sendall(b"\x30\x01x")
            assert select.select([ours], [], [], 5)[0], "nothing arrived"
            recv = mqtt_session._BufferedRecv(_Client(ours))
            assert recv(1) == b"\x30"
            assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1


def test_packets_held_while_paused_keep_an_ended_connection_until_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The watchdog loses a connection at end of file only once nothing read from it is
    still waiting in the buffer (reading paused): those packets are handled first."""
    ours, peer = pair
    client = _Client(ours)
    assert not mqtt_session._holds_packets(client)  # no buffered reader yet
    recv = mqtt_session._buffered(client)
    assert mqtt_session._buffered(client) is recv  # one per client
    peer.sendall(b"\x30\x01x\x30\x01y")
    peer.close()  # the broker ends the connection after sending
    assert recv(1) == b"\x30"
    assert mqtt_session._holds_packets(client)
    assert recv(1) + recv(1) + recv(1) + recv(1) + recv(1) == b"\x01x\x30\x01y"
    assert not mqtt_session._holds_packets(client)
    assert recv(1) == b""  # then the end of file
