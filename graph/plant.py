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
        sensors:   [{id, name?, kind, unit, min_value?, max_value?, sampling_rate_seconds?,
                     warn_low?, warn_high?}]   # warn_*: alarm levels within the range
        actuators: [{id, name?, unit, min_value, max_value}]
        children:  [ ...assets... ] # each child's level must be deeper than its parent's
        sim:                        # optional simulation model of this asset
          model: pump
          parameters: {rated_speed_rpm: 2900}           # numbers only
          state_map: {pump-101.speed: speed_rpm}        # sensor id -> model state
          input_map: {pump-101.speed_sp: speed_setpoint_rpm}  # actuator/sensor id -> input
          output_map: {pump-101.vibration: vibration_mm_s}    # sensor id -> model output
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

A ``state_map``/``input_map``/``output_map`` value is a name, or ``{name, scale?,
offset?}`` when units differ (model value = scale * reading + offset): ``state_map``
sensors set a run's initial state, ``input_map`` points drive its inputs, and
``output_map`` sensors measure model outputs (residuals, calibration); a ``state_map``
sensor whose state is also an output counts as measuring it. ``buffer_capacity``
defaults to the ``metadata.capacity`` of the ``buffer_after`` asset. Times are RFC 3339
with an offset (``2025-03-01T08:00:00Z``). ``data_type`` is ``bool``, ``(u)int16/32/64`` or
``float32/64``, optionally ``:ABCD|CDAB|BADC|DCBA`` (word order); Modbus addresses are
``hr:N``/``ir:N``/``coil:N``/``di:N`` and actuators need ``hr`` or ``coil``.

Ids are unique per kind across the file (sensors and actuators share one namespace).
Every fault is collected (up to 200) and raised as one ``ValidationError`` naming the
first fault's path (``assets[0].children[2].sensors[1].max_value``) and line; all of
them are in ``details["errors"]`` as ``{"path", "line", "message"}``.
"""

from __future__ import annotations

import gc
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from graph._plant_dump import dump_plant, plant_to_dict
from graph._plant_fields import DATA_TYPES
from graph._plant_text import (
    KeyPath,
    LineTree,
    _Fault,
    _json_lines,
    _load_json,
    _load_yaml,
    format_path,
    line_at,
)
from graph.errors import NotFound, ValidationError
from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    DataSource,
    MaintenanceEvent,
    Relation,
    Sensor,
    SensorBinding,
    WorkOrder,
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


@dataclass(frozen=True, slots=True)
class AssetSimSpec:
    """How an asset is simulated: the model, its parameters, and which sensors/actuators
    feed which model states and inputs (scenarios start from the latest readings)."""

    asset_id: str
    model: str
    parameters: dict[str, float] = field(default_factory=dict, hash=False)
    state_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)
    input_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)
    output_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)


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
        names: tuple[str, ...]
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
        bindings: tuple[SensorBinding | ActuatorBinding, ...]
        bindings = (*self.sensor_bindings, *self.actuator_bindings)
        for b in bindings:
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
    # The checker builds this module's types, so it is imported here, not at the top.
    from graph._plant_check import _MAX_ERRORS, _Walker

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
