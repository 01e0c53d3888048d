"""The QuestDB adapter without a QuestDB server: the SAMPLE BY clause builder (pure),
every statement the adapter can send, rendered as it is sent (IN lists of several
sensors, each aggregate, SAMPLE BY clauses of several units), passing QuestDB's own
parser, no boolean parameter and the bytes a bool would be sent as, and the real
client's connection failures surfacing as ``Unavailable``."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from psycopg.pq import Format

from graph.bolt.embedded import free_port
from graph.errors import Unavailable, ValidationError
from graph.timeutil import from_us
from ingest.store import QuestDBStore, ReadingBatch, RejectedRow
from ingest.store import questdb_sql as sql
from ingest.store.questdb_pg import register_adapters
from tests.lint.linting import lint_questdb

US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("bucket", "clause"),
    [
        (timedelta(seconds=1), "SAMPLE BY 1s ALIGN TO CALENDAR"),
        (timedelta(minutes=1), "SAMPLE BY 1m ALIGN TO CALENDAR"),
        (timedelta(hours=1), "SAMPLE BY 1h ALIGN TO CALENDAR"),
        (timedelta(days=1), "SAMPLE BY 1d ALIGN TO CALENDAR"),
        (timedelta(seconds=90), "SAMPLE BY 90s ALIGN TO CALENDAR"),
        (timedelta(milliseconds=1500), "SAMPLE BY 1500T ALIGN TO CALENDAR"),
        (timedelta(minutes=90), "SAMPLE BY 90m ALIGN TO CALENDAR"),
        (timedelta(days=7), "SAMPLE BY 7d ALIGN TO CALENDAR"),  # never w (Monday-aligned)
        (timedelta(microseconds=1001), "SAMPLE BY 1001U ALIGN TO CALENDAR"),
        (timedelta(days=365), "SAMPLE BY 365d ALIGN TO CALENDAR"),
    ],
)
def test_sample_by_uses_the_largest_exact_unit(bucket: timedelta, clause: str) -> None:
    assert sql.sample_by(bucket // US) == clause


def test_sample_by_stride_fits_an_int32() -> None:
    # 35 min 47.483647 s is the longest µs stride QuestDB can parse...
    assert sql.sample_by(2**31 - 1) == f"SAMPLE BY {2**31 - 1}U ALIGN TO CALENDAR"
    # ...one µs more in µs would not fit, and nothing larger divides it
    with pytest.raises(ValidationError, match="32-bit"):
        sql.sample_by(2**31)
    with pytest.raises(ValidationError, match="32-bit"):
        sql.sample_by((timedelta(days=1) + US) // US)
    with pytest.raises(ValidationError):
        sql.sample_by(0)


def rendered_statements() -> dict[str, str]:
    """Every statement form: both filter variants (bad readings in or out, one sensor
    or all), each aggregate, SAMPLE BY clauses of several units."""
    more = ", %s" * 2
    out = {f"schema{i}": s.format(p="t_") for i, s in enumerate(sql.SCHEMA)}
    out["ping"] = sql.PING
    out["wal"] = sql.WAL_STATUS
    for name in ("LATEST", "EVENTS"):
        out[name] = getattr(sql, name).format(p="t_", more=more)
    for quality in ("", sql.NOT_BAD):
        for name in ("RAW", "SUMMARY"):
            out[f"{name}/{quality}"] = getattr(sql, name).format(p="t_", more=more, quality=quality)
        for aggregate, expr in sql.AGGREGATES.items():
            for bucket in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)):
                out[f"BUCKETED/{aggregate}/{bucket}/{quality}"] = sql.BUCKETED.format(
                    p="t_", more=more, quality=quality, agg=expr, sample=sql.sample_by(bucket // US)
                )
    for sensor in ("", sql.ONE_SENSOR):
        out[f"REJECTED/{sensor}"] = sql.REJECTED.format(p="t_", sensor=sensor)
    for bucket in (timedelta(milliseconds=1500), timedelta(seconds=90), timedelta(0, 0, 1001)):
        out[f"BUCKETED/avg/{bucket}"] = sql.BUCKETED.format(
            p="t_", more=more, quality="", agg="avg", sample=sql.sample_by(bucket // US)
        )
    return out


def test_no_statement_binds_a_boolean() -> None:
    """Options pick a statement variant instead of binding a bool (QuestDB's PG wire
    refuses psycopg's one-byte bools): the placeholders of every form are the values."""
    statements = rendered_statements()
    assert "quality != 'bad'" in statements["RAW/" + sql.NOT_BAD]
    assert "quality" not in statements["RAW/"].split("WHERE")[1]
    assert statements["RAW/"].count("%s") == 5  # three ids, start, end
    assert statements["REJECTED/"].count("%s") == 2  # since, limit
    assert statements["REJECTED/" + sql.ONE_SENSOR].count("%s") == 3  # since, sensor, limit


def test_bools_are_dumped_as_words_questdb_accepts() -> None:
    """What goes on the wire for a bool parameter on the store's connections: the text
    ``true``/``false`` typed bool. psycopg's default under ``%s`` is one binary byte,
    which QuestDB's PG wire refuses (it decodes a binary BOOLEAN by length: 4 bytes
    true, 5 false); in text format it would be ``t``/``f``, also one byte."""
    default = Transformer()
    assert default.dump_sequence([True, False], [PyFormat.AUTO] * 2) == [b"\x01", b"\x00"]
    assert default.get_dumper(True, PyFormat.AUTO).format is Format.BINARY
    assert default.get_dumper(True, PyFormat.TEXT).dump(True) == b"t"
    adapters = AdaptersMap(psycopg.adapters)
    register_adapters(adapters)
    tx = Transformer(adapters)
    assert tx.dump_sequence([True, False], [PyFormat.AUTO] * 2) == [b"true", b"false"]
    for fmt in (PyFormat.AUTO, PyFormat.TEXT):
        dumper = tx.get_dumper(True, fmt)
        assert dumper.format is Format.TEXT
        assert dumper.oid == psycopg.adapters.types["bool"].oid
    # other types go as psycopg sends them by default, and the global map is untouched
    assert tx.dump_sequence([42, "s1"], [PyFormat.AUTO] * 2) == default.dump_sequence(
        [42, "s1"], [PyFormat.AUTO] * 2
    )
    assert Transformer().dump_sequence([True], [PyFormat.AUTO]) == [b"\x01"]


def test_questdb_statements_pass_questdb_parser() -> None:
    statements = rendered_statements()
    assert "SAMPLE BY 1h ALIGN TO CALENDAR" in statements["BUCKETED/avg/1:00:00/"]
    errors = lint_questdb(list(statements.values()), names=list(statements))
    assert errors == [], "\n".join(errors)


async def test_unreachable_questdb_is_unavailable_for_writes_and_reads() -> None:
    """Nothing listens on either port: the ILP client's and psycopg's connection errors
    are ``Unavailable`` (the writer spills and retries), never a refusal."""
    store = QuestDBStore(f"http://127.0.0.1:{free_port()}", pg_port=free_port())
    batch = ReadingBatch.from_columns([1_000_000], ["s1"], ["a1"], [1.0], ["good"])
    with pytest.raises(Unavailable):
        await store.write(batch)
    with pytest.raises(Unavailable):
        await store.write_rejected([RejectedRow(1, from_us(0), "s1", "a1", "{}", "x")])
    with pytest.raises(Unavailable):
        await store.latest(["s1"])
    await store.aclose()
