"""schema.graphql is generated from the code (``twinql export-schema``) and checked in."""

from __future__ import annotations

from pathlib import Path

from api.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_checked_in_schema_matches_code() -> None:
    generated = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.exists(), "schema.graphql is missing: run twinql export-schema -o schema.graphql"
    assert SCHEMA_FILE.read_text() == generated, (
        "schema.graphql drifted from the code: run twinql export-schema -o schema.graphql"
    )
