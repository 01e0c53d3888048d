"""An app of its own under uvicorn, for tests that need other settings than the session's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

__all__ = ["running"]


@contextlib.asynccontextmanager
async def running(app: Starlette, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1:``port`` (lifespan included); yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
