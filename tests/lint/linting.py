"""Lint Cypher with Neo4j's parser and QuestDB SQL with QuestDB's parser.

Both linters run in Node (``tests/lint/*.mjs``), one process per batch: pass
every statement at once. Install their packages with
``npm ci --prefix tests/lint`` (Node 20 or newer).

What fails, in short (details in the ``.mjs`` files):

- Cypher, checked as Cypher 5 (production runs Neo4j 5): every syntax or
  semantic error except an undeclared ``$parameter``; every warning except
  performance/schema hints (cartesian product, unbounded shortest path,
  unknown label or property), so deprecations fail; a ``CYPHER 25`` prefix;
  several statements in one string.
- QuestDB SQL: every lexer or parser error after placeholders (``$1``,
  ``%s``, ``%(name)s``, ``?``) are replaced by the literal ``0``; several
  statements in one string.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "LINT_DIR",
    "collect_named_constants",
    "collect_string_constants",
    "lint_cypher",
    "lint_questdb",
    "looks_like_cypher",
    "looks_like_sql",
]

LINT_DIR = Path(__file__).resolve().parent
_CYPHER_SCRIPT = LINT_DIR / "cypher_lint.mjs"
_QUESTDB_SCRIPT = LINT_DIR / "questdb_lint.mjs"
_CYPHER_PACKAGE = LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support"
_QUESTDB_PACKAGE = LINT_DIR / "node_modules" / "@questdb" / "sql-parser"
_TIMEOUT_SECONDS = 600.0

_CYPHER_KEYWORDS = (
    "MATCH",
    "OPTIONAL",
    "MERGE",
    "CREATE",
    "UNWIND",
    "CALL",
    "WITH",
    "RETURN",
    "SHOW",
    "DROP",
    "DETACH",
    "DELETE",
    "SET",
    "REMOVE",
    "FOREACH",
    "LOAD",
    "USE",
    "CYPHER",
    "EXPLAIN",
    "PROFILE",
    "ALTER",
    "FINISH",
)
_CYPHER_START = re.compile(r"(?:" + "|".join(_CYPHER_KEYWORDS) + r")(?=[\s(])", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_SQL_KEYWORDS = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "WITH",
    "SHOW",
    "EXPLAIN",
    "DECLARE",
    "VACUUM",
    "REINDEX",
)
_SQL_START = re.compile(r"(?:" + "|".join(_SQL_KEYWORDS) + r")(?=[\s(])", re.IGNORECASE)
_SQL_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def lint_cypher(statements: Sequence[str], *, names: Sequence[str] | None = None) -> list[str]:
    """Lint Cypher statements for Neo4j 5; return one message per error (empty: all good).

    Messages read ``statement #i: <first line>: <message>``; pass ``names``
    (one per statement) to print a name instead of ``statement #i``.
    """
    return _lint(_CYPHER_SCRIPT, _CYPHER_PACKAGE, statements, names)


def lint_questdb(statements: Sequence[str], *, names: Sequence[str] | None = None) -> list[str]:
    """Lint QuestDB SQL statements; return one message per error (empty: all good)."""
    return _lint(_QUESTDB_SCRIPT, _QUESTDB_PACKAGE, statements, names)


def looks_like_cypher(text: str) -> bool:
    """True when ``text`` starts (after comments) with a Cypher keyword, then space or ``(``."""
    rest = text[_LEADING_COMMENTS.match(text).end() :]  # type: ignore[union-attr]
    return _CYPHER_START.match(rest) is not None


def looks_like_sql(text: str) -> bool:
    """True when ``text`` starts (after comments) with a SQL keyword, then space or ``(``."""
    rest = text[_SQL_LEADING_COMMENTS.match(text).end() :]  # type: ignore[union-attr]
    return _SQL_START.match(rest) is not None


def collect_named_constants(
    modules: Iterable[str | ModuleType],
    predicate: Callable[[str], bool] = looks_like_cypher,
) -> dict[str, str]:
    """Import ``modules`` and return their public module-level statement constants.

    Keys are qualified names (``graph.bolt.cypher.assets.UPSERT_ASSETS``); a tuple or
    list of strings contributes one entry per item (``NAME[0]``, ...). Names
    starting with ``_`` (fragments such as a shared RETURN list) are skipped,
    and so are strings ``predicate`` refuses (by default: not Cypher-looking).
    """
    found: dict[str, str] = {}
    for item in modules:
        module = importlib.import_module(item) if isinstance(item, str) else item
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            qualified = f"{module.__name__}.{name}"
            if isinstance(value, str):
                if predicate(value):
                    found[qualified] = value
            elif isinstance(value, tuple | list):
                for index, part in enumerate(value):
                    if isinstance(part, str) and predicate(part):
                        found[f"{qualified}[{index}]"] = part
    return found


def collect_string_constants(modules: Iterable[str | ModuleType]) -> list[str]:
    """The Cypher-looking public str constants of ``modules`` (see ``collect_named_constants``)."""
    return list(collect_named_constants(modules).values())


def _lint(
    script: Path, package: Path, statements: Sequence[str], names: Sequence[str] | None
) -> list[str]:
    statements = list(statements)
    if names is not None and len(names) != len(statements):
        raise ValueError(f"{len(names)} names for {len(statements)} statements")
    if not statements:
        return []
    results = _run_node(script, package, statements)
    if len(results) != len(statements):
        raise RuntimeError(f"{script.name} answered {len(results)} results for {len(statements)}")
    messages: list[str] = []
    for result in results:
        index = int(result["index"])
        label = names[index] if names is not None else f"statement #{index}"
        head = _first_line(statements[index])
        for error in result["errors"]:
            if error.get("severity") != "error":
                continue
            where = ""
            if error.get("line") is not None:
                where = f" (line {error['line']}, column {error.get('column')})"
            messages.append(f"{label}: {head}: {error['message']}{where}")
    return messages


def _run_node(script: Path, package: Path, statements: list[str]) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH; the linters need Node 20 or newer")
    if not package.is_dir():
        raise RuntimeError(
            f"{package.relative_to(LINT_DIR)} is missing: run npm ci --prefix tests/lint"
        )
    proc = subprocess.run(
        [node, str(script)],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        cwd=LINT_DIR,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} exited with {proc.returncode}: {proc.stderr.strip()}")
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{script.name} wrote no JSON: {proc.stdout[:500]!r}") from exc
    if not isinstance(results, list):
        raise RuntimeError(f"{script.name} wrote {type(results).__name__}, not a list")
    return results


def _first_line(statement: str) -> str:
    for line in statement.strip().splitlines():
        if line.strip():
            return line.strip()[:120]
    return "<empty>"
