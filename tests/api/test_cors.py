"""CORS: a browser app on an allowed origin may call the API with its token; other
origins get no CORS grant (the browser then keeps the answer from the page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.errors import ValidationError
from tests.support.app import app_settings, served
from tests.support.tokens import VIEWER

HMI = "https://hmi.example.com"


@pytest.fixture
async def cors_base(graph_server: EmbeddedGraphServer, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    settings = app_settings(
        graph_server, tmp_path, port, f"{VIEWER}:viewer:vic", cors_origins=(HMI,)
    )
    async with served(create_app(settings), port) as base:
        yield base


async def test_an_allowed_origin_gets_preflight_and_answers(cors_base: str) -> None:
    async with httpx.AsyncClient(base_url=cors_base, timeout=30) as client:
        pre = await client.options(
            "/graphql",
            headers={
                "Origin": HMI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == HMI
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        r = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Origin": HMI, "Authorization": f"Bearer {VIEWER}"},
        )
        assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}
        assert r.headers["access-control-allow-origin"] == HMI


async def test_another_origin_gets_no_grant(cors_base: str) -> None:
    async with httpx.AsyncClient(base_url=cors_base, timeout=30) as client:
        pre = await client.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 400
        assert "access-control-allow-origin" not in pre.headers
        r = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_origins_setting_is_checked() -> None:
    s = Settings.from_env({"TWINQL_CORS_ORIGINS": f"{HMI}/, http://10.0.0.5:3000"})
    assert s.cors_origins == (HMI, "http://10.0.0.5:3000")
    assert Settings.from_env({}).cors_origins == ()
    with pytest.raises(ValidationError, match="TWINQL_CORS_ORIGINS: each origin is"):
        Settings.from_env({"TWINQL_CORS_ORIGINS": "hmi.example.com"})
