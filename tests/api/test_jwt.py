"""JWT bearer tokens (issue 10): RS256/ES256 by a JWKS file or URL, HS256 optional, with
issuer, audience and expiry checked, claims mapped to roles and scopes. Keys are made here.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

jwt = pytest.importorskip("jwt", reason="PyJWT[crypto] (a pyproject dependency) is not installed")
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

from api.app import create_app  # noqa: E402
from api.services.auth import ROLES  # noqa: E402
from api.services.jwtauth import JwtSettings, JwtVerifier  # noqa: E402
from graph.bolt.embedded import EmbeddedGraphServer, free_port  # noqa: E402
from graph.errors import Unauthenticated  # noqa: E402
from tests.support.app import app_settings, served  # noqa: E402

ISS = "https://idp.example/realms/plant"
AUD = "twinql"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
HS_SECRET = "a-shared-secret-of-more-than-32-bytes-0123"


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    jwk: dict[str, Any] = json.loads(algo.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


JWKS = {"keys": [_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")]}


def token(key: Any = RSA_KEY, alg: str = "RS256", kid: str | None = "rsa-1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "sub": "ada", "exp": now + 300, "iat": now, "role": "viewer"}
    body.update(claims)
    headers = {"kid": kid} if kid else {}
    return str(jwt.encode(body, key, algorithm=alg, headers=headers))


@pytest.fixture
def verifier(tmp_path: Path) -> JwtVerifier:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    return JwtVerifier(
        JwtSettings(issuer=ISS, audience=AUD, jwks=str(path), hs256_secret=HS_SECRET), ROLES
    )


def test_signed_tokens_map_to_principals(verifier: JwtVerifier) -> None:
    assert verifier.verify(token()) == ("ada", "viewer", ())
    es = token(EC_KEY, "ES256", "ec-1", role=["viewer", "operator"], asset_scopes="a b")
    assert verifier.verify(es) == ("ada", "operator", ("a", "b"))
    hs = token(HS_SECRET, "HS256", None, sub="svc", role="engineer", asset_scopes=["x"])
    assert verifier.verify(hs) == ("svc", "engineer", ("x",))


def test_nested_role_claims(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    keycloak = JwtVerifier(
        JwtSettings(issuer=ISS, audience=AUD, jwks=str(path), role_claim="realm_access.roles"),
        ROLES,
    )
    t = token(realm_access={"roles": ["offline_access", "admin", "viewer"]})
    assert keycloak.verify(t)[1] == "admin"


def test_bad_tokens_are_refused(verifier: JwtVerifier) -> None:
    now = int(time.time())
    bad = {
        "wrong issuer": token(iss="https://evil.example"),
        "wrong audience": token(aud="someone-else"),
        "expired": token(exp=now - 3600),
        "no expiry": token(exp=None),
        "unknown key id": token(kid="rsa-9"),
        "signed by another key": token(OTHER_KEY),
        "no role": token(role="superuser"),
        "alg none": str(
            jwt.encode(
                {"iss": ISS, "aud": AUD, "sub": "x", "role": "admin", "exp": now + 60},
                None,
                algorithm="none",
            )
        ),  # fmt: skip
        "an algorithm not accepted": str(
            jwt.encode(
                {"iss": ISS, "aud": AUD, "sub": "x", "role": "admin", "exp": now + 60},
                "x" * 64,
                algorithm="HS512",
            )  # fmt: skip
        ),
        "garbage": "eyJ.not.ajwt",
    }
    for what, t in bad.items():
        with pytest.raises(Unauthenticated):
            verifier.verify(t)
            pytest.fail(what)


@contextlib.contextmanager
def jwks_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
async def jwt_app(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    keys_dir = tmp_path_factory.mktemp("jwks")
    (keys_dir / "jwks.json").write_text(json.dumps(JWKS))
    port = free_port()
    with jwks_server(keys_dir) as url:
        settings = app_settings(
            graph_server, tmp_path_factory.mktemp("jwt"), port, "jwt-app-admin-token-01234:admin",
            jwt_issuer=ISS, jwt_audience=AUD, jwt_jwks=url,
        )  # fmt: skip
        async with served(create_app(settings), port) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                yield client


async def _gql(client: httpx.AsyncClient, query: str, bearer: str) -> dict[str, Any]:
    r = await client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or ()]


async def test_the_app_takes_jwts_by_a_jwks_url(jwt_app: httpx.AsyncClient) -> None:
    delete = 'mutation { deleteAsset(id: "jwt-none") { deletedIds } }'
    engineer = token(sub="eng-1", role="engineer")
    assert _codes(await _gql(jwt_app, delete, engineer)) == ["NOT_FOUND"]  # it ran
    viewer = token(EC_KEY, "ES256", "ec-1", sub="view-1")
    refused = await _gql(jwt_app, delete, viewer)
    assert _codes(refused) == ["FORBIDDEN"] and "view-1 (viewer)" in refused["errors"][0]["message"]
    wrong = await _gql(jwt_app, "{ graphStats { assets } }", token(aud="other"))
    assert _codes(wrong) == ["UNAUTHENTICATED"]
    log = await _gql(jwt_app, '{ auditLog(actor: "eng-1") { operation outcome } }',
                     "jwt-app-admin-token-01234")  # fmt: skip
    assert log["data"]["auditLog"] == [{"operation": "deleteAsset", "outcome": "NOT_FOUND"}]
