"""Ancestors, subtrees and walks of the assets of a list, over real HTTP: each asset gets
what the single-asset queries give it (limits per asset), in a number of Bolt statements
that does not grow with the list."""

from __future__ import annotations

from typing import Any

from tests.graph.test_walk_batches import load_ring
from tests.support.app import Api

REACHED = "distance via path asset { id }"
HOOD = "nodes { id distance } edges { source target type } truncated"
FIELDS = f"""id ancestors {{ id }} subtree(depth: 2, limit: 2) {{ depth asset {{ id }} }}
  impact(maxDepth: 6, limit: 4) {{ {REACHED} }} rootCauses(maxDepth: 6, limit: 3) {{ {REACHED} }}
  neighbourhood(hops: 2) {{ {HOOD} }}"""
LIST = (
    """query($id: ID!, $first: Int!) { asset(id: $id) { children(first: $first) {
  nodes { %s } } } }"""
    % FIELDS
)
SINGLE = f"""query($id: ID!) {{
  asset(id: $id) {{ ancestors {{ id }} subtree(depth: 2, limit: 2) {{ depth asset {{ id }} }} }}
  impact(assetId: $id, maxDepth: 6, limit: 4) {{ {REACHED} }}
  rootCauses(assetId: $id, maxDepth: 6, limit: 3) {{ {REACHED} }}
  neighbourhood(assetId: $id, hops: 2) {{ {HOOD} }} }}"""


async def units_of(api: Api, uid: str, first: int) -> list[dict[str, Any]]:
    data = await api.ok(LIST, {"id": f"{uid}-line", "first": first})
    return data["asset"]["children"]["nodes"]


def _same_hood(view: dict[str, Any]) -> dict[str, Any]:
    """A graph view with its nodes in a fixed order (edges come sorted)."""
    return {**view, "nodes": sorted(view["nodes"], key=lambda n: n["id"])}


async def test_walks_under_a_list_equal_the_single_asset_queries(api: Api, uid: str) -> None:
    units = await load_ring(api.services.repo, uid, 8)
    listed = await units_of(api, uid, 20)
    assert [n["id"] for n in listed] == units
    for node in listed:
        alone = await api.ok(SINGLE, {"id": node["id"]})
        assert node["ancestors"] == alone["asset"]["ancestors"]
        assert node["subtree"] == alone["asset"]["subtree"]
        assert node["impact"] == alone["impact"]
        assert node["rootCauses"] == alone["rootCauses"]
        assert _same_hood(node["neighbourhood"]) == _same_hood(alone["neighbourhood"])
    # Limits are per asset: the hub (unit 0, a dozen extra pumps) does not use them up.
    assert all(len(n["subtree"]) == 2 and len(n["impact"]) == 4 for n in listed)
    assert all(len(n["rootCauses"]) == 3 for n in listed)
    u3 = listed[3]
    assert [r["asset"]["id"] for r in u3["impact"]] == [
        f"{uid}-u03-a", f"{uid}-u03-b", f"{uid}-u04", f"{uid}-u04-a",
    ]  # fmt: skip
    assert [(r["distance"], r["via"]) for r in u3["rootCauses"]] == [
        (1, "FEEDS"), (2, "FEEDS"), (3, "FEEDS"),
    ]  # fmt: skip
    assert [a["id"] for a in u3["ancestors"]] == [f"{uid}-line", f"{uid}-site"]


async def test_different_arguments_in_one_list_load_apart(api: Api, uid: str) -> None:
    await load_ring(api.services.repo, uid, 4)
    data = await api.ok(
        """query($id: ID!) { asset(id: $id) { children(first: 10) { nodes { id
             near: impact(maxDepth: 6, limit: 1) { asset { id } }
             far: impact(maxDepth: 6, limit: 3) { asset { id } }
             shallow: subtree(depth: 1) { asset { id } } deep: subtree(depth: 2) { asset { id } }
           } } } }""",
        {"id": f"{uid}-line"},
    )
    for node in data["asset"]["children"]["nodes"]:
        assert node["near"] == node["far"][:1] and len(node["far"]) == 3
        assert len(node["deep"]) > len(node["shallow"])
        assert node["shallow"] == node["deep"][: len(node["shallow"])]
    body = await api.gql(
        'query { asset(id: "%s-line") { children { nodes { impact(limit: 0) { distance } } } } }'
        % uid
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_walk_statements_do_not_grow_with_the_list(api: Api, uid: str) -> None:
    await load_ring(api.services.repo, uid, 12)
    sent = []
    for first in (3, 12):
        before = api.services.repo.client.sent_count
        assert len(await units_of(api, uid, first)) == first
        sent.append(api.services.repo.client.sent_count - before)
    # asset, children, ancestors, subtree: 1 each; impact and root causes: 1 each (the
    # edges of the whole walk, with the reached assets: the asset loader has them);
    # neighbourhood: start rows + 2 hops. Before the loaders: 50 and 198; with a
    # statement per hop of the walks: 15 or 16.
    assert sent == [9, 9], sent
