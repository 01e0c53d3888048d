"""Simulation through the real app: what-if runs with bands on the example pump station,
progress over WebSocket, cancellation, calibration, replay residuals, line bottleneck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from api.cli import EXAMPLE_PLANT
from graph.bolt.importer import import_plant
from graph.changes import RegistryChange
from graph.errors import ValidationError
from graph.plantfile import load_plant_file, parse_plant
from ingest.reading import RawReading
from sim import MODELS, InputSeries, get_model, rk4
from tests.support.app import Api
from tests.support.polling import eventually
from tests.support.tokens import SCOPED_ENGINEER, VIEWER
from tests.support.wsclient import connect

RUN_FIELDS = "id model status progress message summary startAt createdBy percentiles outputs"


async def _ingest(api: Api, raws: list[RawReading]) -> None:
    result = await api.services.ingest.ingest(raws)
    assert result.accepted == len(raws), result.errors
    await api.services.ingest.writer.flush()
    await api.services.readings.sync()


async def _wait_status(api: Api, run_id: str, statuses: set[str], within: float = 120) -> dict:
    q = f"query($id: ID!) {{ simulationRun(id: $id) {{ {RUN_FIELDS} }} }}"

    async def run() -> dict:
        return (await api.ok(q, {"id": run_id}))["simulationRun"]

    return await eventually(
        run, done=lambda r: r["status"] in statuses, within=within, every=0.2, what="run status"
    )


@pytest.fixture(scope="module")
async def example(api: Api) -> None:
    plant = load_plant_file(EXAMPLE_PLANT)
    await import_plant(api.services.repo, plant)
    await api.services.registry.publish(RegistryChange.everything())


async def test_simulation_models_lists_models_with_units_and_bounds(api: Api) -> None:
    data = await api.ok(
        "{ simulationModels { name states { name unit default } "
        "parameters { name unit default min max } outputs { name unit } } }",
        token=VIEWER,
    )
    models = {m["name"]: m for m in data["simulationModels"]}
    assert set(models) == set(MODELS)
    wear = next(p for p in models["pump"]["parameters"] if p["name"] == "wear")
    assert (wear["min"], wear["max"], wear["default"]) == (0.0, 1.0, 0.0)
    assert {"name": "flow_m3h", "unit": "m3/h"} in models["pump"]["outputs"]


RUN = """mutation($asset: ID!, $s: ScenarioInput!) {
  runSimulation(assetId: $asset, scenario: $s) { id status model createdBy }
}"""

SUBSCRIBE = "subscription($id: ID!) { simulationProgress(runId: $id) { status progress message } }"


async def test_what_if_on_the_example_pump_has_bands_progress_and_stored_series(
    api: Api, example: None
) -> None:
    now = datetime.now(UTC)
    await _ingest(
        api,
        [
            RawReading(sensor_id="pump-102.speed", value=2500.0, timestamp=now),
            RawReading(sensor_id="pump-102.flow", value=150.0, timestamp=now),
            RawReading(sensor_id="pump-102.bearing_temp", value=45.0, timestamp=now),
        ],
    )
    scenario = {
        "horizonSeconds": 3600,
        "stepSeconds": 0.05,
        "outputEverySeconds": 30,
        "inputs": [
            {"name": "speed_setpoint_rpm", "times": [0], "values": [2900]},
            {
                "name": "inlet_pressure_bar",
                "times": [0, 3600],
                "values": [1.0, 0.8],
                "interpolation": "LINEAR",
            },
        ],
        "monteCarlo": [{"parameter": "wear", "distribution": "uniform", "args": [0.2, 0.5]}],
        "samples": 40,
        "seed": 3,
    }
    started = (await api.ok(RUN, {"asset": "pump-102", "s": scenario}))["runSimulation"]
    assert started["status"] == "queued" and started["model"] == "pump"
    assert started["createdBy"] == "alice"
    updates: list[dict[str, Any]] = []
    async with connect(api.base, VIEWER) as ws:
        await ws.subscribe(SUBSCRIBE, {"id": started["id"]})
        while True:
            u = (await ws.next(within=120))["simulationProgress"]
            updates.append(u)
            if u["status"] in ("succeeded", "failed", "cancelled"):
                break
    assert updates[-1]["status"] == "succeeded", updates
    assert updates[-1]["progress"] == 1.0
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress)

    q = """query($id: ID!) { simulationRun(id: $id) {
      status percentiles outputs summary asset { id }
      nominal: series(output: "flow_m3h") { timestamps values unit }
      p5: series(output: "flow_m3h", percentile: 5) { values }
      p50: series(output: "flow_m3h", percentile: 50) { values }
      p95: series(output: "flow_m3h", percentile: 95) { values }
      speed: series(output: "speed_rpm", bucket: "10m", aggregate: LAST) { values bucketSeconds }
    } }"""
    run = (await api.ok(q, {"id": started["id"]}, token=VIEWER))["simulationRun"]
    assert run["status"] == "succeeded" and run["asset"]["id"] == "pump-102"
    assert run["percentiles"] == [5.0, 50.0, 95.0]
    nominal = np.array(run["nominal"]["values"])
    p5, p50, p95 = (np.array(run[k]["values"]) for k in ("p5", "p50", "p95"))
    assert nominal.size == p5.size == p95.size == 121  # t = 0, 30 .. 3600 s
    assert run["nominal"]["unit"] == "m3/h"
    times = [datetime.fromisoformat(t) for t in run["nominal"]["timestamps"]]
    assert times[-1] - times[0] == timedelta(hours=1)
    assert np.all(p5 <= p50) and np.all(p50 <= p95)
    assert np.all((p95 - p5)[1:] > 0.5)  # wear uncertainty widens the band (after t=0)
    inside = (nominal >= p5 - 0.5) & (nominal <= p95 + 0.5)
    assert inside.mean() > 0.9  # nominal wear 0.35 lies inside U(0.2, 0.5)
    summary = run["summary"]
    assert summary["initialState"]["speed_rpm"]["sensorId"] == "pump-102.speed"
    assert summary["initialState"]["speed_rpm"]["value"] == pytest.approx(2500.0)
    assert summary["samples"] == 40
    assert nominal[0] == pytest.approx(150.0)  # starts from the measured flow
    assert run["speed"]["values"][-1] == pytest.approx(2900.0, abs=1.0)
    # the pressure ramp lowers the flow over the hour at constant speed
    assert nominal[-1] < nominal[20]

    listed = await api.ok(
        'query { simulationRuns(assetId: "pump-102", first: 50) { nodes { id status } } }'
    )
    assert {"id": started["id"], "status": "succeeded"} in listed["simulationRuns"]["nodes"]


async def test_example_pumps_measure_pressure_power_and_vibration(api: Api, example: None) -> None:
    q = """query { simulationSpec(assetId: "pump-101") {
      model parameters { name value } measuredOutputs { pointId name } } }"""
    spec = (await api.ok(q, token=VIEWER))["simulationSpec"]
    measured = {r["pointId"]: r["name"] for r in spec["measuredOutputs"]}
    assert measured == {
        "pump-101.speed": "speed_rpm",
        "pump-101.flow": "flow_m3h",
        "pump-101.bearing_temp": "bearing_temp_c",
        "pump-101.discharge_pressure": "discharge_pressure_bar",
        "pump-101.motor_power": "power_kw",
        "pump-101.vibration": "vibration_mm_s",
    }
    assert {"name": "valve_resistance", "value": 1.13e-4} in spec["parameters"]
    none = await api.ok('query { simulationSpec(assetId: "ps-line-1") { model } }', token=VIEWER)
    assert none["simulationSpec"] is None


async def test_long_run_is_cancelled(api: Api, example: None) -> None:
    scenario = {
        "horizonSeconds": 86400,
        "stepSeconds": 0.01,
        "monteCarlo": [{"parameter": "wear", "distribution": "uniform", "args": [0.0, 0.5]}],
        "samples": 200,
    }
    run = (await api.ok(RUN, {"asset": "pump-103", "s": scenario}))["runSimulation"]
    await _wait_status(api, run["id"], {"running"}, within=60)
    cancel = "mutation($id: ID!) { cancelSimulation(id: $id) { id status } }"
    await api.ok(cancel, {"id": run["id"]})
    done = await _wait_status(api, run["id"], {"cancelled", "failed", "succeeded"}, within=30)
    assert done["status"] == "cancelled", done
    assert done["progress"] < 1.0
    # a viewer may watch but not start or cancel
    body = await api.gql(cancel, {"id": run["id"]}, token=VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_events_end_or_mark_a_run_of_the_example_reservoir(api: Api, example: None) -> None:
    # tank-301 (120 m2) drained at 400 m3/h from 3 m: 0.3 h to 2 m (a quarter full,
    # marked), 0.75 h to 0.5 m (low: the run ends there)
    scenario = {
        "horizonSeconds": 7200,
        "stepSeconds": 1,
        "outputEverySeconds": 60,
        "initialState": [{"name": "level_m", "value": 3.0}],
        "inputs": [
            {"name": "inflow_m3h", "times": [0], "values": [0]},
            {"name": "outflow_demand_m3h", "times": [0], "values": [400]},
        ],
        "events": [
            {"name": "tank_low", "variable": "level_m", "threshold": 0.5, "direction": "DOWN"},
            {
                "name": "quarter",
                "variable": "fill_fraction",
                "threshold": 0.25,
                "direction": "DOWN",
                "terminal": False,
            },
        ],
    }
    run = (await api.ok(RUN, {"asset": "tank-301", "s": scenario}))["runSimulation"]
    done = await _wait_status(api, run["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done
    hits = {e["event"]: e for e in done["summary"]["events"]}
    assert set(hits) == {"tank_low", "quarter"}
    assert hits["quarter"]["timeSeconds"] == pytest.approx(1080.0, abs=1.0)
    assert hits["quarter"]["terminal"] is False
    assert hits["tank_low"]["timeSeconds"] == pytest.approx(2700.0, abs=1.0)
    assert hits["tank_low"]["terminal"] is True
    start = datetime.fromisoformat(done["startAt"])
    assert datetime.fromisoformat(hits["tank_low"]["at"]) - start == pytest.approx(
        timedelta(seconds=hits["tank_low"]["timeSeconds"]), abs=timedelta(milliseconds=1)
    )
    assert done["summary"]["outputs"]["level_m"]["min"] >= 0.5 - 1e-9
    q = 'query($id: ID!) { simulationRun(id: $id) { series(output: "level_m") { timestamps } } }'
    stamps = (await api.ok(q, {"id": run["id"]}))["simulationRun"]["series"]["timestamps"]
    last = datetime.fromisoformat(stamps[-1]) - start
    assert timedelta(seconds=2640) <= last <= timedelta(seconds=2700)  # nothing after the end

    bad = {**scenario, "events": [{"name": "e", "variable": "speed_rpm", "threshold": 1.0}]}
    body = await api.gql(RUN, {"asset": "tank-301", "s": bad})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION" and "speed_rpm" in err["message"], err
    twice = {**scenario, "events": [scenario["events"][0]] * 2}
    body = await api.gql(RUN, {"asset": "tank-301", "s": twice})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    lonely = {**scenario, "events": [], "samples": 20}  # samples without monteCarlo
    body = await api.gql(RUN, {"asset": "tank-301", "s": lonely})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "monte_carlo" in body["errors"][0]["message"]


def _pump_plant(uid: str, output_map: str | None = None) -> str:
    outputs = output_map or (
        f"{{{uid}.pressure: discharge_pressure_bar, {uid}.power: power_kw, "
        f"{uid}.vibration: vibration_mm_s}}"
    )
    return f"""
