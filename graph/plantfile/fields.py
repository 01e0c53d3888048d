"""Plant file fields: value converters and the key specs of each kind of entry."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from graph.errors import ValidationError
from graph.model import AssetLevel, DeviceProtocol, RelationType, WorkOrderStatus, check_id
from graph.plantfile.text import kind_of

if TYPE_CHECKING:
    from graph.plantfile.spec import StateTarget


class _Bad(Exception):
    """A field's value is wrong; the walker adds the field's path."""


def _hint(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise _Bad(f"expected a string, got {kind_of(v)} {v!r}")
    return v


def _name(v: object) -> str:
    if not _str(v).strip() or len(v) > 256:  # type: ignore[arg-type]
        raise _Bad("expected a non-empty string of at most 256 characters")
    return v  # type: ignore[return-value]


def _ident(v: object) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        raise _Bad(f"ids are strings, got {kind_of(v)} {v!r}: quote it")
    try:
        return check_id(v, "id")
    except ValidationError as exc:
        raise _Bad(exc.message) from None


def _num(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"expected a number, got {kind_of(v)} {v!r}")
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
        raise _Bad(f"expected a whole number >= 0, got {kind_of(v)} {v!r}")
    return v


def _priority(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
        raise _Bad(f"expected a whole number from 1 to 5, got {kind_of(v)} {v!r}")
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
            shown = v if isinstance(v, str) else f"{kind_of(v)} {v!r}"
            hint = _hint(v, allowed) if isinstance(v, str) else ""
            raise _Bad(f"unknown {what} {shown!r}{hint}; expected one of {', '.join(allowed)}")
        return v

    return conv


def _mapping(v: object) -> dict[str, object]:
    if not isinstance(v, dict):
        raise _Bad(f"expected a mapping, got {kind_of(v)}")
    return v


_WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
DATA_TYPES: tuple[str, ...] = ("bool", "int16", "uint16", "int32", "uint32", "int64", "uint64")
DATA_TYPES += ("float32", "float64")


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
    "warn_low": (_num, False),
    "warn_high": (_num, False),
}
_ACTUATOR: Spec = {
    "id": (_ident, True),
    "name": (_name, False),
    "unit": (_str, True),
    "min_value": (_num, True),
    "max_value": (_num, True),
}
_SIM: Spec = {"model": (_name, True), "parameters": (_mapping, False)}
_SIM_MAPS = ("state_map", "input_map", "output_map")
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
    "protocol": (_choice([p.value for p in DeviceProtocol], "protocol"), True),
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
_TOP: tuple[str, ...] = ("version", "name", "description", "assets", "data_sources", "relations")
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
    raise _Bad(f"expected a name or {{name, scale?, offset?}}, got {kind_of(v)} {v!r}")
