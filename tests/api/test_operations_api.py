"""OEE and building energy through the running app: plants imported over GraphQL,
readings POSTed to /ingest, results read back over GraphQL; a schedule applied to a real
Modbus device as audited setpoint commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.bolt.embedded import EmbeddedGraphServer
from tests.api.test_control import UPSERT_SOURCE, commands
from tests.support.app import Api, app_settings, served_api
from tests.support.devices import ModbusDevice
from tests.support.jobs import PROGRESS, finished, progress
from tests.support.net import free_port
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import INGEST, OPERATOR, SCOPED_ENGINEER, TOKENS, VIEWER
from tests.support.wsclient import connect

IMPORT = "mutation($d: String!) { importPlant(document: $d) { counts } }"
OEE = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  oee(assetId: $id, from: $from, to: $to) {
    scope availability performance quality oee plannedSeconds goodCount bottleneckId
    losses { name category seconds parts }
    stations { stationId totalCount goodCount qualityMeasured unknownSeconds
      availability performance quality oee losses { name seconds parts } }
  }
}"""


def line_plant(u: str) -> str:
    def station(name: str, ideal: int) -> str:
        return (
            f"      - id: {u}-{name}\n        type: station\n        level: unit\n"
            f"        station: {{cycle_time_s: {ideal}}}\n"
            "        sensors:\n"
            f"          - {{id: {u}-{name}.state, kind: state, unit: '', min_value: 0, "
            "max_value: 3}\n"
            f"          - {{id: {u}-{name}.count, kind: counter, unit: parts, min_value: 0}}\n"
            f"          - {{id: {u}-{name}.rejects, kind: reject_counter, unit: parts, "
            "min_value: 0}\n"
        )

    return (
        f"name: oee {u}\nassets:\n  - id: {u}-line\n    type: production_line\n"
        "    level: line\n    children:\n"
        + station("a", 60)
        + f"      - {{id: {u}-buf, type: buffer, level: unit}}\n"
        + station("b", 50)
        + "relations:\n"
        + f"  - {{from: {u}-a, to: {u}-buf, type: FEEDS}}\n"
        + f"  - {{from: {u}-buf, to: {u}-b, type: FEEDS}}\n"
    )


