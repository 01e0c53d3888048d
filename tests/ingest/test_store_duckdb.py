"""DuckDB adapter specifics: ``latest_readings`` is filled once from a file written before
it existed, and survives reopening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from graph.timeutil import to_us
from ingest.reading import Quality
from ingest.store import DuckDBStore, ReadingBatch

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def old_file(path: Path) -> None:
    """A readings file of the layout before ``latest_readings``, written directly."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            """CREATE TABLE readings (ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL,
               sensor_id VARCHAR NOT NULL, value DOUBLE, quality VARCHAR NOT NULL)"""
        )
        conn.execute(
            """INSERT INTO readings VALUES
               (make_timestamp($t + 20000000), 'a1', 's1', 2.0, 'bad'),
               (make_timestamp($t), 'a1', 's1', 1.0, 'good'),
               (make_timestamp($t + 5000000), 'a2', 's2', NULL, 'missing'),
               (make_timestamp($t), 'a2', 's2', 4.0, 'good')""",
            {"t": to_us(T0)},
        )


async def test_latest_of_a_file_from_before_latest_readings(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old_file(path)
    async with DuckDBStore(path) as store:
        got = await store.latest(["s1", "s2", "s3"])
        assert set(got) == {"s1", "s2"}
        assert (got["s1"].value, got["s1"].quality) == (2.0, Quality.BAD)
        assert got["s1"].ts == T0 + timedelta(seconds=20)
        assert got["s2"].value is None and got["s2"].quality is Quality.MISSING
        assert got["s2"].asset_id == "a2"
        late = ReadingBatch.from_columns([to_us(T0) + 1], ["s1"], ["a1"], [9.0], ["good"])
        await store.write(late)
    async with DuckDBStore(path) as store:  # reopened: no second fill, the late one ignored
        got = await store.latest(["s1"])
        assert got["s1"].value == 2.0
        newer = ReadingBatch.from_columns([to_us(T0) + 30_000_000], ["s1"], ["a1"], [3.0], ["good"])
        await store.write(newer)
        assert (await store.latest(["s1"]))["s1"].value == 3.0


async def test_table_prefix_keeps_its_own_latest(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    one = ReadingBatch.from_columns([to_us(T0)], ["s1"], ["a1"], [1.0], ["good"])
    two = ReadingBatch.from_columns([to_us(T0)], ["s1"], ["a1"], [2.0], ["good"])
    async with DuckDBStore(path, table_prefix="x_") as x:
        await x.write(one)
    async with DuckDBStore(path, table_prefix="y_") as y:
        await y.write(two)
        assert (await y.latest(["s1"]))["s1"].value == 2.0
    async with DuckDBStore(path, table_prefix="x_") as x:
        assert (await x.latest(["s1"]))["s1"].value == 1.0