assets:
  - id: {uid}-site
    level: site
    type: site
    children:
      - id: {uid}-pump
        type: centrifugal_pump
        level: equipment
        sensors:
          - {{id: {uid}.speed, kind: speed, unit: rpm, min_value: 0, max_value: 4000}}
          - {{id: {uid}.flow, kind: flow, unit: m3/h, min_value: 0, max_value: 500}}
          - {{id: {uid}.temp, kind: temperature, unit: degC, min_value: -20, max_value: 150}}
          - {{id: {uid}.speed_sp, kind: speed, unit: rpm, min_value: 0, max_value: 4000}}
          - {{id: {uid}.pressure, kind: pressure, unit: bar, min_value: 0, max_value: 16}}
          - {{id: {uid}.power, kind: power, unit: kW, min_value: 0, max_value: 100}}
          - {{id: {uid}.vibration, kind: vibration, unit: mm/s, min_value: 0, max_value: 50}}
        sim:
          model: pump
          parameters: {{wear: 0.1, static_head_m: 35.2}}
          state_map: {{{uid}.speed: speed_rpm, {uid}.flow: flow_m3h, {uid}.temp: bearing_temp_c}}
          input_map: {{{uid}.speed_sp: speed_setpoint_rpm}}
          output_map: {outputs}
