"""Plant description files: parse, validate and dump a whole plant (YAML or JSON).

A plant file is one mapping; keys are snake_case everywhere. Only ``assets`` is needed::

    version: 1                      # optional, must be 1
    name: Riverside water works     # optional, free text (also: description)
    assets:                         # nested hierarchy: a child is PART_OF its parent
      - id: pump-101                # business id: letters, digits, _ . : - (max 128)
        name: Pump 101              # optional, defaults to the id
        type: centrifugal_pump      # free text
        level: equipment            # ISA-95: enterprise site area line unit equipment component
        description: ...            # optional; also lat, lon (degrees) and metadata (a mapping)
        parent: ps-line-1           # top-level assets only: attach under an asset of this file
        sensors:   [{id, name?, kind, unit, min_value?, max_value?, sampling_rate_seconds?}]
        actuators: [{id, name?, unit, min_value, max_value}]
        children:  [ ...assets... ] # each child's level must be deeper than its parent's
        sim:                        # optional simulation model of this asset
          model: pump
          parameters: {rated_speed_rpm: 2900}           # numbers only
          state_map: {pump-101.speed: speed_rpm}        # sensor id -> model state
          input_map: {pump-101.speed_sp: speed_setpoint_rpm}  # actuator/sensor id -> input
        station:                    # optional, stations of a production line
          {cycle_time_s, cv?, mtbf_h, mttr_h, buffer_after?, buffer_capacity?}
    data_sources:
      - {id, protocol: mqtt|opcua|modbus|http, endpoint, name?, settings?: {...},
         bindings: [{sensor, address, scale?, offset?, data_type?},
                    {actuator, address, scale?, offset?, data_type?}]}
    relations: [{from, to, type: FEEDS|DEPENDS_ON|CONNECTED_TO}]   # FEEDS loops are fine
    maintenance: [{id, asset, kind, at, description?, technician?, cost?,
                   downtime_minutes?, work_order?}]
    work_orders: [{id, asset, status: open|in_progress|done|cancelled, priority: 1..5,
                   created_at, due_at?, reason?}]

A ``state_map``/``input_map`` value is a name, or ``{name, scale?, offset?}`` when units
differ (model value = scale * reading + offset). ``buffer_capacity`` defaults to the
``metadata.capacity`` of the ``buffer_after`` asset. Times are RFC 3339 with an offset
(``2025-03-01T08:00:00Z``). ``data_type`` is ``bool``, ``(u)int16/32/64`` or
``float32/64``, optionally ``:ABCD|CDAB|BADC|DCBA`` (word order); Modbus addresses are
``hr:N``/``ir:N``/``coil:N``/``di:N`` and actuators need ``hr`` or ``coil``.

Ids are unique per kind across the file (sensors and actuators share one namespace).
Every fault is collected (up to 200) and raised as one ``ValidationError`` naming the
first fault's path (``assets[0].children[2].sensors[1].max_value``) and line; all of
them are in ``details["errors"]`` as ``{"path", "line", "message"}``.
"""

from __future__ import annotations

import bisect
import difflib
import gc
import json
import math
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Literal

import yaml

from graph.errors import NotFound, ValidationError
from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    AssetLevel,
    DataSource,
    MaintenanceEvent,
    Protocol,
    Relation,
    RelationType,
    Sensor,
    SensorBinding,
    WorkOrder,
    WorkOrderStatus,
    check_id,
)

__all__ = [
    "DATA_TYPES",
    "AssetSimSpec",
    "PlantDescription",
    "StateTarget",
    "StationSpec",
    "load_plant_file",
    "dump_plant",
    "format_path",
    "parse_plant",
    "plant_to_dict",
]

StateTarget = str | tuple[str, float, float]
"""A model state/input name, or ``(name, scale, offset)``: value = scale * reading + offset."""

_MAX_ERRORS = 200
_MAX_DEPTH = 64
_MAX_ALIASED = 1_000_000  # nodes reachable through YAML aliases (no billion laughs)


