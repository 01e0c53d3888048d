"""``twinql serve`` as a child process, for tests of the real CLI and process life."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.support.polling import eventually_sync

__all__ = ["SERVE_ENV", "connector_state", "serve", "stored_counts", "wait_ready"]

SERVE_ENV = {
    **os.environ,
    "TWINQL_GRAPH_HEAP": "512m",
    "TWINQL_TOKENS": "serve-admin-token-0123456789:admin",
}


def serve(
    data_dir: Path, port: int, log: Path, env: Mapping[str, str] = SERVE_ENV
) -> subprocess.Popen[bytes]:
    """Start ``twinql serve`` on ``port`` over ``data_dir``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(data_dir),
             "--port", str(port)],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 120) -> None:
    """Until ``/readyz`` answers 200; fails with the log if the process exits or stalls."""

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"twinql serve exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        return False

    try:
        eventually_sync(ready, within=timeout, every=0.2)
    except AssertionError:
        pytest.fail(f"twinql serve did not become ready:\n{log.read_text()}")


def stored_counts(
    port: int, token: str, asset_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """Readings stored per sensor of ``asset_id`` in [start, end), bad ones included,
    asked of the served API (the summary query)."""
    query = (
        "query($id: ID!, $from: DateTime!, $to: DateTime!) "
        "{ asset(id: $id) { summary(from: $from, to: $to, includeBad: true) { sensorId count } } }"
    )
    r = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={
            "query": query,
            "variables": {"id": asset_id, "from": start.isoformat(), "to": end.isoformat()},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = r.json()
    assert "errors" not in body, body
    return {s["sensorId"]: s["count"] for s in body["data"]["asset"]["summary"]}


def connector_state(port: int, token: str, source_id: str) -> str:
    """The data source's connector state as the served API reports it (lower case)."""
    r = httpx.get(
        f"http://127.0.0.1:{port}/graphql",
        params={"query": '{ dataSourceStatus(id: "%s") { state } }' % source_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    status = r.json()["data"]["dataSourceStatus"]
    return "" if status is None else str(status["state"]).lower()
