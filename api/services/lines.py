"""Production lines in the graph: their stations in flow order.

Contract: ``flow_order(line_id, stations, feeds) -> list[str]``: the station ids along the
line's FEEDS chain, first to last. ``feeds`` maps an asset id to the ids it FEEDS; a
station feeds the next directly or through one asset between them (a buffer). Lines
must be serial: a station feeding two stations, several starts or a loop is a coded
``VALIDATION`` error naming the line. Pure; the OEE service and the line simulation
(``api.services.simulation.fit``) both order their stations with it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from graph.errors import ValidationError

__all__ = ["flow_order"]


def flow_order(
    line_id: str, stations: Collection[str], feeds: Mapping[str, Collection[str]]
) -> list[str]:
    station_ids = set(stations)

    def next_station(sid: str) -> str | None:
        found: set[str] = set()
        for t in feeds.get(sid, ()):
            if t in station_ids:
                found.add(t)
            else:  # a buffer (or other asset) between two stations
                found |= {u for u in feeds.get(t, ()) if u in station_ids}
        if len(found) > 1:
            raise ValidationError(
                f"station {sid} feeds several stations ({', '.join(sorted(found))}): "
                "only serial lines are supported"
            )
        return next(iter(found), None)

    after = {sid: next_station(sid) for sid in station_ids}
    heads = station_ids - {n for n in after.values() if n}
    if len(heads) != 1:
        raise ValidationError(
            f"the stations of line {line_id} must form one FEEDS chain "
            f"(station -> buffer -> station); found {len(heads)} starts",
            details={"starts": sorted(heads)},
        )
    order = [heads.pop()]
    while (n := after[order[-1]]) is not None:
        if n in order:
            raise ValidationError(f"the FEEDS chain of line {line_id} loops at {n}")
        order.append(n)
    if len(order) != len(station_ids):
        raise ValidationError(f"stations of line {line_id} are not all on one FEEDS chain")
    return order
