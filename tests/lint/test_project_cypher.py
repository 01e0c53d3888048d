"""Every Cypher statement the project keeps, and every one it sends, passes Neo4j 5's parser."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .linting import LINT_DIR, collect_named_constants, lint_cypher
from .recorder import lint_recorded, lint_recorded_sql, read_recorded


def _graph_cypher_modules() -> list[str]:
    try:
        package: ModuleType = importlib.import_module("graph.bolt.cypher")
    except ModuleNotFoundError as exc:
        pytest.fail(f"graph/bolt/cypher package missing ({exc}): Cypher lives there, one module each")
    return [
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.ispkg
    ]


def test_graph_cypher_constants_pass_the_neo4j5_lint() -> None:
    modules = _graph_cypher_modules()
    statements = collect_named_constants(modules)
    assert statements, f"no Cypher constants found in {modules or 'graph.bolt.cypher'}"
    errors = lint_cypher(list(statements.values()), names=list(statements))
    assert errors == [], "\n".join([f"{len(errors)} lint errors:", *errors])


def _write_log(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records) + "\n")
    return path


def test_recorded_log_is_linted_once_per_distinct_statement(tmp_path: Path) -> None:
    good = "MATCH (a:Asset {id: $id}) RETURN a.name AS name"
    bad = "MATCH (a:Asset) RETURN x"
    log = _write_log(tmp_path / "cypher.jsonl", [good, {"query": bad, "params": ["id"]}, bad, good])
    assert read_recorded(log) == {"cypher.jsonl:1": good, "cypher.jsonl:2": bad}
    errors = lint_recorded(log)
    assert len(errors) == 1
    assert errors[0].startswith(
        "cypher.jsonl:2: MATCH (a:Asset) RETURN x: Variable `x` not defined"
    )


def test_recorded_sql_log_is_linted(tmp_path: Path) -> None:
    log = _write_log(
        tmp_path / "sql.jsonl",
        ["SELECT * FROM readings WHERE sensor_id = $1", "SELECT * FROM readings LIMIT 1 OFFSET 2"],
    )
    errors = lint_recorded_sql(log)
    assert len(errors) == 1
    assert errors[0].startswith("sql.jsonl:2: ")


def test_missing_log_holds_nothing(tmp_path: Path) -> None:
    assert lint_recorded(tmp_path / "absent.jsonl") == []


@pytest.mark.parametrize("line", ["MATCH (a) RETURN a", "42", '{"statement": "RETURN 1"}'])
def test_malformed_log_line_is_an_error(tmp_path: Path, line: str) -> None:
    log = tmp_path / "cypher.jsonl"
    log.write_text(json.dumps("RETURN 1") + "\n" + line + "\n")
    with pytest.raises(ValueError, match=r"cypher\.jsonl:2"):
        read_recorded(log)


def _run_session_with_plugin(tmp_path: Path, cypher: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a one-test pytest session with the plugin and a prepared statement log."""
    (tmp_path / "test_probe.py").write_text("def test_probe():\n    assert True\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    cypher_log = _write_log(tmp_path / "cypher.jsonl", list(cypher))
    sql_log = _write_log(
        tmp_path / "sql.jsonl", ["SELECT * FROM readings LATEST ON ts PARTITION BY sensor_id"]
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LINT_DIR.parent), env.get("PYTHONPATH", "")])
    env["TWINQL_CYPHER_LOG"] = str(cypher_log)
    env["TWINQL_QUESTDB_SQL_LOG"] = str(sql_log)
    package = __package__ or "lint"
    plugin = f"{package.rsplit('.', 1)[-1]}.plugin"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            plugin,
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plugin_fails_a_green_session_that_sent_bad_cypher(tmp_path: Path) -> None:
    proc = _run_session_with_plugin(
        tmp_path, ["MATCH (a:Asset) RETURN a", "MATCH (a) RETURN id(a)"]
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    expected = (
        "TWINQL_CYPHER_LOG: cypher.jsonl:2: MATCH (a) RETURN id(a): The query used a deprecated"
    )
    assert expected in proc.stdout


def test_plugin_passes_a_session_that_sent_good_statements(tmp_path: Path) -> None:
    proc = _run_session_with_plugin(tmp_path, ["MATCH (a:Asset {id: $id}) RETURN a"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
