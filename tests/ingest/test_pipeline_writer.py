"""The batching writer against a real DuckDB store: flush by size and interval,
backpressure, graceful shutdown, store-and-forward through a real outage (another
process holds the DuckDB file lock until it is killed), batches the store refuses
(dead letters, quarantine) and a writer that can neither write nor spill (the spill log
is gone): it reports a fault and recovers by itself."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import duckdb
import pytest

from graph.errors import Unavailable
from graph.timeutil import from_us
from ingest.pipeline import BatchWriter, SpillLog
from ingest.store import DuckDBStore, ReadingBatch, RejectedRow
from tests.support.polling import eventually

T0_US = 1_709_294_400_000_000
LOCKER = (
    "import sys, time, duckdb\n"
    "conn = duckdb.connect(sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)
# Waits for the lock (the store holds it while it is connected), then keeps it.
LOCK_WAITER = (
    "import sys, time, duckdb\n"
    "while True:\n"
    "    try:\n"
    "        conn = duckdb.connect(sys.argv[1])\n"
    "        break\n"
    "    except duckdb.IOException:\n"
    "        time.sleep(0.0005)\n"
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

    async def take_from(self, store: DuckDBStore) -> None:
        """Take the file lock from a store in use: a child waits for the lock while the
        store's connection is dropped again and again (each operation reconnects), until
        the child holds it between two of the store's operations."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCK_WAITER, str(self.path), stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        locked = asyncio.ensure_future(self.proc.stdout.readline())
        async with asyncio.timeout(30):
            while not locked.done():
                await store.disconnect()
                await asyncio.sleep(0.001)
        assert locked.result().strip() == b"locked"

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
    await eventually(
        lambda: writer.stats().stored == 200, within=20, what="two full batches flushed"
    )
    assert writer.stats().queue_depth == 50
    await writer.aclose()  # graceful shutdown flushes the rest
    assert writer.stats().stored == 250 and await count(store, path) == (250, 250)
    quick = BatchWriter(store, tmp_path / "spill", max_batch=10_000, flush_interval=0.02)
    await quick.start()
    await quick.submit(readings(250, 7))
    await eventually(lambda: quick.stats().stored == 7, within=20, what="flushed by interval")
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
    await eventually(lambda: not writer.stats().spill_pending, within=20, what="spill replayed")
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
    await eventually(
        lambda: not second.stats().spill_pending, within=20, what="leftover spill replayed"
    )
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
    await eventually(lambda: not writer.stats().spill_pending, within=20, what="spill replayed")
    await writer.aclose()
    stats = writer.stats()
    assert stats.received == n and stats.stored >= n and stats.replayed >= stats.spilled > 0
    assert await count(store, path) == (n, n)


def refused_batch(ts_us: int) -> ReadingBatch:
    """Two readings the store will never take: the first has no asset (DuckDB's NOT NULL
    constraint refuses the whole batch, a ConstraintException, not Unavailable)."""
    return ReadingBatch.from_columns(
        [ts_us, ts_us], ["bad1", "bad2"], [None, "a1"], [1.5, None], ["good", "missing"]
    )


