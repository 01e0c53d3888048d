"""Every SQL statement the QuestDB adapter keeps passes QuestDB's parser.

The adapter keeps its SQL as named constants in modules of ``ingest.store`` whose
name contains ``questdb``; templates may carry ``{field}`` slots for validated
identifiers (a table prefix), filled with an empty string before linting.
Statements sent at run time are linted by the plugin (``TWINQL_QUESTDB_SQL_LOG``).
"""

from __future__ import annotations

import importlib
import pkgutil
import string

from .linting import collect_named_constants, lint_questdb, looks_like_sql


def _fill_fields(template: str) -> str:
    """The template with every ``{field}`` replaced by an empty string (``{{`` stays ``{``)."""
    fields = {name: "" for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**fields)


def _questdb_modules() -> list[str]:
    package = importlib.import_module("ingest.store")
    return [
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if "questdb" in info.name.lower()
    ]


def test_fill_fields() -> None:
    assert _fill_fields("SELECT * FROM {p}readings") == "SELECT * FROM readings"
    assert _fill_fields("SELECT 1") == "SELECT 1"


def test_questdb_sql_constants_pass_questdb_parser() -> None:
    modules = _questdb_modules()
    assert modules, "no QuestDB adapter module (ingest/store/*questdb*) found to lint"
    statements = collect_named_constants(modules, predicate=looks_like_sql)
    assert statements, f"no SQL constants found in {modules}"
    filled = [_fill_fields(text) for text in statements.values()]
    errors = lint_questdb(filled, names=list(statements))
    assert errors == [], "\n".join([f"{len(errors)} lint errors:", *errors])