async def ingest(api: Api, items: list[dict[str, Any]]) -> None:
    r = await api.client.post(
        "/ingest",
        content=json.dumps(items),
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(items), r.text


def station_history(sensor: str, t0: datetime) -> list[dict[str, Any]]:
    """One hour from ``t0`` sampled every minute (and a minute either side): running
    40 min making 36 parts (4 rejects), down 10 min, idle 10 min."""
    items = []
    for k in range(-1, 62):
        state = 1 if k < 40 else 3 if k < 50 else 0
        made = min(max(k, 0), 40)
        values = {"state": state, "count": int(made * 0.9), "rejects": int(made * 0.1)}
        ts = (t0 + timedelta(minutes=k)).isoformat()
        items += [
            {"sensor_id": f"{sensor}.{what}", "value": v, "timestamp": ts}
            for what, v in values.items()
        ]
    return items


async def test_oee_of_a_hand_computed_station_and_its_line(api: Api, uid: str) -> None:
    await api.ok(IMPORT, {"d": line_plant(uid)})
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    await ingest(api, station_history(f"{uid}-a", t0) + station_history(f"{uid}-b", t0))
    window = {"from": t0.isoformat(), "to": (t0 + timedelta(hours=1)).isoformat()}

    async def oee(asset: str) -> dict[str, Any]:
        data = await api.ok(OEE, {"id": asset, **window}, token=VIEWER)
        return data["oee"]

    a = await eventually(
        lambda: oee(f"{uid}-a"), done=lambda r: r["goodCount"] == 32, what="readings stored"
    )
    # planned 3600 s; operating 3000 s (600 s down); 36 parts x 60 s; 32 good
    assert a["scope"] == "STATION" and a["bottleneckId"] is None
    assert a["plannedSeconds"] == pytest.approx(3600)
    assert a["availability"] == pytest.approx(3000 / 3600)
    assert a["performance"] == pytest.approx(36 * 60 / 3000)
    assert a["quality"] == pytest.approx(32 / 36)
    assert a["oee"] == pytest.approx(32 * 60 / 3600)
    losses = {x["name"]: x["seconds"] for x in a["losses"]}
    assert losses == pytest.approx(
        {
            "breakdowns": 600,
            "setup": 0,
            "idle": 600,
            "blocked": 0,
            "starved": 0,
            "reduced_speed": 2400 - 36 * 60,
            "defects": 4 * 60,
        }  # fmt: skip
    )
    assert sum(losses.values()) + 32 * 60 == pytest.approx(3600)
    assert a["stations"][0]["qualityMeasured"] and a["stations"][0]["unknownSeconds"] == 0

    # station b is fed by the buffer: its idle time is waiting for parts (starved)
    b = await oee(f"{uid}-b")
    b_losses = {x["name"]: x["seconds"] for x in b["losses"]}
    assert b_losses["starved"] == pytest.approx(600) and b_losses["idle"] == 0

    line = await oee(f"{uid}-line")
    assert line["scope"] == "LINE"
    assert [s["stationId"] for s in line["stations"]] == [f"{uid}-a", f"{uid}-b"]
    assert line["bottleneckId"] == f"{uid}-a"  # the slowest ideal cycle: 60 s
    assert line["oee"] == pytest.approx(32 * 60 / 3600)  # good leaving b at a's ideal cycle
    assert line["availability"] == pytest.approx(3000 / 3600)
    assert line["quality"] == pytest.approx((32 / 36) ** 2)
    assert {x["name"] for x in line["losses"]} == {"availability", "performance", "quality"}


async def test_oee_of_an_asset_without_stations_is_a_validation_error(api: Api, uid: str) -> None:
    await api.ok(IMPORT, {"d": line_plant(uid)})
    body = await api.gql(
        OEE,
        {"id": f"{uid}-buf", "from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"},
        token=VIEWER,
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body


# -- building energy -----------------------------------------------------------------

HOURS = [h + 0.5 for h in range(24)]
import math  # noqa: E402

OUTDOOR = [26.0 + 6.0 * math.sin(2 * math.pi * (h - 9.0) / 24.0) for h in HOURS]
SUN = [max(0.0, 600.0 * math.sin(math.pi * (h - 6.0) / 12.0)) for h in HOURS]
PEOPLE = [30.0 if 8 <= h < 18 else 0.0 for h in HOURS]
PEAK = [0.60 if 12 <= h < 18 else 0.10 for h in HOURS]


def building_plant(u: str) -> str:
    def zone(name: str, params: str) -> str:
        return (
            f"      - id: {u}-{name}\n        type: hvac_zone\n        level: unit\n"
            "        sensors:\n"
            f"          - {{id: {u}-{name}.temp, kind: temperature, unit: °C, "
            "min_value: -10, max_value: 50}\n"
            "        actuators:\n"
            f"          - {{id: {u}-{name}.sp, name: Setpoint, unit: °C, min_value: 16, "
            "max_value: 28}\n"
            f"        sim:\n          model: hvac_zone\n          parameters: {params}\n"
            f"          state_map: {{{u}-{name}.temp: zone_temp_c}}\n"
        )

    return (
        f"name: building {u}\nassets:\n  - id: {u}-bldg\n    type: building\n"
        "    level: area\n    children:\n"
        + zone("z1", "{air_capacitance_kj_per_k: 3000, window_area_m2: 60}")
        + zone("z2", "{air_capacitance_kj_per_k: 1500, window_area_m2: 25}")
    )


OPTIMIZE = """mutation($id: ID!, $p: [Float!]!, $o: [Float!]!, $t: [Float!]!, $s: [Float!],
                   $h: Float! = 24, $m: Float! = 15) {
  optimizeEnergy(assetId: $id, prices: $p, occupancy: $o, outdoorTempC: $t, solarWM2: $s,
                 horizonHours: $h, stepMinutes: $m) { id kind status assetId params }
}"""
PLAN = """energyPlan {
  stepMinutes times cost baselineCost savings savingsShare energyKwh baselineEnergyKwh
  comfortDegreeHours baselineComfortDegreeHours solverStatus
  zones { zoneId actuatorId initialTempC setpointsC heatingC coolingC maxExcursionK
    comfortDegreeHours cost baselineCost }
}"""


async def test_energy_schedule_beats_its_baseline_and_keeps_the_comfort_band(
    api: Api, uid: str
) -> None:
    await api.ok(IMPORT, {"d": building_plant(uid)})
    now = datetime.now(UTC).replace(microsecond=0)
    await ingest(
        api,
        [
            {"sensor_id": f"{uid}-z1.temp", "value": 25.0, "timestamp": now.isoformat()},
            {"sensor_id": f"{uid}-z2.temp", "value": 23.0, "timestamp": now.isoformat()},
        ],
    )
    await eventually(
        lambda: api.services.readings.latest([f"{uid}-z1.temp", f"{uid}-z2.temp"]),
        done=lambda got: len(got) == 2,
    )
    variables = {"id": f"{uid}-bldg", "p": PEAK, "o": PEOPLE, "t": OUTDOOR, "s": SUN}
    body = await api.gql(OPTIMIZE, variables, token=VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # operators optimise
    job = (await api.ok(OPTIMIZE, variables, token=OPERATOR))["optimizeEnergy"]
    assert (job["kind"], job["status"]) == ("ENERGY_OPTIMISATION", "queued")
    assert job["params"]["zones"] == [f"{uid}-z1", f"{uid}-z2"]
    updates = await progress(api, job["id"], token=OPERATOR)
    assert updates[-1]["phase"] == "done"
    assert {u["phase"] for u in updates} <= {"queued", "optimising", "storing", "done"}
    assert [u["progress"] for u in updates] == sorted(u["progress"] for u in updates)
    done = await finished(api, job["id"], PLAN, token=VIEWER)  # a viewer reads the result
    assert (done["status"], done["errorCode"], done["progress"]) == ("succeeded", None, 1.0)
    plan = done["energyPlan"]
    assert plan["solverStatus"] == "optimal" and plan["stepMinutes"] == 15
    assert len(plan["times"]) == 96
    zones = {z["zoneId"]: z for z in plan["zones"]}
    assert set(zones) == {f"{uid}-z1", f"{uid}-z2"}
    assert zones[f"{uid}-z1"]["initialTempC"] == 25.0  # from the latest reading
    assert zones[f"{uid}-z1"]["actuatorId"] == f"{uid}-z1.sp"
    # beats its baseline in simulation, both read off the simulations
    assert plan["cost"] < plan["baselineCost"]
    assert plan["savings"] == pytest.approx(plan["baselineCost"] - plan["cost"])
    assert plan["savingsShare"] > 0.05
    assert plan["cost"] == pytest.approx(sum(z["cost"] for z in zones.values()))
    # and stays in the comfort band while occupied
    assert plan["comfortDegreeHours"] <= 0.01
    occupied = [PEOPLE[k // 4] > 0 for k in range(96)]
    for z in zones.values():
        assert z["maxExcursionK"] <= 0.05
        assert len(z["setpointsC"]) == 96
        inside = [v for v, occ in zip(z["setpointsC"], occupied, strict=True) if occ]
        assert min(inside) >= 21.0 - 0.05 and max(inside) <= 24.0 + 0.05
        # it pre-cools before the price peak (08:00-12:00) below the band's top
        assert min(z["coolingC"][32:48]) < 23.0


def zone_with_device(u: str, device: ModbusDevice) -> tuple[Plant, dict[str, Any]]:
    plant = Plant.of(
        {
            "assets": [
                {"id": f"{u}-bldg", "name": "Building", "type": "building", "level": "AREA"},
                {
                    "id": f"{u}-zone",
                    "name": "Zone",
                    "type": "hvac_zone",
                    "level": "UNIT",
                    "parentId": f"{u}-bldg",
                },
            ],
            "actuators": [
                {
                    "id": f"{u}-zone.sp",
                    "assetId": f"{u}-zone",
                    "name": "Setpoint",
                    "unit": "°C",
                    "minValue": 16,
                    "maxValue": 28,
                }
            ],
        }
    )
    source = {
        "id": f"{u}-bms",
        "protocol": "MODBUS",
        "endpoint": f"{device.url}?unit=1&timeout=0.5&poll=0.05",
        "settings": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
        "actuatorBindings": [
            {"actuatorId": f"{u}-zone.sp", "address": "hr:30", "dataType": "uint16", "scale": 0.1}
        ],
    }
    return plant, source


DELETE_SOURCE = "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }"
APPLY = """mutation($start: DateTime!, $step: Float!, $zones: [ZoneScheduleInput!]!) {
  applyEnergySchedule(start: $start, stepMinutes: $step, zones: $zones, reason: "peak") {
    id scheduledSteps zones { zoneId actuatorId }
    commands { status value confirmedValue requestedBy reason }
  }
}"""


async def test_applied_schedule_becomes_audited_commands_on_the_device(
    api: Api, uid: str, modbus_device: ModbusDevice
) -> None:
    plant, source = zone_with_device(uid, modbus_device)
    await register(api, plant)
    await api.ok(UPSERT_SOURCE, {"s": source})
    try:
        actuator = f"{uid}-zone.sp"
        # out of range anywhere in the schedule: refused before anything is written
        bad = await api.gql(
            APPLY,
            {
                "start": datetime.now(UTC).isoformat(),
                "step": 1.0,
                "zones": [{"zoneId": f"{uid}-zone", "setpointsC": [22.0, 35.0]}],
            },
            token=OPERATOR,
        )
        assert bad["errors"][0]["extensions"]["code"] == "VALIDATION", bad
        assert "step 1" in bad["errors"][0]["message"]
        assert await commands(api, actuator) == []

        start = datetime.now(UTC) - timedelta(seconds=0.5)  # step 0 is in force now
        data = await api.ok(
            APPLY,
            {
                "start": start.isoformat(),
                "step": 2 / 60,  # two-second steps
                "zones": [{"zoneId": f"{uid}-zone", "setpointsC": [21.5, 22.0, 22.5]}],
            },
            token=OPERATOR,
        )
        app = data["applyEnergySchedule"]
        assert app["zones"] == [{"zoneId": f"{uid}-zone", "actuatorId": actuator}]
        assert app["scheduledSteps"] == 2
        (now,) = app["commands"]
        assert (now["status"], now["confirmedValue"]) == ("APPLIED", 21.5), now
        assert now["requestedBy"] == "olga" and "step 1/3: peak" in now["reason"]
        done = await eventually(
            lambda: commands(api, actuator),
            done=lambda c: len(c) == 3 and all(x["status"] != "PENDING" for x in c),
            within=30,
            what="every step written and confirmed",
        )
        assert sorted(c["value"] for c in done) == [21.5, 22.0, 22.5]
        assert {c["status"] for c in done} == {"APPLIED"}
        assert await modbus_device.get("hr", 30) == [225]
    finally:
        await api.ok(DELETE_SOURCE, {"id": f"{uid}-bms"})


async def test_a_new_schedule_replaces_the_running_one_and_cancel_stops_it(
    api: Api, uid: str, modbus_device: ModbusDevice
) -> None:
    plant, source = zone_with_device(uid, modbus_device)
    await register(api, plant)
    await api.ok(UPSERT_SOURCE, {"s": source})
    zone = f"{uid}-zone"
    later = {
        "start": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "step": 60.0,
        "zones": [{"zoneId": zone, "setpointsC": [21.0, 22.0]}],
    }
    first = (await api.ok(APPLY, later, token=OPERATOR))["applyEnergySchedule"]
    assert (first["commands"], first["scheduledSteps"]) == ([], 2)  # nothing in force yet
    second = (await api.ok(APPLY, later, token=OPERATOR))["applyEnergySchedule"]
    assert second["id"] != first["id"]
    assert api.services.energy.running().count(zone) == 1
    cancel = "mutation($z: [ID!]!) { cancelEnergySchedule(zoneIds: $z) }"
    assert (await api.ok(cancel, {"z": [zone]}, token=OPERATOR))["cancelEnergySchedule"] == [zone]
    assert zone not in api.services.energy.running()
    assert (await api.ok(cancel, {"z": [zone]}, token=OPERATOR))["cancelEnergySchedule"] == []
    assert await commands(api, f"{zone}.sp") == []
    await api.ok(DELETE_SOURCE, {"id": source["id"]})


async def test_unbound_or_oversized_energy_requests_are_refused_before_any_work(
    api: Api, uid: str, modbus_device: ModbusDevice
) -> None:
    plant, _ = zone_with_device(uid, modbus_device)  # no data source: the actuator is unbound
    await register(api, plant)
    body = await api.gql(
        APPLY,
        {
            "start": datetime.now(UTC).isoformat(),
            "step": 15.0,
            "zones": [{"zoneId": f"{uid}-zone", "setpointsC": [22.0]}],
        },
        token=OPERATOR,
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body
    assert "no DRIVES binding" in body["errors"][0]["message"]
    assert await commands(api, f"{uid}-zone.sp") == []

    await api.ok(IMPORT, {"d": building_plant(uid)})
    week = 7 * 24
    q = """mutation($id: ID!, $v: [Float!]!) { optimizeEnergy(assetId: $id, prices: $v,
      occupancy: $v, outdoorTempC: $v, horizonHours: 168, stepMinutes: 5) { id } }"""
    body = await api.gql(q, {"id": f"{uid}-bldg", "v": [1.0] * week}, token=OPERATOR)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body  # at once, no job
    assert "past the cap" in body["errors"][0]["message"]
    jobs = await api.ok("query($a: ID!) { jobs(assetId: $a) { id } }", {"a": f"{uid}-bldg"})
    assert jobs["jobs"] == []


CANCEL_JOB = "mutation($id: ID!) { cancelJob(id: $id) { id status } }"


async def test_an_optimisation_job_is_cancelled_while_it_optimises(api: Api, uid: str) -> None:
    await api.ok(IMPORT, {"d": building_plant(uid)})
    week = 7 * 24  # two zones over a week at 15 min: seconds of linear programmes
    variables = {"id": f"{uid}-bldg", "p": PEAK * 7, "o": PEOPLE * 7, "t": OUTDOOR * 7,
                 "s": None, "h": float(week)}  # fmt: skip
    job = (await api.ok(OPTIMIZE, variables, token=OPERATOR))["optimizeEnergy"]
    async with connect(api.base, OPERATOR) as ws:
        await ws.subscribe(PROGRESS, {"id": job["id"]})
        update = (await ws.next(within=60))["jobProgress"]
        while update["phase"] != "optimising":
            update = (await ws.next(within=60))["jobProgress"]
        # a viewer may not cancel it, an operator may
        body = await api.gql(CANCEL_JOB, {"id": job["id"]}, token=VIEWER)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        await api.ok(CANCEL_JOB, {"id": job["id"]}, token=OPERATOR)
        while update["status"] not in {"succeeded", "failed", "cancelled"}:
            update = (await ws.next(within=60))["jobProgress"]
    assert (update["status"], update["errorCode"]) == ("cancelled", "CANCELLED"), update
    done = await finished(api, job["id"], "energyPlan { cost }")
    assert (done["status"], done["energyPlan"]) == ("cancelled", None)
    assert done["phase"] == "optimising" and done["progress"] < 1.0
    assert done["message"] == "cancelled"
    # cancelling an ended job answers it as it is
    again = await api.ok(CANCEL_JOB, {"id": job["id"]}, token=OPERATOR)
    assert again["cancelJob"]["status"] == "cancelled"


async def test_a_scoped_token_applies_and_cancels_only_within_its_subtree(
    api: Api, uid: str, modbus_device: ModbusDevice
) -> None:
    root = {"id": "elsewhere", "name": "Elsewhere", "type": "site", "level": "SITE"}
    inside, _ = zone_with_device(f"{uid}i", modbus_device)
    inside.assets[0]["parentId"] = "elsewhere"
    outside, _ = zone_with_device(f"{uid}o", modbus_device)
    await register(api, Plant.of({"assets": [root]}))
    await register(api, inside)
    await register(api, outside)
    cancel = "mutation($z: [ID!]!) { cancelEnergySchedule(zoneIds: $z) }"
    ok = await api.ok(cancel, {"z": [f"{uid}i-zone"]}, token=SCOPED_ENGINEER)
    assert ok["cancelEnergySchedule"] == []
    body = await api.gql(cancel, {"z": [f"{uid}i-zone", f"{uid}o-zone"]}, token=SCOPED_ENGINEER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert f"{uid}o-zone is outside" in body["errors"][0]["message"]

    def schedule(zone: str) -> dict[str, Any]:
        return {
            "start": datetime.now(UTC).isoformat(),
            "step": 15.0,
            "zones": [{"zoneId": zone, "setpointsC": [22.0]}],
        }

    body = await api.gql(APPLY, schedule(f"{uid}o-zone"), token=SCOPED_ENGINEER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # inside its scope the request goes on to the checks (this actuator is unbound)
    body = await api.gql(APPLY, schedule(f"{uid}i-zone"), token=SCOPED_ENGINEER)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body


async def test_an_applied_schedule_is_resumed_by_the_next_process(
    graph_server: EmbeddedGraphServer,
    tmp_path: Path,
    cypher_log: Path,
    questdb_sql_log: Path,
    uid: str,
    modbus_device: ModbusDevice,
) -> None:
    """Apply a schedule, stop the app before its next step, start a new app on the same
    data dir: the new one writes that step (audited, as the operator who applied it)."""
    settings = app_settings(graph_server, tmp_path / "data", free_port(), TOKENS)
    schedules = tmp_path / "data" / "energy" / "schedules.json"
    plant, source = zone_with_device(uid, modbus_device)
    zone, actuator = f"{uid}-zone", f"{uid}-zone.sp"
    async with served_api(settings, cypher_log, questdb_sql_log) as first:
        await register(first, plant)
        await first.ok(UPSERT_SOURCE, {"s": source})
        start = datetime.now(UTC) - timedelta(seconds=5)  # step 1 in force, step 2 in 25 s
        applied = await first.ok(
            APPLY,
            {
                "start": start.isoformat(),
                "step": 0.5,
                "zones": [{"zoneId": zone, "setpointsC": [21.5, 22.0, 22.5]}],
            },
            token=OPERATOR,
        )
        app = applied["applyEnergySchedule"]
        assert (app["commands"][0]["confirmedValue"], app["scheduledSteps"]) == (21.5, 2)
    # stopped: the schedule is on disk with each step's state
    (kept,) = json.loads(schedules.read_text())["applications"]
    assert kept["id"] == app["id"] and kept["principal"]["name"] == "olga"
    assert kept["zones"][0]["states"] == ["written", "pending", "pending"]

    async with served_api(settings, cypher_log, questdb_sql_log) as second:
        assert second.services.energy.running() == [zone]
        done = await eventually(
            lambda: commands(second, actuator),
            done=lambda c: len(c) == 2 and all(x["status"] != "PENDING" for x in c),
            within=120,
            what="the next step written by the new process",
        )
        step2 = next(c for c in done if "step 2/3" in c["reason"])
        assert (step2["status"], step2["confirmedValue"]) == ("APPLIED", 22.0), step2
        assert step2["requestedBy"] == "olga" and step2["reason"].endswith(": peak")
        assert await modbus_device.get("hr", 30) == [220]
        # the step's state is saved just after its command is recorded: wait for the file
        await eventually(
            lambda: json.loads(schedules.read_text())["applications"][0]["zones"][0]["states"],
            done=lambda states: states == ["written", "written", "pending"],
            within=10,
            what="step 2 saved as written",
        )
        # cancel persists: the schedule leaves the file, a later start resumes nothing
        cancel = "mutation($z: [ID!]!) { cancelEnergySchedule(zoneIds: $z) }"
        assert (await second.ok(cancel, {"z": [zone]}, token=OPERATOR))["cancelEnergySchedule"]
        assert json.loads(schedules.read_text())["applications"] == []
        assert len(await commands(second, actuator)) == 2  # step 3 is never written
        await second.ok(DELETE_SOURCE, {"id": source["id"]})
