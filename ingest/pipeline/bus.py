"""The live bus: every accepted batch, fanned out to subscribers (later: GraphQL
subscriptions). Publishing never waits: each subscriber has a bounded queue; when it
is full the oldest update is dropped and counted, and the subscriber receives a
``Missed(n)`` marker before its next update. A slow subscriber never slows ingest or
the other subscribers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ingest.fanout import Fanout, FanoutSubscription, Missed
from ingest.store import ReadingBatch

__all__ = ["LiveBus", "Missed", "Subscription"]


Subscription = FanoutSubscription[ReadingBatch]


class LiveBus(Fanout[ReadingBatch]):
    """Accepted reading batches; a subscriber may ask for some sensors only."""

    def subscribe(  # type: ignore[override]
        self, sensor_ids: Iterable[str] | None = None, maxsize: int | None = None
    ) -> Subscription:
        """Updates for ``sensor_ids`` (all sensors when None); close it when done."""
        select = None
        if sensor_ids is not None:
            wanted = np.array(sorted(frozenset(sensor_ids)), dtype=object)

            def select(batch: ReadingBatch) -> ReadingBatch | None:
                picked = batch.take(np.isin(batch.sensor_id, wanted))
                return picked if len(picked) else None

        return super().subscribe(maxsize=maxsize, select=select, size=len)

    def publish(self, batch: ReadingBatch) -> None:
        if len(batch):
            super().publish(batch)
