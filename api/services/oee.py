"""OEE of a station or a line over a window: graph and readings in, ``analytics.oee`` out.

Contract: ``OeeService.oee(asset_id, start, end)`` returns ``StationOee`` for a station
and ``LineOee`` for a line (``analytics.oee``); NOT_FOUND for an unknown asset,
VALIDATION for an asset that is neither, or a window outside ``(0, MAX_WINDOW]``.

**What is read from the graph.** A *station* is an asset with a station spec (plant
file ``station:``) or an ``ideal_cycle_s`` metadata entry, and these sensors, by kind:
``state`` (the machine state codes), ``counter`` (cumulative parts made), optionally
``good_counter`` or ``reject_counter``. Its ideal cycle time is the metadata's
``ideal_cycle_s``, else the station spec's ``cycle_time_s``. Its state codes are the
demo line's (0 idle, 1 running, 2 blocked, 3 failed) unless the metadata's
``state_codes`` names them (``"0 idle, 1 running, 2 blocked, 3 failed"``; words:
running, idle, blocked, starved, down or failed, setup, planned_stop). A station that
something ``FEEDS`` (it has an upstream) waits for parts when idle: its idle codes count
as *starved*. A *line* is an asset whose children include stations; their flow order is
the ``FEEDS`` chain among the children (station -> buffer -> station).

**What is read from the store.** The raw good/suspect readings of those sensors over
``[start - max_gap, end + max_gap)``, so the state in force at ``start`` and the counter
samples around both ends are seen; they are counted first (``summary``) and more than
``MAX_SAMPLES`` is refused (VALIDATION: a shorter window). The arithmetic runs in a
worker thread.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analytics.oee import CATEGORIES, LineOee, Series, StateCodes, StationOee, line_oee, station_oee
from api.services.lines import flow_order
from graph.bolt.assets import AssetRepository
from graph.bolt.devices import DeviceRepository
from graph.bolt.topology import TopologyRepository
from graph.errors import ValidationError
from graph.model import Asset, Sensor
from ingest.store import ReadingsStore

__all__ = ["MAX_WINDOW", "OeeService", "StationSource", "parse_state_codes"]

MAX_WINDOW = timedelta(days=31)
MAX_STATIONS = 100
MAX_SAMPLES = 20_000_000  # raw readings read for one answer (counted first, in the store)
STATE, TOTAL, GOOD, REJECTS = "state", "counter", "good_counter", "reject_counter"
_WORDS = {"failed": "down", "down": "down", "planned": "planned_stop"}
_CODE = re.compile(r"^\s*(-?\d+)\s*[:=]?\s*([a-z_ ]+?)\s*$")


def parse_state_codes(text: str, *, starved: bool = False) -> StateCodes:
    """``"0 idle, 1 running, 2 blocked, 3 failed"`` -> ``StateCodes``; with ``starved``,
    idle codes count as starved (the station waits for parts from upstream)."""
    by: dict[str, list[int]] = {c: [] for c in CATEGORIES}
    for part in text.split(","):
        m = _CODE.match(part.lower())
        word = m.group(2).strip().replace(" ", "_") if m else ""
        category = _WORDS.get(word, word)
        if m is None or category not in by:
            raise ValidationError(
                f"state_codes: cannot read {part.strip()!r} (use e.g. '0 idle, 1 running, "
                f"2 blocked, 3 failed'; categories {', '.join(CATEGORIES)} or failed)",
                path="state_codes",
            )
        by[category].append(int(m.group(1)))
    return _codes(by, starved)


def _codes(by: dict[str, list[int]], starved: bool) -> StateCodes:
    if starved:
        by = {**by, "starved": [*by["starved"], *by["idle"]], "idle": []}
    return StateCodes(**{k: tuple(v) for k, v in by.items()})


_DEMO = {"running": [1], "idle": [0], "blocked": [2], "down": [3]}


@dataclass(frozen=True, slots=True)
class StationSource:
    """Where a station's figures come from: its sensors, ideal cycle and state codes."""

    station_id: str
    ideal_cycle_s: float
    codes: StateCodes
    state: str
    total: str
    good: str | None = None
    rejects: str | None = None


