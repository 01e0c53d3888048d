"""MQTT messages -> readings and write outcomes (pure; the connector does the I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from graph.model import ActuatorBinding, SensorBinding
from graph.timeutil import utcnow
from ingest.connectors.base import WriteOutcome
from ingest.connectors.mqtt_codec import Telemetry, parse_data_payload
from ingest.reading import RawReading

__all__ = ["ack_outcome", "data_readings", "raw_text", "telemetry_readings"]


def raw_text(payload: object) -> str:
    """A payload as text for a dead letter: UTF-8, or hex when it is not."""
    if isinstance(payload, bytes | bytearray):
        try:
            return bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(payload).hex()
    return "" if payload is None else str(payload)


def _scaled(value: object, scale: float, offset: float) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return value * scale + offset
        except OverflowError:  # an integer beyond float: validation rejects it as is
            return value
    return value


def data_readings(
    binding: SensorBinding,
    asset_id: str,
    topic: str,
    text: str,
    source_id: str,
    received_at: datetime | None = None,
) -> list[RawReading]:
    """The readings of one ``.../data`` message (unreadable items keep their error);
    ``received_at``: when the message first arrived (default: now)."""
    now = received_at or utcnow()
    readings = []
    for item in parse_data_payload(text):
        meta: dict[str, object] = {"topic": topic}
        if item.error:
            meta["error"] = item.error
        readings.append(
            RawReading(
                sensor_id=binding.sensor_id,
                value=item.value
                if item.error
                else _scaled(item.value, binding.scale, binding.offset),
                timestamp=item.timestamp,
                asset_id=asset_id,
                unit=item.unit,
                quality=item.quality,
                metadata=meta,
                source=source_id,
                received_at=now,
                raw=item.raw or text,
            )
        )
    return readings


def telemetry_readings(
    by_field: Mapping[tuple[str, str], SensorBinding],
    asset_id: str,
    topic: str,
    text: str,
    telemetry: Telemetry,
    source_id: str,
    received_at: datetime | None = None,
) -> tuple[list[RawReading], list[str]]:
    """The readings of the bound fields of one telemetry message, and the unbound names."""
    now = received_at or utcnow()
    readings = []
    unbound = []
    for name, value in telemetry.values.items():
        binding = by_field.get((asset_id, name))
        if binding is None:
            unbound.append(name)
            continue
        readings.append(
            RawReading(
                sensor_id=binding.sensor_id,
                value=_scaled(value, binding.scale, binding.offset),
                timestamp=telemetry.timestamp,
                asset_id=asset_id,
                metadata={"topic": topic, "field": name},
                source=source_id,
                received_at=now,
                raw=text,
            )
        )
    return readings, unbound


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


def _applied(value: object, binding: ActuatorBinding) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        confirmed = float(value) * binding.scale + binding.offset
    except OverflowError:
        return None
    return confirmed if math.isfinite(confirmed) else None


def ack_outcome(
    ack: Mapping[str, object],
    binding: ActuatorBinding,
    requested: float,
    tolerance: float = 1e-6,
) -> WriteOutcome:
    """A device's ack -> outcome, confirmed like an OPC UA or Modbus read-back.

    ``ok`` only when the ack says ``"ok": true`` and its applied ``value`` (raw, scaled
    here) equals ``requested`` within ``tolerance`` (relative; 1e-9 absolute near 0). A
    missing or non-boolean ``ok``, a missing value and a different value all fail.
    """
    said = ack.get("ok")
    message = ack.get("message")
    text = message if isinstance(message, str) and message else ""
    note = f": {text}" if text else ""
    applied = ack.get("value")
    confirmed = _applied(applied, binding)
    if said is False:
        return WriteOutcome(False, confirmed, f"device refused{note or ': no reason given'}")
    if said is not True:
        return WriteOutcome(
            False, confirmed, f"ack without a boolean 'ok' (got {_short(said)}){note}"
        )
    if confirmed is None:
        return WriteOutcome(
            False, None, f"ack without a finite applied 'value' (got {_short(applied)}){note}"
        )
    if not math.isclose(confirmed, requested, rel_tol=tolerance, abs_tol=1e-9):
        return WriteOutcome(
            False, confirmed, f"device applied {confirmed:g}, requested {requested:g}{note}"
        )
    return WriteOutcome(True, confirmed, text or "acknowledged")
