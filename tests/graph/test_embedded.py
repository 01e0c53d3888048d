"""The embedded graph server as a user meets it: it keeps data across restarts, says
clearly when it cannot start or when it dies, and /readyz and /healthz reflect its state."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.services.container import Services
from api.settings import Settings
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings
from graph.errors import Unavailable
from graph.model import Asset
from tests.support.app import served
from tests.support.polling import eventually


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    settings = EmbeddedGraphSettings(data_dir=tmp_path, heap="512m")
    async with EmbeddedGraphServer(settings) as server:
        async with GraphClient(server.graph_settings()) as client:
            repo = GraphRepository(client)
            await repo.ensure_schema()
            await repo.assets.upsert([Asset("kept-site", "Kept", "site", "site")])
    password = (tmp_path / "graph" / "root-password").read_text()
    assert oct((tmp_path / "graph" / "root-password").stat().st_mode & 0o777) == "0o600"
    async with EmbeddedGraphServer(settings) as server:
        assert server.graph_settings().password == password
        async with GraphClient(server.graph_settings()) as client:
            kept = await GraphRepository(client).assets.get("kept-site")
    assert kept.name == "Kept"


async def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedGraphServer(
            EmbeddedGraphSettings(
                data_dir=tmp_path, heap="512m", bolt_port=port, startup_timeout_s=30
            )
        )
        with pytest.raises(Unavailable) as err:
            await server.start()
    assert "embedded graph server" in err.value.message
    assert "last output" in err.value.message
    assert not server.running


async def test_readyz_and_healthz_report_a_dead_graph_server(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path, port=port, graph_heap="512m", tokens="x" * 20 + ":admin")
    app = create_app(settings)
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        services: Services = app.state.services
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert services.graph_server is not None
        proc = services.graph_server._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        server = services.graph_server
        await eventually(
            lambda: server.exit_code is not None, within=5, what="the graph server's exit seen"
        )
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["graph"] == "the embedded graph server exited (code -9)"
        # Liveness fails too: only a restart of twinql brings the graph back.
        health = await http.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {
            "status": "failed",
            "reason": "the embedded graph server exited (code -9)",
        }
        query = {"query": '{ asset(id: "x") { id } }'}
        auth = {"Authorization": "Bearer " + "x" * 20}
        body = (await http.post("/graphql", json=query, headers=auth)).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
