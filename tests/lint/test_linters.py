"""The linters accept what Neo4j 5 / QuestDB accept and reject what they reject.

Each test runs one Node process for its whole batch of statements.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from .linting import (
    collect_named_constants,
    collect_string_constants,
    lint_cypher,
    lint_questdb,
    looks_like_cypher,
    looks_like_sql,
)

GOOD_CYPHER = [
    # Batched upsert with parameters everywhere.
    "UNWIND $rows AS row MERGE (a:Asset {id: row.id}) "
    "ON CREATE SET a.createdAt = $now SET a += row.props, a.updatedAt = $now",
    # Variable-length hierarchy walk.
    "MATCH (c:Asset {id: $id})-[:PART_OF*1..4]->(p:Asset) RETURN p.id AS id ORDER BY id",
    # Bounded shortest path.
    "MATCH p = shortestPath((a:Asset {id: $from})-[:FEEDS|DEPENDS_ON*..10]->(b:Asset {id: $to})) "
    "RETURN [n IN nodes(p) | n.id] AS ids",
    # COUNT {} subquery.
    "MATCH (a:Asset) WHERE COUNT { (a)-[:HAS_SENSOR]->(:Sensor) } > $min RETURN a.id AS id",
    # EXISTS {} subquery.
    "MATCH (a:Asset) WHERE NOT EXISTS { (a)-[:PART_OF]->() } RETURN a.id AS id",
    # CALL {} subquery with a variable scope clause (Neo4j 5.23+).
    "MATCH (a:Asset {id: $id}) CALL (a) { MATCH (a)-[:HAS_SENSOR]->(s:Sensor) "
    "RETURN count(s) AS sensors } RETURN a.id AS id, sensors",
    # Schema statements.
    "CREATE CONSTRAINT asset_id IF NOT EXISTS FOR (a:Asset) REQUIRE a.id IS UNIQUE",
    "DROP CONSTRAINT asset_id IF EXISTS",
    "SHOW CONSTRAINTS YIELD name RETURN name",
    # Map projection with a pattern comprehension, pagination by parameters.
    "MATCH (a:Asset) WHERE a.id IN $ids RETURN a {.id, .name, "
    "sensors: [(a)-[:HAS_SENSOR]->(s:Sensor) | s.id]} AS asset SKIP $skip LIMIT $limit",
    "OPTIONAL MATCH (w:WorkOrder {id: $id})-[:FOR]->(a:Asset) RETURN w, a.id AS assetId",
    "MATCH (a:Asset {id: $id}) DETACH DELETE a",
    # Creating a relationship between two matched nodes: a cartesian-product hint, not an error.
    "MATCH (a:Asset {id: $a}), (b:Asset {id: $b}) MERGE (a)-[:FEEDS]->(b)",
    # An explicit Cypher 5 prefix and a trailing semicolon are fine.
    "CYPHER 5 MATCH (a:Asset) RETURN count(a) AS n;",
]

BAD_CYPHER = {
    "syntax error": "MATCH (a:Asset) RETRN a",
    "undefined variable": "MATCH (a:Asset) RETURN x",
    "unfinished query": "MATCH (a:Asset {id: $id})",
    # SQL-isms ArcadeDB's SQL engine takes but Cypher does not.
    "SQL on the Bolt port": "SELECT FROM Asset WHERE id = :id",
    "GROUP BY": "MATCH (a:Asset) RETURN a.type AS type, count(*) AS n GROUP BY type",
    "ILIKE": "MATCH (a:Asset) WHERE a.name ILIKE $pattern RETURN a",
    # Removed in Neo4j 5 (OpenCypher 9 / Neo4j 4 syntax that other engines keep).
    "exists(property)": "MATCH (a:Asset) WHERE exists(a.name) RETURN a",
    "old index syntax": "CREATE INDEX ON :Asset(id)",
    "old constraint syntax": "CREATE CONSTRAINT ON (a:Asset) ASSERT a.id IS UNIQUE",
    "negative LIMIT": "MATCH (a:Asset) RETURN a LIMIT -1",
    # Deprecations in Neo4j 5 fail the lint.
    "deprecated id()": "MATCH (a:Asset) RETURN id(a) AS internalId",
    "deprecated importing WITH": "MATCH (a:Asset) CALL { WITH a MATCH (a)-[:HAS_SENSOR]->(s) "
    "RETURN count(s) AS n } RETURN a, n",
    # Cypher 25 only: neither accepted as Cypher 5 nor allowed as a prefix.
    "Cypher 25 FILTER": "MATCH (a:Asset) FILTER a.level = $level RETURN a",
    "Cypher 25 LET": "MATCH (a:Asset) LET n = a.name RETURN n",
    "CYPHER 25 prefix": "CYPHER 25 MATCH (a:Asset) RETURN a",
    # The driver runs one statement per call.
    "two statements": "MATCH (a:Asset) RETURN a; MATCH (s:Sensor) RETURN s",
    "empty": "   ",
}


def test_good_cypher_passes() -> None:
    assert lint_cypher(GOOD_CYPHER) == []


def test_each_bad_cypher_fails() -> None:
    names = list(BAD_CYPHER)
    errors = lint_cypher(list(BAD_CYPHER.values()), names=names)
    failing = {message.split(": ", 1)[0] for message in errors}
    assert failing == set(names), f"passed the lint: {sorted(set(names) - failing)}"


def test_undeclared_parameter_is_not_an_error() -> None:
    assert lint_cypher(["MATCH (a:Asset {id: $undeclared}) RETURN a.name AS name"]) == []


def test_messages_name_the_statement_and_its_first_line() -> None:
    errors = lint_cypher(["MATCH (a:Asset)\nRETURN x"])
    assert errors, "an undefined variable must fail"
    assert errors[0].startswith("statement #0: MATCH (a:Asset): ")
    assert "`x`" in errors[0]


def test_empty_batch_starts_no_process() -> None:
    assert lint_cypher([]) == []
    assert lint_questdb([]) == []


def test_names_must_match_statements() -> None:
    with pytest.raises(ValueError):
        lint_cypher(["RETURN 1"], names=["a", "b"])


GOOD_QUESTDB = [
    "SELECT ts, avg(value) FROM readings WHERE sensor_id = $1 SAMPLE BY 1m FILL(NULL)",
    "SELECT * FROM readings LATEST ON ts PARTITION BY sensor_id",
    "CREATE TABLE IF NOT EXISTS readings (ts TIMESTAMP, asset_id SYMBOL, sensor_id SYMBOL, "
    "value DOUBLE, quality SYMBOL) TIMESTAMP(ts) PARTITION BY DAY WAL "
    "DEDUP UPSERT KEYS(ts, sensor_id)",
    # psycopg client-side placeholders, named and positional; %% is an escaped %.
    "SELECT ts, value FROM readings WHERE sensor_id = %(sensor)s AND ts >= %(start)s "
    "AND ts < %(end)s AND quality LIKE 'go%%' ORDER BY ts LIMIT %(limit)s",
    "SELECT sensor_id, value FROM readings WHERE sensor_id IN (%s, %s) "
    "LATEST ON ts PARTITION BY sensor_id",
    "INSERT INTO rejected_readings VALUES ($1, $2, $3, $4, $5)",
    # A placeholder look-alike inside a string literal stays text.
    "SELECT count() FROM events WHERE kind = '$1?'",
    "SELECT ts, max(value) FROM readings WHERE sensor_id = ? SAMPLE BY 1h ALIGN TO CALENDAR",
]

BAD_QUESTDB = {
    "garbage": "SELEC * FROM readings",
    "unfinished": "SELECT * FROM readings WHERE",
    "PostgreSQL OFFSET": "SELECT * FROM readings LIMIT 10 OFFSET 5",
    "two statements": "SELECT 1; SELECT 2",
    "unbalanced": "SELECT avg(value FROM readings",
    "empty": "",
}


def test_good_questdb_passes() -> None:
    assert lint_questdb(GOOD_QUESTDB) == []


def test_each_bad_questdb_fails() -> None:
    names = list(BAD_QUESTDB)
    errors = lint_questdb(list(BAD_QUESTDB.values()), names=names)
    failing = {message.split(": ", 1)[0] for message in errors}
    assert failing == set(names), f"passed the lint: {sorted(set(names) - failing)}"


def test_looks_like_cypher() -> None:
    assert looks_like_cypher("MATCH (a) RETURN a")
    assert looks_like_cypher("  // comment\n/* block */ unwind $rows AS r RETURN r")
    assert not looks_like_cypher("Asset")
    assert not looks_like_cypher("a.id AS id, a.name AS name")
    assert not looks_like_cypher("MATCHING things")


def test_collect_string_constants_takes_public_cypher_strings() -> None:
    module = types.ModuleType("fake_cypher")
    module.GET = "MATCH (a:Asset {id: $id}) RETURN a"  # type: ignore[attr-defined]
    module.UPSERT = "UNWIND $rows AS r MERGE (a:Asset {id: r.id})"  # type: ignore[attr-defined]
    module._FIELDS = "MATCH (a) RETURN a"  # type: ignore[attr-defined]
    module.LABEL = "Asset"  # type: ignore[attr-defined]
    module.LIMIT = 10  # type: ignore[attr-defined]
    assert collect_named_constants([module]) == {
        "fake_cypher.GET": "MATCH (a:Asset {id: $id}) RETURN a",
        "fake_cypher.UPSERT": "UNWIND $rows AS r MERGE (a:Asset {id: r.id})",
    }
    assert collect_string_constants([module]) == [module.GET, module.UPSERT]  # type: ignore[attr-defined]


def test_collect_imports_modules_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "twinql_lint_probe.py").write_text(
        'GET = "OPTIONAL MATCH (a:Asset {id: $id}) RETURN a"\nNAME = "probe"\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert collect_named_constants(["twinql_lint_probe"]) == {
        "twinql_lint_probe.GET": "OPTIONAL MATCH (a:Asset {id: $id}) RETURN a"
    }


def test_collect_with_a_sql_predicate_takes_tuple_items() -> None:
    module = types.ModuleType("fake_sql")
    module.SCHEMA = ("CREATE TABLE a (x INT)", "-- two\nCREATE TABLE b (y INT)")  # type: ignore[attr-defined]
    module.LATEST = "SELECT * FROM a"  # type: ignore[attr-defined]
    module.KIND = "select"  # type: ignore[attr-defined]
    assert collect_named_constants([module], predicate=looks_like_sql) == {
        "fake_sql.SCHEMA[0]": "CREATE TABLE a (x INT)",
        "fake_sql.SCHEMA[1]": "-- two\nCREATE TABLE b (y INT)",
        "fake_sql.LATEST": "SELECT * FROM a",
    }
