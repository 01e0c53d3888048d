"""SQL of the DuckDB readings store. ``{p}`` is the validated table prefix (identifiers
come from settings, never from requests); every value is a ``$parameter``."""

from __future__ import annotations

from ingest.store.port import Aggregate

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS {p}readings (
        ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL, sensor_id VARCHAR NOT NULL,
        value DOUBLE, quality VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}rejected_readings (
        received_at TIMESTAMP NOT NULL, id BIGINT PRIMARY KEY, asset_id VARCHAR,
        sensor_id VARCHAR, raw VARCHAR, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS {p}events (
        ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        payload VARCHAR, PRIMARY KEY (asset_id, kind, ts))""",
)

# The newest reading of each sensor (any quality), kept beside ``readings`` so that
# ``latest`` reads one row per sensor instead of scanning the table. Created (and filled
# from ``readings`` once, for files written before it existed) when the store opens;
# upserted in the transaction of every write.
LATEST_EXISTS = """
SELECT count(*) FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = current_schema()
  AND table_name = $name
"""
CREATE_LATEST = """CREATE TABLE {p}latest_readings (
    sensor_id VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL,
    value DOUBLE, quality VARCHAR NOT NULL)"""
# A struct is never NULL, so arg_max keeps a NULL value (quality missing) of the newest row.
_NEWEST = """
SELECT sensor_id, max(ts) AS ts, arg_max({{'a': asset_id, 'v': value, 'q': quality}}, ts) AS r
FROM {src} GROUP BY sensor_id
"""
BACKFILL_LATEST = (
    "INSERT INTO {p}latest_readings (sensor_id, ts, asset_id, value, quality)\n"
    "SELECT sensor_id, ts, r.a, r.v, r.q FROM (" + _NEWEST.replace("{src}", "{p}readings") + ")"
)
# Only a reading at least as new as the stored one replaces it: a late (out-of-order)
# older reading never moves the latest back; a replay at the same ts wins, as in
# ``readings`` (dedup on (ts, sensor_id), last write wins).
# ``_newest``: the batch's newest row of each sensor, picked before (numpy: a GROUP BY
# with arg_max over the whole batch cost a third of a 10,000-row write).
UPSERT_LATEST = (
    "INSERT INTO {p}latest_readings (sensor_id, ts, asset_id, value, quality)\n"
    "SELECT sensor_id, ts, asset_id, value, quality FROM _newest"
    + """
ON CONFLICT (sensor_id) DO UPDATE SET
    ts = excluded.ts, asset_id = excluded.asset_id, value = excluded.value,
    quality = excluded.quality
WHERE excluded.ts >= {p}latest_readings.ts
"""
)

# Buckets are aligned to epoch multiples of the bucket (calendar alignment, as QuestDB's
# SAMPLE BY): the grid starts at the bucket holding the window start.

# Dedup on (ts, sensor_id) without an index: the batch's time range lets DuckDB's zone
# maps skip every row group outside it, then the batch replaces what it overlaps.
DELETE_OVERLAP = """
DELETE FROM {p}readings AS r USING _batch AS b
WHERE r.ts BETWEEN make_timestamp($lo) AND make_timestamp($hi)
  AND r.sensor_id = b.sensor_id AND r.ts = b.ts
"""
# The newest ts of ``readings`` (each sensor's newest is in ``latest_readings``).
NEWEST_TS = "SELECT epoch_us(max(ts)) FROM {p}latest_readings"
INSERT_BATCH = """
INSERT INTO {p}readings (ts, asset_id, sensor_id, value, quality)
SELECT ts, asset_id, sensor_id, value, quality FROM _batch
"""
INSERT_REJECTED = """
INSERT OR IGNORE INTO {p}rejected_readings (received_at, id, asset_id, sensor_id, raw, reason)
SELECT received_at, id, asset_id, sensor_id, raw, reason FROM _rows
"""
INSERT_EVENTS = """
INSERT OR REPLACE INTO {p}events (ts, asset_id, kind, payload)
SELECT ts, asset_id, kind, payload FROM _rows
"""

LATEST = """
SELECT sensor_id, epoch_us(ts) AS t, asset_id, value, quality
FROM {p}latest_readings
WHERE sensor_id IN (SELECT unnest($ids::VARCHAR[]))
"""

_WHERE = """
WHERE sensor_id IN (SELECT unnest($ids::VARCHAR[]))
  AND ts >= make_timestamp($start) AND ts < make_timestamp($end)
  AND ($include_bad OR quality <> 'bad')
"""

RAW = (
    "SELECT sensor_id, epoch_us(ts) AS t, value, quality FROM {p}readings"
    + _WHERE
    + "ORDER BY sensor_id, ts"
)

AGGREGATES = {
    Aggregate.AVG: "avg(value)",
    Aggregate.MIN: "min(value)",
    Aggregate.MAX: "max(value)",
    Aggregate.SUM: "sum(value)",
    Aggregate.COUNT: "count(value)",
    Aggregate.FIRST: "arg_min(value, ts)",
    Aggregate.LAST: "arg_max(value, ts)",
}

_BUCKETED = (
    """
WITH agg AS (
    SELECT sensor_id,
           (epoch_us(ts) // $bucket::BIGINT) * $bucket::BIGINT AS b,
           {agg} AS v
    FROM {p}readings"""
    + _WHERE
    + """
    GROUP BY ALL
)"""
)

# Many (sensor, window) spans in one read: the spans as a table (zipped unnests), the
# readings of the overall window joined to them, each kept inside its own span.
BUCKET_STATS = """
WITH w AS (
    SELECT unnest($k::BIGINT[]) AS k, unnest($ids::VARCHAR[]) AS sensor_id,
           unnest($starts::BIGINT[]) AS s, unnest($ends::BIGINT[]) AS e
)
SELECT w.k AS k, (epoch_us(r.ts) // $bucket::BIGINT) * $bucket::BIGINT AS t,
       avg(r.value) AS v, count(r.value) AS c
FROM {p}readings AS r JOIN w ON r.sensor_id = w.sensor_id
WHERE r.ts >= make_timestamp($lo) AND r.ts < make_timestamp($hi)
  AND epoch_us(r.ts) >= w.s AND epoch_us(r.ts) < w.e
  AND r.quality <> 'bad'
GROUP BY ALL
ORDER BY k, t
"""

BUCKETED = _BUCKETED + "\nSELECT sensor_id, b AS t, v FROM agg ORDER BY sensor_id, t"

_GRID = """,
grid AS (
    SELECT s.sensor_id, g.b
    FROM (SELECT unnest($ids::VARCHAR[]) AS sensor_id) AS s,
         (SELECT unnest(range($gstart::BIGINT, $end::BIGINT, $bucket::BIGINT)) AS b) AS g
),
j AS (SELECT grid.sensor_id, grid.b, agg.v FROM grid LEFT JOIN agg USING (sensor_id, b))
"""

BUCKETED_FILL_NULL = _BUCKETED + _GRID + "SELECT sensor_id, b AS t, v FROM j ORDER BY sensor_id, t"

BUCKETED_FILL_PREVIOUS = (
    _BUCKETED
    + _GRID
    + """
SELECT sensor_id, b AS t,
       last_value(v IGNORE NULLS) OVER (PARTITION BY sensor_id ORDER BY b
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS v
FROM j ORDER BY sensor_id, t
"""
)

BUCKETED_FILL_LINEAR = (
    _BUCKETED
    + _GRID
    + """,
n AS (
    SELECT sensor_id, b, v,
        last_value(v IGNORE NULLS) OVER w_prev AS pv,
        last_value(CASE WHEN v IS NOT NULL THEN b END IGNORE NULLS) OVER w_prev AS pb,
        first_value(v IGNORE NULLS) OVER w_next AS nv,
        first_value(CASE WHEN v IS NOT NULL THEN b END IGNORE NULLS) OVER w_next AS nb
    FROM j
    WINDOW w_prev AS (PARTITION BY sensor_id ORDER BY b
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           w_next AS (PARTITION BY sensor_id ORDER BY b
                      ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
)
SELECT sensor_id, b AS t,
       CASE WHEN v IS NOT NULL THEN v
            WHEN pb IS NULL OR nb IS NULL THEN NULL
            ELSE pv + (nv - pv) * (b - pb) / (nb - pb) END AS v
FROM n ORDER BY sensor_id, t
"""
)

SUMMARY = (
    """
SELECT sensor_id, count(value) AS n, min(value) AS lo, max(value) AS hi, avg(value) AS mean,
       arg_max(value, ts) AS last, epoch_us(max(ts) FILTER (WHERE value IS NOT NULL)) AS last_t
FROM {p}readings"""
    + _WHERE
    + "GROUP BY sensor_id"
)

REJECTED = """
SELECT epoch_us(received_at) AS t, id, asset_id, sensor_id, raw, reason
FROM {p}rejected_readings
WHERE ($sensor_id IS NULL OR sensor_id = $sensor_id)
  AND ($since IS NULL OR received_at >= make_timestamp($since))
ORDER BY received_at DESC, id
LIMIT $limit
"""

EVENTS = """
SELECT epoch_us(ts) AS t, asset_id, kind, payload FROM {p}events
WHERE asset_id IN (SELECT unnest($ids::VARCHAR[]))
  AND ts >= make_timestamp($start) AND ts < make_timestamp($end)
ORDER BY ts, asset_id, kind
LIMIT $limit
"""
