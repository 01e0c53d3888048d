"""Plant file fields: value converters and the key specs of each kind of entry.

Each converter also says, as a JSON Schema fragment (``json_schema_of``), which values it
takes: ``graph.plantfile.schema`` builds the plant file's JSON Schema from these specs."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from graph.errors import ValidationError
from graph.model import (
    AssetLevel,
    DeviceProtocol,
    MaintenanceKind,
    RelationType,
    WorkOrderStatus,
    check_id,
)
from graph.plantfile.text import kind_of

if TYPE_CHECKING:
    from graph.plantfile.spec import StateTarget


_SCHEMAS: dict[object, dict[str, object]] = {}


def _described(conv: Callable[[object], object], fragment: dict[str, object]) -> None:
    _SCHEMAS[conv] = fragment


def json_schema_of(conv: Callable[[object], object]) -> dict[str, object]:
    """The JSON Schema fragment of the values ``conv`` accepts (KeyError: undescribed)."""
    return dict(_SCHEMAS[conv])


class BadValue(Exception):
    """A field's value is wrong; the walker adds the field's path."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def text_field(v: object) -> str:
    if not isinstance(v, str):
        raise BadValue(f"expected a string, got {kind_of(v)} {v!r}")
    return v


def _name(v: object) -> str:
    if not text_field(v).strip() or len(v) > 256:  # type: ignore[arg-type]
        raise BadValue("expected a non-empty string of at most 256 characters")
    return v  # type: ignore[return-value]


def ident(v: object) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise BadValue(f"ids are strings, got {kind_of(v)} {v!r}: quote it")
    try:
        return check_id(v, "id")
    except ValidationError as exc:
        raise BadValue(exc.message) from None


