"""Conversions between graph rows (scalars only) and domain types."""

from __future__ import annotations

import json
from typing import Any

from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    DataSource,
    MaintenanceEvent,
    Sensor,
    SensorBinding,
    WorkOrder,
)
from graph.timeutil import iso, parse_iso

Row = dict[str, Any]


def dump_map(value: dict[str, object] | None) -> str | None:
    """Neo4j stores no maps: free-form metadata is serialised JSON."""
    if not value:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def load_map(text: str | None) -> dict[str, object]:
    return json.loads(text) if text else {}


def asset_row(a: Asset) -> Row:
    return {
        "id": a.id,
        "name": a.name,
        "type": a.type,
        "level": a.level.value,
        "description": a.description,
        "lat": a.lat,
        "lon": a.lon,
        "metadata": dump_map(a.metadata),
        "parent": a.parent_id,
    }


def asset_from(row: Row) -> Asset:
    return Asset(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        level=row["level"],
        parent_id=row.get("parentId"),
        description=row.get("description") or "",
        lat=row.get("lat"),
        lon=row.get("lon"),
        metadata=load_map(row.get("metadata")),
        created_at=parse_iso(row.get("createdAt")),
        updated_at=parse_iso(row.get("updatedAt")),
    )


def sensor_row(s: Sensor) -> Row:
    return {
        "id": s.id,
        "assetId": s.asset_id,
        "name": s.name,
        "kind": s.kind,
        "unit": s.unit,
        "minValue": s.min_value,
        "maxValue": s.max_value,
        "samplingRateSeconds": s.sampling_rate_seconds,
        "warnLow": s.warn_low,
        "warnHigh": s.warn_high,
        "failLow": s.fail_low,
        "failHigh": s.fail_high,
    }


def sensor_from(row: Row) -> Sensor:
    return Sensor(
        id=row["id"],
        asset_id=row["assetId"],
        name=row["name"],
        kind=row["kind"],
        unit=row["unit"] or "",
        min_value=row.get("minValue"),
        max_value=row.get("maxValue"),
        sampling_rate_seconds=row.get("samplingRateSeconds"),
        warn_low=row.get("warnLow"),
        warn_high=row.get("warnHigh"),
        fail_low=row.get("failLow"),
        fail_high=row.get("failHigh"),
    )


def actuator_row(x: Actuator) -> Row:
    return {
        "id": x.id,
        "assetId": x.asset_id,
        "name": x.name,
        "unit": x.unit,
        "minValue": x.min_value,
        "maxValue": x.max_value,
    }


def actuator_from(row: Row) -> Actuator:
    return Actuator(
        id=row["id"],
        asset_id=row["assetId"],
        name=row["name"],
        unit=row["unit"] or "",
        min_value=row["minValue"],
        max_value=row["maxValue"],
    )


def source_row(d: DataSource) -> Row:
    return {
        "id": d.id,
        "protocol": d.protocol.value,
        "endpoint": d.endpoint,
        "name": d.name,
        "settings": dump_map(d.settings),
    }


def source_from(row: Row) -> DataSource:
    return DataSource(
        id=row["id"],
        protocol=row["protocol"],
        endpoint=row["endpoint"],
        name=row.get("name") or "",
        settings=load_map(row.get("settings")),
    )


def sensor_binding_row(b: SensorBinding) -> Row:
    return {
        "sourceId": b.source_id,
        "sensorId": b.sensor_id,
        "address": b.address,
        "scale": b.scale,
        "offset": b.offset,
        "dataType": b.data_type,
    }


def sensor_binding_from(row: Row) -> SensorBinding:
    scale = row.get("scale")
    return SensorBinding(
        source_id=row["sourceId"],
        sensor_id=row["sensorId"],
        address=row["address"],
        scale=scale if scale is not None else 1.0,
        offset=row.get("offset") or 0.0,
        data_type=row.get("dataType") or "float32",
    )


def actuator_binding_row(b: ActuatorBinding) -> Row:
    return {
        "sourceId": b.source_id,
        "actuatorId": b.actuator_id,
        "address": b.address,
        "dataType": b.data_type,
        "scale": b.scale,
        "offset": b.offset,
    }


def actuator_binding_from(row: Row) -> ActuatorBinding:
    scale = row.get("scale")
    return ActuatorBinding(
        source_id=row["sourceId"],
        actuator_id=row["actuatorId"],
        address=row["address"],
        data_type=row.get("dataType") or "float32",
        scale=scale if scale is not None else 1.0,
        offset=row.get("offset") or 0.0,
    )


def event_row(m: MaintenanceEvent) -> Row:
    return {
        "id": m.id,
        "assetId": m.asset_id,
        "kind": m.kind.value,
        "at": iso(m.at),
        "description": m.description,
        "technician": m.technician,
        "cost": m.cost,
        "downtimeMinutes": m.downtime_minutes,
    }


def event_from(row: Row) -> MaintenanceEvent:
    at = parse_iso(row["at"])
    assert at is not None
    return MaintenanceEvent(
        id=row["id"],
        asset_id=row["assetId"],
        kind=row["kind"],
        at=at,
        description=row.get("description") or "",
        technician=row.get("technician") or "",
        cost=row.get("cost"),
        downtime_minutes=row.get("downtimeMinutes"),
        work_order_id=row.get("workOrderId"),
    )


def work_order_row(w: WorkOrder) -> Row:
    return {
        "id": w.id,
        "assetId": w.asset_id,
        "status": w.status.value,
        "priority": w.priority,
        "createdAt": iso(w.created_at),
        "dueAt": iso(w.due_at),
        "reason": w.reason,
    }


def work_order_from(row: Row) -> WorkOrder:
    created = parse_iso(row["createdAt"])
    assert created is not None
    return WorkOrder(
        id=row["id"],
        asset_id=row["assetId"],
        status=row["status"],
        priority=int(row["priority"]),
        created_at=created,
        reason=row.get("reason") or "",
        due_at=parse_iso(row.get("dueAt")),
        note=row.get("note") or "",
        updated_at=parse_iso(row.get("updatedAt")),
        assessment_id=row.get("assessmentId"),
    )