async def test_a_refused_batch_goes_to_dead_letters_and_later_batches_are_stored(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, path = db
    writer = BatchWriter(store, tmp_path / "spill", max_batch=50, flush_interval=0.01)
    await writer.start()
    await writer.submit(readings(0, 30))
    await writer.flush()
    await writer.submit(refused_batch(T0_US))
    await writer.flush()
    await writer.submit(readings(30, 30))
    await writer.flush()
    stats = writer.stats()
    assert (stats.stored, stats.dead_lettered, stats.rejected, stats.store_errors) == (60, 2, 2, 1)
    assert not stats.spill_pending and stats.spilled == 0 and writer.fault is None
    await writer.aclose()
    assert await count(store, path) == (60, 60)
    dead = sorted(await store.rejected(limit=10), key=lambda r: r.sensor_id)
    assert [(r.sensor_id, r.asset_id) for r in dead] == [("bad1", ""), ("bad2", "a1")]
    assert all("refused" in r.reason and "NOT NULL" in r.reason for r in dead)
    raw = [json.loads(r.raw) for r in dead]
    assert [(x["ts_us"], x["value"], x["quality"]) for x in raw] == [
        (T0_US, 1.5, "good"),
        (T0_US, None, "missing"),
    ]
    assert raw[0]["timestamp"] == from_us(T0_US).isoformat()


async def test_replay_moves_a_refused_record_to_dead_letters_and_goes_on(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    store, path = db
    writer = BatchWriter(
        store, tmp_path / "spill", max_batch=40, flush_interval=0.01, retry_initial=0.02
    )
    await writer.start()
    await store.disconnect()
    await locker.start()
    await writer.submit(readings(0, 40))
    await writer.flush()
    await writer.submit(refused_batch(T0_US))
    await writer.flush()
    await writer.submit(readings(40, 40))
    await writer.flush()
    assert writer.stats().spilled == 82
    await locker.kill()
    await eventually(
        lambda: not writer.stats().spill_pending,
        within=20,
        what="spill replayed past the refused record",
    )
    await writer.aclose()
    stats = writer.stats()
    assert (stats.replayed, stats.stored, stats.dead_lettered) == (80, 80, 2)
    assert await count(store, path) == (80, 80)
    assert len(await store.rejected(limit=10)) == 2
    assert list((tmp_path / "spill").glob("*.seg")) == []


async def test_refused_rejected_rows_are_quarantined(
    db: tuple[DuckDBStore, Path], tmp_path: Path
) -> None:
    store, path = db
    spill = tmp_path / "spill"
    writer = BatchWriter(store, spill, max_batch=50, flush_interval=0.01)
    await writer.start()
    unstorable = RejectedRow(2**63, from_us(T0_US), "zz", "", "{}", "unknown sensor")  # > BIGINT
    await writer.submit(ReadingBatch.empty(), [unstorable])
    await writer.flush()
    await writer.submit(readings(0, 20), [RejectedRow(5, from_us(T0_US), "zz", "", "{}", "x")])
    await writer.aclose()
    stats = writer.stats()
    assert (stats.quarantined, stats.stored, stats.rejected) == (1, 20, 1)
    assert await count(store, path) == (20, 20)
    assert [r.id for r in await store.rejected()] == [5]
    quarantine = SpillLog(spill / "quarantine")
    kept = [record for seg in quarantine.segments() for record in quarantine.read(seg)]
    assert kept == [[unstorable]]
    assert SpillLog(spill).segments() == []  # never replayed as spill


async def test_a_writer_that_can_neither_write_nor_spill_faults_and_recovers(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    """The store is down and the spill log cannot be appended to (its directory is gone,
    a file in its place): ``fault`` says why, submit and flush raise Unavailable, the
    batch the task held is still queued; once both come back the writer retries by
    itself and writes it (no close, no restart)."""
    store, path = db
    spill = tmp_path / "spill"
    writer = BatchWriter(
        store, spill, max_batch=50, flush_interval=0.01, retry_initial=0.02, retry_max=0.1
    )
    await writer.start()
    await writer.submit(readings(0, 50))
    await writer.flush()
    await store.disconnect()
    await locker.start()
    shutil.rmtree(spill)
    spill.write_text("not a directory")
    await writer.submit(readings(50, 50))
    await eventually(lambda: writer.fault is not None, within=20, what="the writer's fault")
    assert writer.fault is not None and "NotADirectoryError" in writer.fault
    with pytest.raises(Unavailable, match="cannot write or spill"):
        await writer.submit(readings(100, 10))
    with pytest.raises(Unavailable, match="cannot write or spill"):
        await writer.flush()
    stats = writer.stats()
    assert (stats.received, stats.stored, stats.queue_depth) == (100, 50, 50)
    assert stats.fault == writer.fault and stats.faults >= 1
    spill.unlink()
    spill.mkdir()
    await locker.kill()
    await eventually(lambda: writer.fault is None, within=20, what="the fault clears by itself")
    await writer.flush()
    await eventually(lambda: not writer.stats().spill_pending, within=20, what="spill replayed")
    assert writer.stats().stored == 100 and writer.stats().queue_depth == 0
    await writer.aclose()
    assert await count(store, path) == (100, 100)


async def test_a_failed_writer_that_cannot_close_says_how_much_is_unwritten(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    store, _ = db
    spill = tmp_path / "spill"
    writer = BatchWriter(store, spill, max_batch=50, flush_interval=0.01)
    await writer.start()
    await store.disconnect()
    await locker.start()
    shutil.rmtree(spill)
    spill.write_text("not a directory")
    await writer.submit(readings(0, 30))
    await eventually(lambda: writer.fault is not None, within=20, what="the writer's fault")
    with pytest.raises(Unavailable, match="30 queued readings"):
        await writer.aclose()


async def test_store_lost_while_writes_are_in_flight_loses_and_duplicates_nothing(
    db: tuple[DuckDBStore, Path], locker: Locker, tmp_path: Path
) -> None:
    """No quiet instant: while readings stream in and batches are being written, another
    process takes the file lock from the store between two of its operations, so the
    write in progress fails on reconnecting; the store returns while ingest goes on.
    Every reading submitted is in the store exactly once."""
    store, path = db
    chunk = 100
    writer = BatchWriter(
        store,
        tmp_path / "spill",
        max_batch=300,
        flush_interval=0.002,
        max_queue=1_500,
        retry_initial=0.01,
        retry_max=0.05,
    )
    await writer.start()
    stop = asyncio.Event()

    async def produce() -> int:
        i = 0
        while not stop.is_set():
            await writer.submit(readings(i, chunk))
            i += chunk
            await asyncio.sleep(0.001)
        return i

    producer = asyncio.create_task(produce())
    await eventually(lambda: writer.stats().stored >= 1_000, within=20, what="ingest under way")
    await locker.take_from(store)  # the store is down, mid-ingest
    assert not producer.done()
    await eventually(
        lambda: writer.stats().spilled >= 1_000, within=20, what="batches spilled while down"
    )
    errors = writer.stats().store_errors
    assert errors > 0
    await locker.kill()  # the store returns while ingest goes on
    await eventually(
        lambda: writer.stats().replayed > 0, within=20, what="replay while ingest goes on"
    )
    stop.set()
    n = await producer
    await eventually(lambda: not writer.stats().spill_pending, within=20, what="spill replayed")
    await writer.aclose()
    stats = writer.stats()
    assert stats.received == n and stats.stored >= n and stats.replayed >= stats.spilled > 0
    assert stats.dead_lettered == 0 and writer.fault is None
    assert await count(store, path) == (n, n)
