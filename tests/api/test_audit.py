"""Every mutation is audited (issue 10): who, what (secrets masked), when and the outcome,
appended to ``audit.jsonl`` and queryable by admins with ``auditLog``.

The mutations are enumerated from the schema (the placeholder operations of
``tests/api/test_permission_matrix.py``): a field added later is covered by itself.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from typing import Any

from graph.bolt.embedded import free_port
from tests.api.test_permission_matrix import BELOW, MUTATIONS, codes
from tests.support.app import Api
from tests.support.tokens import ADMIN, INGEST, OPERATOR, SCOPED_ENGINEER, TOKENS

NAMES = {t.split(":")[0]: t.split(":")[2] for t in TOKENS.split(",")}
LOG = """query($from: DateTime, $actor: String, $op: String, $first: Int! = 1000) {
  auditLog(from: $from, actor: $actor, operation: $op, first: $first) {
    at actor keyId role operation arguments outcome message
  }
}"""


async def _log(api: Api, since: datetime, **kw: Any) -> list[dict[str, Any]]:
    variables = {"from": since.isoformat(), **kw}
    return (await api.ok(LOG, variables))["auditLog"]


async def test_every_mutation_of_the_schema_is_audited(api: Api) -> None:
    since = datetime.now(UTC)
    called: dict[str, str] = {}
    for name, doc, role in MUTATIONS:
        token = BELOW[role or "viewer"]
        assert token is not None, name
        body = await api.gql(doc, token=token)
        assert codes(body) == {"FORBIDDEN"}, (name, body)
        called[name] = NAMES[token]
    for actor in (NAMES[t] for t in (OPERATOR, INGEST, SCOPED_ENGINEER)):
        records = await _log(api, since, actor=actor)
        for r in records:
            assert r["outcome"] == "FORBIDDEN" and "needs role" in r["message"], r
        mine = {n for n, a in called.items() if a == actor}
        assert {r["operation"] for r in records} == mine, actor
        assert len(records) == len(mine)  # one record per call


async def test_records_say_who_what_and_the_outcome_with_secrets_masked(api: Api, uid: str) -> None:
    since = datetime.now(UTC)
    endpoint = f"mqtt://plant:pw-9-secret@127.0.0.1:{free_port()}"
    source = {"id": f"{uid}-mq", "protocol": "MQTT", "endpoint": endpoint,
              "settings": {"auth_header": "Bearer hdr-7-secret", "qos": 1}}  # fmt: skip
    try:
        await api.ok(
            "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }", {"s": source}
        )
    finally:
        await api.ok('mutation { deleteDataSource(id: "%s-mq") { deletedIds } }' % uid)
    # two root fields, one aliased and failing
    body = await api.gql(
        'mutation { gone: deleteAsset(id: "%s-none") { deletedIds } '
        'k: createApiKey(name: "%s-key", role: "viewer") { key { id } } }' % (uid, uid)
    )
    assert codes(body) == {"NOT_FOUND"}
    anonymous = await api.gql('mutation { deleteAsset(id: "%s-anon") { deletedIds } }' % uid,
                              token=None)  # fmt: skip
    assert codes(anonymous) == {"UNAUTHENTICATED"}

    records = await _log(api, since, actor="alice")
    mine = [r for r in records if uid in json.dumps(r["arguments"])]
    by_op = {r["operation"]: r for r in mine}
    upsert = by_op["upsertDataSource"]
    assert upsert["outcome"] == "ok" and upsert["role"] == "admin" and upsert["keyId"] is None
    assert upsert["arguments"]["source"]["endpoint"] == endpoint.replace("pw-9-secret", "***")
    assert upsert["arguments"]["source"]["settings"] == {"auth_header": "***", "qos": 1}
    assert "secret" not in json.dumps(mine)
    assert by_op["deleteAsset"]["outcome"] == "NOT_FOUND" and by_op["deleteAsset"]["message"]
    # the failed field stopped the operation: the next one did not run, and says so
    assert by_op["createApiKey"]["outcome"] == "NOT_RUN"
    keys = (await api.ok("{ apiKeys { name } }"))["apiKeys"]
    assert f"{uid}-key" not in {k["name"] for k in keys}
    assert by_op["deleteDataSource"]["outcome"] == "ok"
    # newest first, all from this test on
    ats = [datetime.fromisoformat(r["at"]) for r in records]
    assert ats == sorted(ats, reverse=True) and min(ats) >= since
    anon = await _log(api, since, actor="anonymous", op="deleteAsset")
    assert [r["outcome"] for r in anon if uid in json.dumps(r["arguments"])] == ["UNAUTHENTICATED"]

    # on disk, fsync'ed before the answer, readable by its owner only
    path = api.services.settings.data_dir / "audit.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    on_disk = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(r["operation"] == "upsertDataSource" and uid in json.dumps(r) for r in on_disk)
    assert "pw-9-secret" not in path.read_text()


async def test_the_audit_log_is_for_admins_and_checks_its_arguments(api: Api) -> None:
    body = await api.gql("{ auditLog { operation } }", token=OPERATOR)
    assert codes(body) == {"FORBIDDEN"}
    for args in (
        "first: 0",
        "first: 1001",
        'from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"',
    ):
        body = await api.gql("{ auditLog(%s) { operation } }" % args, token=ADMIN)
        assert codes(body) == {"VALIDATION"}, args
    one = await api.ok("{ auditLog(first: 1) { operation } }")
    assert len(one["auditLog"]) == 1
