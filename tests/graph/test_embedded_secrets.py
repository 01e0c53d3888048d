"""The embedded graph server's root password never appears on its command line.

Reproduces issue 10 item 8 (first half): ``-Darcadedb.server.rootPassword=...`` put the
password in ``/proc/<pid>/cmdline``, readable by any local user, and with it ArcadeDB's
HTTP API on loopback served the whole graph. The server now reads it from the 0600 file
in the data directory (``arcadedb.server.rootPasswordPath``).
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import httpx
import pytest

from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer
from graph.errors import TwinqlError


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def text_and_mode(path: Path) -> tuple[str, int]:
    return path.read_text(), stat.S_IMODE(path.stat().st_mode)


def option(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"-Darcadedb.{name}=")]
    return value


async def test_the_password_is_read_from_a_private_file(graph_server: EmbeddedGraphServer) -> None:
    assert graph_server.pid is not None
    args = command_line(graph_server.pid)
    password = graph_server.graph_settings().password
    assert len(password) >= 24
    assert not [a for a in args if password in a]
    assert not [a for a in args if "rootPassword=" in a]
    assert text_and_mode(Path(option(args, "server.rootPasswordPath"))) == (password, 0o600)


async def test_the_password_still_guards_bolt_and_http(graph_server: EmbeddedGraphServer) -> None:
    settings = graph_server.graph_settings()
    async with GraphClient(settings) as client:
        await client.ping()
    wrong = dataclasses.replace(settings, password="not-the-password")
    with pytest.raises(TwinqlError):
        async with GraphClient(wrong) as client:
            await client.ping()
    assert graph_server.pid is not None
    port = option(command_line(graph_server.pid), "server.httpIncomingPort")
    url = f"http://127.0.0.1:{port}/api/v1/databases"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, auth=("root", "not-the-password"))).status_code in {401, 403}
        assert (await http.get(url, auth=("root", settings.password))).status_code == 200
