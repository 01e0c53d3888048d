"""The demo's simulated plant: every asset of a plant description, moving in (sped-up) time.

Assets with a ``sim`` spec are stepped by their model, all assets of one model in one
vectorised RK4 step (``_groups``). Sensors read model outputs: the ``state_map`` names
them, and the other sensors of a simulated asset are matched by kind (a pump's
``vibration`` sensor reads ``vibration_mm_s``). ``input_map`` entries keyed by an actuator
make that actuator drive the model input; entries keyed by a sensor couple models (the
valve position feeds the pumps' ``valve_opening``).

Around the models: tanks are filled and drained by the pump flows along the ``FEEDS``
relations; HVAC zones get weather, people and a thermostat (``_building``); stations
with a ``station`` spec run as a production line (``_line``); a power sensor on an asset
others ``DEPENDS_ON`` (a motor control centre) reads their summed power. One injected
fault: a pump bearing that wears (``WearFault``), so vibration and bearing temperature
climb slowly and alerts fire later.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from api.demo.building import Weather, Zones
from api.demo.groups import ModelGroup, Tap
from api.demo.line import LineState
from api.demo.tables import KIND_OUTPUT, NOISE, target_of
from graph.errors import NotFound, ValidationError
from graph.model import RelationType
from graph.plantfile import PlantDescription
from ingest.connectors.base import check_setpoint
from sim import get_model

__all__ = ["DemoPlant", "WearFault"]

_ZONE_COP = 3.5
_FOLLOW_TAU_S = 120.0
_LEVEL_GAIN_M3H_PER_M = 60.0


@dataclass(frozen=True, slots=True)
class WearFault:
    """A bearing that wears from its spec's ``wear`` to ``target`` over ``duration_s`` of
    plant time. ``asset_id`` None picks the first pump; sims of its child assets (the
    motor) wear with it."""

    asset_id: str | None = None
    target: float = 0.6
    duration_s: float = 1800.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.target <= 1.0 or not self.duration_s > 0:
            raise ValidationError("wear target must lie in [0, 1] and duration be positive")


class DemoPlant:
    """Simulated plant state for ``plant``; ``advance(wall_seconds)`` moves it on."""

    def __init__(
        self,
        plant: PlantDescription,
        *,
        seed: int = 0,
        speedup: float = 1.0,
        fault: WearFault | None = WearFault(),
        start: datetime | None = None,
        max_step_s: float = 0.5,
        warmup_s: float = 120.0,
    ) -> None:
        if not (math.isfinite(speedup) and speedup > 0):
            raise ValidationError(f"speedup must be a positive number, got {speedup}")
        self.speedup = speedup
        self.max_step_s = max_step_s
        self.t = 0.0
        self.start = start or datetime.now(UTC)
        self._rng = np.random.default_rng(seed)
        self.sensors = {s.id: s for s in plant.sensors}
        self.actuators = {a.id: a for a in plant.actuators}
        self.sensor_ids = list(self.sensors)
        self._slot = {sid: i for i, sid in enumerate(self.sensor_ids)}
        self.clean = np.zeros(len(self.sensor_ids))
        self.values = np.zeros(len(self.sensor_ids))
        self.setpoints: dict[str, float] = {}
        self._parent = {a.id: a.parent_id for a in plant.assets}
        self._by_asset: dict[str, list[str]] = defaultdict(list)
        for s in plant.sensors:
            self._by_asset[s.asset_id].append(s.id)
        self._build_groups(plant)
        self._build_fault(fault)
        self.weather = Weather()
        hvac = self.groups.get("hvac_zone")
        self.zones = Zones(hvac, self.weather) if hvac is not None else None
        self._zone_taps = self._build_zone_taps()
        self._build_setpoints(plant)
        self.line = LineState(plant.stations, self._rng) if plant.stations else None
        self._build_line_taps(plant)
        self._build_tanks(plant)
        self._build_power(plant)
        self._noise = np.array(
            [NOISE.get(self.sensors[s].kind, (0.0, 0.0)) for s in self.sensor_ids]
        )
        for _ in range(int(warmup_s / max_step_s)):
            self._substep(max_step_s, advance_clock=False)
        self._settle_tanks()
        self._snapshot()

    # ---- construction --------------------------------------------------------------

    def _build_groups(self, plant: PlantDescription) -> None:
        rows: dict[str, list[tuple[str, dict[str, float]]]] = defaultdict(list)
        specs = list(plant.sims)
        for spec in specs:
            rows[spec.model].append((spec.asset_id, dict(spec.parameters)))
        self.groups = {name: ModelGroup.create(get_model(name), r) for name, r in rows.items()}
        self.row = {(name, a): i for name, r in rows.items() for i, (a, _) in enumerate(r)}
        self.owner: dict[str, str] = {}  # sensor id -> model that produces it
        reads: dict[str, list[tuple[int, int, int, float, float]]] = defaultdict(list)
        feeds: dict[str, list[tuple[int, int, int, float, float]]] = defaultdict(list)
        self._act_inputs: dict[str, list[tuple[str, int, int, float, float]]] = defaultdict(list)
        for spec in specs:
            group, row = self.groups[spec.model], self.row[(spec.model, spec.asset_id)]
            for sid, target in spec.state_map.items():
                if sid in self._slot and sid not in self.owner:
                    name, scale, offset = target_of(target)
                    reads[spec.model].append(
                        (row, group.column(name), self._slot[sid], scale, offset)
                    )
                    self.owner[sid] = spec.model
            for sid in self._by_asset.get(spec.asset_id, []):
                out = KIND_OUTPUT.get(spec.model, {}).get(self.sensors[sid].kind)
                if out is not None and sid not in self.owner:
                    reads[spec.model].append((row, group.column(out), self._slot[sid], 1.0, 0.0))
                    self.owner[sid] = spec.model
            for key, target in spec.input_map.items():
                name, scale, offset = target_of(target)
                col = group.model.index_of("input", name)
                if key in self.actuators:
                    self._act_inputs[key].append((spec.model, row, col, scale, offset))
                elif key in self._slot:
                    feeds[spec.model].append((row, col, self._slot[key], scale, offset))
        self._reads = {m: Tap.build(reads[m]) for m in self.groups}
        self._feeds = {m: Tap.build(feeds[m]) for m in self.groups}
        for m, g in self.groups.items():
            self._reads[m].read(g.obs, self.clean)

    def _build_fault(self, fault: WearFault | None) -> None:
        self._wear: list[tuple[ModelGroup, int, int, float]] = []
        self.fault = fault
        self.fault_asset: str | None = None
        if fault is None:
            return
        asset = fault.asset_id
        if asset is None:
            pumps = self.groups.get("pump")
            if pumps is None:
                return
            asset = pumps.asset_ids[0]
        for (model, aid), row in self.row.items():
            if aid == asset or self._parent.get(aid) == asset:
                g = self.groups[model]
                if "wear" in g.model.param_names:
                    col = g.model.index_of("parameter", "wear")
                    self._wear.append((g, row, col, float(g.p[row, col])))
        if not self._wear:
            raise NotFound(f"wear fault: asset {asset} has no simulation with a wear parameter")
        self.fault_asset = asset

    def _build_zone_taps(self) -> list[tuple[int, str, int]]:
        if self.zones is None:
            return []
        taps = []
        for row, asset in enumerate(self.zones.group.asset_ids):
            for sid in self._by_asset.get(asset, []):
                kind = self.sensors[sid].kind
                if kind in ("co2", "humidity") and sid not in self.owner:
                    taps.append((self._slot[sid], kind, row))
                    self.owner[sid] = "zones"
        return taps

    def _build_setpoints(self, plant: PlantDescription) -> None:
        self._zone_sp: dict[str, int] = {}
        self._follow: dict[str, list[int]] = {}  # actuator -> sensors that follow it
        zone_rows = (
            {} if self.zones is None else {a: i for i, a in enumerate(self.zones.group.asset_ids)}
        )
        for a in plant.actuators:
            if a.id in self._act_inputs:
                model, row, col, scale, offset = self._act_inputs[a.id][0]
                self.setpoints[a.id] = (self.groups[model].u[row, col] - offset) / scale
            elif a.asset_id in zone_rows:
                self._zone_sp[a.id] = zone_rows[a.asset_id]
                self.setpoints[a.id] = float(np.clip(21.0, a.min_value, a.max_value))
            else:
                self.setpoints[a.id] = float(np.clip(18.0, a.min_value, a.max_value))
                slots = [
                    self._slot[s]
                    for s in self._by_asset.get(a.asset_id, [])
                    if s not in self.owner and self.sensors[s].unit == a.unit
                ]
                self._follow[a.id] = slots
                self.clean[slots] = self.setpoints[a.id]
                self.owner.update({self.sensor_ids[i]: "follower" for i in slots})
        for aid, value in self.setpoints.items():
            self.write(aid, value)

    def _build_line_taps(self, plant: PlantDescription) -> None:
        self._line_taps: list[tuple[int, str, int]] = []  # (slot, quantity, station index)
        kinds = {
            "counter": "count",
            "cycle_time": "last_cycle",
            "power": "power",
            "state": "state",
            "temperature": "oven_c",
        }
        for i, st in enumerate(plant.stations):
            for sid in self._by_asset.get(st.asset_id, []):
                what = kinds.get(self.sensors[sid].kind)
                if what is not None and sid not in self.owner:
                    self._line_taps.append((self._slot[sid], what, i))
                    self.owner[sid] = "line"
            for sid in self._by_asset.get(st.buffer_id or "", []):
                if sid not in self.owner and self.sensors[sid].kind in ("count", "level"):
                    self._line_taps.append((self._slot[sid], "buffer", i))
                    self.owner[sid] = "line"

    def _build_tanks(self, plant: PlantDescription) -> None:
        self._tanks = self.groups.get("tank")
        pumps = self.groups.get("pump")
        if self._tanks is None or pumps is None:
            self._tanks = None
            return
        feeds: dict[str, list[str]] = defaultdict(list)
        for r in plant.relations:
            if r.type is RelationType.FEEDS:
                feeds[r.source_id].append(r.target_id)
        tank_row = {a: i for i, a in enumerate(self._tanks.asset_ids)}
        n_t, n_p = len(tank_row), len(pumps.asset_ids)
        self._tank_in, self._tank_out = np.zeros((n_t, n_p)), np.zeros((n_t, n_p))
        pump_row = {a: i for i, a in enumerate(pumps.asset_ids)}
        for j, pump in enumerate(pumps.asset_ids):
            frontier, seen = [(pump, 1.0)], {pump}
            while frontier:
                node, share = frontier.pop()
                nxt = [n for n in feeds.get(node, []) if n not in seen and n not in pump_row]
                for n in nxt:
                    if n in tank_row:
                        self._tank_in[tank_row[n], j] += share / len(nxt)
                    else:
                        seen.add(n)
                        frontier.append((n, share / len(nxt)))
        for tank, i in tank_row.items():
            for n in feeds.get(tank, []):
                if n in pump_row:
                    self._tank_out[i, pump_row[n]] = 1.0
        self._pump_flow = pumps.column("flow_m3h")
        height = self._tanks.p[:, self._tanks.model.index_of("parameter", "height_m")]
        self._level0 = height / 2.0
        self._tanks.x[:, 0] = self._level0
        self._external = np.zeros(n_t)

    def _settle_tanks(self) -> None:
        """Start the tanks balanced: supply or consumption matching the settled flows."""
        if self._tanks is None:
            return
        flows = self.groups["pump"].obs[:, self._pump_flow]
        self._external = self._tank_out @ flows - self._tank_in @ flows
        self._tanks.x[:, 0] = self._level0
        self._reads["tank"].read(self._tanks.observe(self.t), self.clean)

    def _build_power(self, plant: PlantDescription) -> None:
        deps: dict[str, list[str]] = defaultdict(list)
        for r in plant.relations:
            if r.type is RelationType.DEPENDS_ON:
                deps[r.target_id].append(r.source_id)
        self._power: list[tuple[int, list[tuple[str, int]], int | None, float]] = []
        for asset, users in deps.items():
            mine = [s for s in self._by_asset.get(asset, []) if s not in self.owner]
            power = [s for s in mine if self.sensors[s].kind == "power"]
            if not power:
                continue
            loads = [
                (m, self.row[(m, u)])
                for u in users
                for m in ("pump", "hvac_zone")
                if (m, u) in self.row
            ]
            volt = next((s for s in mine if self.sensors[s].kind == "voltage"), None)
            rated = self.sensors[power[0]].max_value or 100.0
            self._power.append(
                (self._slot[power[0]], loads, None if volt is None else self._slot[volt], rated)
            )
            self.owner[power[0]] = "power"
            if volt is not None:
                self.owner[volt] = "power"
        self.unsimulated = [s for s in self.sensor_ids if s not in self.owner]
        for sid in self.unsimulated:
            s = self.sensors[sid]
            lo, hi = s.min_value or 0.0, s.max_value if s.max_value is not None else 1.0
            self.clean[self._slot[sid]] = (lo + hi) / 2.0

    # ---- running -------------------------------------------------------------------

    def hour(self) -> float:
        """Hour of day of the plant clock (starts at ``start``, runs ``speedup`` times fast)."""
        s = self.start
        return (s.hour + s.minute / 60.0 + s.second / 3600.0 + self.t / 3600.0) % 24.0

    def advance(self, wall_seconds: float) -> None:
        """Move the plant on by ``wall_seconds * speedup`` of plant time."""
        dt = max(0.0, wall_seconds) * self.speedup
        if dt == 0.0:
            return
        steps = max(1, math.ceil(dt / self.max_step_s))
        for _ in range(steps):
            self._substep(dt / steps)
        if self.line is not None:
            self.line.advance(dt)
        share = 1.0 - math.exp(-dt / _FOLLOW_TAU_S)
        for aid, slots in self._follow.items():
            self.clean[slots] += (self.setpoints[aid] - self.clean[slots]) * share
        self._snapshot()

    def _substep(self, h: float, *, advance_clock: bool = True) -> None:
        if self._wear and advance_clock and self.fault is not None:
            progress = min(1.0, (self.t + h) / self.fault.duration_s)
            for g, row, col, w0 in self._wear:
                g.p[row, col] = w0 + (self.fault.target - w0) * progress
                g.reprepare()
        if self.zones is not None:
            self.zones.update(self.hour(), h)
        if self._tanks is not None:
            flows = self.groups["pump"].obs[:, self._pump_flow]
            deviation = (self._tanks.x[:, 0] - self._level0) * _LEVEL_GAIN_M3H_PER_M
            inflow = self._tank_in @ flows + np.maximum(self._external, 0.0)
            draw = self._tank_out @ flows + np.maximum(-self._external, 0.0)
            self._tanks.u[:, 0] = np.maximum(
                inflow - np.where(self._external > 0, deviation, 0.0), 0.0
            )
            self._tanks.u[:, 1] = np.maximum(
                draw + np.where(self._external < 0, deviation, 0.0), 0.0
            )
        for name, g in self.groups.items():
            self._feeds[name].feed(self.clean, g.u)
            g.step(self.t, h)
            g.observe(self.t + h)
            self._reads[name].read(g.obs, self.clean)
        if advance_clock:
            self.t += h

    def _snapshot(self) -> None:
        c = self.clean
        if self.zones is not None:
            air = {"co2": self.zones.co2, "humidity": self.zones.humidity}
            for slot, kind, row in self._zone_taps:
                c[slot] = air[kind][row]
        if self.line is not None:
            ln = self.line
            table = {
                "count": ln.count,
                "last_cycle": ln.last_cycle,
                "power": ln.power_kw(),
                "state": ln.state,
                "oven_c": ln.oven_c,
                "buffer": ln.buffer,
            }
            for slot, what, i in self._line_taps:
                c[slot] = float(table[what][i])
        for slot, loads, volt, rated in self._power:
            total = 1.5 + sum(self._load_kw(m, row) for m, row in loads)
            c[slot] = min(total, rated)
            if volt is not None:
                c[volt] = 400.0 * (1.0 - 0.02 * min(total / rated, 1.0))
        sigma = self._noise[:, 0] + self._noise[:, 1] * np.abs(c)
        self.values = c + sigma * self._rng.standard_normal(c.size)

    def _load_kw(self, model: str, row: int) -> float:
        g = self.groups[model]
        if model == "pump":
            return float(g.obs[row, g.column("power_kw")])
        assert self.zones is not None
        return abs(float(self.zones.hvac_kw[row])) / _ZONE_COP

    # ---- reading and writing -------------------------------------------------------

    def value(self, sensor_id: str) -> float:
        """The latest measured value (engineering units, with measurement noise)."""
        try:
            return float(self.values[self._slot[sensor_id]])
        except KeyError:
            raise NotFound(f"sensor {sensor_id} is not part of the demo plant") from None

    def snapshot(self) -> dict[str, float]:
        return dict(zip(self.sensor_ids, self.values.tolist(), strict=True))

    def wear(self) -> float:
        """The current wear of the faulty bearing (0 new .. 1 end of life)."""
        if not self._wear:
            return 0.0
        g, row, col, _ = self._wear[0]
        return float(g.p[row, col])

    def write(self, actuator_id: str, value: float) -> float:
        """Apply a setpoint; out-of-range values are refused like a device would."""
        act = self.actuators.get(actuator_id)
        if act is None:
            raise NotFound(f"actuator {actuator_id} is not part of the demo plant")
        value = check_setpoint(value)
        if not act.min_value <= value <= act.max_value:
            raise ValidationError(
                f"{actuator_id}: {value} is outside [{act.min_value}, {act.max_value}] {act.unit}"
            )
        self.setpoints[actuator_id] = value
        for model, row, col, scale, offset in self._act_inputs.get(actuator_id, []):
            self.groups[model].u[row, col] = scale * value + offset
        if actuator_id in self._zone_sp and self.zones is not None:
            self.zones.setpoint[self._zone_sp[actuator_id]] = value
        return value
