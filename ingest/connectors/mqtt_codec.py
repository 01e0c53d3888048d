"""MQTT topic scheme and payload parsing (pure).

Topics::

    assets/{asset}/sensors/{sensor}/data       one value, one object or an array of objects
    assets/{asset}/telemetry                   several sensors in one message
    assets/{asset}/events/{kind}               free-form event, stored as-is
    assets/{asset}/actuators/{actuator}/set    command (twinql publishes)
    assets/{asset}/actuators/{actuator}/ack    acknowledgement (the device publishes)

``.../data`` payloads: ``12.5``, ``{"value": 12.5, "timestamp": ..., "unit": ...,
"quality": ...}`` or a JSON array of such objects. ``.../telemetry`` payloads:
``{"timestamp": ..., "values": {"field": 1.0, ...}}`` or a flat ``{"field": 1.0, ...}``
(a ``timestamp`` key in the flat form is the message timestamp). Timestamps are RFC 3339
strings or epoch milliseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ingest import jsonbounded
from ingest.reading import Quality

__all__ = [
    "DataItem",
    "PayloadError",
    "Telemetry",
    "TopicKind",
    "TopicRef",
    "ack_topic",
    "command_topic",
    "parse_data_payload",
    "parse_quality",
    "parse_telemetry_payload",
    "parse_timestamp",
    "parse_topic",
    "subscription_filters",
]


class PayloadError(ValueError):
    """A payload that cannot be read; the message is the reason kept with the raw text."""


class TopicKind(StrEnum):
    DATA = "data"
    TELEMETRY = "telemetry"
    EVENT = "event"
    COMMAND = "command"
    ACK = "ack"


@dataclass(frozen=True, slots=True)
class TopicRef:
    kind: TopicKind
    asset_id: str
    name: str | None = None  # sensor, event kind or actuator


def parse_topic(topic: str) -> TopicRef | None:
    """The meaning of a topic of the scheme, or None for anything else."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "assets" or not parts[1]:
        return None
    asset = parts[1]
    match parts[2:]:
        case ["telemetry"]:
            return TopicRef(TopicKind.TELEMETRY, asset)
        case ["sensors", sensor, "data"] if sensor:
            return TopicRef(TopicKind.DATA, asset, sensor)
        case ["events", kind] if kind:
            return TopicRef(TopicKind.EVENT, asset, kind)
        case ["actuators", actuator, "set"] if actuator:
            return TopicRef(TopicKind.COMMAND, asset, actuator)
        case ["actuators", actuator, "ack"] if actuator:
            return TopicRef(TopicKind.ACK, asset, actuator)
    return None


def command_topic(asset_id: str, actuator: str) -> str:
    return f"assets/{asset_id}/actuators/{actuator}/set"


def ack_topic(asset_id: str, actuator: str) -> str:
    return f"assets/{asset_id}/actuators/{actuator}/ack"


def subscription_filters(
    sensor_assets: Iterable[str],
    actuator_assets: Iterable[str],
    *,
    shared_group: str | None = None,
    events: bool = False,
) -> list[str]:
    """Topic filters for the bound assets.

    Reading topics may be shared (``$share/{group}/...``) so several twinql instances
    split the load; ack topics never are: the ack must reach the instance that wrote.
    """
    prefix = f"$share/{shared_group}/" if shared_group else ""
    filters: list[str] = []
    for asset in sorted(set(sensor_assets)):
        filters.append(f"{prefix}assets/{asset}/sensors/+/data")
        filters.append(f"{prefix}assets/{asset}/telemetry")
        if events:
            filters.append(f"{prefix}assets/{asset}/events/+")
    filters.extend(f"assets/{asset}/actuators/+/ack" for asset in sorted(set(actuator_assets)))
    return filters


def parse_timestamp(value: object) -> datetime:
    """RFC 3339 string or epoch milliseconds -> aware UTC datetime."""
    if isinstance(value, bool):
        raise PayloadError(f"timestamp must be RFC 3339 or epoch ms, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise PayloadError(f"timestamp must be finite, got {value!r}")
        try:
            return datetime.fromtimestamp(value / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(f"timestamp {value!r} is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise PayloadError(f"timestamp {value!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"timestamp {value!r} has no UTC offset")
        return parsed.astimezone(UTC)
    raise PayloadError(f"timestamp must be RFC 3339 or epoch ms, got {value!r}")


_QUALITY_ALIASES = {"uncertain": Quality.SUSPECT}
_QUALITY_NAMES = frozenset(q.value for q in Quality)


def parse_quality(value: object) -> Quality:
    if isinstance(value, str):
        name = value.strip().lower()
        if name in _QUALITY_ALIASES:
            return _QUALITY_ALIASES[name]
        if name in _QUALITY_NAMES:
            return Quality(name)
    names = ", ".join(q.value for q in Quality)
    raise PayloadError(f"quality must be one of {names}, got {value!r}")


@dataclass(frozen=True, slots=True)
class DataItem:
    """One value of a ``.../data`` message; ``error`` set when the item is unreadable."""

    value: object
    timestamp: datetime | None = None
    unit: str | None = None
    quality: Quality | None = None
    error: str | None = None
    raw: str | None = None  # the item's own JSON when the message held several


def _loads(text: str) -> object:
    try:
        return jsonbounded.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _number(value: object) -> object:
    """Booleans become 0/1; everything else stays as received (validation decides)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return value


def _item(obj: object, many: bool) -> DataItem:
    raw = json.dumps(obj) if many else None
    if not isinstance(obj, dict):
        if isinstance(obj, int | float | bool) or obj is None:
            return DataItem(_number(obj), raw=raw)
        return DataItem(obj, error=f"expected a number or an object, got {obj!r}", raw=raw)
    if "value" not in obj:
        return DataItem(json.dumps(obj), error="object has no 'value'", raw=raw)
    try:
        ts = parse_timestamp(obj["timestamp"]) if obj.get("timestamp") is not None else None
        quality = parse_quality(obj["quality"]) if obj.get("quality") is not None else None
        unit = obj.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise PayloadError(f"unit must be a string, got {unit!r}")
    except PayloadError as exc:
        return DataItem(json.dumps(obj), error=str(exc), raw=raw)
    return DataItem(_number(obj["value"]), ts, unit, quality, raw=raw)


def parse_data_payload(text: str) -> list[DataItem]:
    """Items of a ``.../data`` message; a message that is not JSON is one bad item."""
    try:
        doc = _loads(text)
    except PayloadError as exc:
        return [DataItem(text, error=str(exc))]
    if isinstance(doc, list):
        if not doc:
            return [DataItem(text, error="empty array")]
        return [_item(obj, True) for obj in doc]
    return [_item(doc, False)]


@dataclass(frozen=True, slots=True)
class Telemetry:
    timestamp: datetime | None
    values: dict[str, object]


def parse_telemetry_payload(text: str) -> Telemetry:
    """Fields of a ``.../telemetry`` message; raises PayloadError when unreadable."""
    doc = _loads(text)
    if not isinstance(doc, dict):
        raise PayloadError("telemetry must be a JSON object")
    ts_raw = doc.get("timestamp")
    ts = parse_timestamp(ts_raw) if ts_raw is not None else None
    if "values" in doc:
        values = doc["values"]
        if not isinstance(values, dict):
            raise PayloadError("telemetry 'values' must be an object of field -> number")
    else:
        values = {k: v for k, v in doc.items() if k != "timestamp"}
    if not values:
        raise PayloadError("telemetry holds no values")
    return Telemetry(ts, {str(k): _number(v) for k, v in values.items()})
