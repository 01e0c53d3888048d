"""SQL of the QuestDB readings store (sent over the PostgreSQL wire protocol).

Values are psycopg ``%s`` placeholders. Templates carry ``{field}`` slots for things
that cannot be bound and never come from requests: ``{p}`` the validated table
prefix, ``{more}`` extra ``, %s`` placeholders of an IN list, ``{agg}`` an aggregate
function name from ``AGGREGATES``, ``{sample}`` the clause built by ``sample_by`` from
an integer number of microseconds, ``{quality}`` empty or ``NOT_BAD``, ``{sensor}``
empty or ``ONE_SENSOR``. Each stays valid SQL with its slots empty (the lint test checks
both forms).

No statement binds a boolean: an option such as "include bad readings" or "any sensor"
picks one of two statements (a slot filled or left empty). QuestDB's PG wire refuses the
one-byte bool psycopg sends by default ("bad value for BOOLEAN parameter": it takes a
BOOLEAN parameter only as ``true``/``false``); the connection also sends those words
should a boolean ever be bound (``questdb_pg``).

Time bounds are bound as int64 epoch microseconds and cast to TIMESTAMP in the SQL
(``cast(%s AS TIMESTAMP)``): an int8 parameter and a LONG-to-TIMESTAMP cast, so no
timezone-aware datetime (a ``timestamptz`` parameter) has to be understood by QuestDB's
PG wire and the bound instant is exact to the microsecond.
"""

from __future__ import annotations

from graph.errors import ValidationError
from ingest.store.port import Aggregate

# Sensor ids per IN list: the PG protocol counts at most 65,535 parameters per statement.
MAX_IN = 5_000

# QuestDB parses the SAMPLE BY stride as a 32-bit int; the units, largest first, with
# their length in microseconds. Weeks, months and years are left out: they are aligned
# to Mondays and calendar months, not to epoch multiples as ``bucket_grid`` is.
_UNITS = (
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
    ("T", 1_000),
    ("U", 1),
)
_INT32_MAX = 2**31 - 1


def sample_by(bucket_us: int) -> str:
    """``SAMPLE BY <n><unit> ALIGN TO CALENDAR`` for a bucket of ``bucket_us`` µs, in the
    largest unit that divides it exactly (the smallest stride, so it fits an int32).
    Buckets start at epoch multiples of the bucket, as ``bucket_grid`` and the DuckDB
    store have them (QuestDB floors a stride of N units to epoch multiples of N units,
    for every unit used here)."""
    if bucket_us <= 0:
        raise ValidationError("bucket must be positive")
    unit, size = next((u, n) for u, n in _UNITS if bucket_us % n == 0)
    stride = bucket_us // size
    if stride > _INT32_MAX:
        raise ValidationError(
            f"bucket of {bucket_us} µs cannot be expressed for QuestDB: {stride}{unit} is "
            "beyond its 32-bit stride; use a whole number of milliseconds or seconds"
        )
    return f"SAMPLE BY {stride}{unit} ALIGN TO CALENDAR"


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

# The {quality} slot: empty to include bad readings, NOT_BAD to leave them out.
NOT_BAD = "AND quality != 'bad'"

_WHERE = """
WHERE sensor_id IN (%s{more}) AND ts >= cast(%s AS TIMESTAMP) AND ts < cast(%s AS TIMESTAMP)
  {quality}
"""

RAW = (
    "SELECT sensor_id, cast(ts AS LONG) AS t, value, quality FROM {p}readings"
    + _WHERE
    + "ORDER BY sensor_id, ts"
)

# first()/last() return the edge row's value even when it is null (a ``missing``
# reading); the *_not_null forms skip nulls, as DuckDB's arg_min/arg_max do. A WHERE
# ``value IS NOT NULL`` would do the same for first/last but drop buckets that hold only
# missing readings, which DuckDB keeps (NaN, or a count of 0).
AGGREGATES = {
    Aggregate.AVG: "avg",
    Aggregate.MIN: "min",
    Aggregate.MAX: "max",
    Aggregate.SUM: "sum",
    Aggregate.COUNT: "count",
    Aggregate.FIRST: "first_not_null",
    Aggregate.LAST: "last_not_null",
}

# Keyed SAMPLE BY cannot take FROM-TO on QuestDB 8.x: buckets are aligned to the
# calendar (epoch multiples of the bucket, as DuckDB does) and the window's empty
# buckets are filled on the returned grid (``ingest.store.shape.fill_grid``).
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

# The {sensor} slot: empty for every sensor, ONE_SENSOR (one more parameter) for one.
ONE_SENSOR = "AND sensor_id = %s"

REJECTED = """
SELECT cast(received_at AS LONG) AS t, id, asset_id, sensor_id, raw, reason
FROM {p}rejected_readings
WHERE received_at >= cast(%s AS TIMESTAMP) {sensor}
ORDER BY received_at DESC, id
LIMIT %s
"""

EVENTS = """
SELECT cast(ts AS LONG) AS t, asset_id, kind, payload FROM {p}events
WHERE asset_id IN (%s{more}) AND ts >= cast(%s AS TIMESTAMP) AND ts < cast(%s AS TIMESTAMP)
ORDER BY ts, asset_id, kind
LIMIT %s
"""
