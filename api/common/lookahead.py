"""Look-ahead in resolvers: does the query ask, below this field, for a given field?

A resolver that can fetch what its children will ask for in the same round trip (a
page of assets with their sensors) asks here first. Fragments (inline and named) are
looked through; directives are not evaluated (a field skipped by ``@skip`` still
counts: at worst the resolver fetches something nobody reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

__all__ = ["asks_for"]


def asks_for(info: Any, path: Sequence[str], name: str) -> bool:
    """Whether the current field's selection holds ``name`` under ``path`` (field names
    from the current field down, e.g. ``("nodes",)`` then ``"sensors"``)."""
    level: list[Selection] = [c for f in _fields(info.selected_fields) for c in f.selections]
    for step in path:
        level = [c for f in _fields(level) if f.name == step for c in f.selections]
        if not level:
            return False
    return any(f.name == name for f in _fields(level))


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for s in selections:
        if isinstance(s, SelectedField):
            yield s
        elif isinstance(s, FragmentSpread | InlineFragment):
            yield from _fields(s.selections)
