"""The GraphQL queries of the graph benchmark (bench/bench_graph.py), public so that the
suite can check they pass the default depth and cost limits and match the generated
plant's fan-out (``bench.gen_plant.FANOUT``).
"""

__all__ = ["IMPACT", "SUBTREE", "TREE", "UNIT_WALKS"]

# A site's whole tree, asked for the way a client should: each level's `first` is the
# generated plant's fan-out (bench.gen_plant: 5 areas > 4 lines > 5 units > 4 equipment),
# so the query fits the default cost limit and still returns every asset.
TREE = """query($id: ID!) { asset(id: $id) { id
  children(first: 5) { nodes { id
    children(first: 4) { nodes { id
      children(first: 5) { nodes { id sensors { id unit }
        children(first: 4) { nodes { id name sensors { id unit maxValue } } } } } } } } } } }"""
# limit: everything (well within the cost limit for these few fields), so the counts
# printed are the whole walk, not the default page of 1,000.
IMPACT = """query($id: ID!) { impact(assetId: $id, maxDepth: 25, limit: 10000) {
  distance asset { id } } }"""
SUBTREE = """query($id: ID!) { asset(id: $id) { subtree(depth: 4, limit: 10000) {
  depth asset { id } } } }"""

# Graph walks under a list (DataLoaders: one statement per hop for all 20 units, not
# one walk per unit): each unit of an area with its ancestors and what it feeds.
UNIT_WALKS = """query($id: ID!) { asset(id: $id) { children(first: 4) { nodes {
  children(first: 5) { nodes { id ancestors { id }
    impact(maxDepth: 25, limit: 50) { distance asset { id } } } } } } } }"""
