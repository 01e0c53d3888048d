"""The graph server killed (SIGKILL) under queries: the served app answers UNAVAILABLE,
never INTERNAL, while it is away, and answers again once it is back on the same port.

A private embedded graph server (not the session's: this one dies), its own data
directory and a served app pointing at it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.bolt.settings import EmbeddedGraphSettings
from tests.support.app import Api, app_settings, served
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import ADMIN

QUERIES = (
    "query($id: ID!) { asset(id: $id) { id name children { nodes { id } } } }",
    "query($id: ID!) { impact(assetId: $id) { distance asset { id } } }",
    "query($id: ID!) { neighbourhood(assetId: $id) { nodes { id } } }",
)


def codes(body: dict[str, Any]) -> set[str]:
    return {str(e.get("extensions", {}).get("code")) for e in body.get("errors") or []}


def all_answered(bodies: list[dict[str, Any]]) -> bool:
    return all("errors" not in b for b in bodies)


async def ask_all(api: Api, asset: str) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(api.gql(q, {"id": asset}) for q in QUERIES)))


async def test_a_killed_graph_server_is_unavailable_then_recovers(tmp_path: Path, uid: str) -> None:
    graph = EmbeddedGraphServer(
        EmbeddedGraphSettings(data_dir=tmp_path / "graph", heap="512m", bolt_port=free_port())
    )
    await graph.start()
    try:
        port = free_port()
        settings = app_settings(graph, tmp_path / "app", port, f"{ADMIN}:admin:alice")
        app = create_app(settings)
        async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
            api = Api(base, http, app.state.services)
            asset = f"{uid}-pump"
            await register(
                api,
                Plant.of(
                    {
                        "assets": [
                            {"id": asset, "name": "Pump", "type": "pump", "level": "EQUIPMENT"}
                        ]
                    }
                ),
            )
            for body in await ask_all(api, asset):
                assert "errors" not in body, body

            pid = graph.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # no goodbye to the Bolt connections
            await graph.aclose()
            for _ in range(3):  # in-flight and new queries, pooled connections and new ones
                for body in await ask_all(api, asset):
                    assert codes(body) == {"UNAVAILABLE"}, body
                    assert "INTERNAL" not in str(body)
            ready = await http.get("/readyz")
            assert ready.status_code == 503, ready.text

            await graph.start()  # the same data directory and Bolt port
            bodies = await eventually(
                functools.partial(ask_all, api, asset),
                done=all_answered,
                within=60,
                every=0.5,
                what="queries answered again once the graph server is back",
            )
            assert bodies[0]["data"]["asset"]["id"] == asset
    finally:
        await graph.aclose()
