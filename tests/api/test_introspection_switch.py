"""Introspection and GraphiQL are switchable (issue 10): ``TWINQL_INTROSPECTION`` on,
token or off (token by default off loopback), ``TWINQL_GRAPHIQL`` true or false."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.ide import ASSET_PATH
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import ValidationError
from tests.support.app import Api, app_settings, served

TOKEN = "introspect-admin-token-0123456"
SCHEMA_Q = "{ __schema { queryType { name } } }"
HIDDEN = 'query { ...F } fragment F on Query { t: __type(name: "Asset") { name } }'


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or ()]


async def _post(client: httpx.AsyncClient, query: str, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await client.post("/graphql", json={"query": query}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module", params=["token", "off"])
async def gated(
    request: pytest.FixtureRequest,
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    port = free_port()
    settings = app_settings(
        graph_server, tmp_path_factory.mktemp("introspection"), port, f"{TOKEN}:admin:root",
        introspection=request.param, graphiql=False,
    )  # fmt: skip
    settings = replace(settings, anonymous_read=True)
    async with served(create_app(settings), port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield request.param, client


def test_the_setting_and_its_default() -> None:
    assert Settings(host="127.0.0.1").effective_introspection == "on"
    assert Settings(host="0.0.0.0").effective_introspection == "token"
    env = {"TWINQL_INTROSPECTION": "off", "TWINQL_GRAPHIQL": "false"}
    settings = Settings.from_env(env, host="127.0.0.1")
    assert (settings.effective_introspection, settings.graphiql) == ("off", False)
    with pytest.raises(ValidationError, match="TWINQL_INTROSPECTION"):
        Settings.from_env({"TWINQL_INTROSPECTION": "sometimes"})


async def test_on_loopback_introspection_is_on(api: Api) -> None:
    data = await api.ok(SCHEMA_Q)
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_needs_a_token_or_is_off(
    gated: tuple[str, httpx.AsyncClient],
) -> None:
    mode, client = gated
    for query in (SCHEMA_Q, HIDDEN):
        anonymous = await _post(client, query, None)
        assert anonymous["data"] is None
        assert _codes(anonymous) == ["UNAUTHENTICATED" if mode == "token" else "FORBIDDEN"]
        with_token = await _post(client, query, TOKEN)
        if mode == "token":
            assert "errors" not in with_token and with_token["data"], with_token
        else:
            assert _codes(with_token) == ["FORBIDDEN"] and "TWINQL_INTROSPECTION" in str(with_token)
    # ordinary queries and __typename are untouched
    plain = await _post(client, "{ __typename graphStats { assets } }", None)
    assert "errors" not in plain and plain["data"]["__typename"] == "Query"


async def test_graphiql_off_is_404_and_the_api_still_answers(
    gated: tuple[str, httpx.AsyncClient],
) -> None:
    _, client = gated
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    asset = await client.get(f"{ASSET_PATH}/react-18.2.0.production.min.js")
    assert asset.status_code == 404
    got = await client.get("/graphql", params={"query": "{ __typename }"})
    assert got.status_code == 200 and got.json()["data"] == {"__typename": "Query"}
