"""Driver and server errors become twinql errors in one place (``graph.bolt.client.translate``)."""

from __future__ import annotations

import pytest
from neo4j import exceptions as neo4j_errors

from graph.bolt.client import GraphClient, translate
from graph.errors import Conflict, TwinqlError, Unavailable


def server_error(code: str, message: str) -> neo4j_errors.Neo4jError:
    """An error as the driver builds it from a server's FAILURE message."""
    return neo4j_errors.Neo4jError._hydrate_neo4j(code=code, message=message)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (server_error("Neo.TransientError.Transaction.DeadlockDetected", "deadlock"), Unavailable),
        (server_error("Neo.TransientError.General.DatabaseUnavailable", "db down"), Unavailable),
        (neo4j_errors.ServiceUnavailable("no route"), Unavailable),
        (neo4j_errors.SessionExpired("gone"), Unavailable),
        (ConnectionResetError("reset"), Unavailable),
        (server_error("Neo.ClientError.Schema.ConstraintValidationFailed", "dup"), Conflict),
        (server_error("Neo.ClientError.Statement.SyntaxError", "bad"), TwinqlError),
        (server_error("Neo.DatabaseError.General.UnknownError", "boom"), TwinqlError),
    ],
)
def test_translation(error: Exception, expected: type[TwinqlError]) -> None:
    got = translate(error)
    assert type(got) is expected
    if expected is TwinqlError:
        assert got.code == "INTERNAL"
        assert error.code in got.message  # type: ignore[attr-defined]  # kept for the log


async def test_a_statement_the_server_refuses_is_internal(graph_client: GraphClient) -> None:
    with pytest.raises(TwinqlError) as err:
        await graph_client.read("RETURN 1 / 0 AS x")
    assert err.value.code == "INTERNAL"
    assert "by zero" in err.value.message
    assert isinstance(err.value.__cause__, neo4j_errors.Neo4jError)
