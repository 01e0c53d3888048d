"""The asset-event writer on a real DuckDB store: a full queue holds the producer up and
loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.event_writer import EventWriter
from ingest.store import EventRow, ReadingsStore, StoreSettings, open_store

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class Counters:
    events_stored: int = 0
    event_queue_waits: int = 0
    event_store_errors: int = 0
    dead_letters: int = 0


@pytest.fixture
async def duck(tmp_path: Path) -> AsyncIterator[ReadingsStore]:
    store = await open_store(
        StoreSettings(backend="duckdb", path=tmp_path / "readings.duckdb", threads=1)
    )
    try:
        yield store
    finally:
        await store.aclose()


def _writer(store: ReadingsStore, counters: Counters, queue: int) -> EventWriter:
    return EventWriter(
        store.write_events,
        store.write_rejected,
        counters,
        queue=queue,
        batch=2,
        flush_s=0.01,
        close_timeout_s=5.0,
    )


def _event(i: int) -> EventRow:
    return EventRow(T0 + timedelta(seconds=i), "pump-101", "alarm", f'{{"n": {i}}}')


async def test_a_full_queue_makes_the_producer_wait_and_drops_nothing(
    duck: ReadingsStore,
) -> None:
    counters = Counters()
    writer = _writer(duck, counters, queue=3)  # not started: nothing leaves the queue
    for i in range(3):
        await writer.put(_event(i))
    fourth = asyncio.create_task(writer.put(_event(3)))
    await asyncio.sleep(0.05)
    assert not fourth.done() and counters.event_queue_waits == 1
    writer.start()
    async with asyncio.timeout(5):
        await fourth
        for i in range(4, 10):
            await writer.put(_event(i))
    await writer.aclose()
    stored = await duck.events(["pump-101"], T0, T0 + timedelta(minutes=1))
    assert sorted(e.payload for e in stored) == sorted(f'{{"n": {i}}}' for i in range(10))
    assert counters.events_stored == 10 and counters.dead_letters == 0


async def test_an_event_after_close_is_refused_with_a_clear_error(duck: ReadingsStore) -> None:
    writer = _writer(duck, Counters(), queue=3)
    writer.start()
    await writer.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await writer.put(_event(0))