@dataclass(frozen=True, slots=True)
class AssetSimSpec:
    """How an asset is simulated: the model, its parameters, and which sensors/actuators
    feed which model states and inputs (scenarios start from the latest readings)."""

    asset_id: str
    model: str
    parameters: dict[str, float] = field(default_factory=dict, hash=False)
    state_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)
    input_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A production-line station: cycle time (mean, coefficient of variation), failures
    (mean time between failures / to repair) and the buffer after it (0 = none)."""

    asset_id: str
    cycle_time_s: float
    cv: float = 0.0
    mtbf_h: float | None = None
    mttr_h: float | None = None
    buffer_id: str | None = None
    buffer_capacity: int = 0


@dataclass(frozen=True, slots=True)
class PlantDescription:
    """A parsed, validated plant: assets come parents first (by ISA-95 level)."""

    assets: tuple[Asset, ...]
    sensors: tuple[Sensor, ...] = ()
    actuators: tuple[Actuator, ...] = ()
    data_sources: tuple[DataSource, ...] = ()
    sensor_bindings: tuple[SensorBinding, ...] = ()
    actuator_bindings: tuple[ActuatorBinding, ...] = ()
    relations: tuple[Relation, ...] = ()
    maintenance: tuple[MaintenanceEvent, ...] = ()
    work_orders: tuple[WorkOrder, ...] = ()
    sims: tuple[AssetSimSpec, ...] = ()
    stations: tuple[StationSpec, ...] = ()
    name: str = ""
    description: str = ""

    def counts(self) -> dict[str, int]:
        names = ("assets", "sensors", "actuators", "data_sources", "sensor_bindings")
        names += ("actuator_bindings", "relations", "maintenance", "work_orders", "sims")
        return {n: len(getattr(self, n)) for n in (*names, "stations")}

    def same_content(self, other: PlantDescription) -> bool:
        """Equal entities, whatever their order (``==`` also compares the order)."""
        return all(set(getattr(self, n)) == set(getattr(other, n)) for n in self.counts()) and (
            self.name,
            self.description,
        ) == (other.name, other.description)

    def summary(self) -> dict[str, object]:
        """A JSON-ready overview (what ``twinql load --check`` prints)."""
        levels: dict[str, int] = {}
        for a in self.assets:
            levels[a.level.value] = levels.get(a.level.value, 0) + 1
        bound: dict[str, int] = {}
        for b in (*self.sensor_bindings, *self.actuator_bindings):
            bound[b.source_id] = bound.get(b.source_id, 0) + 1
        models: dict[str, int] = {}
        for m in self.sims:
            models[m.model] = models.get(m.model, 0) + 1
        return {
            "name": self.name,
            "counts": self.counts(),
            "assets_by_level": levels,
            "data_sources": [
                {
                    "id": d.id,
                    "protocol": d.protocol.value,
                    "endpoint": d.endpoint,
                    "bindings": bound.get(d.id, 0),
                }
                for d in self.data_sources
            ],
            "sim_models": models,
        }


# --- text to (data, line tree) ------------------------------------------------------------
# A line tree mirrors the data: a mapping becomes {key: (line, subtree)}, a list becomes
# [(line, subtree), ...], a scalar None. Lines are 1-based; a value's line is its key's.

LineTree = dict[str, tuple[int, "LineTree"]] | list[tuple[int, "LineTree"]] | None
KeyPath = tuple[str | int, ...]


class _Fault(Exception):
    def __init__(self, message: str, path: KeyPath = (), line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.line = message, path, line


_Y = "tag:yaml.org,2002:"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlBuilder:
    """Plain data plus a line tree, straight from libyaml's event stream (no node graph).

    Timestamps stay strings (checked as RFC 3339 later); anchors/aliases work, alias
    expansion is bounded (no billion laughs); recursive aliases, merge keys, non-string
    keys and tags other than str/int/float/bool/null/timestamp/seq/map are refused.
    """

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.anchors: dict[str, tuple[object, LineTree, int]] = {}
        self.count = 0  # nodes built, aliases counted at their expanded size
        self.expanded = 0  # of which through aliases

    def scalar(self, event: yaml.ScalarEvent, path: KeyPath) -> object:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return event.value  # quoted: a string
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in (_Y + "str", _Y + "timestamp"):
            return event.value
        if tag == _Y + "null":
            return None
        constructor = {
            _Y + "int": self.loader.construct_yaml_int,
            _Y + "float": self.loader.construct_yaml_float,
            _Y + "bool": self.loader.construct_yaml_bool,
        }.get(tag)
        line = event.start_mark.line + 1
        if tag == _Y + "merge":
            raise _Fault("YAML merge keys (<<) are not supported", path, line)
        if constructor is None:
            raise _Fault(f"unsupported YAML tag {tag}", path, line)
        try:
            return constructor(yaml.ScalarNode(tag, event.value))
        except (ValueError, yaml.YAMLError) as exc:
            raise _Fault(f"bad {tag} value {event.value!r}: {exc}", path, line) from None

    def node(self, event: yaml.Event, path: KeyPath, depth: int) -> tuple[object, LineTree]:
        """The value starting at ``event`` (its end event is consumed too)."""
        self.count += 1
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise _Fault(f"unknown or recursive YAML alias *{event.anchor}", path, line)
            value, tree, size = self.anchors[event.anchor]
            self.count += size
            self.expanded += size
            if self.expanded > _MAX_ALIASED:
                raise _Fault(f"aliases expand too large (over {_MAX_ALIASED} nodes)", path, line)
            return value, tree
        start = self.count
        value: object
        tree: LineTree
        if isinstance(event, yaml.ScalarEvent):
            value, tree = self.scalar(event, path), None
        elif depth > _MAX_DEPTH:
            raise _Fault(f"nested deeper than {_MAX_DEPTH} levels", path, line)
        elif isinstance(event, yaml.SequenceStartEvent) and event.tag in (None, "!", _Y + "seq"):
            value, tree = [], []
            get = self.loader.get_event
            while not isinstance(item := get(), yaml.SequenceEndEvent):
                v, t = self.node(item, (*path, len(value)), depth + 1)
                value.append(v)
                tree.append((item.start_mark.line + 1, t))
        elif isinstance(event, yaml.MappingStartEvent) and event.tag in (None, "!", _Y + "map"):
            value, tree = self.mapping(path, depth)
        else:
            raise _Fault(f"unsupported YAML tag {event.tag}", path, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, tree, self.count - start)
        return value, tree

    def mapping(self, path: KeyPath, depth: int) -> tuple[dict[str, object], LineTree]:
        value: dict[str, object] = {}
        tree: dict[str, tuple[int, LineTree]] = {}
        get = self.loader.get_event
        while not isinstance(kev := get(), yaml.MappingEndEvent):
            kline = kev.start_mark.line + 1
            if not isinstance(kev, yaml.ScalarEvent | yaml.AliasEvent):
                raise _Fault("mapping keys must be strings", path, kline)
            k = self.node(kev, path, depth + 1)[0]
            if not isinstance(k, str):
                raise _Fault(f"key {k!r} is a {_kind(k)}, not a string: quote it", path, kline)
            if k in value:
                raise _Fault(f"duplicate key {k!r}", (*path, k), kline)
            v, t = self.node(get(), (*path, k), depth + 1)
            value[k] = v
            tree[k] = (kline, t)
        return value, tree

    def document(self) -> tuple[object, LineTree]:
        get = self.loader.get_event
        get()  # stream start
        if isinstance(event := get(), yaml.StreamEndEvent):
            return None, None
        result = self.node(get(), (), 0)  # after the document start
        get()  # document end
        if not isinstance(event := get(), yaml.StreamEndEvent):
            raise _Fault("a plant file holds one YAML document", (), event.start_mark.line + 1)
        return result


def _load_yaml(text: str) -> tuple[object, LineTree]:
    loader = _YAML_LOADER(text)
    try:
        return _YamlBuilder(loader).document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        raise _Fault(f"YAML: {what}", (), mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise _Fault(f"YAML: {exc}") from None
    finally:
        loader.dispose()


class _DuplicateKey(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKey
    return out


def _load_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise _Fault(f"JSON: {exc.msg} (column {exc.colno})", (), exc.lineno) from None
    except _DuplicateKey:
        _json_lines(text)  # raises the precise fault
        raise _Fault("JSON: duplicate key") from None


_WS = re.compile(r"[ \t\n\r]*")
_ATOM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")


def _json_lines(text: str) -> LineTree:
    """The line tree of a JSON document that ``json.loads`` accepted (only on errors)."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    def value(i: int, path: KeyPath) -> tuple[LineTree, int]:
        i = _WS.match(text, i).end()  # type: ignore[union-attr]
        c = text[i]
        if c == "{":
            obj: dict[str, tuple[int, LineTree]] = {}
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            while text[i] != "}":
                kpos = _WS.match(text, i).end()  # type: ignore[union-attr]
                key, i = scanstring(text, kpos + 1)
                if key in obj:
                    raise _Fault(f"duplicate key {key!r}", (*path, key), line(kpos))
                i = _WS.match(text, i).end() + 1  # type: ignore[union-attr]  # the ':'
                sub, i = value(i, (*path, key))
                obj[key] = (line(kpos), sub)
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                i += text[i] == ","
            return obj, i + 1
        if c == "[":
            arr: list[tuple[int, LineTree]] = []
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            while text[i] != "]":
                start = _WS.match(text, i).end()  # type: ignore[union-attr]
                sub, i = value(start, (*path, len(arr)))
                arr.append((line(start), sub))
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                i += text[i] == ","
            return arr, i + 1
        if c == '"':
            return None, scanstring(text, i + 1)[1]
        return None, _ATOM.match(text, i).end()  # type: ignore[union-attr]

    return value(0, ())[0]


