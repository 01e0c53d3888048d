"""Process relations (FEEDS, DEPENDS_ON, CONNECTED_TO) and the walks analysts ask for.

Relationship types cannot be parameters, so each type has its own statement, picked
from a fixed table by the repository. Walks go one hop per statement over a whole
frontier (breadth first), which gives exact distances and a bounded number of round
trips, and needs no variable-length bound in the query text. The frontier may hold the
assets of several walks at once (rows name the ``fromId`` they leave from), so walks
from many start assets share each hop's statement.

Directions: ``(a)-[:FEEDS]->(b)``: a's output flows to b. ``(a)-[:DEPENDS_ON]->(b)``: a
needs b. A failure of X therefore reaches what X feeds and what depends on X.
"""

from typing import LiteralString, cast

MERGE_FEEDS: LiteralString = (
    "UNWIND $rows AS r MATCH (a:Asset {id: r.source}) MATCH (b:Asset {id: r.target}) "
    "MERGE (a)-[:FEEDS]->(b)"
)
MERGE_DEPENDS_ON: LiteralString = (
    "UNWIND $rows AS r MATCH (a:Asset {id: r.source}) MATCH (b:Asset {id: r.target}) "
    "MERGE (a)-[:DEPENDS_ON]->(b)"
)
MERGE_CONNECTED_TO: LiteralString = (
    "UNWIND $rows AS r MATCH (a:Asset {id: r.source}) MATCH (b:Asset {id: r.target}) "
    "MERGE (a)-[:CONNECTED_TO]->(b)"
)
DELETE_FEEDS: LiteralString = (
    "MATCH (:Asset {id: $source})-[r:FEEDS]->(:Asset {id: $target}) DELETE r"
)
DELETE_DEPENDS_ON: LiteralString = (
    "MATCH (:Asset {id: $source})-[r:DEPENDS_ON]->(:Asset {id: $target}) DELETE r"
)
DELETE_CONNECTED_TO: LiteralString = (
    "MATCH (:Asset {id: $source})-[r:CONNECTED_TO]->(:Asset {id: $target}) DELETE r"
)

RELATIONS_OF: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (a:Asset {id: id})-[r:FEEDS|DEPENDS_ON|CONNECTED_TO]-(b:Asset) "
    "RETURN id AS key, startNode(r).id AS source, endNode(r).id AS target, type(r) AS type"
)

# One hop downstream of every asset in the frontier: what it feeds, what depends on it.
DOWNSTREAM_HOP: LiteralString = (
    "UNWIND $frontier AS fid "
    "MATCH (a:Asset {id: fid})-[r:FEEDS|DEPENDS_ON]-(b:Asset) "
    "WHERE (type(r) = 'FEEDS' AND startNode(r) = a) "
    "OR (type(r) = 'DEPENDS_ON' AND endNode(r) = a) "
    "RETURN fid AS fromId, b.id AS id, b.name AS name, b.type AS type, type(r) AS via"
)
# One hop upstream: what feeds it, what it depends on (root-cause candidates).
UPSTREAM_HOP: LiteralString = (
    "UNWIND $frontier AS fid "
    "MATCH (a:Asset {id: fid})-[r:FEEDS|DEPENDS_ON]-(b:Asset) "
    "WHERE (type(r) = 'FEEDS' AND endNode(r) = a) "
    "OR (type(r) = 'DEPENDS_ON' AND startNode(r) = a) "
    "RETURN fid AS fromId, b.id AS id, b.name AS name, b.type AS type, type(r) AS via"
)
# A whole walk in one statement: every edge (from, to, relation) on a downstream (upstream)
# path of at most d hops from the starts, as the hop statements' rows. Each edge is the
# last one of the path that ends with it (every prefix of a path is a path), so the set
# holds every edge leaving an asset fewer than d hops away: the breadth-first walk runs
# on it in Python exactly as it would hop by hop. The bound of a quantified path pattern
# cannot be a parameter: one statement per depth (1 to MAX_WALK_DEPTH). ``$cap`` bounds
# the rows (the repository walks hop by hop instead when it is reached).
MAX_WALK_DEPTH = 25
_DOWN: LiteralString = (
    "(type(r) = 'FEEDS' AND startNode(r) = a) OR (type(r) = 'DEPENDS_ON' AND endNode(r) = a)"
)
_UP: LiteralString = (
    "(type(r) = 'FEEDS' AND endNode(r) = a) OR (type(r) = 'DEPENDS_ON' AND startNode(r) = a)"
)


def _walk(direction: str, depth: int) -> LiteralString:
    return cast(
        LiteralString,
        "UNWIND $starts AS sid "
        "MATCH (s:Asset {id: sid}) "
        f"MATCH (s) ((a:Asset)-[r:FEEDS|DEPENDS_ON]-(b:Asset) WHERE {direction}){{1,{depth}}} "
        "(:Asset) "
        "WITH DISTINCT a[-1] AS x, b[-1] AS y, type(r[-1]) AS via "
        "OPTIONAL MATCH (y)-[:PART_OF]->(yp:Asset) "
        "RETURN x.id AS fromId, y.id AS id, y.name AS name, y.type AS type, via, "
        "y.level AS level, y.description AS description, y.lat AS lat, y.lon AS lon, "
        "y.metadata AS metadata, y.createdAt AS createdAt, y.updatedAt AS updatedAt, "
        "yp.id AS parentId "
        "LIMIT $cap",
    )


DOWNSTREAM_WALK: dict[int, LiteralString] = {
    d: _walk(_DOWN, d) for d in range(1, MAX_WALK_DEPTH + 1)
}
UPSTREAM_WALK: dict[int, LiteralString] = {d: _walk(_UP, d) for d in range(1, MAX_WALK_DEPTH + 1)}

# One hop in any direction over every asset-to-asset relation (neighbourhood view).
NEIGHBOUR_HOP: LiteralString = (
    "UNWIND $frontier AS fid "
    "MATCH (a:Asset {id: fid})-[r:PART_OF|FEEDS|DEPENDS_ON|CONNECTED_TO]-(b:Asset) "
    "RETURN fid AS fromId, startNode(r).id AS source, endNode(r).id AS target, type(r) AS type, "
    "b.id AS id, b.name AS name, b.type AS assetType, b.level AS level"
)

SHORTEST_PATH: LiteralString = (
    "MATCH (a:Asset {id: $source}) "
    "MATCH (b:Asset {id: $target}) "
    "MATCH p = shortestPath((a)-[:PART_OF|FEEDS|DEPENDS_ON|CONNECTED_TO*..15]-(b)) "
    "RETURN [n IN nodes(p) | n.id] AS ids, "
    "[r IN relationships(p) | {source: startNode(r).id, target: endNode(r).id, type: type(r)}] "
    "AS edges"
)
SHORTEST_PROCESS_PATH: LiteralString = (
    "MATCH (a:Asset {id: $source}) "
    "MATCH (b:Asset {id: $target}) "
    "MATCH p = shortestPath((a)-[:FEEDS|DEPENDS_ON|CONNECTED_TO*..15]-(b)) "
    "RETURN [n IN nodes(p) | n.id] AS ids, "
    "[r IN relationships(p) | {source: startNode(r).id, target: endNode(r).id, type: type(r)}] "
    "AS edges"
)
