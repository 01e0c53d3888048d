"""The queries of the guides (docs/*.md) and the README, run against `twinql demo` as a
new user runs it: each answers without errors and finds what it asks for in the example
plant (a top-level field that comes back null means the example names an id the plant
does not have). Mutations and subscriptions are left out here: the guides' subscription
and publishing clients run in tests/api/test_docs_clients.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from graphql import OperationDefinitionNode, OperationType, parse

from graph.bolt.embedded import free_port
from tests.support.polling import eventually_sync
from tests.support.serving import wait_ready
from tests.test_docs import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


def _variables(
    operation: OperationDefinitionNode, extra: dict[str, object] | None = None
) -> dict[str, object]:
    now = datetime.now(UTC)
    known: dict[str, object] = {
        "from": (now - timedelta(minutes=10)).isoformat(),
        "to": now.isoformat(),
        "after": None,
        "id": "pump-101",
        "asOf": None,
        # a day, per hour: an evening price peak, office hours, a cool night
        "prices": [0.30 if 17 <= h < 21 else 0.12 for h in range(24)],
        "people": [20.0 if 8 <= h < 18 else 0.0 for h in range(24)],
        "outdoor": [6.0 + 6.0 * (h > 9 and h < 18) for h in range(24)],
        # a job of the demo: the guide's own Optimise mutation starts one (see the test)
        "job": None,
        **(extra or {}),
    }
    names = [v.variable.name.value for v in operation.variable_definitions or ()]
    unknown = [n for n in names if n not in known]
    assert not unknown, f"add a value for ${unknown} to this test"
    return {n: known[n] for n in names}


def _operations() -> list[tuple[str, str, OperationDefinitionNode]]:
    found = []
    for where, text in EXAMPLES:
        (operation,) = parse(text).definitions
        assert isinstance(operation, OperationDefinitionNode)
        found.append((where, text, operation))
    return found


def _start_job(client: httpx.Client, admin: str) -> str:
    """Run the guide's Optimise mutation (docs/frontend.md) and wait for its job to end:
    the guides' job queries then read a finished job of the demo."""
    ((where, text, operation),) = [
        (w, t, o) for w, t, o in _operations() if o.name and o.name.value == "Optimise"
    ]
    auth = {"Authorization": f"Bearer {admin}"}
    r = client.post(
        "/graphql", json={"query": text, "variables": _variables(operation)}, headers=auth
    )
    body = r.json()
    assert "errors" not in body, (where, body)
    job = body["data"]["optimizeEnergy"]["id"]
    status = eventually_sync(
        lambda: client.post(
            "/graphql",
            json={
                "query": "query($j: ID!) { job(id: $j) { status message } }",
                "variables": {"j": job},
            },
            headers=auth,
        ).json()["data"]["job"],
        done=lambda j: j["status"] not in ("queued", "running"),
        within=180,
        every=0.5,
        what="the Optimise job ends",
    )
    assert status["status"] == "succeeded", status
    return str(job)


def test_the_guides_queries_answer_on_the_demo_plant(tmp_path: Path) -> None:
    queries = [(w, t, o) for w, t, o in _operations() if o.operation is OperationType.QUERY]
    assert len(queries) >= 8

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    env["TWINQL_GRAPH_HEAP"] = "512m"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "demo", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(proc, port, log)
        tokens = json.loads((tmp_path / "data" / "first-keys.json").read_text())
        admin = next(t["key"] for t in tokens if t["role"] == "admin")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            job = _start_job(client, admin)
            for where, query, operation in queries:
                variables = _variables(operation, {"job": job})
                r = client.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert r.status_code == 200, (where, r.text)
                body = r.json()
                assert "errors" not in body, (where, query, body["errors"])
                empty = [k for k, v in body["data"].items() if v is None]
                assert not empty, (where, query, f"null: {empty}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
