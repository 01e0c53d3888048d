"""Linters that check every Cypher statement with Neo4j's parser and every QuestDB SQL
statement with QuestDB's parser (Node packages in this directory; ``npm ci --prefix tests/lint``).
"""

from .linting import (
    collect_named_constants,
    collect_string_constants,
    lint_cypher,
    lint_questdb,
    looks_like_cypher,
    looks_like_sql,
)

__all__ = [
    "collect_named_constants",
    "collect_string_constants",
    "lint_cypher",
    "lint_questdb",
    "looks_like_cypher",
    "looks_like_sql",
]
