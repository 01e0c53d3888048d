"""Rate limits per token on mutations and on ``POST /ingest`` (issue 10): token buckets,
``RATE_LIMITED`` with ``retryAfter`` in GraphQL, HTTP 429 with ``Retry-After``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.services.ratelimit import TokenBuckets
from api.settings import Rate, Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import RateLimited, ValidationError
from tests.support.app import app_settings, served

ADMIN = "rate-admin-token-0123456789"
OTHER = "rate-other-token-0123456789"
DELETE = 'mutation { deleteAsset(id: "rate-none") { deletedIds } }'


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 4.0, "mutations", clock=clock)
    for _ in range(4):
        buckets.take("a")
    with pytest.raises(RateLimited) as refused:
        buckets.take("a")
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.details["retryAfter"] == 0.5
    buckets.take("b", 4)  # another caller has its own bucket
    clock.now = 0.5
    buckets.take("a")
    with pytest.raises(RateLimited):
        buckets.take("a")
    clock.now = 100.0  # refilled up to the burst, no more
    buckets.take("a", 4)
    with pytest.raises(RateLimited):
        buckets.take("a")
    with pytest.raises(RateLimited):  # asking more than is there takes nothing
        buckets.take("b", 5)
    buckets.take("b", 4)


def test_a_rate_of_zero_is_off_and_the_setting_is_checked() -> None:
    off = TokenBuckets(0.0, 0.0, "mutations")
    for _ in range(10_000):
        off.take("a")
    env = {"TWINQL_RATE_MUTATIONS": "5", "TWINQL_RATE_INGEST": "0"}
    settings = Settings.from_env(env)
    assert settings.rate_mutations == Rate(5.0, 50.0) and settings.rate_ingest == Rate(0.0, 0.0)
    assert Settings.from_env({"TWINQL_RATE_MUTATIONS": "2:3"}).rate_mutations == Rate(2.0, 3.0)
    for bad in ("fast", "-1", "1:0", "1:x", "inf"):
        with pytest.raises(ValidationError, match="TWINQL_RATE_MUTATIONS"):
            Settings.from_env({"TWINQL_RATE_MUTATIONS": bad})


@pytest.fixture(scope="module")
async def limited(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("rates")
    settings = app_settings(
        graph_server, data_dir, port, f"{ADMIN}:admin:alice,{OTHER}:admin:bob",
        rate_mutations=Rate(0.01, 3.0), rate_ingest=Rate(0.01, 2.0),
    )  # fmt: skip
    async with served(create_app(settings), port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield client, data_dir


async def _gql(client: httpx.AsyncClient, token: str, query: str) -> dict[str, object]:
    r = await client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _codes(body: dict[str, object]) -> list[str]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [e["extensions"]["code"] for e in errors]


async def test_mutations_beyond_the_rate_are_refused_and_audited(
    limited: tuple[httpx.AsyncClient, Path],
) -> None:
    client, _ = limited
    for _ in range(3):
        assert _codes(await _gql(client, ADMIN, DELETE)) == ["NOT_FOUND"]
    refused = await _gql(client, ADMIN, DELETE)
    assert _codes(refused) == ["RATE_LIMITED"]
    errors = refused["errors"]
    assert isinstance(errors, list)
    assert errors[0]["extensions"]["retryAfter"] > 0 and errors[0]["path"] == ["deleteAsset"]
    # two root fields take two tokens: bob has 3, so two of his work and the next pair fails
    pair = (
        'mutation { a: createApiKey(name: "r1", role: "viewer") { key { id } } '
        'b: createApiKey(name: "r2", role: "viewer") { key { id } } }'
    )
    assert _codes(await _gql(client, OTHER, pair)) == []
    assert _codes(await _gql(client, OTHER, pair)) == ["RATE_LIMITED", "RATE_LIMITED"]
    # queries are not limited; the audit log has the refusals
    log = await _gql(client, OTHER, '{ auditLog(actor: "alice") { outcome } }')
    data = log["data"]
    assert isinstance(data, dict)
    assert [r["outcome"] for r in data["auditLog"]] == ["RATE_LIMITED"] + ["NOT_FOUND"] * 3


async def test_ingest_beyond_the_rate_is_429_with_retry_after(
    limited: tuple[httpx.AsyncClient, Path],
) -> None:
    client, _ = limited
    headers = {"Authorization": f"Bearer {ADMIN}"}
    for _ in range(2):
        r = await client.post("/ingest", json=[], headers=headers)
        assert r.status_code != 429, r.text
    r = await client.post("/ingest", json=[], headers=headers)
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    other = await client.post("/ingest", json=[], headers={"Authorization": f"Bearer {OTHER}"})
    assert other.status_code != 429
