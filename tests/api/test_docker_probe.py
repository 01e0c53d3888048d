"""The image's HEALTHCHECK command (docker/Dockerfile), run as Docker runs it, against the
real app: healthy while twinql serves, unhealthy when nothing answers on its port."""

from __future__ import annotations

import asyncio
import os
import sys

from graph.bolt.embedded import free_port
from tests.support.app import Api
from tests.test_deploy import healthcheck_command


async def _probe(port: int) -> int:
    command = healthcheck_command()
    assert command[0] == "python"
    env = {**os.environ, "TWINQL_PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *command[1:], env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await asyncio.wait_for(proc.wait(), timeout=30)


async def test_the_health_check_passes_while_twinql_serves(api: Api) -> None:
    port = int(api.base.rsplit(":", 1)[1])
    assert await _probe(port) == 0


async def test_the_health_check_fails_when_nothing_answers() -> None:
    assert await _probe(free_port()) != 0
