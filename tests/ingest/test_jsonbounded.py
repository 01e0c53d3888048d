"""ingest.jsonbounded: deep documents refused before the parser recurses; brackets inside
strings do not count; ordinary documents parse as json.loads does."""

from __future__ import annotations

import json
import sys

import pytest

from ingest.jsonbounded import MAX_DEPTH, loads, too_deep


def test_a_bracket_bomb_is_refused_without_recursing() -> None:
    bomb = "[" * 200_000 + "]" * 200_000
    assert too_deep(bomb)

    def shallow() -> object:  # the check itself needs no stack to speak of
        return loads(bomb)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        with pytest.raises(RecursionError, match=f"deeper than {MAX_DEPTH}"):
            shallow()
    finally:
        sys.setrecursionlimit(limit)


def test_the_limit_is_exact_and_strings_do_not_count() -> None:
    at = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert not too_deep(at) and loads(at) is not None
    assert too_deep("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    text = json.dumps({"note": "[" * 10_000 + '\\"{' * 500, "value": [1, [2, {"x": 3}]]})
    assert not too_deep(text)
    assert loads(text) == json.loads(text)
