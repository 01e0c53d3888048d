"""JSON text parsed without deep recursion: ``loads`` refuses a document nested deeper
than ``MAX_DEPTH`` before the parser recurses into it.

Python's parser recurses once per level; a hostile payload of 200,000 brackets ends in a
``RecursionError`` only after the stack is nearly exhausted, and whatever runs there
meanwhile (a garbage collection calling finalisers, a logging handler) fails with it. The
check is a count of brackets first (no document of legitimate readings comes near the
limit), a scan of the text only when the count exceeds it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "loads", "too_deep"]

MAX_DEPTH = 256


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``limit`` (strings skipped)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def loads(text: str, **kwargs: Any) -> Any:  # noqa: ANN401 - any JSON value
    """``json.loads``; ``RecursionError`` for a document nested deeper than ``MAX_DEPTH``
    (raised before parsing, at a shallow stack), as the parser would raise it."""
    if too_deep(text):
        raise RecursionError(f"JSON nests deeper than {MAX_DEPTH} levels")
    return json.loads(text, **kwargs)
