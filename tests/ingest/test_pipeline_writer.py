"""The batching writer against a real DuckDB store: flush by size and interval,
backpressure, graceful shutdown, and store-and-forward through a real outage (another
process holds the DuckDB file lock until it is killed)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import duckdb
import pytest

from graph.errors import Unavailable
from ingest.pipeline import BatchWriter, SpillLog
from ingest.store import DuckDBStore, ReadingBatch, RejectedRow, from_us

T0_US = 1_709_294_400_000_000
LOCKER = (
    "import sys, time, duckdb\n"
    "conn = duckdb.connect(sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


def readings(start: int, n: int, sensors: int = 10) -> ReadingBatch:
    """Readings start..start+n-1, each a distinct (sensor, ts)."""
    idx = range(start, start + n)
    return ReadingBatch.from_columns(
        [T0_US + (i // sensors) * 1_000_000 for i in idx],
        [f"s{i % sensors}" for i in idx],
        ["a1"] * n,
        [float(i) for i in idx],
        ["good"] * n,
    )


async def until(check: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while not check():  # noqa: ASYNC110 - polling writer stats, test-only
            await asyncio.sleep(0.01)
    assert check(), what


async def count(store: DuckDBStore, path: Path) -> tuple[int, int]:
    """Rows and distinct (sensor, ts) in the file, read by a connection of our own."""
    await store.disconnect()  # the store reconnects on its next operation
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM readings"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class Locker:
    """A child process holding the DuckDB file lock: the store is down until it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCKER, str(self.path), stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        assert (await self.proc.stdout.readline()).strip() == b"locked"

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[DuckDBStore, Path]]:
    path = tmp_path / "r.duckdb"
    async with DuckDBStore(path, threads=1) as store:
        yield store, path


@pytest.fixture
async def locker(db: tuple[DuckDBStore, Path]) -> AsyncIterator[Locker]:
    lock = Locker(db[1])
    yield lock
    await lock.kill()


async def test_flush_by_size_then_by_interval(db: tuple[DuckDBStore, Path], tmp_path: Path) -> None:
    store, path = db
    writer = BatchWriter(
        store, tmp_path / "spill", max_batch=100, flush_interval=30, max_queue=1000
    )
    await writer.start()
    await writer.submit(readings(0, 250))
    await until(lambda: writer.stats().stored == 200, "two full batches flushed")
    assert writer.stats().queue_depth == 50
    await writer.aclose()  # graceful shutdown flushes the rest
    assert writer.stats().stored == 250 and await count(store, path) == (250, 250)
    quick = BatchWriter(store, tmp_path / "spill", max_batch=10_000, flush_interval=0.02)
    await quick.start()
    await quick.submit(readings(250, 7))
    await until(lambda: quick.stats().stored == 7, "flushed by interval")
    await quick.aclose()
    with pytest.raises(Unavailable):
        await quick.submit(readings(0, 1))


async def test_backpressure_bounds_the_queue(db: tuple[DuckDBStore, Path], tmp_path: Path) -> None:
    store, path = db
    writer = BatchWriter(
        store, tmp_path / "spill", max_batch=100, flush_interval=0.01, max_queue=100
    )
    await writer.submit(readings(0, 100))  # the consumer is not running yet: queue full
    blocked = asyncio.create_task(writer.submit(readings(100, 50)))
    await asyncio.sleep(0.05)
    assert not blocked.done() and writer.stats().queue_depth == 100
    await writer.start()
    await blocked
    await writer.aclose()
    assert await count(store, path) == (150, 150)


async def test_outage_spills_and_replays(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    store, path = db
    writer = BatchWriter(
        store,
        tmp_path / "spill",
        max_batch=50,
        flush_interval=0.01,
        retry_initial=0.02,
        retry_max=0.1,
    )
    await writer.start()
    await store.disconnect()
    await locker.start()
    with pytest.raises(Unavailable):
        await store.ping()
    await writer.submit(readings(0, 120))
    rejected = [RejectedRow(7, from_us(T0_US), "zz", "", "{}", "unknown sensor")]
    await writer.submit(ReadingBatch.empty(), rejected)
    await writer.flush()
    stats = writer.stats()
    assert stats.spilled == 120 and stats.spill_pending and stats.stored == 0
    assert stats.lag_s > 0
    await locker.kill()
    await until(lambda: not writer.stats().spill_pending, "spill replayed")
    await writer.aclose()
    stats = writer.stats()
    assert (stats.replayed, stats.stored, stats.rejected) == (120, 120, 1)
    assert await count(store, path) == (120, 120)
    assert [r.id for r in await store.rejected()] == [7]
    assert list((tmp_path / "spill").glob("*.seg")) == []


async def test_leftover_spill_is_replayed_at_start(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    store, path = db
    spill = tmp_path / "spill"
    first = BatchWriter(store, spill, max_batch=40, flush_interval=0.01)
    await first.start()
    await store.disconnect()
    await locker.start()
    await first.submit(readings(0, 100))
    await first.aclose()  # the store is down: everything stays in the spill log
    assert first.stats().spilled == 100 and len(SpillLog(spill).segments()) >= 1
    await locker.kill()
    second = BatchWriter(store, spill, max_batch=40, flush_interval=0.01)
    assert second.stats().spill_pending
    await second.start()
    await until(lambda: not second.stats().spill_pending, "leftover spill replayed")
    await second.aclose()
    assert second.stats().replayed == 100 and await count(store, path) == (100, 100)


def test_torn_tail_is_kept_for_inspection(tmp_path: Path) -> None:
    log = SpillLog(tmp_path)
    log.append(readings(0, 5))
    log.append(readings(5, 5))
    segment = log.segments()[0]
    with segment.open("ab") as out:
        out.write(b"\x10\x00\x00\x00garbage")  # a crash mid-append
    got = list(log.read(segment))
    assert [len(b) for b in got] == [5, 5]
    assert got[1].value.tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert segment.with_name(segment.name + ".torn").read_bytes() == b"\x10\x00\x00\x00garbage"


async def test_kill_of_the_store_mid_ingest_loses_and_duplicates_nothing(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    """N distinct readings submitted in small chunks while the store is killed and
    brought back; at the end exactly N rows, all distinct."""
    store, path = db
    n, chunk = 6_000, 150
    writer = BatchWriter(
        store,
        tmp_path / "spill",
        max_batch=400,
        flush_interval=0.005,
        max_queue=2_000,
        retry_initial=0.01,
        retry_max=0.05,
    )
    await writer.start()

    async def produce(lo: int, hi: int) -> None:
        for i in range(lo, hi, chunk):
            await writer.submit(readings(i, min(chunk, hi - i)))
            await asyncio.sleep(0)

    await produce(0, n // 3)
    await writer.flush()  # a quiet instant so nothing reconnects before the lock is taken
    await store.disconnect()
    await locker.start()  # the store is down
    await produce(n // 3, 2 * n // 3)
    await writer.flush()
    assert writer.stats().spilled > 0
    killer = asyncio.create_task(locker.kill())  # the store returns while ingest goes on
    await produce(2 * n // 3, n)
    await killer
    await until(lambda: not writer.stats().spill_pending, "spill replayed")
    await writer.aclose()
    stats = writer.stats()
    assert stats.received == n and stats.stored >= n and stats.replayed >= stats.spilled > 0
    assert await count(store, path) == (n, n)
