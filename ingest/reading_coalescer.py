"""Connector readings, coalesced into pipeline batches.

Every connector hands its readings to ``put()``; one background task passes what
gathered to the pipeline at most once per ``linger_s``, so many small device messages
become one validated batch, one store write and one live-bus update. The queue is
bounded: ``put()`` waits while ``max_pending`` readings are queued, which holds up the
connector (an MQTT connector then stops reading its socket). A batch the pipeline
refuses becomes rejected rows, with each reading's raw payload and the reason.

``put()`` returns a future that resolves once the batch holding those readings was
taken by the sink (with a durable sink, once the readings are durable) or kept as
rejected rows; it fails with ``Unavailable`` when the pipeline could not make them
durable (a writer fault, a closing writer): an MQTT connector then leaves the messages
unacknowledged for the broker to deliver again, so they are not dead-lettered.

A sink may return a future of durability instead of waiting for it (the pipeline
validates, publishes live and queues at once; the writer commits later): the next
batch is then taken while the previous one is being made durable, and each batch's
``put()`` future follows its own durability future. With ``linger_s`` 0 a batch is
whatever gathered while the previous one was being taken.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from graph.errors import Unavailable
from graph.timeutil import utcnow
from ingest.reading import RawReading
from ingest.store import RejectedRow, rejected_id

__all__ = ["PipelineSink", "ReadingCoalescer"]

log = logging.getLogger("twinql.ingest.manager")

# Takes a batch; returns None once it is taken (durable, for a durable sink), or a future
# that resolves once the taken batch is durable.
PipelineSink = Callable[[list[RawReading]], Awaitable["asyncio.Future[None] | None"]]
RejectSink = Callable[[list[RejectedRow]], Awaitable[None]]


def _retrieved(fut: asyncio.Future[None]) -> None:
    """Connectors that acknowledge nothing never await the future: no "never retrieved"."""
    if not fut.cancelled():
        fut.exception()


def _settle(done: asyncio.Future[None], exc: BaseException | None = None) -> None:
    """Resolve a batch's future, unless a waiter gave it up (cancelled) already."""
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


class ReadingCoalescer:
    def __init__(
        self,
        sink: PipelineSink,
        reject: RejectSink,
        *,
        max_pending: int,
        linger_s: float,
        close_timeout_s: float,
    ) -> None:
        self._sink = sink
        self._reject = reject
        self._max_pending = max_pending
        self._linger_s = linger_s
        self._close_timeout_s = close_timeout_s
        self._pending: list[RawReading] = []
        self._done: asyncio.Future[None] | None = None  # of the readings in _pending
        self._cond = asyncio.Condition()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Future[None]] = set()  # durability of taken batches

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="twinql-readings")

    async def put(self, raws: list[RawReading]) -> asyncio.Future[None]:
        """Queue readings (waits while ``max_pending`` are queued); the future says when
        the sink has them (see the module docstring)."""
        async with self._cond:
            await self._cond.wait_for(lambda: len(self._pending) < self._max_pending)
            self._pending.extend(raws)
            if self._done is None:
                self._done = asyncio.get_running_loop().create_future()
                self._done.add_done_callback(_retrieved)
            done = self._done
            self._cond.notify_all()
        return done

    async def aclose(self) -> None:
        """Hand over what is queued (within ``close_timeout_s``), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        async with self._cond:
            self._stopping = True
            self._cond.notify_all()
        try:
            async with asyncio.timeout(self._close_timeout_s):
                await task
                if self._settling:
                    await asyncio.wait(set(self._settling))
        except TimeoutError:
            log.error("the readings queue did not drain within %gs", self._close_timeout_s)

    async def _drain(self) -> None:
        while True:
            async with self._cond:
                await self._cond.wait_for(lambda: bool(self._pending) or self._stopping)
                if self._stopping:
                    break
            if self._linger_s:
                await asyncio.sleep(self._linger_s)
            await self._flush()
        await self._flush()

    async def _flush(self) -> None:
        async with self._cond:
            batch, self._pending = self._pending, []
            done, self._done = self._done, None
            self._cond.notify_all()
        if not batch:
            return
        assert done is not None
        try:
            durable = await self._sink(batch)
        except asyncio.CancelledError:
            done.cancel()
            raise
        except Unavailable as exc:  # not durable: an acknowledging source sends them again
            log.error("pipeline unavailable, %d readings not taken: %s", len(batch), exc)
            _settle(done, exc)
            return
        except Exception as exc:  # keep the readings: they become rejected rows
            log.warning("pipeline refused %d readings: %r", len(batch), exc)
            await self._keep_refused(batch, exc)
            _settle(done)
            return
        if durable is None:
            _settle(done)
            return
        self._settling.add(durable)
        durable.add_done_callback(partial(self._settled, done, len(batch)))

    def _settled(self, done: asyncio.Future[None], n: int, durable: asyncio.Future[None]) -> None:
        """A taken batch is durable (or cannot be made so): its ``put()`` futures say it."""
        self._settling.discard(durable)
        if done.done():
            return
        if durable.cancelled():
            done.cancel()
            return
        exc = durable.exception()
        if exc is None:
            done.set_result(None)
            return
        log.error("pipeline unavailable, %d readings not made durable: %s", n, exc)
        if not isinstance(exc, Unavailable):
            exc = Unavailable(f"readings not made durable: {exc!r}")
        done.set_exception(exc)

    async def _keep_refused(self, batch: list[RawReading], exc: Exception) -> None:
        now = utcnow()
        rows = []
        for k, r in enumerate(batch):
            raw = r.raw if r.raw is not None else json.dumps(r.value, default=str)
            reason = f"{r.source or 'connector'}: pipeline refused the batch: {exc!r}"
            received = r.received_at or now
            rows.append(
                RejectedRow(
                    id=rejected_id("refused", r.sensor_id, raw, reason, received.isoformat(), k),
                    received_at=received,
                    sensor_id=r.sensor_id,
                    asset_id=r.asset_id or "",
                    raw=raw,
                    reason=reason,
                )
            )
        try:
            await self._reject(rows)
        except Exception:
            log.exception("cannot keep %d refused readings: %r", len(rows), rows[:10])
