"""Plant description files: parse, validate and dump a whole plant (YAML or JSON).

The public surface: ``parse_plant`` and ``load_plant_file`` (``parse``), the types they
build (``spec``) and ``dump_plant`` (``dump``); ``check``, ``fields`` and ``text`` are the
checker, the field converters and the line-aware YAML/JSON readers behind them.

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
                     warn_low?, warn_high?, fail_low?, fail_high?}]
                    # warn_*: alarm levels; fail_*: failure limits (the asset trips or is
                    # failed there); min <= fail_low <= warn_low <= warn_high <= fail_high <= max
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
                   downtime_minutes?, work_order?}]   # kind: graph.model.MaintenanceKind
                   # (failure, replacement, repair, inspection, check, preventive, ...);
                   # a failure or replacement restarts the asset's life clock
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

from graph.plantfile.dump import dump_plant, plant_to_dict
from graph.plantfile.fields import DATA_TYPES
from graph.plantfile.parse import load_plant_file, parse_plant
from graph.plantfile.spec import AssetSimSpec, PlantDescription, StateTarget, StationSpec
from graph.plantfile.text import format_path

__all__ = [
    "DATA_TYPES",
    "AssetSimSpec",
    "PlantDescription",
    "StateTarget",
    "StationSpec",
    "dump_plant",
    "format_path",
    "load_plant_file",
    "parse_plant",
    "plant_to_dict",
]
