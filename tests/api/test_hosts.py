"""DNS rebinding: a loopback twinql answers only to loopback names and pages.

Reproduces issue 10 item 9: on the loopback default, a request with a foreign ``Host``
or ``Origin`` was answered, so any web page that rebinds its name to 127.0.0.1 could
read the twin. The session app listens on 127.0.0.1 with no TWINQL_ALLOWED_HOSTS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from api.app import create_app
from api.common.hosts import host_name
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import ValidationError
from tests.support.app import Api, app_settings, served
from tests.support.tokens import ADMIN, INGEST

QUERY = {"query": "{ __typename }"}
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def port_of(api: Api) -> int:
    return int(api.base.rsplit(":", 1)[1])


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io"])
async def test_a_foreign_host_is_misdirected(api: Api, host: str) -> None:
    headers = {**AUTH, "Host": host.format(port=port_of(api))}
    for r in (
        await api.client.post("/graphql", json=QUERY, headers=headers),
        await api.client.get("/graphql", headers={**headers, "Accept": "text/html"}),
        await api.client.post("/ingest", json=[], headers={**headers, "Authorization": INGEST}),
        await api.client.get("/readyz", headers=headers),
    ):
        assert r.status_code == 421, r.text
        error = r.json()["error"]
        assert error["code"] == "MISDIRECTED_HOST"
        assert "TWINQL_ALLOWED_HOSTS" in error["message"]


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
async def test_loopback_names_are_served(api: Api, host: str) -> None:
    headers = {**AUTH, "Host": host.format(port=port_of(api))}
    r = await api.client.post("/graphql", json=QUERY, headers=headers)
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("origin", ["http://evil.example", "http://evil.example:8000", "null"])
async def test_a_foreign_origin_is_forbidden(api: Api, origin: str) -> None:
    r = await api.client.post("/graphql", json=QUERY, headers={**AUTH, "Origin": origin})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "FORBIDDEN_ORIGIN"


async def test_a_loopback_page_may_call(api: Api) -> None:
    for origin in ("http://localhost:3000", api.base, "http://[::1]:8000"):
        r = await api.client.post("/graphql", json=QUERY, headers={**AUTH, "Origin": origin})
        assert r.status_code == 200, (origin, r.text)


async def test_a_websocket_from_a_foreign_origin_is_refused(api: Api) -> None:
    url = api.base.replace("http", "ws") + "/graphql"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],
            origin="http://evil.example",  # type: ignore[list-item,arg-type]
        ):
            pass
    response = refused.value.response
    assert response.status_code == 403
    assert b'"FORBIDDEN_ORIGIN"' in response.body
    # The same socket from twinql's own page (GraphiQL) opens.
    async with websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],
        origin=api.base,  # type: ignore[list-item,arg-type]
    ) as ws:
        assert ws.subprotocol == "graphql-transport-ws"


@pytest.fixture(scope="module")
async def named(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = app_settings(
        graph_server,
        tmp_path_factory.mktemp("hosts"),
        port,
        f"{ADMIN}:admin:alice",
        allowed_hosts=("twin.example", ".plant.example"),
        cors_origins=("https://hmi.example",),
    )
    async with served(create_app(settings), port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=AUTH) as client:
            yield client


async def test_allowed_hosts_setting_names_the_deployment(named: httpx.AsyncClient) -> None:
    for host in ("twin.example", "twin.example:443", "a.plant.example"):
        r = await named.post("/graphql", json=QUERY, headers={"Host": host})
        assert r.status_code == 200, (host, r.text)
    for host in ("localhost", "plant.example.evil", "evil.example"):
        r = await named.post("/graphql", json=QUERY, headers={"Host": host})
        assert r.status_code == 421, (host, r.text)
    r = await named.post(
        "/graphql", json=QUERY, headers={"Host": "twin.example", "Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    # A CORS origin (TWINQL_CORS_ORIGINS) is a page allowed to call, on its exact origin.
    r = await named.post(
        "/graphql", json=QUERY, headers={"Host": "twin.example", "Origin": "https://hmi.example"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://hmi.example"
    r = await named.post(
        "/graphql", json=QUERY, headers={"Host": "twin.example", "Origin": "http://hmi.example"}
    )
    assert r.status_code == 403


def test_the_allowed_hosts_setting() -> None:
    assert Settings.from_env({}).effective_allowed_hosts == ("localhost", "127.0.0.1", "::1")
    assert Settings.from_env({"TWINQL_HOST": "0.0.0.0"}).effective_allowed_hosts == ("*",)
    env = {"TWINQL_HOST": "0.0.0.0", "TWINQL_ALLOWED_HOSTS": " Twin.Example, .plant.example"}
    assert Settings.from_env(env).effective_allowed_hosts == ("twin.example", ".plant.example")
    with pytest.raises(ValidationError, match="TWINQL_ALLOWED_HOSTS"):
        Settings.from_env({"TWINQL_ALLOWED_HOSTS": " , "})


def test_host_names() -> None:
    assert [host_name(h) for h in ("[::1]:8000", "LocalHost:80", "::1", "a.b.", "")] == [
        "::1",
        "localhost",
        "::1",
        "a.b",
        "",
    ]
