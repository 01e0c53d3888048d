"""Waiting for what happens in the background: ONE polling helper for async tests
(``eventually``) and one for plain code (``eventually_sync``).

Both call ``check`` until it gives a truthy value (or, with ``done``, a value that
``done`` accepts) and return that value. ``check`` may return an awaitable (an async
function, or ``lambda: fetch(...)``); ``eventually`` awaits it. An exception raised by
``check`` propagates at once: polling waits for state, it does not hide errors. After
``within`` seconds the wait fails with an ``AssertionError`` naming ``what`` and the last
value seen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["eventually", "eventually_sync"]

T = TypeVar("T")


def _met(value: Any, done: Callable[[Any], bool] | None) -> bool:
    return bool(done(value)) if done is not None else bool(value)


def _failure(what: str, within: float, last: object) -> AssertionError:
    return AssertionError(f"{what or 'condition'} not met within {within}s (last: {last!r})")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    done: Callable[[T], bool] | None = None,
    within: float = 10.0,
    every: float = 0.01,
    what: str = "",
) -> T:
    """Poll ``check`` every ``every`` seconds until its value is met; return the value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = check()
        value: T = await got if inspect.isawaitable(got) else got  # type: ignore[assignment]
        if _met(value, done):
            return value
        if loop.time() >= deadline:
            raise _failure(what, within, value)
        await asyncio.sleep(every)


def eventually_sync(
    check: Callable[[], T],
    *,
    done: Callable[[T], bool] | None = None,
    within: float = 10.0,
    every: float = 0.05,
    what: str = "",
) -> T:
    """``eventually`` for plain (blocking) code: sleeps between calls of ``check``."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if _met(value, done):
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, within, value)
        time.sleep(every)
