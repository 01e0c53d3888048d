"""The live bus: every accepted batch, fanned out to subscribers (later: GraphQL
subscriptions). Publishing never waits: each subscriber has a bounded queue; when it
is full the oldest update is dropped and counted, and the subscriber receives a
``Missed(n)`` marker before its next update. A slow subscriber never slows ingest or
the other subscribers."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
        select = None if sensor_ids is None else _sensor_filter(sensor_ids)
        return super().subscribe(maxsize=maxsize, select=select, size=len)

    @staticmethod
    def retarget(sub: Subscription, sensor_ids: Iterable[str]) -> None:
        """From now on, give ``sub`` the updates of ``sensor_ids``."""
        sub.reselect(_sensor_filter(sensor_ids))

    def publish(self, batch: ReadingBatch) -> None:
        if len(batch):
            super().publish(batch)


def _sensor_filter(sensor_ids: Iterable[str]) -> Callable[[ReadingBatch], ReadingBatch | None]:
    """A hash lookup per reading (``np.isin`` on object arrays sorts both sides per
    batch and subscriber); the batch itself when every reading is wanted."""
    wanted = frozenset(sensor_ids)

    def select(batch: ReadingBatch) -> ReadingBatch | None:
        ids = batch.sensor_id.tolist()
        mask = np.fromiter(map(wanted.__contains__, ids), dtype=bool, count=len(ids))
        if mask.all():
            return batch
        return batch.take(mask) if mask.any() else None

    return select
