"""Plant to a nested document (and YAML/JSON text) that ``parse_plant`` reads back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import yaml

if TYPE_CHECKING:
    from graph.model import Asset
    from graph.plantfile.spec import PlantDescription, StateTarget


def _iso(t: datetime) -> str:
    text = t.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _target_doc(t: StateTarget) -> object:
    return t if isinstance(t, str) else {"name": t[0], "scale": t[1], "offset": t[2]}


def _some(**values: object) -> dict[str, object]:
    """The entries whose value is not None, an empty string or an empty mapping."""
    keep = ("unit",)  # "" is a valid unit (dimensionless), and a required key
    return {k: v for k, v in values.items() if k in keep or (v is not None and v != "" and v != {})}


def plant_to_dict(plant: PlantDescription) -> dict[str, object]:
    """The plant as a nested document that ``parse_plant`` reads back to an equal plant."""
    known = {a.id for a in plant.assets}
    children: dict[str | None, list[Asset]] = {}
    for a in plant.assets:
        children.setdefault(a.parent_id if a.parent_id in known else None, []).append(a)
    sensors: dict[str, list[dict[str, object]]] = {}
    for s in plant.sensors:
        sensors.setdefault(s.asset_id, []).append(
            _some(
                id=s.id,
                name=None if s.name == s.id else s.name,
                kind=s.kind,
                unit=s.unit,
                min_value=s.min_value,
                max_value=s.max_value,
                sampling_rate_seconds=s.sampling_rate_seconds,
                warn_low=s.warn_low,
                warn_high=s.warn_high,
                fail_low=s.fail_low,
                fail_high=s.fail_high,
            )
        )
    actuators: dict[str, list[dict[str, object]]] = {}
    for x in plant.actuators:
        actuators.setdefault(x.asset_id, []).append(
            _some(
                id=x.id,
                name=None if x.name == x.id else x.name,
                unit=x.unit,
                min_value=x.min_value,
                max_value=x.max_value,
            )
        )
    sims = {
        m.asset_id: _some(
            model=m.model,
            parameters=dict(m.parameters),
            state_map={k: _target_doc(v) for k, v in m.state_map.items()},
            input_map={k: _target_doc(v) for k, v in m.input_map.items()},
            output_map={k: _target_doc(v) for k, v in m.output_map.items()},
        )
        for m in plant.sims
    }
    stations = {
        st.asset_id: _some(
            cycle_time_s=st.cycle_time_s,
            cv=st.cv,
            mtbf_h=st.mtbf_h,
            mttr_h=st.mttr_h,
            buffer_after=st.buffer_id,
            buffer_capacity=st.buffer_capacity,
        )
        for st in plant.stations
    }

    def asset(a: Asset) -> dict[str, object]:
        doc = _some(
            id=a.id,
            name=None if a.name == a.id else a.name,
            type=a.type,
            level=a.level.value,
            parent=a.parent_id if a.parent_id is not None and a.parent_id not in known else None,
            description=a.description,
            lat=a.lat,
            lon=a.lon,
            metadata=dict(a.metadata),
            sensors=sensors.get(a.id),
            actuators=actuators.get(a.id),
            sim=sims.get(a.id),
            station=stations.get(a.id),
        )
        if a.id in children:
            doc["children"] = [asset(c) for c in children[a.id]]
        return doc

    bindings: dict[str, list[dict[str, object]]] = {}
    for b in plant.sensor_bindings:
        bindings.setdefault(b.source_id, []).append(
            _some(
                sensor=b.sensor_id,
                address=b.address,
                scale=b.scale,
                offset=b.offset,
                data_type=b.data_type,
            )
        )
    for c in plant.actuator_bindings:
        bindings.setdefault(c.source_id, []).append(
            _some(
                actuator=c.actuator_id,
                address=c.address,
                scale=c.scale,
                offset=c.offset,
                data_type=c.data_type,
            )
        )
    return _some(
        version=1,
        name=plant.name,
        description=plant.description,
        assets=[asset(a) for a in children.get(None, [])],
        data_sources=[
            _some(
                id=d.id,
                protocol=d.protocol.value,
                endpoint=d.endpoint,
                name=d.name,
                settings=dict(d.settings),
                bindings=bindings.get(d.id),
            )
            for d in plant.data_sources
        ],
        relations=[
            {"from": r.source_id, "to": r.target_id, "type": r.type.value} for r in plant.relations
        ],
        maintenance=[
            _some(
                id=e.id,
                asset=e.asset_id,
                kind=e.kind.value,
                at=_iso(e.at),
                description=e.description,
                technician=e.technician,
                cost=e.cost,
                downtime_minutes=e.downtime_minutes,
                work_order=e.work_order_id,
            )
            for e in plant.maintenance
        ],
        work_orders=[
            _some(
                id=w.id,
                asset=w.asset_id,
                status=w.status.value,
                priority=w.priority,
                created_at=_iso(w.created_at),
                due_at=w.due_at and _iso(w.due_at),
                reason=w.reason,
            )
            for w in plant.work_orders
        ],
    )


def dump_plant(plant: PlantDescription, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The plant as YAML or JSON text (nested form, snake_case keys)."""
    doc = plant_to_dict(plant)
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=1)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
