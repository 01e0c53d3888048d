"""A full disk, for real: a small tmpfs the test mounts (``small_disk``) holds the DuckDB file and the
spill log. No space left is an outage (``Unavailable``: retry, spill, reconnect), never
a refusal: nothing is dead-lettered or quarantined, a spill append that fails leaves no
partial record, the writer reports a ``fault`` while it can neither write nor spill,
and once space returns ingest recovers by itself with every accepted reading stored
exactly once. Skipped, saying why, only where the machine refuses the mount."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from pathlib import Path

import duckdb
import pytest

from graph.errors import Unavailable
from ingest.pipeline import BatchWriter, SpillLog
from ingest.store import DuckDBStore
from tests.ingest.test_pipeline_writer import readings
from tests.support.disk import Disk
from tests.support.polling import eventually


@pytest.fixture
async def store(small_disk: Disk) -> AsyncIterator[DuckDBStore]:
    async with DuckDBStore(small_disk.root / "r.duckdb", threads=1) as s:
        await s.write(readings(0, 10))
        yield s


def counts(path: Path) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM readings"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def test_no_space_is_unavailable_and_the_store_recovers(
    small_disk: Disk, store: DuckDBStore
) -> None:
    small_disk.fill()
    with pytest.raises(Unavailable, match="No space left on device"):
        for i in range(10, 200_000, 20_000):  # the WAL grows until the disk refuses it
            await store.write(readings(i, 20_000))
    small_disk.free()
    await store.write(readings(500_000, 1_000))
    await store.aclose()
    stored, distinct = counts(small_disk.root / "r.duckdb")
    assert stored == distinct and stored >= 1_010


def test_a_spill_append_refused_part_way_leaves_no_partial_record(small_disk: Disk) -> None:
    log = SpillLog(small_disk.root / "spill")
    log.append(readings(0, 100))
    segment = log.segments()[0]
    size = segment.stat().st_size
    small_disk.fill()
    with pytest.raises(OSError) as refused:
        log.append(readings(100, 50_000))  # bigger than what the disk has left
    assert refused.value.errno == errno.ENOSPC
    assert segment.stat().st_size == size
    small_disk.free()
    log.append(readings(50_100, 7))
    assert [len(r) for seg in log.segments() for r in log.read(seg)] == [100, 7]
    assert not list((small_disk.root / "spill").glob("*.torn"))


async def test_a_full_disk_faults_then_ingest_recovers_by_itself(
    small_disk: Disk, store: DuckDBStore
) -> None:
    """Durable submits on a full disk: each is accepted (durable) or refused with
    Unavailable, never dead-lettered; the writer reports a fault; once space returns,
    the refused ones are resubmitted as a client would and go through without a
    restart. At the end: stored = accepted, exactly once each."""
    writer = BatchWriter(
        store,
        small_disk.root / "spill",
        max_batch=5_000,
        flush_interval=0.05,
        retry_initial=0.02,
        retry_max=0.2,
    )
    await writer.start()
    small_disk.fill()
    chunk, accepted, refused = 5_000, 0, []
    for k in range(40):
        start = 10 + k * chunk
        try:
            await asyncio.wait_for(await writer.enqueue_durable(readings(start, chunk)), 60)
            accepted += chunk
        except Unavailable:
            refused.append(start)
        if refused and writer.fault is not None:
            break
    assert refused, "the full disk refused nothing"
    assert writer.fault is not None and "No space left" in writer.fault
    assert writer.stats().dead_lettered == 0 and writer.stats().quarantined == 0
    small_disk.free()
    await eventually(lambda: writer.fault is None, within=30, what="the fault clears by itself")
    for start in refused:  # the client retries what was refused
        await asyncio.wait_for(await writer.enqueue_durable(readings(start, chunk)), 60)
        accepted += chunk
    await writer.flush()
    await eventually(lambda: not writer.stats().spill_pending, within=30, what="spill replayed")
    await writer.aclose()
    stats = writer.stats()
    assert stats.dead_lettered == 0 and stats.quarantined == 0 and stats.fault is None
    await store.aclose()
    assert counts(small_disk.root / "r.duckdb") == (10 + accepted, 10 + accepted)
    assert not list((small_disk.root / "spill").glob("*.torn"))
    assert not (small_disk.root / "spill" / "quarantine").exists()
