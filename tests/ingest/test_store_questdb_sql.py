"""Every statement the QuestDB adapter can send, rendered as it is sent (IN lists of
several sensors, each aggregate, a SAMPLE BY clause), passes QuestDB's own parser."""

from __future__ import annotations

from ingest.store import _questdb_sql as sql
from tests.lint.linting import lint_questdb


def rendered_statements() -> dict[str, str]:
    more = ", %s" * 2
    out = {f"schema{i}": s.format(p="t_") for i, s in enumerate(sql.SCHEMA)}
    out["ping"] = sql.PING
    out["wal"] = sql.WAL_STATUS
    for name in ("LATEST", "RAW", "SUMMARY", "EVENTS"):
        out[name] = getattr(sql, name).format(p="t_", more=more)
    out["REJECTED"] = sql.REJECTED.format(p="t_")
    for aggregate, expr in sql.AGGREGATES.items():
        out[f"BUCKETED/{aggregate}"] = sql.BUCKETED.format(
            p="t_", more=more, agg=expr, sample="SAMPLE BY 60000000U ALIGN TO CALENDAR"
        )
    return out


def test_questdb_statements_pass_questdb_parser() -> None:
    statements = rendered_statements()
    errors = lint_questdb(list(statements.values()), names=list(statements))
    assert errors == [], "\n".join(errors)
