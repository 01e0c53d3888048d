"""Loopback networking for tests: free ports, waiting for a listener, a cuttable TCP path."""

from __future__ import annotations

import asyncio
import socket

from tests.support.polling import eventually_sync

__all__ = ["TcpProxy", "free_port", "wait_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    """Until something listens on 127.0.0.1:``port``; fails after ``timeout`` seconds."""

    def listening() -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    eventually_sync(listening, within=timeout, every=0.02, what=f"a listener on port {port}")


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
