"""Request bodies are bounded on every route: 413 with a coded answer, chunked or not.

Reproduces issue 10 item 3: 100 MB bodies to ``/graphql`` were read and answered
without a token, and a 1,000,000-id variable was decoded and coerced before the
1,000-id check. Here an app runs with ``max_body`` = 4096 bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from api.assets.mutations import MAX_PLANT_DOCUMENT
from api.limits import MAX_VARIABLE_LIST
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import ValidationError
from tests.support.app import Api, app_settings, served
from tests.support.tokens import ADMIN

LIMIT = 4096


@pytest.fixture(scope="module")
async def small(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = app_settings(
        graph_server,
        tmp_path_factory.mktemp("body-limit"),
        port,
        f"{ADMIN}:admin:alice,ingest-token-0123456789abcdef:ingest",
        max_body=LIMIT,
    )
    async with served(create_app(settings), port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield client


def assert_too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert f"larger than {LIMIT} bytes" in error["message"]


def big_query() -> bytes:
    return json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 2 * LIMIT}}).encode()


async def test_a_declared_large_body_is_refused_without_a_token(
    small: httpx.AsyncClient,
) -> None:
    r = await small.post(
        "/graphql", content=big_query(), headers={"content-type": "application/json"}
    )
    assert_too_large(r)


async def test_a_chunked_large_body_is_refused_as_it_arrives(small: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        body = big_query()
        for i in range(0, len(body), 512):
            sent += 1
            yield body[i : i + 512]

    r = await small.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(r)


async def test_ingest_bodies_are_bounded_by_the_same_rule(small: httpx.AsyncClient) -> None:
    readings = [{"sensor_id": "s", "value": 1.0, "ts": "2026-01-01T00:00:00Z"}] * 200
    r = await small.post(
        "/ingest", json=readings, headers={"Authorization": "Bearer nobody-needs-a-token"}
    )
    assert_too_large(r)


async def test_bodies_within_the_limit_are_served(small: httpx.AsyncClient) -> None:
    r = await small.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}

    async def chunks() -> AsyncIterator[bytes]:
        body = json.dumps({"query": "{ __typename }", "variables": {"p": "y" * 3000}}).encode()
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    r = await small.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}


async def test_a_million_ids_are_refused_before_graphql_coerces_them(api: Api) -> None:
    ids = [f"s{i}" for i in range(1_000_000)]
    body = await api.gql("query($ids: [ID!]!) { sensors(ids: $ids) { id } }", {"ids": ids})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["message"] == (
        f"a variable holds a list of 1000000 items; no field takes more than {MAX_VARIABLE_LIST}"
    )


def test_the_body_limit_setting() -> None:
    assert Settings.from_env({}).max_body == 64 * 1024 * 1024
    # importPlant's largest document fits a body even if every other character is escaped.
    assert Settings().max_body >= 2 * MAX_PLANT_DOCUMENT
    assert Settings.from_env({"TWINQL_MAX_BODY": "1048576"}).max_body == 1_048_576
    for bad in ("12", "lots"):
        with pytest.raises(ValidationError, match="TWINQL_MAX_BODY"):
            Settings.from_env({"TWINQL_MAX_BODY": bad})
