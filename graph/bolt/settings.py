"""Settings of the graph layer, built once by the composition root and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EmbeddedGraphSettings", "GraphSettings"]


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """Where the knowledge graph lives.

    ``uri`` None means: start the embedded graph server in ``embedded.data_dir``.
    """

    uri: str | None = None
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    max_connection_pool_size: int = 50
    connection_timeout_s: float = 10.0
    max_retry_time_s: float = 5.0  # managed transactions retry transient errors this long
    record_statements_to: Path | None = None  # tests: every Cypher sent, one JSON line each

    def __repr__(self) -> str:  # never print the password
        return f"GraphSettings(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"


@dataclass(frozen=True, slots=True)
class EmbeddedGraphSettings:
    """The ArcadeDB server twinql runs as a child process when no Neo4j is configured."""

    data_dir: Path
    database: str = "twin"
    heap: str = "1g"
    host: str = "127.0.0.1"
    bolt_port: int = 0  # 0: pick a free loopback port
    startup_timeout_s: float = 60.0
