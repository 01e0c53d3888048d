"""The embedded graph server never outlives twinql: it dies with a killed parent, a
server a dead twinql left behind is stopped at the next start (and nothing else is),
and a live twinql's server is refused to a second server but lent to ``twinql load``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.services.container import Services
from api.settings import Settings
from graph.bolt import server_lock as lock
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings
from graph.errors import Unavailable, ValidationError
from graph.model import Asset
from tests.support.polling import eventually_sync
from tests.support.serving import serve, wait_ready


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_a_killed_twinql_takes_its_graph_server_along(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    data, log = tmp_path / "data", tmp_path / "serve.log"
    port = free_port()
    first = serve(data, port, log)
    procs.append(first)
    wait_ready(first, port, log)
    rec = lock.read_record(data.resolve() / "graph")
    assert rec is not None and rec.owner == first.pid
    assert lock.is_our_server(rec.pid, data.resolve() / "graph")

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert eventually_sync(lambda: not lock.pid_alive(rec.pid), within=60, every=0.1), (
        "the graph server outlived its killed parent"
    )

    port = free_port()
    second = serve(data, port, log)  # the same data directory starts again
    procs.append(second)
    wait_ready(second, port, log)
    rec = lock.read_record(data.resolve() / "graph")
    assert rec is not None and rec.owner == second.pid
    second.terminate()  # a clean stop: uvicorn shuts down, then re-raises the signal
    assert second.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()
    assert eventually_sync(lambda: not lock.pid_alive(rec.pid), within=5, every=0.1)
    assert lock.read_record(data.resolve() / "graph") is None


async def _dead_pid() -> int:
    p = await asyncio.create_subprocess_exec("true")
    await p.wait()
    return p.pid


async def test_a_stale_server_is_stopped_and_nothing_else(tmp_path: Path) -> None:
    settings = EmbeddedGraphSettings(data_dir=tmp_path, heap="512m")
    first = EmbeddedGraphServer(settings)
    root = first.root
    root.mkdir(parents=True)
    # A record naming a process that is not our graph server: it must be left alone.
    bystander = await asyncio.create_subprocess_exec("sleep", "120")
    try:
        dead = await _dead_pid()
        lock.write_record(root, lock.ServerRecord(bystander.pid, dead, None, "x", 1))
        await first.start()
        assert bystander.returncode is None and lock.pid_alive(bystander.pid)
    finally:
        bystander.kill()
        await bystander.wait()
    try:
        # Pretend the owner of the running server died without stopping it.
        rec = lock.read_record(root)
        assert rec is not None and rec.pid == first.pid
        dead = await _dead_pid()
        lock.write_record(root, lock.ServerRecord(rec.pid, dead, "0", rec.host, rec.bolt))
        second = EmbeddedGraphServer(settings)
        await second.start()
        try:
            assert not lock.pid_alive(rec.pid), "the stale server should have been stopped"
            assert lock.read_record(root).pid == second.pid  # type: ignore[union-attr]
            async with GraphClient(second.graph_settings()) as client:
                repo = GraphRepository(client)
                await repo.ensure_schema()
                await repo.assets.upsert([Asset("survivor", "S", "site", "site")])
        finally:
            await second.aclose()
    finally:
        await first.aclose()


async def test_a_live_server_is_refused_to_a_second_server_and_lent_to_load(
    tmp_path: Path,
) -> None:
    settings = EmbeddedGraphSettings(data_dir=tmp_path, heap="512m")
    async with EmbeddedGraphServer(settings) as owner:
        with pytest.raises(Unavailable, match="in use by twinql"):
            await EmbeddedGraphServer(settings).start()
        guest = EmbeddedGraphServer(settings)
        await guest.start(attach=True)
        assert guest.attached_to == os.getpid() and guest.pid is None
        assert guest.bolt_uri == owner.bolt_uri
        async with GraphClient(guest.graph_settings()) as client:
            await client.ping()
        await guest.aclose()  # a guest never stops the owner's server
        assert owner.running


async def test_a_failing_start_hook_stops_the_graph_server(tmp_path: Path) -> None:
    """`twinql demo` imports the plant and starts devices after the services: when that
    fails, the lifespan still stops everything, the graph server first of all."""
    settings = Settings(data_dir=tmp_path, graph_heap="512m", tokens="x" * 20 + ":admin")
    started: list[Services] = []

    async def broken_demo(services: Services, _: contextlib.AsyncExitStack) -> None:
        started.append(services)
        raise ValidationError("the demo plant is broken")

    app = create_app(settings, on_started=broken_demo)
    with pytest.raises(ValidationError):
        async with app.router.lifespan_context(app):
            pass
    (services,) = started
    server = services.graph_server
    assert server is not None and not server.running and server.pid is None
    assert lock.read_record(server.root) is None
