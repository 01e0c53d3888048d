"""Durable acknowledgement at the batching writer, against a real DuckDB store: the
future of ``enqueue_durable`` resolves only once its rows are committed, fsynced to the
spill log, or kept as dead letters; a durable submit does not wait for the flush tick,
and concurrent durable callers share flushes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from graph.errors import Unavailable
from graph.timeutil import from_us
from ingest.pipeline import BatchWriter, SpillLog
from ingest.store import DuckDBStore, ReadingBatch
from tests.ingest.test_pipeline_writer import Locker, readings, refused_batch
from tests.support.polling import eventually

NEVER = 3_600.0  # a flush interval no test waits for


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[DuckDBStore, Path]]:
    path = tmp_path / "r.duckdb"
    async with DuckDBStore(path, threads=1) as store:
        yield store, path


def window() -> tuple[datetime, datetime]:
    t0 = int(readings(0, 1).ts[0])
    return from_us(t0), from_us(t0 + 10**12)


def rows_in(path: Path) -> int:
    """Rows committed to the file, read by a connection the writer's store does not own
    (DuckDB lets one process open a file once: the store's own connection answers)."""
    with duckdb.connect(":memory:") as conn:
        conn.execute("ATTACH ? AS f (READ_ONLY)", [str(path)])
        ((n,),) = conn.execute("SELECT count(*) FROM f.readings").fetchall()
    return int(n)


async def test_durable_resolves_once_committed_without_waiting_for_the_tick(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, path = db
    writer = BatchWriter(store, tmp_path / "spill", flush_interval=NEVER)
    await writer.start()
    done = await writer.enqueue_durable(readings(0, 25))
    await asyncio.wait_for(done, 60)  # far below NEVER: the durable submit flushed
    stats = writer.stats()
    assert (stats.stored, stats.queue_depth, stats.spilled) == (25, 0, 0)
    got = await store.summary(["s0"], *window())
    assert got["s0"].count == 3  # readings 0, 10, 20 of sensor s0, read back committed
    await writer.aclose()
    await store.disconnect()
    assert rows_in(path) == 25


async def test_concurrent_durable_callers_share_flushes(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, path = db
    writer = BatchWriter(store, tmp_path / "spill", flush_interval=NEVER, max_batch=10_000)
    await writer.start()
    futures = await asyncio.gather(
        *(writer.enqueue_durable(readings(i * 10, 10)) for i in range(100))
    )
    await asyncio.wait_for(asyncio.gather(*futures), 60)
    stats = writer.stats()
    assert stats.stored == 1_000 and stats.flushes < 100
    await writer.aclose()
    await store.disconnect()
    assert rows_in(path) == 1_000


async def test_durable_while_the_store_is_down_resolves_once_spilled(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, path = db
    spill = tmp_path / "spill"
    writer = BatchWriter(store, spill, flush_interval=NEVER, retry_initial=NEVER)
    await writer.start()
    await store.disconnect()
    locker = Locker(path)
    await locker.start()
    try:
        done = await writer.enqueue_durable(readings(0, 40))
        await asyncio.wait_for(done, 60)
        assert writer.stats().spilled == 40 and writer.stats().stored == 0
        log = SpillLog(spill)
        kept = [len(r) for seg in log.segments() for r in log.read(seg)]
        assert kept == [40]  # on disk, fsynced, before the future resolved
    finally:
        await locker.kill()
    await writer.aclose()
    assert writer.stats().stored == 40


async def test_durable_refused_rows_resolve_once_dead_lettered(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, _ = db
    writer = BatchWriter(store, tmp_path / "spill", flush_interval=NEVER)
    await writer.start()
    done = await writer.enqueue_durable(refused_batch(readings(0, 1).ts[0]))
    await asyncio.wait_for(done, 60)
    assert writer.stats().dead_lettered == 2
    assert len(await store.rejected(limit=10)) == 2
    await writer.aclose()


async def test_durable_fails_and_submits_are_refused_while_the_writer_faults(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    """The store is down and the spill log cannot be written (a file where its
    directory was): the waiting caller learns it (Unavailable), later callers are
    refused at once; when both come back the queued rows are written anyway."""
    store, path = db
    spill = tmp_path / "spill"
    writer = BatchWriter(store, spill, flush_interval=NEVER, retry_initial=0.02, retry_max=0.1)
    await writer.start()
    await store.disconnect()
    locker = Locker(path)
    await locker.start()
    try:
        spill.rmdir()
        spill.write_text("not a directory")
        done = await writer.enqueue_durable(readings(0, 30))
        with pytest.raises(Unavailable, match="cannot write or spill"):
            await asyncio.wait_for(done, 60)
        assert writer.fault is not None and "NotADirectoryError" in writer.fault
        with pytest.raises(Unavailable, match="cannot write or spill"):
            await writer.enqueue_durable(readings(30, 10))
        spill.unlink()
        spill.mkdir()
    finally:
        await locker.kill()
    await eventually(lambda: writer.fault is None, within=30, what="the fault clears by itself")
    await asyncio.wait_for(await writer.enqueue_durable(readings(30, 10)), 60)
    # durable in the store, or in the spill log if the store had not reconnected yet:
    # then the replay stores them
    await eventually(
        lambda: writer.stats().stored, done=lambda n: n == 40, within=30, what="all 40 stored"
    )
    assert writer.stats().faults >= 1
    await writer.aclose()


async def test_empty_durable_submit_is_done_at_once(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    writer = BatchWriter(db[0], tmp_path / "spill", flush_interval=NEVER)
    assert (await writer.enqueue_durable(ReadingBatch.empty())).done()