def number(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BadValue(f"expected a number, got {kind_of(v)} {v!r}")
    try:
        out = float(v)
    except OverflowError:
        raise BadValue(f"number {v} is too large") from None
    if not math.isfinite(out):
        raise BadValue(f"expected a finite number, got {v!r}")
    return out


def _positive(v: object) -> float:
    if (out := number(v)) <= 0:
        raise BadValue(f"must be positive, got {v!r}")
    return out


def _nonneg(v: object) -> float:
    if (out := number(v)) < 0:
        raise BadValue(f"cannot be negative, got {v!r}")
    return out


def _count(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise BadValue(f"expected a whole number >= 0, got {kind_of(v)} {v!r}")
    return v


def _priority(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
        raise BadValue(f"expected a whole number from 1 to 5, got {kind_of(v)} {v!r}")
    return v


def _ranged(lo: float, hi: float) -> Callable[[object], float]:
    def conv(v: object) -> float:
        if not lo <= (out := number(v)) <= hi:
            raise BadValue(f"must be within [{lo:g}, {hi:g}], got {v!r}")
        return out

    _described(conv, {"type": "number", "minimum": lo, "maximum": hi})
    return conv


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$")


def _time(v: object) -> datetime:
    if not isinstance(v, str) or not _RFC3339.match(v):
        raise BadValue(f"expected an RFC 3339 date-time like 2025-03-01T08:00:00Z, got {v!r}")
    try:
        return datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadValue(f"invalid date-time {v!r}: {exc}") from None


def _choice(choices: Iterable[str], what: str) -> Callable[[object], str]:
    allowed = tuple(choices)

    def conv(v: object) -> str:
        if v not in allowed:
            shown = v if isinstance(v, str) else f"{kind_of(v)} {v!r}"
            hint = did_you_mean(v, allowed) if isinstance(v, str) else ""
            raise BadValue(f"unknown {what} {shown!r}{hint}; expected one of {', '.join(allowed)}")
        return v

    _described(conv, {"enum": list(allowed)})
    return conv


def _mapping(v: object) -> dict[str, object]:
    if not isinstance(v, dict):
        raise BadValue(f"expected a mapping, got {kind_of(v)}")
    return v


_WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
DATA_TYPES: tuple[str, ...] = ("bool", "int16", "uint16", "int32", "uint32", "int64", "uint64")
DATA_TYPES += ("float32", "float64")


def _data_type(v: object) -> str:
    base, _, order = text_field(v).partition(":")
    _choice(DATA_TYPES, "data type")(base)
    if order and order not in _WORD_ORDERS:
        raise BadValue(f"unknown word order {order!r}; expected one of {', '.join(_WORD_ORDERS)}")
    return v  # type: ignore[return-value]


Conv = Callable[[object], object]
Spec = dict[str, tuple[Conv, bool]]  # key -> (converter, required)

_LEVEL = _choice([lv.value for lv in AssetLevel], "level")
ASSET: Spec = {
    "id": (ident, True),
    "name": (_name, False),
    "type": (_name, True),
    "level": (_LEVEL, True),
    "parent": (ident, False),
    "description": (text_field, False),
    "lat": (_ranged(-90, 90), False),
    "lon": (_ranged(-180, 180), False),
    "metadata": (_mapping, False),
}
ASSET_NESTED = ("sensors", "actuators", "children", "sim", "station")
SENSOR: Spec = {
    "id": (ident, True),
    "name": (_name, False),
    "kind": (_name, True),
    "unit": (text_field, True),
    "min_value": (number, False),
    "max_value": (number, False),
    "sampling_rate_seconds": (_positive, False),
    "warn_low": (number, False),
    "warn_high": (number, False),
    "fail_low": (number, False),
    "fail_high": (number, False),
}
ACTUATOR: Spec = {
    "id": (ident, True),
    "name": (_name, False),
    "unit": (text_field, True),
    "min_value": (number, True),
    "max_value": (number, True),
}
SIM: Spec = {"model": (_name, True), "parameters": (_mapping, False)}
SIM_MAPS = ("state_map", "input_map", "output_map")
STATION: Spec = {
    "cycle_time_s": (_positive, True),
    "cv": (_nonneg, False),
    "mtbf_h": (_positive, False),
    "mttr_h": (_positive, False),
    "buffer_after": (ident, False),
    "buffer_capacity": (_count, False),
}
SOURCE: Spec = {
    "id": (ident, True),
    "protocol": (_choice([p.value for p in DeviceProtocol], "protocol"), True),
    "endpoint": (text_field, True),
    "name": (text_field, False),
    "settings": (_mapping, False),
}
BINDING: Spec = {
    "sensor": (ident, False),
    "actuator": (ident, False),
    "address": (_name, True),
    "scale": (number, False),
    "offset": (number, False),
    "data_type": (_data_type, False),
}
RELATION: Spec = {
    "from": (ident, True),
    "to": (ident, True),
    "type": (_choice([t.value for t in RelationType], "relation type"), True),
}
EVENT: Spec = {
    "id": (ident, True),
    "asset": (ident, True),
    "kind": (_choice([k.value for k in MaintenanceKind], "maintenance kind"), True),
    "at": (_time, True),
    "description": (text_field, False),
    "technician": (text_field, False),
    "cost": (_nonneg, False),
    "downtime_minutes": (_nonneg, False),
    "work_order": (ident, False),
}
ORDER: Spec = {
    "id": (ident, True),
    "asset": (ident, True),
    "status": (_choice([s.value for s in WorkOrderStatus], "status"), True),
    "priority": (_priority, True),
    "created_at": (_time, True),
    "due_at": (_time, False),
    "reason": (text_field, False),
}
TOP: tuple[str, ...] = ("version", "name", "description", "assets", "data_sources", "relations")
TOP += ("maintenance", "work_orders")
MODBUS_ADDRESS = re.compile(r"^(hr|ir|coil|di):\d{1,5}$")

_FRAGMENTS: tuple[tuple[Callable[[object], object], dict[str, object]], ...] = (
    (text_field, {"type": "string"}),
    (_name, {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "\\S"}),
    (ident, {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:\\-]{0,127}$"}),
    (number, {"type": "number"}),
    (_positive, {"type": "number", "exclusiveMinimum": 0}),
    (_nonneg, {"type": "number", "minimum": 0}),
    (_count, {"type": "integer", "minimum": 0}),
    (_priority, {"type": "integer", "minimum": 1, "maximum": 5}),
    (_time, {"type": "string", "format": "date-time", "pattern": _RFC3339.pattern}),
    (_mapping, {"type": "object"}),
    (
        _data_type,
        {
            "type": "string",
            "pattern": f"^({'|'.join(DATA_TYPES)})(:({'|'.join(_WORD_ORDERS)}))?$",
        },
    ),
)
for _conv, _fragment in _FRAGMENTS:
    _described(_conv, _fragment)


def state_target(v: object) -> StateTarget:
    if isinstance(v, str) and v:
        return v
    if isinstance(v, dict):
        unknown = [k for k in v if k not in ("name", "scale", "offset")]
        if unknown or "name" not in v:
            raise BadValue("expected a name or {name, scale?, offset?}" + did_you_mean(str(unknown), "name"))
        return (_name(v["name"]), number(v.get("scale", 1.0)), number(v.get("offset", 0.0)))
    raise BadValue(f"expected a name or {{name, scale?, offset?}}, got {kind_of(v)} {v!r}")
