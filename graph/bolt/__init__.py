"""The Bolt adapter of the knowledge graph: the driver client (``client``), the embedded
ArcadeDB server (``embedded``, ``server_lock``), Cypher as named constants (``cypher/``),
and one repository per aggregate behind ``repository.GraphRepository``.

The same driver and the same Cypher talk to Neo4j 5 and to the embedded server."""