"""


# sensor of the synthetic pump -> the model output it records
_RECORDED = {
    "speed": "speed_rpm",
    "flow": "flow_m3h",
    "temp": "bearing_temp_c",
    "pressure": "discharge_pressure_bar",
    "power": "power_kw",
    "vibration": "vibration_mm_s",
}


async def test_calibration_recovers_wear_stores_it_and_replay_has_residuals(
    api: Api, uid: str
) -> None:
    plant = parse_plant(_pump_plant(uid), sim_models=set(MODELS))
    await import_plant(api.services.repo, plant)
    await api.services.registry.publish(RegistryChange.everything())
    # the "plant": the pump model at wear 0.4 driven through setpoint steps
    m = get_model("pump")
    true = m.param_vector({"wear": 0.4, "static_head_m": 35.2})
    sp = InputSeries.steps([0, 600, 2400], [2500.0, 2900.0, 2700.0])
    x0 = m.state_vector({"speed_rpm": 2500.0, "flow_m3h": 150.0, "bearing_temp_c": 40.0})
    tr = rk4(
        m,
        x0,
        horizon_s=3600,
        dt=0.1,
        inputs={"speed_setpoint_rpm": sp},
        params=true,
        record_every=100,
    )
    t0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    raws = []
    for k, t in enumerate(tr.times):
        at = t0 + timedelta(seconds=float(t))
        for sensor, out in _RECORDED.items():
            value = float(tr.output(out)[k, 0])
            raws.append(RawReading(sensor_id=f"{uid}.{sensor}", value=value, timestamp=at))
        raws.append(
            RawReading(
                sensor_id=f"{uid}.speed_sp", value=float(sp.at(np.array([t]))[0]), timestamp=at
            )
        )
    await _ingest(api, raws)

    spec_q = """query($a: ID!) { simulationSpec(assetId: $a) {
      model outputMap { pointId name scale } measuredOutputs { pointId name } } }"""
    spec = (await api.ok(spec_q, {"a": f"{uid}-pump"}, token=VIEWER))["simulationSpec"]
    assert spec["model"] == "pump"
    assert {"pointId": f"{uid}.power", "name": "power_kw", "scale": 1.0} in spec["outputMap"]
    assert {r["name"] for r in spec["measuredOutputs"]} == set(_RECORDED.values())

    q = """mutation($a: ID!, $from: DateTime!, $to: DateTime!) {
      calibrateModel(assetId: $a, parameters: ["wear"], from: $from, to: $to) {
        model parameters { name value stdError } fits { output sensorId points rmse r2 }
        r2 success message stored evaluations
      } }"""
    end = t0 + timedelta(hours=1)
    res = (await api.ok(q, {"a": f"{uid}-pump", "from": t0.isoformat(), "to": end.isoformat()}))[
        "calibrateModel"
    ]
    assert res["success"] and res["stored"], res
    wear = res["parameters"][0]
    assert wear["name"] == "wear" and wear["value"] == pytest.approx(0.4, abs=0.05), res
    fits = {f["output"]: f for f in res["fits"]}
    assert set(fits) == set(_RECORDED.values())  # the output_map sensors are fitted too
    assert fits["flow_m3h"]["r2"] > 0.9 and fits["flow_m3h"]["sensorId"] == f"{uid}.flow"
    assert fits["vibration_mm_s"]["sensorId"] == f"{uid}.vibration"
    assert fits["power_kw"]["r2"] > 0.9
    specs = await api.services.repo.assets.specs([f"{uid}-pump"])
    assert specs[f"{uid}-pump"]["sim"]["parameters"]["wear"] == pytest.approx(wear["value"])

    # replay the recorded hour with the stored parameters: the recorded setpoint steps
    # drive it (no inputs given), and the residuals compare every mapped sensor
    scenario = {
        "horizonSeconds": 3600,
        "stepSeconds": 0.1,
        "outputEverySeconds": 10,
        "startAt": t0.isoformat(),
    }
    run = (await api.ok(RUN, {"asset": f"{uid}-pump", "s": scenario}))["runSimulation"]
    done = await _wait_status(api, run["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done
    summary = done["summary"]
    assert summary["parameters"]["wear"] == pytest.approx(wear["value"])
    assert summary["initialState"]["flow_m3h"]["value"] == pytest.approx(150.0)
    source = summary["inputs"]["speed_setpoint_rpm"]
    assert source["source"] == "history" and source["sensorId"] == f"{uid}.speed_sp"
    assert source["value"] == 2500.0 and source["changes"] == 2
    q = """query($id: ID!) { simulationRun(id: $id) {
      speed: series(output: "speed_rpm") { timestamps values }
      residuals { sensorId output n rmse bias } } }"""
    got = (await api.ok(q, {"id": run["id"]}))["simulationRun"]
    times = np.array(
        [(datetime.fromisoformat(t) - t0).total_seconds() for t in got["speed"]["timestamps"]]
    )
    speed = np.array(got["speed"]["values"])
    # the replayed speed follows the recorded setpoint: 2,500 -> 2,900 at 600 s -> 2,700
    assert speed[(times > 100) & (times < 590)] == pytest.approx(2500.0, abs=1.0)
    assert speed[(times > 700) & (times < 2390)] == pytest.approx(2900.0, abs=1.0)
    assert speed[times > 2500] == pytest.approx(2700.0, abs=1.0)
    by = {r["output"]: r for r in got["residuals"]}
    assert set(by) == set(_RECORDED.values())
    assert by["flow_m3h"]["n"] > 300 and by["flow_m3h"]["rmse"] < 3.0, by
    assert by["speed_rpm"]["sensorId"] == f"{uid}.speed"
    assert by["discharge_pressure_bar"]["n"] > 300
    assert by["discharge_pressure_bar"]["rmse"] < 0.05, by
    assert by["power_kw"]["rmse"] < 1.0 and by["vibration_mm_s"]["rmse"] < 0.3, by


async def test_an_output_map_naming_no_output_is_refused(api: Api, uid: str) -> None:
    plant = parse_plant(
        _pump_plant(uid, output_map=f"{{{uid}.power: shaft_power}}"), sim_models=set(MODELS)
    )
    await import_plant(api.services.repo, plant)
    body = await api.gql(RUN, {"asset": f"{uid}-pump", "s": {"horizonSeconds": 10}})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION", err
    assert "shaft_power" in err["message"] and "not an output" in err["message"]
    # and a plant file mapping an unknown sensor is refused when it is read
    with pytest.raises(ValidationError, match="output_map"):
        parse_plant(
            _pump_plant(uid, output_map=f"{{{uid}.nothing: power_kw}}"), sim_models=set(MODELS)
        )


def _line_plant(uid: str) -> str:
    def station(name: str, cycle: float, buf: str | None) -> str:
        after = f", buffer_after: {buf}, buffer_capacity: 5" if buf else ""
        return (
            f"      - {{id: {uid}-{name}, type: station, level: unit, "
            f"station: {{cycle_time_s: {cycle}{after}}}}}\n"
        )

    buffer = "      - {{id: {uid}-{name}, type: buffer, level: unit, metadata: {{capacity: 5}}}}\n"
    return (
        f"assets:\n  - id: {uid}-line\n    type: production_line\n    level: line\n"
        "    children:\n"
        + station("s1", 30, f"{uid}-b1")
        + buffer.format(uid=uid, name="b1")
        + station("s2", 45, f"{uid}-b2")
        + buffer.format(uid=uid, name="b2")
        + station("s3", 40, None)
        + "relations:\n"
        + "".join(
            f"  - {{from: {uid}-{a}, to: {uid}-{b}, type: FEEDS}}\n"
            for a, b in (("s1", "b1"), ("b1", "s2"), ("s2", "b2"), ("b2", "s3"))
        )
    )


async def test_line_bottleneck_is_the_slowest_station(api: Api, uid: str) -> None:
    plant = parse_plant(_line_plant(uid), sim_models=set(MODELS))
    await import_plant(api.services.repo, plant)
    q = """query($line: ID!) { lineBottleneck(lineId: $line, hours: 10, seed: 1) {
      bottleneck baselineThroughputPerHour stations {
        stationId cycleTimeSeconds bufferAfter gainPerHour utilisation blocked starved } } }"""
    res = (await api.ok(q, {"line": f"{uid}-line"}))["lineBottleneck"]  # an engineer (admin)
    assert res["bottleneck"] == f"{uid}-s2"
    # deterministic cycle times: the line runs at the pace of its slowest station, 45 s
    assert res["baselineThroughputPerHour"] == pytest.approx(3600 / 45, rel=0.02)
    stations = {s["stationId"]: s for s in res["stations"]}
    assert [s["stationId"] for s in res["stations"]] == [f"{uid}-s{i}" for i in (1, 2, 3)]
    assert stations[f"{uid}-s2"]["utilisation"] == pytest.approx(1.0, abs=0.01)
    assert stations[f"{uid}-s1"]["blocked"] > 0.2  # 30 s station waits for the 45 s one
    assert stations[f"{uid}-s3"]["starved"] > 0.05
    # 10 % faster at the bottleneck: 45 -> 40.5 s, 80 -> 88.9 parts/h (s3 at 40 s follows)
    assert stations[f"{uid}-s2"]["gainPerHour"] == pytest.approx(3600 / 40.5 - 80, rel=0.1)
    assert abs(stations[f"{uid}-s1"]["gainPerHour"]) < 0.5
    assert stations[f"{uid}-s1"]["bufferAfter"] == 5


async def test_a_warm_up_leaves_the_filling_of_the_empty_line_out(api: Api, uid: str) -> None:
    """The line starts empty: parts of the first hour pass the slow station only after
    the stations before it filled up. With a warm-up, the hour measured is steady."""
    plant = parse_plant(_line_plant(uid), sim_models=set(MODELS))
    await import_plant(api.services.repo, plant)
    q = """query($line: ID!, $w: Float!) { lineBottleneck(lineId: $line, hours: 0.5,
      replications: 1, warmupHours: $w) { warmupHours baselineThroughputPerHour } }"""
    cold = (await api.ok(q, {"line": f"{uid}-line", "w": 0.0}))["lineBottleneck"]
    warm = (await api.ok(q, {"line": f"{uid}-line", "w": 0.5}))["lineBottleneck"]
    assert warm["warmupHours"] == 0.5
    steady = 3600 / 45  # the slowest station's pace
    assert abs(warm["baselineThroughputPerHour"] - steady) < abs(
        cold["baselineThroughputPerHour"] - steady
    )
    assert warm["baselineThroughputPerHour"] == pytest.approx(steady, rel=0.03)


async def test_line_bottleneck_needs_an_engineer_in_scope_and_a_bounded_study(
    api: Api, uid: str
) -> None:
    plant = parse_plant(_line_plant(uid), sim_models=set(MODELS))
    await import_plant(api.services.repo, plant)
    q = """query($line: ID!, $hours: Float!, $reps: Int!) {
      lineBottleneck(lineId: $line, hours: $hours, replications: $reps) { bottleneck } }"""
    small = {"line": f"{uid}-line", "hours": 1.0, "reps": 2}
    for token, code in (
        (None, "UNAUTHENTICATED"),
        (VIEWER, "FORBIDDEN"),
        (SCOPED_ENGINEER, "NOT_FOUND"),  # an engineer scoped elsewhere: the line is unknown
    ):
        body = await api.gql(q, small, token=token)
        assert body["errors"][0]["extensions"]["code"] == code, (token, body)
    # 100 replications x 4 variants x 8,760 h of a 30 s station: far past the cap
    body = await api.gql(q, {**small, "hours": 8760.0, "reps": 100})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION", err
    assert "station cycles" in err["message"] and "lower hours or replications" in err["message"]
    body = await api.gql(q, {**small, "reps": 1000})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    warm = """query($line: ID!, $w: Float!) {
      lineBottleneck(lineId: $line, hours: 1, warmupHours: $w) { bottleneck } }"""
    for w in (-1.0, 1e9):
        body = await api.gql(warm, {"line": f"{uid}-line", "w": w})
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body
        assert "warmupHours" in body["errors"][0]["message"]
    res = (await api.ok(q, small))["lineBottleneck"]
    assert res["bottleneck"] == f"{uid}-s2"
