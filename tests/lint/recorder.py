"""Lint the statements the project actually sent during a test session.

The graph client (and the QuestDB adapter) append every statement they send to
a log file while tests run; the file is named by ``TWINQL_CYPHER_LOG``
(``TWINQL_QUESTDB_SQL_LOG`` for QuestDB SQL), and the pytest plugin in
``plugin.py`` lints it when the session ends.

Log format: one record per line, either a JSON string (the statement) or a
JSON object with the statement under ``"query"`` (other keys are ignored).
Blank lines are skipped; any other line is an error, never dropped.
Repeated statements are linted once, under the line they first appeared on.
"""

from __future__ import annotations

import json
from pathlib import Path

from .linting import lint_cypher, lint_questdb

__all__ = [
    "CYPHER_LOG_ENV",
    "QUESTDB_SQL_LOG_ENV",
    "lint_recorded",
    "lint_recorded_sql",
    "read_recorded",
]

CYPHER_LOG_ENV = "TWINQL_CYPHER_LOG"
QUESTDB_SQL_LOG_ENV = "TWINQL_QUESTDB_SQL_LOG"


def read_recorded(path: str | Path) -> dict[str, str]:
    """Distinct statements of a log, keyed ``<file>:<line of first use>``, in first-use order.

    A missing file holds no statements. A line that is neither a JSON string
    nor an object with a string ``"query"`` raises ``ValueError`` naming it.
    """
    path = Path(path)
    if not path.exists():
        return {}
    seen: dict[str, str] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            statement = _statement(line, path, number)
            if statement not in seen:
                seen[statement] = f"{path.name}:{number}"
    return {where: statement for statement, where in seen.items()}


def lint_recorded(path: str | Path) -> list[str]:
    """Lint every distinct Cypher statement recorded in ``path``; one message per error."""
    recorded = read_recorded(path)
    return lint_cypher(list(recorded.values()), names=list(recorded))


def lint_recorded_sql(path: str | Path) -> list[str]:
    """Lint every distinct QuestDB SQL statement recorded in ``path``; one message per error."""
    recorded = read_recorded(path)
    return lint_questdb(list(recorded.values()), names=list(recorded))


def _statement(line: str, path: Path, number: int) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{number}: not JSON ({exc.msg}): {line[:120]!r}") from exc
    if isinstance(record, dict):
        record = record.get("query")
    if not isinstance(record, str):
        raise ValueError(
            f"{path}:{number}: expected a JSON string or an object with a string "
            f'"query": {line[:120]!r}'
        )
    return record
