"""SQL of the QuestDB readings store (sent over the PostgreSQL wire protocol).

Values are psycopg ``%s`` placeholders. Templates carry ``{field}`` slots for things
that cannot be bound and never come from requests: ``{p}`` the validated table
prefix, ``{more}`` extra ``, %s`` placeholders of an IN list, ``{agg}`` an aggregate
function name from ``AGGREGATES``, ``{sample}``
the ``SAMPLE BY <n>U`` clause built from an integer number of microseconds. Each stays
valid SQL with its slots empty (the lint test checks both forms).
"""

from __future__ import annotations

from ingest.store.port import Aggregate

CREATE_READINGS = """
CREATE TABLE IF NOT EXISTS {p}readings (
    ts TIMESTAMP, asset_id SYMBOL, sensor_id SYMBOL, value DOUBLE, quality SYMBOL
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sensor_id)
"""
CREATE_REJECTED = """
CREATE TABLE IF NOT EXISTS {p}rejected_readings (
    received_at TIMESTAMP, id LONG, asset_id SYMBOL, sensor_id SYMBOL, raw VARCHAR,
    reason VARCHAR
) TIMESTAMP(received_at) PARTITION BY DAY WAL DEDUP UPSERT KEYS(received_at, id)
"""
CREATE_EVENTS = """
CREATE TABLE IF NOT EXISTS {p}events (
    ts TIMESTAMP, asset_id SYMBOL, kind SYMBOL, payload VARCHAR
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, asset_id, kind)
"""
SCHEMA = (CREATE_READINGS, CREATE_REJECTED, CREATE_EVENTS)

PING = "SELECT 1"

WAL_STATUS = "SELECT name, writerTxn, sequencerTxn, suspended FROM wal_tables()"

LATEST = """
SELECT sensor_id, asset_id, cast(ts AS LONG) AS t, value, quality
FROM {p}readings
WHERE sensor_id IN (%s{more})
LATEST ON ts PARTITION BY sensor_id
"""

_WHERE = """
WHERE sensor_id IN (%s{more}) AND ts >= %s AND ts < %s AND (%s OR quality != 'bad')
"""

RAW = (
    "SELECT sensor_id, cast(ts AS LONG) AS t, value, quality FROM {p}readings"
    + _WHERE
    + "ORDER BY sensor_id, ts"
)

AGGREGATES = {
    Aggregate.AVG: "avg",
    Aggregate.MIN: "min",
    Aggregate.MAX: "max",
    Aggregate.SUM: "sum",
    Aggregate.COUNT: "count",
    Aggregate.FIRST: "first",
    Aggregate.LAST: "last",
}

# Keyed SAMPLE BY cannot take FROM-TO on QuestDB 8.x: buckets are aligned to the
# calendar (epoch multiples of the bucket, as DuckDB does) and the window's empty
# buckets are filled on the returned grid (``ingest.store._shape.fill_grid``).
BUCKETED = (
    """
SELECT * FROM (
    SELECT ts, sensor_id, {agg}(value) AS v FROM {p}readings"""
    + _WHERE
    + """    {sample}
) ORDER BY sensor_id, ts
"""
)

SUMMARY = (
    """
SELECT sensor_id, count(value) AS n, min(value) AS lo, max(value) AS hi, avg(value) AS mean,
       last(value) AS last, cast(max(ts) AS LONG) AS last_t
FROM {p}readings"""
    + _WHERE
    + " AND value IS NOT NULL"
)

REJECTED = """
SELECT cast(received_at AS LONG) AS t, id, asset_id, sensor_id, raw, reason
FROM {p}rejected_readings
WHERE (%s OR sensor_id = %s) AND received_at >= %s
ORDER BY received_at DESC, id
LIMIT %s
"""

EVENTS = """
SELECT cast(ts AS LONG) AS t, asset_id, kind, payload FROM {p}events
WHERE asset_id IN (%s{more}) AND ts >= %s AND ts < %s
ORDER BY ts, asset_id, kind
LIMIT %s
"""