class OeeService:
    """OEE of stations and lines from the graph and the readings store."""

    def __init__(
        self,
        assets: AssetRepository,
        devices: DeviceRepository,
        topology: TopologyRepository,
        readings: ReadingsStore,
        *,
        max_gap_s: float = 300.0,
    ) -> None:
        self._assets = assets
        self._devices = devices
        self._topology = topology
        self._readings = readings
        self.max_gap_s = max_gap_s

    async def oee(self, asset_id: str, start: datetime, end: datetime) -> StationOee | LineOee:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValidationError("from and to need a time zone", path="from")
        if not timedelta(0) < end - start <= MAX_WINDOW:
            raise ValidationError(f"the window must be positive and at most {MAX_WINDOW.days} days")
        asset = await self._assets.get(asset_id)
        specs = await self._assets.specs([asset.id])
        if _is_station(asset, specs.get(asset.id, {})):
            feeds = await self._feeds([asset.id])
            fed = any(asset.id in targets for targets in feeds.values())
            (source,) = await self._sources([asset], specs, {asset.id: fed})
            return await self._compute(asset.id, [source], start, end, line=False)
        children = (await self._assets.children_of([asset.id])).get(asset.id, [])
        child_specs = await self._assets.specs([c.id for c in children])
        stations = {c.id: c for c in children if _is_station(c, child_specs.get(c.id, {}))}
        if not stations:
            raise ValidationError(
                f"asset {asset.id} is neither a station (a station spec or ideal_cycle_s "
                "metadata) nor a line with stations among its children"
            )
        if len(stations) > MAX_STATIONS:
            raise ValidationError(f"a line of more than {MAX_STATIONS} stations")
        order = flow_order(asset.id, set(stations), await self._feeds([c.id for c in children]))
        upstream = {sid: i > 0 for i, sid in enumerate(order)}
        sources = await self._sources([stations[s] for s in order], child_specs, upstream)
        return await self._compute(asset.id, sources, start, end, line=True)

    async def _feeds(self, ids: list[str]) -> dict[str, set[str]]:
        feeds: dict[str, set[str]] = {}
        for edges in (await self._topology.relations_of(ids)).values():
            for e in edges:
                if e.type == "FEEDS":
                    feeds.setdefault(e.source, set()).add(e.target)
        return feeds

    async def _sources(
        self,
        stations: list[Asset],
        specs: dict[str, dict[str, dict[str, object]]],
        upstream: dict[str, bool],
    ) -> list[StationSource]:
        sensors = await self._devices.sensors_of([s.id for s in stations])
        return [
            _source(s, specs.get(s.id, {}), sensors.get(s.id, []), upstream[s.id]) for s in stations
        ]

    async def _compute(
        self,
        asset_id: str,
        sources: list[StationSource],
        start: datetime,
        end: datetime,
        *,
        line: bool,
    ) -> StationOee | LineOee:
        gap = timedelta(seconds=self.max_gap_s)
        ids = [i for s in sources for i in (s.state, s.total, s.good, s.rejects) if i]
        counted = await self._readings.summary(ids, start - gap, end + gap)
        samples = sum(c.count for c in counted.values())
        if samples > MAX_SAMPLES:
            raise ValidationError(
                f"{samples:,} readings in the window, more than {MAX_SAMPLES:,}: ask for a "
                "shorter window (or a station rather than the whole line)",
                path="from",
            )
        history = await self._readings.history(ids, start - gap, end + gap)
        series = {sid: (h.times / 1e6, h.values) for sid, h in history.items()}
        t0, t1 = start.timestamp(), end.timestamp()

        def work() -> StationOee | LineOee:
            results = [_station(s, series, t0, t1, self.max_gap_s) for s in sources]
            return line_oee(asset_id, results) if line else results[0]

        return await asyncio.to_thread(work)


def _is_station(asset: Asset, spec: dict[str, Any]) -> bool:
    return bool(spec.get("station")) or "ideal_cycle_s" in asset.metadata


def _source(
    asset: Asset, spec: dict[str, Any], sensors: list[Sensor], upstream: bool
) -> StationSource:
    by_kind: dict[str, list[str]] = {}
    for s in sorted(sensors, key=lambda s: s.id):
        by_kind.setdefault(s.kind, []).append(s.id)
    missing = [k for k in (STATE, TOTAL) if not by_kind.get(k)]
    if missing:
        raise ValidationError(
            f"station {asset.id} has no sensor of kind {' or '.join(missing)} "
            "(OEE needs a state and a counter sensor)"
        )
    for kind in (STATE, TOTAL, GOOD, REJECTS):
        if len(by_kind.get(kind, [])) > 1:
            raise ValidationError(f"station {asset.id} has several {kind} sensors")
    if by_kind.get(GOOD) and by_kind.get(REJECTS):
        raise ValidationError(f"station {asset.id} has both a good and a reject counter")
    raw = asset.metadata.get("ideal_cycle_s", (spec.get("station") or {}).get("cycle_time_s"))
    try:
        ideal = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(
            f"station {asset.id}: ideal cycle time {raw!r} is no number"
        ) from None
    text = asset.metadata.get("state_codes")
    codes = (
        parse_state_codes(text, starved=upstream)
        if isinstance(text, str)
        else _codes({c: list(_DEMO.get(c, [])) for c in CATEGORIES}, upstream)
    )
    return StationSource(
        station_id=asset.id,
        ideal_cycle_s=ideal,
        codes=codes,
        state=by_kind[STATE][0],
        total=by_kind[TOTAL][0],
        good=next(iter(by_kind.get(GOOD, [])), None),
        rejects=next(iter(by_kind.get(REJECTS, [])), None),
    )


def _station(
    s: StationSource,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    start: float,
    end: float,
    max_gap_s: float,
) -> StationOee:
    def get(sid: str | None) -> Series | None:
        return None if sid is None else Series(*series[sid])

    total = get(s.total)
    states = get(s.state)
    assert total is not None and states is not None
    return station_oee(
        s.station_id,
        s.ideal_cycle_s,
        states,
        total,
        start=start,
        end=end,
        good=get(s.good),
        rejects=get(s.rejects),
        codes=s.codes,
        max_gap_s=max_gap_s,
    )
