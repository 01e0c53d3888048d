"""The plant checker: one pass over the plain data that converts every entry, checks
references across the file and collects every fault (up to ``MAX_ERRORS``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from graph.errors import ValidationError
from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    AssetLevel,
    DataSource,
    DeviceProtocol,
    MaintenanceEvent,
    Relation,
    Sensor,
    SensorBinding,
    WorkOrder,
)
from graph.plantfile.fields import (
    ACTUATOR,
    ASSET,
    ASSET_NESTED,
    BINDING,
    EVENT,
    MODBUS_ADDRESS,
    ORDER,
    RELATION,
    SENSOR,
    SIM,
    SIM_MAPS,
    SOURCE,
    STATION,
    TOP,
    BadValue,
    Spec,
    did_you_mean,
    ident,
    number,
    state_target,
    text_field,
)
from graph.plantfile.spec import AssetSimSpec, PlantDescription, StateTarget, StationSpec
from graph.plantfile.text import MAX_DEPTH, KeyPath, kind_of

MAX_ERRORS = 200

_KINDS = ("asset", "sensor", "actuator", "data source", "maintenance event", "work order")
_Error = tuple[KeyPath, str, KeyPath | None]  # path, message, "first defined at" path
# An entry's converted fields: each value has the type its key's converter returns.
_Fields = dict[str, Any]


class PlantChecker:
    """One pass over the plain data: converts, collects errors and deferred references."""

    def __init__(self, sim_models: Collection[str] | None, external_parents: bool) -> None:
        self.sim_models = sim_models
        self.external_parents = external_parents
        self.errors: list[_Error] = []
        self.ids: dict[str, dict[str, KeyPath]] = {k: {} for k in _KINDS}
        self.levels: dict[str, AssetLevel] = {}
        self.meta: dict[str, dict[str, object]] = {}
        self.refs: list[tuple[KeyPath, tuple[str, ...], str]] = []
        self.parent_links: list[tuple[KeyPath, AssetLevel | None, str]] = []
        self.pending_stations: list[tuple[KeyPath, str, _Fields]] = []
        self.event_orders: list[tuple[KeyPath, str, str]] = []
        self.order_assets: dict[str, str] = {}
        self.seen: dict[tuple[str, ...], KeyPath] = {}
        # PlantDescription field -> its entries (of that field's element type)
        self.out: dict[str, list[Any]] = {k: [] for k in PlantDescription.__slots__}

    def add(self, path: KeyPath, message: str, first: KeyPath | None = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((path, message, first))

    def fields(
        self, raw: object, path: KeyPath, spec: Spec, nested: tuple[str, ...] = ()
    ) -> tuple[_Fields, bool]:
        """Converted known keys; ``ok`` is False when anything in this mapping was wrong."""
        if not isinstance(raw, dict):
            self.add(path, f"expected a mapping, got {kind_of(raw)}")
            return {}, False
        out: _Fields = {}
        ok = True
        for key, value in raw.items():
            entry = spec.get(key)
            if entry is None:
                if key not in nested:
                    allowed = [*spec, *nested]
                    hint = did_you_mean(key, allowed) or f"; allowed: {', '.join(allowed)}"
                    self.add((*path, key), f"unknown key {key!r}{hint}")
                    ok = False
                continue
            if value is None and not entry[1]:
                continue
            try:
                out[key] = entry[0](value)
            except BadValue as exc:
                self.add((*path, key), str(exc))
                ok = False
        for key, (_, required) in spec.items():
            if required and key not in raw:
                self.add(path, f"missing required key {key!r}")
                ok = False
        return out, ok

    def items(self, raw: object, key: str, path: KeyPath) -> list[tuple[KeyPath, object]]:
        value = raw.get(key) if isinstance(raw, dict) else None
        if value is None:
            return []
        if not isinstance(value, list):
            self.add((*path, key), f"expected a list, got {kind_of(value)}")
            return []
        return [((*path, key, i), item) for i, item in enumerate(value)]

    def define(self, kind: str, ident: object, path: KeyPath) -> bool:
        if not isinstance(ident, str):
            return False
        table = self.ids[kind]
        if ident in table:
            self.add(path, f"duplicate {kind} id {ident!r}", table[ident])
            return False
        twin = {"sensor": "actuator", "actuator": "sensor"}.get(kind)
        if twin and ident in self.ids[twin]:
            msg = f"{ident!r} is already an {twin} id (sensors and actuators share ids)"
            self.add(path, msg, self.ids[twin][ident])
            return False
        table[ident] = path
        return True

    def make(self, bucket: str, path: KeyPath, cls: type, **kwargs: object) -> None:
        try:
            self.out[bucket].append(cls(**kwargs))
        except ValidationError as exc:
            field = exc.details.get("field")
            self.add((*path, field) if isinstance(field, str) else path, exc.message)

    def document(self, data: object) -> None:
        if data is None:
            self.add((), "the plant file is empty")
            return
        if not isinstance(data, dict):
            self.add((), f"a plant file is a mapping with an 'assets' list, got {kind_of(data)}")
            return
        for key in data:
            if key not in TOP:
                self.add((key,), f"unknown key {key!r}{did_you_mean(key, TOP)}")
        if "version" in data and (data["version"] != 1 or isinstance(data["version"], bool)):
            self.add(("version",), f"unsupported version {data['version']!r}; expected 1")
        for key in ("name", "description"):
            try:
                self.out[key] = [text_field(data.get(key, ""))]
            except BadValue as exc:
                self.add((key,), str(exc))
        if "assets" not in data:
            self.add((), "missing required key 'assets'")
        for path, raw in self.items(data, "assets", ()):
            self.asset(raw, path, None, 0)
        for path, raw in self.items(data, "data_sources", ()):
            self.source(raw, path)
        for path, raw in self.items(data, "relations", ()):
            self.relation(raw, path)
        for path, raw in self.items(data, "work_orders", ()):
            self.work_order(raw, path)
        for path, raw in self.items(data, "maintenance", ()):
            self.event(raw, path)
        self.finish()

    def asset(
        self,
        raw: object,
        path: KeyPath,
        parent: tuple[str | None, AssetLevel | None] | None,
        depth: int,
    ) -> None:
        if depth > MAX_DEPTH:
            self.add(path, f"assets nested deeper than {MAX_DEPTH} levels")
            return
        f, ok = self.fields(raw, path, ASSET, ASSET_NESTED)
        aid = f.get("id")
        ok &= self.define("asset", aid, (*path, "id"))
        level = AssetLevel(f["level"]) if "level" in f else None
        if aid and level:
            self.levels[aid] = level
        if aid:
            self.meta[aid] = f.get("metadata", {})
        parent_id = f.get("parent")
        if parent is not None:
            parent_id, parent_level = parent
            if "parent" in f:
                self.add((*path, "parent"), "a nested asset's parent is the asset it sits in")
            elif level and parent_level and level.rank <= parent_level.rank:
                self.add((*path, "level"), _level_msg(level, parent_level, parent_id))
        elif isinstance(parent_id, str):
            if not self.external_parents:
                self.refs.append(((*path, "parent"), ("asset",), parent_id))
            self.parent_links.append(((*path, "level"), level, parent_id))
        if ok and parent_id != aid:
            kw = {k: f[k] for k in ("description", "lat", "lon", "metadata") if k in f}
            self.make(
                "assets",
                path,
                Asset,
                id=aid,
                name=f.get("name", aid),
                type=f["type"],
                level=level,
                parent_id=parent_id,
                **kw,
            )
        elif parent_id == aid and aid:
            self.add((*path, "parent"), f"asset {aid} cannot be its own parent")
        for p, s in self.items(raw, "sensors", path):
            self.sensor(s, p, aid)
        for p, a in self.items(raw, "actuators", path):
            self.actuator(a, p, aid)
        if isinstance(raw, dict) and raw.get("sim") is not None:
            self.sim(raw["sim"], (*path, "sim"), aid)
        if isinstance(raw, dict) and raw.get("station") is not None:
            sf, sok = self.fields(raw["station"], (*path, "station"), STATION)
            if "buffer_after" in sf:
                self.refs.append(
                    ((*path, "station", "buffer_after"), ("asset",), sf["buffer_after"])
                )
            if sok and aid:
                self.pending_stations.append(((*path, "station"), aid, sf))
        for p, c in self.items(raw, "children", path):
            self.asset(c, p, (aid, level), depth + 1)

    def sensor(self, raw: object, path: KeyPath, asset_id: str | None) -> None:
        f, ok = self.fields(raw, path, SENSOR)
        ok &= self.define("sensor", f.get("id"), (*path, "id"))
        lo, hi = f.get("min_value"), f.get("max_value")
        if lo is not None and hi is not None and lo > hi:
            self.add((*path, "max_value"), f"max_value {hi:g} is below min_value {lo:g}")
        elif ok and asset_id:
            self.make(
                "sensors",
                path,
                Sensor,
                id=f["id"],
                asset_id=asset_id,
                name=f.get("name", f["id"]),
                kind=f["kind"],
                unit=f["unit"],
                min_value=lo,
                max_value=hi,
                sampling_rate_seconds=f.get("sampling_rate_seconds"),
                warn_low=f.get("warn_low"),
                warn_high=f.get("warn_high"),
                fail_low=f.get("fail_low"),
                fail_high=f.get("fail_high"),
            )

    def actuator(self, raw: object, path: KeyPath, asset_id: str | None) -> None:
        f, ok = self.fields(raw, path, ACTUATOR)
        ok &= self.define("actuator", f.get("id"), (*path, "id"))
        lo, hi = f.get("min_value"), f.get("max_value")
        if lo is not None and hi is not None and lo > hi:
            self.add((*path, "max_value"), f"max_value {hi:g} is below min_value {lo:g}")
        elif ok and asset_id:
            self.make(
                "actuators",
                path,
                Actuator,
                id=f["id"],
                asset_id=asset_id,
                name=f.get("name", f["id"]),
                unit=f["unit"],
                min_value=lo,
                max_value=hi,
            )

    def sim(self, raw: object, path: KeyPath, asset_id: str | None) -> None:
        f, ok = self.fields(raw, path, SIM, SIM_MAPS)
        model = f.get("model")
        if isinstance(model, str) and self.sim_models is not None and model not in self.sim_models:
            known = ", ".join(sorted(self.sim_models))
            hint = did_you_mean(model, self.sim_models)
            self.add((*path, "model"), f"unknown simulation model {model!r}{hint}; known: {known}")
        params: dict[str, float] = {}
        for key, value in f.get("parameters", {}).items():
            try:
                params[text_field(key)] = number(value)
            except BadValue as exc:
                self.add((*path, "parameters", key), str(exc))
        maps: dict[str, dict[str, StateTarget]] = {}
        for name, kinds in (
            ("state_map", ("sensor",)),
            ("input_map", ("actuator", "sensor")),
            ("output_map", ("sensor",)),
        ):
            raw_map = raw.get(name) if isinstance(raw, dict) else None
            maps[name] = {}
            if raw_map is not None and not isinstance(raw_map, dict):
                self.add((*path, name), f"expected a mapping of ids to names, got {kind_of(raw_map)}")
                continue
            for key, target in (raw_map or {}).items():
                p = (*path, name, key)
                try:
                    maps[name][ident(key)] = state_target(target)
                    self.refs.append((p, kinds, key))
                except BadValue as exc:
                    self.add(p, str(exc))
        if ok and asset_id:
            self.out["sims"].append(
                AssetSimSpec(
                    asset_id,
                    f["model"],
                    params,
                    maps["state_map"],
                    maps["input_map"],
                    maps["output_map"],
                )
            )

    def source(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, SOURCE, ("bindings",))
        sid = f.get("id")
        ok &= self.define("data source", sid, (*path, "id"))
        if ok:
            self.make(
                "data_sources",
                path,
                DataSource,
                id=sid,
                protocol=f["protocol"],
                endpoint=f["endpoint"],
                name=f.get("name", ""),
                settings=f.get("settings", {}),
            )
        for p, b in self.items(raw, "bindings", path):
            self.binding(b, p, sid if ok else None, f.get("protocol"))

    def binding(self, raw: object, path: KeyPath, sid: str | None, protocol: str | None) -> None:
        f, ok = self.fields(raw, path, BINDING)
        if not isinstance(raw, dict):
            return
        if ("sensor" in raw) == ("actuator" in raw):
            self.add(path, "a binding names exactly one of 'sensor' or 'actuator'")
            return
        kind = "sensor" if "sensor" in raw else "actuator"
        target, address = f.get(kind), f.get("address")
        if not isinstance(target, str):
            return
        self.refs.append(((*path, kind), (kind,), target))
        key = ("binding", str(sid), kind, target)
        if key in self.seen:
            self.add((*path, kind), f"{kind} {target!r} is bound to {sid} twice", self.seen[key])
            ok = False
        self.seen.setdefault(key, path)
        if protocol == DeviceProtocol.MODBUS.value and isinstance(address, str):
            if not MODBUS_ADDRESS.match(address) or int(address.split(":")[1]) > 65535:
                msg = "modbus address must be hr:N, ir:N, coil:N or di:N with N from 0 to 65535"
                self.add((*path, "address"), f"{msg}, got {address!r}")
            elif kind == "actuator" and not address.startswith(("hr:", "coil:")):
                msg = "an actuator is written: use a holding register (hr:N) or a coil (coil:N)"
                self.add((*path, "address"), msg)
        if ok and sid:
            extra = {k: f[k] for k in ("scale", "offset", "data_type") if k in f}
            if kind == "sensor":
                self.make(
                    "sensor_bindings",
                    path,
                    SensorBinding,
                    source_id=sid,
                    sensor_id=target,
                    address=address,
                    **extra,
                )
            else:
                self.make(
                    "actuator_bindings",
                    path,
                    ActuatorBinding,
                    source_id=sid,
                    actuator_id=target,
                    address=address,
                    **extra,
                )

    def relation(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, RELATION)
        for end in ("from", "to"):
            if end in f:
                self.refs.append(((*path, end), ("asset",), f[end]))
        if not ok:
            return
        if f["from"] == f["to"]:
            self.add((*path, "to"), f"a relation cannot link {f['from']} to itself")
            return
        key = ("relation", f["from"], f["to"], f["type"])
        if key in self.seen:
            self.add(path, "duplicate relation", self.seen[key])
            return
        self.seen[key] = path
        self.make(
            "relations", path, Relation, source_id=f["from"], target_id=f["to"], type=f["type"]
        )

    def work_order(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, ORDER)
        ok &= self.define("work order", f.get("id"), (*path, "id"))
        if "asset" in f:
            self.refs.append(((*path, "asset"), ("asset",), f["asset"]))
            if "id" in f:
                self.order_assets[f["id"]] = f["asset"]
        due, created = f.get("due_at"), f.get("created_at")
        if due is not None and created is not None and due < created:
            self.add((*path, "due_at"), "due_at is before created_at")
        elif ok:
            self.make(
                "work_orders",
                path,
                WorkOrder,
                id=f["id"],
                asset_id=f["asset"],
                status=f["status"],
                priority=f["priority"],
                created_at=created,
                reason=f.get("reason", ""),
                due_at=due,
            )

    def event(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, EVENT)
        ok &= self.define("maintenance event", f.get("id"), (*path, "id"))
        if "asset" in f:
            self.refs.append(((*path, "asset"), ("asset",), f["asset"]))
        if "work_order" in f:
            p = (*path, "work_order")
            self.refs.append((p, ("work order",), f["work_order"]))
            if "asset" in f:
                self.event_orders.append((p, f["asset"], f["work_order"]))
        if ok:
            kw = {
                k: f[k] for k in ("description", "technician", "cost", "downtime_minutes") if k in f
            }
            self.make(
                "maintenance",
                path,
                MaintenanceEvent,
                id=f["id"],
                asset_id=f["asset"],
                kind=f["kind"],
                at=f["at"],
                work_order_id=f.get("work_order"),
                **kw,
            )

    def finish(self) -> None:
        for path, kinds, ref_id in self.refs:
            if not any(ref_id in self.ids[k] for k in kinds):
                pool = [x for k in kinds for x in self.ids[k]]
                hint = did_you_mean(ref_id, pool) if len(pool) <= 20_000 else ""
                self.add(path, f"unknown {' or '.join(kinds)} {ref_id!r}{hint}")
        for path, level, parent_id in self.parent_links:
            parent_level = self.levels.get(parent_id)
            if level and parent_level and level.rank <= parent_level.rank:
                self.add(path, _level_msg(level, parent_level, parent_id))
        for path, asset_id, order_id in self.event_orders:
            order_asset = self.order_assets.get(order_id)
            if order_asset is not None and order_asset != asset_id:
                self.add(path, f"work order {order_id} is for {order_asset}, not {asset_id}")
        for path, asset_id, f in self.pending_stations:
            buffer_id = f.get("buffer_after")
            capacity = f.get("buffer_capacity")
            if capacity is None and buffer_id is not None:
                capacity = self.meta.get(buffer_id, {}).get("capacity")
                if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
                    msg = f"give buffer_capacity, or metadata.capacity (a whole number) on {buffer_id}"
                    self.add((*path, "buffer_capacity"), msg)
                    continue
            self.out["stations"].append(
                StationSpec(
                    asset_id,
                    f["cycle_time_s"],
                    f.get("cv", 0.0),
                    f.get("mtbf_h"),
                    f.get("mttr_h"),
                    buffer_id,
                    capacity or 0,
                )
            )

    def result(self) -> PlantDescription:
        out = self.out
        assets = sorted(out["assets"], key=lambda a: a.level.rank)
        parts = {k: tuple(v) for k, v in out.items() if k not in ("assets", "name", "description")}
        name, description = out["name"], out["description"]
        return PlantDescription(
            assets=tuple(assets),
            name=name[0] if name else "",
            description=description[0] if description else "",
            **parts,
        )


def _level_msg(level: AssetLevel, parent_level: AssetLevel, parent_id: str | None) -> str:
    return (
        f"level {level.value} must be deeper than the {parent_level.value} level of its "
        f"parent {parent_id} (enterprise > site > area > line > unit > equipment > component)"
    )
