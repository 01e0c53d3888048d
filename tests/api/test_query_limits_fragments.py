"""Fragments spread many times are measured once: nested spreads are refused at once.

Reproduces issue 10 item 2: ``F0 { ...F1 ...F1 } … F19 { ...F20 ...F20 }`` (< 1 KB)
made the depth, alias and cost walks expand every spread (2^20, 2^40 visits) on the
event loop. The schema is the deployed one (``build_schema``) with its default limits.
"""

from __future__ import annotations

import pytest
from graphql import parse

from api.limits import measure
from api.schema import build_schema


def doubling(levels: int, body: str = "id") -> str:
    """A query spreading F0, where each Fi spreads F(i+1) twice."""
    parts = ["query Doubling { assets { nodes { ...F0 } } }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Asset {{ {body} ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on Asset {{ {body} }}")
    return "\n".join(parts)


async def errors_of(query: str) -> list[tuple[str, str]]:
    result = await build_schema().execute(query)
    assert result.data is None
    return [(e.message, (e.extensions or {}).get("code", "")) for e in result.errors or ()]


@pytest.mark.parametrize("levels", [20, 40])
async def test_doubling_fragments_are_refused_by_cost(levels: int) -> None:
    assert len(doubling(levels)) < 2_000
    errors = await errors_of(doubling(levels))
    assert len(errors) == 1
    message, code = errors[0]
    assert code == "VALIDATION"
    # assets (1) + 50 nodes x (nodes 1 + F0), F0 = 1 + 2 F1 ... = 2^(levels+1) - 1
    assert message.startswith(f"query cost {1 + 50 * 2 ** (levels + 1)} exceeds the limit")
    assert "spread fragments fewer times" in message


async def test_doubling_aliases_are_counted_per_spread() -> None:
    errors = await errors_of(doubling(40, body="a: id"))
    assert any(m.startswith(f"{2**41 - 1} aliases found") for m, _ in errors), errors
    assert {c for _, c in errors} == {"VALIDATION"}


async def test_depth_through_nested_fragments() -> None:
    parts = ['query Deep { asset(id: "x") { ...P0 } }']
    for i in range(30):
        parts.append(f"fragment P{i} on Asset {{ parent {{ ...P{i + 1} ...P{i + 1} }} }}")
    parts.append("fragment P30 on Asset { id }")
    errors = await errors_of("\n".join(parts))
    assert (
        "'Deep' exceeds maximum operation depth of 12 (it is 31 deep, fragments included)",
        "VALIDATION",
    ) in errors


async def test_fragment_cycles_are_refused_not_walked_forever() -> None:
    query = """query { assets { nodes { ...A } } }
    fragment A on Asset { id ...B } fragment B on Asset { id ...A }"""
    errors = await errors_of(query)
    assert any("Cannot spread fragment 'A' within itself" in m for m, _ in errors), errors


def test_measure_matches_an_expanded_walk() -> None:
    # Fragments give the same depth, aliases and cost as the same query written out.
    with_fragments = """query { assets(first: 3) { nodes { ...A x: name } } }
    fragment A on Asset { id children(first: 4) { nodes { ...B } } }
    fragment B on Asset { y: id sensors { id } }"""
    written_out = """query { assets(first: 3) { nodes { id children(first: 4) { nodes {
      y: id sensors { id } } } x: name } } }"""
    assert measure(parse(with_fragments)) == measure(parse(written_out))
    m = measure(parse(written_out))[""]
    # assets 1 + 3 * (nodes 1 + 1 * (id + children(1 + 4 * nodes(1 + y + sensors(1 + 10)) ) + x))
    assert (m.depth, m.aliases, m.cost) == (5, 2, 1 + 3 * (1 + 1 + 1 + 4 * (1 + 1 + 1 + 10) + 1))


async def test_ordinary_queries_with_fragments_still_run_to_the_resolvers() -> None:
    query = """query { assets(first: 5) { nodes { ...Row parent { ...Row } } } }
    fragment Row on Asset { id name sensors { id } }"""
    result = await build_schema().execute(query)
    # Past validation: the resolvers run (no services here, so they report that).
    assert result.errors
    assert all("exceeds" not in e.message for e in result.errors)
