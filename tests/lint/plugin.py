"""pytest plugin: lint every statement the project sent during the test session.

Enable it from the root ``tests/conftest.py``::

    pytest_plugins = ["tests.lint.plugin"]

At start-up it makes sure ``TWINQL_CYPHER_LOG`` and ``TWINQL_QUESTDB_SQL_LOG``
name log files (a fresh temporary file each when unset), so fixtures can hand
the paths to the graph client and the QuestDB adapter, which append every
statement they send (format: ``recorder.py``). The fixtures ``cypher_log`` and
``questdb_sql_log`` give those paths.

When the session ends it lints both logs with Neo4j's and QuestDB's parsers;
any error is printed and fails the session (exit status 1), even if every
test passed. A missing Node set-up fails it too, with the command to run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from .recorder import CYPHER_LOG_ENV, QUESTDB_SQL_LOG_ENV, lint_recorded, lint_recorded_sql

__all__ = ["cypher_log", "questdb_sql_log"]

_LOGS = ((CYPHER_LOG_ENV, "cypher.jsonl"), (QUESTDB_SQL_LOG_ENV, "questdb-sql.jsonl"))


def pytest_configure(config: pytest.Config) -> None:
    missing = [(env, name) for env, name in _LOGS if not os.environ.get(env)]
    if not missing:
        return
    directory = Path(tempfile.mkdtemp(prefix="twinql-statements-"))
    for env, name in missing:
        (directory / name).touch()
        os.environ[env] = str(directory / name)


@pytest.fixture(scope="session")
def cypher_log() -> Path:
    """The file the graph client appends every Cypher statement it sends to."""
    return Path(os.environ[CYPHER_LOG_ENV])


@pytest.fixture(scope="session")
def questdb_sql_log() -> Path:
    """The file the QuestDB adapter appends every SQL statement it sends to."""
    return Path(os.environ[QUESTDB_SQL_LOG_ENV])


def lint_session_logs() -> list[str]:
    """Lint both session logs; messages name the log file and line of each bad statement."""
    errors: list[str] = []
    for env, lint in ((CYPHER_LOG_ENV, lint_recorded), (QUESTDB_SQL_LOG_ENV, lint_recorded_sql)):
        path = os.environ.get(env)
        if not path:
            continue
        try:
            errors.extend(f"{env}: {message}" for message in lint(path))
        except (RuntimeError, ValueError) as exc:
            errors.append(f"{env}={path}: {exc}")
    return errors


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    errors = lint_session_logs()
    if not errors:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "statements that Neo4j 5 / QuestDB would reject", red=True)
        for message in errors:
            reporter.write_line(message)
        for env, _ in _LOGS:
            reporter.write_line(f"{env}={os.environ.get(env, '')}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