def line_at(tree: LineTree, path: KeyPath) -> int | None:
    """The line of the deepest part of ``path`` found in ``tree`` (1 for the root)."""
    line: int | None = 1
    for step in path:
        if isinstance(tree, dict) and isinstance(step, str) and step in tree:
            line, tree = tree[step]
        elif isinstance(tree, list) and isinstance(step, int) and 0 <= step < len(tree):
            line, tree = tree[step]
        else:
            break
    return line


def format_path(path: KeyPath) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{step!r}]"
    return out or "<root>"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- field converters -----------------------------------------------------------------------


class _Bad(Exception):
    """A field's value is wrong; the walker adds the field's path."""


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "mapping" if isinstance(v, dict) else type(v).__name__


def _hint(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise _Bad(f"expected a string, got {_kind(v)} {v!r}")
    return v


def _name(v: object) -> str:
    if not _str(v).strip() or len(v) > 256:  # type: ignore[arg-type]
        raise _Bad("expected a non-empty string of at most 256 characters")
    return v  # type: ignore[return-value]


def _ident(v: object) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise _Bad(f"ids are strings, got {_kind(v)} {v!r}: quote it")
    try:
        return check_id(v, "id")
    except ValidationError as exc:
        raise _Bad(exc.message) from None


def _num(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"expected a number, got {_kind(v)} {v!r}")
    try:
        out = float(v)
    except OverflowError:
        raise _Bad(f"number {v} is too large") from None
    if not math.isfinite(out):
        raise _Bad(f"expected a finite number, got {v!r}")
    return out


def _positive(v: object) -> float:
    if (out := _num(v)) <= 0:
        raise _Bad(f"must be positive, got {v!r}")
    return out


def _nonneg(v: object) -> float:
    if (out := _num(v)) < 0:
        raise _Bad(f"cannot be negative, got {v!r}")
    return out


def _count(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Bad(f"expected a whole number >= 0, got {_kind(v)} {v!r}")
    return v


def _priority(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
        raise _Bad(f"expected a whole number from 1 to 5, got {_kind(v)} {v!r}")
    return v


def _ranged(lo: float, hi: float) -> Callable[[object], float]:
    def conv(v: object) -> float:
        if not lo <= (out := _num(v)) <= hi:
            raise _Bad(f"must be within [{lo:g}, {hi:g}], got {v!r}")
        return out

    return conv


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$")


def _time(v: object) -> datetime:
    if not isinstance(v, str) or not _RFC3339.match(v):
        raise _Bad(f"expected an RFC 3339 date-time like 2025-03-01T08:00:00Z, got {v!r}")
    try:
        return datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _Bad(f"invalid date-time {v!r}: {exc}") from None


def _choice(choices: Iterable[str], what: str) -> Callable[[object], str]:
    allowed = tuple(choices)

    def conv(v: object) -> str:
        if v not in allowed:
            shown = v if isinstance(v, str) else f"{_kind(v)} {v!r}"
            hint = _hint(v, allowed) if isinstance(v, str) else ""
            raise _Bad(f"unknown {what} {shown!r}{hint}; expected one of {', '.join(allowed)}")
        return v  # type: ignore[return-value]

    return conv


def _mapping(v: object) -> dict[str, object]:
    if not isinstance(v, dict):
        raise _Bad(f"expected a mapping, got {_kind(v)}")
    return v


_WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
DATA_TYPES = ("bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32")
DATA_TYPES += ("float64",)


def _data_type(v: object) -> str:
    base, _, order = _str(v).partition(":")
    _choice(DATA_TYPES, "data type")(base)
    if order and order not in _WORD_ORDERS:
        raise _Bad(f"unknown word order {order!r}; expected one of {', '.join(_WORD_ORDERS)}")
    return v  # type: ignore[return-value]


Conv = Callable[[object], object]
Spec = dict[str, tuple[Conv, bool]]  # key -> (converter, required)

_LEVEL = _choice([lv.value for lv in AssetLevel], "level")
_ASSET: Spec = {
    "id": (_ident, True),
    "name": (_name, False),
    "type": (_name, True),
    "level": (_LEVEL, True),
    "parent": (_ident, False),
    "description": (_str, False),
    "lat": (_ranged(-90, 90), False),
    "lon": (_ranged(-180, 180), False),
    "metadata": (_mapping, False),
}
_ASSET_NESTED = ("sensors", "actuators", "children", "sim", "station")
_SENSOR: Spec = {
    "id": (_ident, True),
    "name": (_name, False),
    "kind": (_name, True),
    "unit": (_str, True),
    "min_value": (_num, False),
    "max_value": (_num, False),
    "sampling_rate_seconds": (_positive, False),
}
_ACTUATOR: Spec = {
    "id": (_ident, True),
    "name": (_name, False),
    "unit": (_str, True),
    "min_value": (_num, True),
    "max_value": (_num, True),
}
_SIM: Spec = {"model": (_name, True), "parameters": (_mapping, False)}
_SIM_MAPS = ("state_map", "input_map")
_STATION: Spec = {
    "cycle_time_s": (_positive, True),
    "cv": (_nonneg, False),
    "mtbf_h": (_positive, False),
    "mttr_h": (_positive, False),
    "buffer_after": (_ident, False),
    "buffer_capacity": (_count, False),
}
_SOURCE: Spec = {
    "id": (_ident, True),
    "protocol": (_choice([p.value for p in Protocol], "protocol"), True),
    "endpoint": (_str, True),
    "name": (_str, False),
    "settings": (_mapping, False),
}
_BINDING: Spec = {
    "sensor": (_ident, False),
    "actuator": (_ident, False),
    "address": (_name, True),
    "scale": (_num, False),
    "offset": (_num, False),
    "data_type": (_data_type, False),
}
_RELATION: Spec = {
    "from": (_ident, True),
    "to": (_ident, True),
    "type": (_choice([t.value for t in RelationType], "relation type"), True),
}
_EVENT: Spec = {
    "id": (_ident, True),
    "asset": (_ident, True),
    "kind": (_name, True),
    "at": (_time, True),
    "description": (_str, False),
    "technician": (_str, False),
    "cost": (_nonneg, False),
    "downtime_minutes": (_nonneg, False),
    "work_order": (_ident, False),
}
_ORDER: Spec = {
    "id": (_ident, True),
    "asset": (_ident, True),
    "status": (_choice([s.value for s in WorkOrderStatus], "status"), True),
    "priority": (_priority, True),
    "created_at": (_time, True),
    "due_at": (_time, False),
    "reason": (_str, False),
}
_TOP = ("version", "name", "description", "assets", "data_sources", "relations")
_TOP += ("maintenance", "work_orders")
_MODBUS_ADDRESS = re.compile(r"^(hr|ir|coil|di):\d{1,5}$")


def _target(v: object) -> StateTarget:
    if isinstance(v, str) and v:
        return v
    if isinstance(v, dict):
        unknown = [k for k in v if k not in ("name", "scale", "offset")]
        if unknown or "name" not in v:
            raise _Bad("expected a name or {name, scale?, offset?}" + _hint(str(unknown), "name"))
        return (_name(v["name"]), _num(v.get("scale", 1.0)), _num(v.get("offset", 0.0)))
    raise _Bad(f"expected a name or {{name, scale?, offset?}}, got {_kind(v)} {v!r}")


# --- the walker ------------------------------------------------------------------------------

_KINDS = ("asset", "sensor", "actuator", "data source", "maintenance event", "work order")
_Error = tuple[KeyPath, str, KeyPath | None]  # path, message, "first defined at" path


class _Walker:
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
        self.pending_stations: list[tuple[KeyPath, str, dict[str, object]]] = []
        self.event_orders: list[tuple[KeyPath, str, str]] = []
        self.order_assets: dict[str, str] = {}
        self.seen: dict[tuple[str, ...], KeyPath] = {}
        self.out: dict[str, list[object]] = {k: [] for k in PlantDescription.__slots__}

    def add(self, path: KeyPath, message: str, first: KeyPath | None = None) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append((path, message, first))

    def fields(
        self, raw: object, path: KeyPath, spec: Spec, nested: tuple[str, ...] = ()
    ) -> tuple[dict[str, object], bool]:
        """Converted known keys; ``ok`` is False when anything in this mapping was wrong."""
        if not isinstance(raw, dict):
            self.add(path, f"expected a mapping, got {_kind(raw)}")
            return {}, False
        out: dict[str, object] = {}
        ok = True
        for key, value in raw.items():
            entry = spec.get(key)
            if entry is None:
                if key not in nested:
                    allowed = [*spec, *nested]
                    hint = _hint(key, allowed) or f"; allowed: {', '.join(allowed)}"
                    self.add((*path, key), f"unknown key {key!r}{hint}")
                    ok = False
                continue
            if value is None and not entry[1]:
                continue
            try:
                out[key] = entry[0](value)
            except _Bad as exc:
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
            self.add((*path, key), f"expected a list, got {_kind(value)}")
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
            self.add(path, exc.message)

    def document(self, data: object) -> None:
        if data is None:
            self.add((), "the plant file is empty")
            return
        if not isinstance(data, dict):
            self.add((), f"a plant file is a mapping with an 'assets' list, got {_kind(data)}")
            return
        for key in data:
            if key not in _TOP:
                self.add((key,), f"unknown key {key!r}{_hint(key, _TOP)}")
        if "version" in data and (data["version"] != 1 or isinstance(data["version"], bool)):
            self.add(("version",), f"unsupported version {data['version']!r}; expected 1")
        for key in ("name", "description"):
            try:
                self.out[key] = [_str(data.get(key, ""))]
            except _Bad as exc:
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
        if depth > _MAX_DEPTH:
            self.add(path, f"assets nested deeper than {_MAX_DEPTH} levels")
            return
        f, ok = self.fields(raw, path, _ASSET, _ASSET_NESTED)
        aid = f.get("id")
        ok &= self.define("asset", aid, (*path, "id"))
        level = AssetLevel(f["level"]) if "level" in f else None
        if aid and level:
            self.levels[aid] = level  # type: ignore[index]
        if aid:
            self.meta[aid] = f.get("metadata", {})  # type: ignore[index, assignment]
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
            self.sensor(s, p, aid)  # type: ignore[arg-type]
        for p, a in self.items(raw, "actuators", path):
            self.actuator(a, p, aid)  # type: ignore[arg-type]
        if isinstance(raw, dict) and raw.get("sim") is not None:
            self.sim(raw["sim"], (*path, "sim"), aid)  # type: ignore[arg-type]
        if isinstance(raw, dict) and raw.get("station") is not None:
            sf, sok = self.fields(raw["station"], (*path, "station"), _STATION)
            if "buffer_after" in sf:
                self.refs.append(
                    ((*path, "station", "buffer_after"), ("asset",), sf["buffer_after"])
                )  # type: ignore[arg-type]
            if sok and aid:
                self.pending_stations.append(((*path, "station"), aid, sf))  # type: ignore[arg-type]
        for p, c in self.items(raw, "children", path):
            self.asset(c, p, (aid, level), depth + 1)  # type: ignore[arg-type]

    def sensor(self, raw: object, path: KeyPath, asset_id: str | None) -> None:
        f, ok = self.fields(raw, path, _SENSOR)
        ok &= self.define("sensor", f.get("id"), (*path, "id"))
        lo, hi = f.get("min_value"), f.get("max_value")
        if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
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
            )

    def actuator(self, raw: object, path: KeyPath, asset_id: str | None) -> None:
        f, ok = self.fields(raw, path, _ACTUATOR)
        ok &= self.define("actuator", f.get("id"), (*path, "id"))
        lo, hi = f.get("min_value"), f.get("max_value")
        if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
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
        f, ok = self.fields(raw, path, _SIM, _SIM_MAPS)
        model = f.get("model")
        if isinstance(model, str) and self.sim_models is not None and model not in self.sim_models:
            known = ", ".join(sorted(self.sim_models))
            hint = _hint(model, self.sim_models)
            self.add((*path, "model"), f"unknown simulation model {model!r}{hint}; known: {known}")
        params: dict[str, float] = {}
        for key, value in f.get("parameters", {}).items():  # type: ignore[attr-defined]
            try:
                params[_str(key)] = _num(value)
            except _Bad as exc:
                self.add((*path, "parameters", key), str(exc))
        maps: dict[str, dict[str, StateTarget]] = {}
        for name, kinds in (("state_map", ("sensor",)), ("input_map", ("actuator", "sensor"))):
            raw_map = raw.get(name) if isinstance(raw, dict) else None
            maps[name] = {}
            if raw_map is not None and not isinstance(raw_map, dict):
                self.add((*path, name), f"expected a mapping of ids to names, got {_kind(raw_map)}")
                continue
            for key, target in (raw_map or {}).items():
                p = (*path, name, key)
                try:
                    maps[name][_ident(key)] = _target(target)
                    self.refs.append((p, kinds, key))
                except _Bad as exc:
                    self.add(p, str(exc))
        if ok and asset_id:
            self.out["sims"].append(
                AssetSimSpec(asset_id, model, params, maps["state_map"], maps["input_map"])  # type: ignore[arg-type]
            )

    def source(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, _SOURCE, ("bindings",))
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
            self.binding(b, p, sid if ok else None, f.get("protocol"))  # type: ignore[arg-type]

    def binding(self, raw: object, path: KeyPath, sid: str | None, protocol: str | None) -> None:
        f, ok = self.fields(raw, path, _BINDING)
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
        if protocol == Protocol.MODBUS.value and isinstance(address, str):
            if not _MODBUS_ADDRESS.match(address) or int(address.split(":")[1]) > 65535:
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
        f, ok = self.fields(raw, path, _RELATION)
        for end in ("from", "to"):
            if end in f:
                self.refs.append(((*path, end), ("asset",), f[end]))  # type: ignore[arg-type]
        if not ok:
            return
        if f["from"] == f["to"]:
            self.add((*path, "to"), f"a relation cannot link {f['from']} to itself")
            return
        key = ("relation", f["from"], f["to"], f["type"])
        if key in self.seen:
            self.add(path, "duplicate relation", self.seen[key])  # type: ignore[arg-type]
            return
        self.seen[key] = path  # type: ignore[index]
        self.make(
            "relations", path, Relation, source_id=f["from"], target_id=f["to"], type=f["type"]
        )

    def work_order(self, raw: object, path: KeyPath) -> None:
        f, ok = self.fields(raw, path, _ORDER)
        ok &= self.define("work order", f.get("id"), (*path, "id"))
        if "asset" in f:
            self.refs.append(((*path, "asset"), ("asset",), f["asset"]))  # type: ignore[arg-type]
            if "id" in f:
                self.order_assets[f["id"]] = f["asset"]  # type: ignore[index, assignment]
        due, created = f.get("due_at"), f.get("created_at")
        if due is not None and created is not None and due < created:  # type: ignore[operator]
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
        f, ok = self.fields(raw, path, _EVENT)
        ok &= self.define("maintenance event", f.get("id"), (*path, "id"))
        if "asset" in f:
            self.refs.append(((*path, "asset"), ("asset",), f["asset"]))  # type: ignore[arg-type]
        if "work_order" in f:
            p = (*path, "work_order")
            self.refs.append((p, ("work order",), f["work_order"]))  # type: ignore[arg-type]
            if "asset" in f:
                self.event_orders.append((p, f["asset"], f["work_order"]))  # type: ignore[arg-type]
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
        for path, kinds, ident in self.refs:
            if not any(ident in self.ids[k] for k in kinds):
                pool = [x for k in kinds for x in self.ids[k]]
                hint = _hint(ident, pool) if len(pool) <= 20_000 else ""
                self.add(path, f"unknown {' or '.join(kinds)} {ident!r}{hint}")
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
                capacity = self.meta.get(buffer_id, {}).get("capacity")  # type: ignore[call-overload]
                if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
                    msg = f"give buffer_capacity, or metadata.capacity (a whole number) on {buffer_id}"
                    self.add((*path, "buffer_capacity"), msg)
                    continue
            self.out["stations"].append(
                StationSpec(
                    asset_id,
                    f["cycle_time_s"],
                    f.get("cv", 0.0),
                    f.get("mtbf_h"),  # type: ignore[arg-type]
                    f.get("mttr_h"),
                    buffer_id,
                    capacity or 0,
                )  # type: ignore[arg-type]
            )

    def result(self) -> PlantDescription:
        out = self.out
        assets = sorted(out["assets"], key=lambda a: a.level.rank)  # type: ignore[attr-defined]
        parts = {k: tuple(v) for k, v in out.items() if k not in ("assets", "name", "description")}
        name, description = out["name"], out["description"]
        return PlantDescription(
            assets=tuple(assets),
            name=name[0] if name else "",  # type: ignore[arg-type]
            description=description[0] if description else "",
            **parts,
        )  # type: ignore[arg-type]


def _level_msg(level: AssetLevel, parent_level: AssetLevel, parent_id: str | None) -> str:
    return (
        f"level {level.value} must be deeper than the {parent_level.value} level of its "
        f"parent {parent_id} (enterprise > site > area > line > unit > equipment > component)"
    )


# --- public functions ------------------------------------------------------------------------


def _guess_format(text: str, source_name: str) -> str:
    suffix = Path(source_name).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip()[:1] == "{" else "yaml"


def _error(
    source: str, faults: list[tuple[KeyPath, int | None, str]], truncated: bool
) -> ValidationError:
    errors = [{"path": format_path(p), "line": line, "message": m} for p, line, m in faults]
    first = errors[0]
    more = (
        f"; {len(errors) - 1}{'+' if truncated else ''} more in details" if len(errors) > 1 else ""
    )
    return ValidationError(
        f"{first['message']} ({source}{more})",
        path=first["path"],  # type: ignore[arg-type]
        line=first["line"],  # type: ignore[arg-type]
        details={"source": source, "errors": errors, "truncated": truncated},
    )


def parse_plant(
    text: str,
    *,
    fmt: Literal["yaml", "json"] | None = None,
    source_name: str = "<string>",
    sim_models: Collection[str] | None = None,
    external_parents: bool = False,
) -> PlantDescription:
    """Parse and validate a plant description; ``ValidationError`` names every fault.

    ``fmt`` defaults from ``source_name``'s suffix, else from the text (``{`` means JSON).
    ``sim_models``, when given, are the simulation model names a ``sim.model`` may use.
    ``external_parents`` lets a top-level asset's ``parent`` name an asset outside the
    file (one already in the graph: the importer checks it exists); off, it is an error.
    """
    if not isinstance(text, str):
        raise ValidationError(f"plant text must be a string, got {type(text).__name__}")
    fmt = fmt or _guess_format(text, source_name)  # type: ignore[assignment]
    if fmt not in ("yaml", "json"):
        raise ValidationError(f"unknown plant format {fmt!r}; expected yaml or json")
    tree: LineTree = None
    # Parsing allocates millions of small containers and no cycles: the cyclic GC would
    # rescan them over and over (3x slower YAML), so it pauses for the parse.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if fmt == "json":
            data = _load_json(text)
        else:
            data, tree = _load_yaml(text)
        walker = _Walker(sim_models, external_parents)
        walker.document(data)
    except _Fault as fault:
        raise _error(source_name, [(fault.path, fault.line, fault.message)], False) from None
    except RecursionError:
        raise _error(
            source_name, [((), None, "the document is nested too deeply")], False
        ) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    if not walker.errors:
        return walker.result()
    if fmt == "json":
        try:
            tree = _json_lines(text)
        except (_Fault, RecursionError, IndexError, AttributeError):
            tree = None
    faults = []
    for path, message, first in walker.errors:
        line = line_at(tree, path) if tree is not None else None
        if first is not None:
            where = line_at(tree, first) if tree is not None else None
            message += f", first defined at {format_path(first)}" + (
                f" (line {where})" if where else ""
            )
        faults.append((path, line, message))
    raise _error(source_name, faults, len(walker.errors) >= _MAX_ERRORS) from None


def load_plant_file(
    path: str | Path,
    *,
    fmt: Literal["yaml", "json"] | None = None,
    sim_models: Collection[str] | None = None,
    external_parents: bool = False,
) -> PlantDescription:
    """Read and parse a plant file (UTF-8); the format follows the suffix unless given."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"plant file {p} does not exist", details={"path": str(p)}) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"plant file {p} is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ValidationError(f"cannot read plant file {p}: {exc.strerror}") from None
    return parse_plant(
        text, fmt=fmt, source_name=str(p), sim_models=sim_models, external_parents=external_parents
    )


# --- dump ------------------------------------------------------------------------------------


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
                kind=e.kind,
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
