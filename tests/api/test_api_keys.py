"""API keys stored hashed (issue 10, "auth that production uses"): made, listed and
revoked by admins through GraphQL and ``twinql keys``; the secret is shown once and
never stored; a former ``tokens.json`` is migrated; revocation holds at once, on open
WebSockets too."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.services.auth import TokenStore
from api.services.keys import FIRST_KEYS_FILE, KEYS_FILE, LEGACY_FILE, hash_secret
from graph.errors import Unauthenticated, ValidationError
from tests.support.app import Api
from tests.support.polling import eventually
from tests.support.tokens import OPERATOR, VIEWER
from tests.support.wsclient import connect

CREATE = """mutation($n: String!, $r: String!, $s: [String!]) {
  createApiKey(name: $n, role: $r, scopes: $s) { secret key { id name role scopes revoked } }
}"""
WHO = "{ graphStats { assets } }"
LIVE = "subscription($ids: [ID!]!) { liveReadings(sensorIds: $ids) { missed } }"


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_dir_writes_its_first_keys_once_to_a_private_file(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    first = tmp_path / FIRST_KEYS_FILE
    assert store.first_keys_file == first
    assert _mode(first) == 0o600 and _mode(tmp_path / KEYS_FILE) == 0o600
    keys = json.loads(first.read_text())
    assert [k["role"] for k in keys] == ["admin", "operator", "ingest"]
    stored = (tmp_path / KEYS_FILE).read_text()
    for k in keys:
        assert k["key"].startswith(f"tq_{k['id']}_")
        secret = k["key"].split("_", 2)[2]
        assert secret not in stored and hash_secret(secret) in stored
        principal = store.authenticate(_bearer(k["key"]))
        assert principal is not None and (principal.role, principal.key_id) == (k["role"], k["id"])
    # a second start makes no new keys and rewrites nothing
    first.unlink()
    again = TokenStore.open(tmp_path)
    assert not first.exists() and again.first_keys_file is None
    assert len(again.keys()) == 3


def test_wrong_secrets_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    token = json.loads((tmp_path / FIRST_KEYS_FILE).read_text())[0]["key"]
    key_id = token.split("_")[1]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), f"tq_{key_id}_", "tq_ffff_x",
                  f"tq_000000000000_{token.split('_', 2)[2]}"):  # fmt: skip
        with pytest.raises(Unauthenticated):
            store.authenticate(_bearer(wrong))


def test_tokens_json_is_migrated_to_hashed_keys_and_deleted(tmp_path: Path) -> None:
    old = [
        {"token": "old-admin-token-0123456789", "role": "admin", "name": "admin"},
        {"token": "old-scoped-viewer-token-012345", "role": "viewer", "name": "ava",
         "scopes": ["site-a"]},
    ]  # fmt: skip
    (tmp_path / LEGACY_FILE).write_text(json.dumps(old))
    store = TokenStore.open(tmp_path)
    assert not (tmp_path / LEGACY_FILE).exists()
    assert not (tmp_path / FIRST_KEYS_FILE).exists()  # the old tokens are the first keys
    assert "old-admin-token" not in (tmp_path / KEYS_FILE).read_text()
    viewer = store.authenticate(_bearer("old-scoped-viewer-token-012345"))
    assert viewer is not None and (viewer.name, viewer.role, viewer.scopes) == (
        "ava", "viewer", ("site-a",))  # fmt: skip
    keys = {k.name: k for k in store.keys()}
    assert keys["admin"].legacy and keys["ava"].legacy
    store.revoke_key(keys["admin"].id)
    with pytest.raises(Unauthenticated, match="revoked"):
        store.authenticate(_bearer("old-admin-token-0123456789"))


def test_env_tokens_make_no_first_keys_and_keys_are_validated(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path, "env-token-0123456789abc:admin:root")
    assert not (tmp_path / FIRST_KEYS_FILE).exists() and store.keys() == []
    assert store.authenticate(_bearer("env-token-0123456789abc")) is not None
    for name, role, scopes in [("", "admin", []), ("x", "root", []), ("x", "viewer", [""])]:
        with pytest.raises(ValidationError):
            store.create_key(name, role, scopes)


async def test_admins_create_list_and_revoke_keys_over_graphql(api: Api) -> None:
    made = (await api.ok(CREATE, {"n": "scada-1", "r": "viewer", "s": None}))["createApiKey"]
    key, secret = made["key"], made["secret"]
    assert secret.startswith(f"tq_{key['id']}_") and key["revoked"] is None
    assert "graphStats" in (await api.ok(WHO, token=secret))
    listed = await api.ok("{ apiKeys { id name role created revoked migrated } }")
    mine = [k for k in listed["apiKeys"] if k["id"] == key["id"]]
    assert mine and mine[0]["name"] == "scada-1" and mine[0]["role"] == "viewer"
    assert secret.split("_", 2)[2] not in json.dumps(listed)
    file = api.services.settings.data_dir / KEYS_FILE
    assert secret.split("_", 2)[2] not in file.read_text()

    revoked = await api.ok(
        "mutation($id: ID!) { revokeApiKey(id: $id) { id revoked } }", {"id": key["id"]}
    )
    assert revoked["revokeApiKey"]["revoked"] is not None
    body = await api.gql(WHO, token=secret)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in body["errors"][0]["message"]


async def test_key_administration_is_for_admins_only(api: Api) -> None:
    for token in (OPERATOR, VIEWER):
        body = await api.gql(CREATE, {"n": "x", "r": "admin"}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(CREATE, {"n": "x", "r": "superuser"})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    body = await api.gql('mutation { revokeApiKey(id: "nope") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_revoked_key_stops_an_open_websocket_at_its_next_operation(
    api: Api, uid: str
) -> None:
    made = (await api.ok(CREATE, {"n": "ws-client", "r": "viewer"}))["createApiKey"]
    async with connect(api.base, made["secret"]) as ws:
        await ws.subscribe(LIVE, {"ids": [f"{uid}-s"]})
        await api.ok(
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }", {"id": made["key"]["id"]}
        )
        await ws.subscribe(LIVE, {"ids": [f"{uid}-s2"]})
        errors = await ws.error()
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED", errors
    assert "revoked" in errors[0]["message"]


async def test_the_cli_manages_the_keys_a_running_twinql_uses(api: Api, tmp_path: Path) -> None:
    data_dir = str(api.services.settings.data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}

    def twinql(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "keys", "--data-dir", data_dir, *args],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip

    out = twinql("create", "--name", "cli-made", "--role", "viewer", "--scope", "site-x")
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["scopes"] == ["site-x"] and "shown once" in out.stderr

    async def works() -> bool:
        return "errors" not in await api.gql("{ alerts(first: 1) { nodes { id } } }",
                                             token=made["key"])  # fmt: skip

    await eventually(works, done=bool, within=10, every=0.2)
    listed = json.loads(twinql("list").stdout)
    assert any(k["id"] == made["id"] and "hash" not in k for k in listed)
    assert twinql("revoke", made["id"]).returncode == 0

    async def refused() -> bool:
        body = await api.gql("{ alerts(first: 1) { nodes { id } } }", token=made["key"])
        return body.get("errors", [{}])[0].get("extensions", {}).get("code") == "UNAUTHENTICATED"

    await eventually(refused, done=bool, within=10, every=0.2)
    bad = twinql("revoke", "no-such-key")
    assert bad.returncode == 2 and "NOT_FOUND" in bad.stderr
