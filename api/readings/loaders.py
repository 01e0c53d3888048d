"""Per-request DataLoaders of the readings path: a query costs a bounded number of
readings-store round trips, whatever the number of sensors or assets it touches.

- ``latest``: sensor id -> newest reading. Served from the pipeline's in-memory
  ``LatestCache`` (warmed at start, updated by every accepted batch); the misses of one
  tick go to the store in ONE ``store.latest`` call.
- ``history``: (sensor id, window) -> series. Keys sharing a window are ONE
  ``store.history`` call (downsampled in the store when the window has a bucket).
- ``summary``: (asset id, start, end, include_bad) -> the summaries of the asset's
  sensors. Assets sharing a window are ONE ``store.summary`` call.

``STORE_CALLS`` counts the store calls these loaders make, by method, so tests and
operators can see the batching work (it counts calls, it does not time them).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from strawberry.dataloader import DataLoader

from api.context import Context
from api.readings.window import Window
from graph.model import Sensor
from ingest.store import LatestValue, Series, Summary

__all__ = [
    "STORE_CALLS",
    "HistoryKey",
    "SummaryKey",
    "history_loader",
    "latest_loader",
    "summary_loader",
]

STORE_CALLS: Counter[str] = Counter()

HistoryKey = tuple[str, Window]
SummaryKey = tuple[str, datetime, datetime, bool]


def latest_loader(ctx: Context) -> DataLoader[str, LatestValue | None]:
    services = ctx.services

    async def load(keys: Sequence[str]) -> list[LatestValue | None]:
        ids = list(dict.fromkeys(keys))
        found = services.ingest.latest.get_many(ids)
        misses = [k for k in ids if k not in found]
        if misses:
            STORE_CALLS["latest"] += 1
            found.update(await services.readings.latest(misses))
        return [found.get(k) for k in keys]

    return ctx.loader("readings.latest", lambda: DataLoader(load))


def history_loader(ctx: Context) -> DataLoader[HistoryKey, Series]:
    services = ctx.services

    async def fetch(window: Window, ids: list[str]) -> dict[str, Series]:
        STORE_CALLS["history"] += 1
        return await services.readings.history(
            ids,
            window.start,
            window.end,
            bucket=window.bucket,
            aggregate=window.aggregate,
            fill=window.fill,
            include_bad=window.include_bad,
        )

    async def load(keys: Sequence[HistoryKey]) -> list[Series]:
        groups: dict[Window, list[str]] = defaultdict(list)
        for sid, window in keys:
            groups[window].append(sid)
        windows = list(groups)
        results = await asyncio.gather(*(fetch(w, list(dict.fromkeys(groups[w]))) for w in windows))
        by_window = dict(zip(windows, results, strict=True))
        return [by_window[window][sid] for sid, window in keys]

    return ctx.loader("readings.history", lambda: DataLoader(load))


def summary_loader(ctx: Context) -> DataLoader[SummaryKey, list[tuple[Sensor, Summary]]]:
    services = ctx.services

    async def fetch(window: tuple[datetime, datetime, bool], ids: list[str]) -> dict[str, Summary]:
        STORE_CALLS["summary"] += 1
        start, end, include_bad = window
        return await services.readings.summary(ids, start, end, include_bad=include_bad)

    async def load(keys: Sequence[SummaryKey]) -> list[list[tuple[Sensor, Summary]]]:
        asset_ids = list(dict.fromkeys(k[0] for k in keys))
        sensor_lists = await ctx.loaders.sensors_of.load_many(asset_ids)
        sensors_of = dict(zip(asset_ids, sensor_lists, strict=True))
        groups: dict[tuple[datetime, datetime, bool], list[str]] = defaultdict(list)
        for asset_id, start, end, bad in keys:
            groups[(start, end, bad)].extend(s.id for s in sensors_of[asset_id])
        windows = [w for w, ids in groups.items() if ids]
        results = await asyncio.gather(*(fetch(w, list(dict.fromkeys(groups[w]))) for w in windows))
        by_window: dict[Any, dict[str, Summary]] = dict(zip(windows, results, strict=True))
        return [
            [(s, by_window[(start, end, bad)][s.id]) for s in sensors_of[asset_id]]
            for asset_id, start, end, bad in keys
        ]

    return ctx.loader("readings.summary", lambda: DataLoader(load))
