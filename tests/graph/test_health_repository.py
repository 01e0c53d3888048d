"""Health results in the graph, against the embedded Bolt server (real ArcadeDB):
assessments, work orders opened from them, anomaly models, sensor failure limits and
the fleet's life history (renewals and failures)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graph.bolt.client import Tx
from graph.bolt.health import assessment_key
from graph.bolt.importer import import_plant
from graph.bolt.repository import GraphRepository
from graph.bolt.workorders import work_order_key
from graph.errors import Conflict, NotFound, ValidationError
from graph.health import HealthAssessment
from graph.model import Asset, MaintenanceEvent, Sensor, WorkOrder, WorkOrderStatus
from graph.plantfile import load_plant_file

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "demo" / "example_plant.yaml"


async def pumps(repo: GraphRepository, u: str, n: int = 2, type_: str | None = None) -> list[str]:
    ids = [f"{u}-p{i}" for i in range(n)]
    await repo.assets.upsert([Asset(i, i, type_ or f"{u}-pump", "equipment") for i in ids])
    return ids


def assessment(u: str, asset: str, i: int, **kw: object) -> HealthAssessment:
    fields: dict[str, object] = {
        "health_index": 0.9 - i * 0.1,
        "anomaly_score": 0.1 * i,
        "rul_hours": 1000.0 - 100 * i,
        "rul_low": 800.0 - 100 * i,
        "rul_high": 1200.0 - 100 * i,
        "confidence": 0.9,
        "window_from": T0 + timedelta(hours=i),
        "window_to": T0 + timedelta(hours=i + 24),
        "contributions": {f"{asset}.vibration": 0.7, f"{asset}.temp": 0.3},
        "as_of": T0 + timedelta(hours=i + 24),
    }
    fields.update(kw)
    return HealthAssessment(
        id=f"{u}-h-{asset}-{i}",
        asset_id=asset,
        at=T0 + timedelta(days=30),
        method="trend+fleet",
        **fields,  # type: ignore[arg-type]
    )


# --- sensors: failure limits -----------------------------------------------------------


async def test_failure_limits_round_trip(repo: GraphRepository, uid: str) -> None:
    (p,) = await pumps(repo, uid, 1)
    vib = Sensor(f"{p}.vib", p, "Vibration", "vibration", "mm/s", 0, 20, None, None, 5.5, None, 11)
    temp = Sensor(f"{p}.t", p, "T", "temperature", "C", -20, 120, warn_low=0, fail_low=-10)
    await repo.devices.upsert_sensors([vib, temp])
    found = await repo.devices.sensors([vib.id, temp.id])
    assert (found[vib.id].warn_high, found[vib.id].fail_high, found[vib.id].fail_low) == (
        5.5,
        11,
        None,
    )
    assert (found[temp.id].fail_low, found[temp.id].fail_high) == (-10, None)
    # clearing a limit clears it in the graph
    await repo.devices.upsert_sensors([Sensor(vib.id, p, "Vibration", "vibration", "mm/s", 0, 20)])
    assert (await repo.devices.sensors([vib.id]))[vib.id].fail_high is None


# --- assessments ------------------------------------------------------------------------


async def test_assessments_save_latest_and_history(repo: GraphRepository, uid: str) -> None:
    a, b, never = await pumps(repo, uid, 3)
    saved = [assessment(uid, a, i) for i in range(5)] + [assessment(uid, b, 0)]
    # A backtest computed later for an earlier instant is not the latest.
    late_backtest = assessment(uid, a, 5, as_of=T0, window_from=None, window_to=None)
    await repo.health.save([*saved, late_backtest])
    await repo.health.save(saved[:2])  # idempotent by id

    latest = await repo.health.latest([a, b, never])
    assert latest[a] == saved[4] and latest[never] is None
    assert latest[b] == saved[5]
    assert latest[a] is not None and latest[a].contributions == saved[4].contributions
    # as of an earlier instant: what was known then
    then = await repo.health.latest([a], until=saved[2].as_of)
    assert then[a] == saved[2]

    # History newest first by asOf, walked by keyset cursor in pages of 2.
    seen, after = [], None
    while True:
        page = await repo.health.history(a, limit=2, after=after)
        seen += page.items
        if not page.has_next:
            break
        after = assessment_key(page.items[-1])
    assert [h.id for h in seen] == [h.id for h in [*saved[4::-1], late_backtest]]
    window = await repo.health.history(a, since=saved[1].as_of, until=saved[3].as_of)
    assert [h.id for h in window.items] == [saved[2].id, saved[1].id]
    assert (await repo.health.get(saved[3].id)).rul_low == saved[3].rul_low


async def test_unknown_rul_keeps_its_reason(repo: GraphRepository, uid: str) -> None:
    (a,) = await pumps(repo, uid, 1)
    unknown = assessment(
        uid, a, 0, rul_hours=None, rul_low=None, rul_high=None, confidence=None,
        unknown_reason="no failure limit on any sensor", contributions={},
    )
    await repo.health.save([unknown])
    got = (await repo.health.latest([a]))[a]
    assert got is not None
    assert (got.rul_hours, got.unknown_reason, got.contributions) == (
        None,
        "no failure limit on any sensor",
        {},
    )


async def test_assessment_refusals(repo: GraphRepository, uid: str) -> None:
    a, b = await pumps(repo, uid, 2)
    with pytest.raises(NotFound, match="missing"):
        await repo.health.save([assessment(uid, f"{uid}-missing", 0)])
    first = assessment(uid, a, 0)
    await repo.health.save([first])
    moved = HealthAssessment(first.id, b, first.at, first.as_of, "x", rul_hours=1.0)
    with pytest.raises(Conflict, match="another asset"):
        await repo.health.save([moved])
    with pytest.raises(ValidationError, match="unknownReason"):
        assessment(uid, a, 1, rul_hours=None, rul_low=None, rul_high=None, confidence=None)
    with pytest.raises(ValidationError, match=r"\[rulLow, rulHigh\]"):
        assessment(uid, a, 1, rul_hours=5000.0)
    with pytest.raises(ValidationError, match="asOf"):
        assessment(uid, a, 1, window_to=T0 + timedelta(days=400))
    with pytest.raises(ValidationError, match="healthIndex"):
        assessment(uid, a, 1, health_index=1.5)


# --- work orders from assessments ---------------------------------------------------------


def order(u: str, asset: str, n: int, **kw: object) -> WorkOrder:
    return WorkOrder(
        f"{u}-wo{n}", asset, WorkOrderStatus.OPEN, 2, T0 + timedelta(hours=n), "RUL below 30 d",
        **kw,  # type: ignore[arg-type]
    )


async def test_one_active_work_order_per_asset(repo: GraphRepository, uid: str) -> None:
    (a,) = await pumps(repo, uid, 1)
    h = assessment(uid, a, 0)
    await repo.health.save([h])
    first = await repo.work_orders.open_for_asset(order(uid, a, 1, assessment_id=h.id))
    assert first.opened and first.order.status is WorkOrderStatus.OPEN
    assert first.order.assessment_id == h.id
    again = await repo.work_orders.open_for_asset(order(uid, a, 2))
    assert not again.opened and again.order.id == first.order.id

    # In progress is still active; once done, the next assessment opens a new one.
    await repo.work_orders.set_status(first.order.id, WorkOrderStatus.IN_PROGRESS, "on it")
    assert not (await repo.work_orders.open_for_asset(order(uid, a, 3))).opened
    done = await repo.work_orders.set_status(first.order.id, WorkOrderStatus.DONE, "bearing done")
    assert (done.status, done.note) == (WorkOrderStatus.DONE, "bearing done")
    assert done.updated_at is not None
    assert (await repo.work_orders.open_for_asset(order(uid, a, 4))).opened
    active = await repo.work_orders.active_for_asset(a)
    assert active is not None and active.id == f"{uid}-wo4"


async def test_concurrent_openers_open_one_order(repo: GraphRepository, uid: str) -> None:
    assets = await pumps(repo, uid, 3)
    calls = [
        repo.work_orders.open_for_asset(order(uid, a, 10 * k + n))
        for k, a in enumerate(assets)
        for n in range(4)
    ]
    results = await asyncio.gather(*calls)
    for a in assets:
        mine = [r for r in results if r.order.asset_id == a]
        assert sum(r.opened for r in mine) == 1, [(r.order.id, r.opened) for r in mine]
        assert len({r.order.id for r in mine}) == 1  # everyone got the one order
        page = await repo.work_orders.page(asset_id=a)
        assert [w.id for w in page.items] == [mine[0].order.id]


async def test_status_transitions(repo: GraphRepository, uid: str) -> None:
    (a,) = await pumps(repo, uid, 1)
    o = (await repo.work_orders.open_for_asset(order(uid, a, 1))).order
    with pytest.raises(Conflict, match="cannot go from open to done") as err:
        await repo.work_orders.set_status(o.id, WorkOrderStatus.DONE)
    assert "in_progress, cancelled" in err.value.message
    same = await repo.work_orders.set_status(o.id, WorkOrderStatus.OPEN, "seen")
    assert (same.status, same.note) == (WorkOrderStatus.OPEN, "seen")
    await repo.work_orders.set_status(o.id, WorkOrderStatus.CANCELLED, "false alarm")
    with pytest.raises(Conflict, match="closed"):
        await repo.work_orders.set_status(o.id, WorkOrderStatus.IN_PROGRESS)
    with pytest.raises(NotFound):
        await repo.work_orders.set_status(f"{uid}-nope", WorkOrderStatus.DONE)
    with pytest.raises(NotFound):
        await repo.work_orders.open_for_asset(order(uid, f"{uid}-nope", 2))


async def test_work_order_pages(repo: GraphRepository, uid: str) -> None:
    a, b = await pumps(repo, uid, 2)
    ids = []
    for n in range(5):
        o = (await repo.work_orders.open_for_asset(order(uid, a, n))).order
        ids.append(o.id)
        if n < 4:
            await repo.work_orders.set_status(o.id, WorkOrderStatus.CANCELLED)
    await repo.work_orders.open_for_asset(order(uid, b, 9))
    seen, after = [], None
    while True:
        page = await repo.work_orders.page(asset_id=a, limit=2, after=after)
        seen += [w.id for w in page.items]
        if not page.has_next:
            break
        after = work_order_key(page.items[-1])
    assert seen == ids[::-1]
    cancelled = await repo.work_orders.page(asset_id=a, status=WorkOrderStatus.CANCELLED)
    assert [w.id for w in cancelled.items] == ids[3::-1]
    # recorded orders (plant file, recordMaintenance) list the same way
    await repo.maintenance.record(
        work_orders=[WorkOrder(f"{uid}-rec", b, "done", 3, T0 - timedelta(days=1))]
    )
    assert [w.id for w in (await repo.work_orders.page(asset_id=b)).items] == [
        f"{uid}-wo9",
        f"{uid}-rec",
    ]


# --- anomaly models ---------------------------------------------------------------------


async def test_anomaly_model_versions(repo: GraphRepository, uid: str) -> None:
    a, b = await pumps(repo, uid, 2)
    first = await repo.anomaly_models.save(
        a, T0, T0 + timedelta(days=7), f"models/{a}/v1.joblib", {"windows": 2016, "threshold": 0.61}
    )
    assert first.version == 1 and first.metrics == {"windows": 2016, "threshold": 0.61}
    racing = await asyncio.gather(
        *(
            repo.anomaly_models.save(a, T0, T0 + timedelta(days=8 + k), f"models/{a}/r{k}.joblib")
            for k in range(4)
        )
    )
    assert sorted(m.version for m in racing) == [2, 3, 4, 5]
    latest = await repo.anomaly_models.latest([a, b])
    assert latest[b] is None and latest[a] is not None and latest[a].version == 5
    listed = await repo.anomaly_models.list(a)
    assert sorted(m.version for m in listed) == [1, 2, 3, 4, 5]
    assert (await repo.anomaly_models.get(first.id)).artifact == f"models/{a}/v1.joblib"
    with pytest.raises(ValidationError, match="relative"):
        await repo.anomaly_models.save(a, T0, T0 + timedelta(days=1), "/etc/passwd")
    with pytest.raises(ValidationError, match="relative"):
        await repo.anomaly_models.save(a, T0, T0 + timedelta(days=1), "../outside.joblib")
    with pytest.raises(NotFound):
        await repo.anomaly_models.save(f"{uid}-x", T0, T0 + timedelta(days=1), "m.joblib")


async def test_cascade_removes_health_history(repo: GraphRepository, uid: str) -> None:
    (a,) = await pumps(repo, uid, 1)
    await repo.health.save([assessment(uid, a, 0)])
    await repo.anomaly_models.save(a, T0, T0 + timedelta(days=1), "m.joblib")
    with pytest.raises(Conflict, match="1 anomaly models"):
        await repo.assets.delete(a)
    assert await repo.assets.delete(a, cascade=True) == [a]
    assert await repo.anomaly_models.list(a) == []


# --- life clocks and the fleet's failures ------------------------------------------------


def event(u: str, asset: str, n: int, kind: str, days: float) -> MaintenanceEvent:
    return MaintenanceEvent(f"{u}-mx{n}", asset, kind, T0 + timedelta(days=days))  # type: ignore[arg-type]


async def test_renewals_and_fleet_failures(repo: GraphRepository, uid: str) -> None:
    kind = f"{uid}-centrifugal"
    a, b, c = await pumps(repo, uid, 3, type_=kind)
    (other,) = await pumps(repo, f"{uid}x", 1)  # another type: not in the fleet
    await repo.maintenance.record(
        [
            event(uid, a, 1, "replacement", 0),
            event(uid, a, 2, "inspection", 50),
            event(uid, a, 3, "failure", 100),
            event(uid, a, 4, "bearing_replacement", 120),  # a part: the clock runs on
            event(uid, a, 5, "failure", 300),
            event(uid, b, 6, "failure", 80),  # no renewal recorded before it
            event(uid, b, 7, "repair", 90),
            event(uid, other, 8, "failure", 10),
        ]
    )
    renewals = await repo.maintenance.last_renewals([a, b, c, f"{uid}-missing"])
    assert renewals == {a: T0 + timedelta(days=300), b: T0 + timedelta(days=80), c: None}
    as_of = await repo.maintenance.last_renewals([a], until=T0 + timedelta(days=299))
    assert as_of == {a: T0 + timedelta(days=100)}

    fleet = await repo.maintenance.failures_of_type(kind)
    assert [(f.asset_id, f.failed_at, f.renewed_at) for f in fleet] == [
        (a, T0 + timedelta(days=100), T0),
        (a, T0 + timedelta(days=300), T0 + timedelta(days=100)),
        (b, T0 + timedelta(days=80), None),
    ]
    assert [f.life_hours for f in fleet] == [2400.0, 4800.0, None]
    before = await repo.maintenance.failures_of_type(kind, until=T0 + timedelta(days=200))
    assert [f.event_id for f in before] == [f"{uid}-mx3", f"{uid}-mx6"]


def test_maintenance_kinds_are_a_vocabulary() -> None:
    with pytest.raises(ValidationError, match="maintenance kind must be one of failure, "
                       "replacement, repair, inspection") as err:
        MaintenanceEvent("m", "a", "overhaul", T0)  # type: ignore[arg-type]
    assert "preventive" in err.value.details["allowed"]  # type: ignore[operator]
    assert MaintenanceEvent("m", "a", "preventive", T0).kind.renews is False  # type: ignore[arg-type]
    assert MaintenanceEvent("m", "a", "failure", T0).kind.renews  # type: ignore[arg-type]


async def test_example_plant_gives_the_pump_fleet_a_history(repo: GraphRepository) -> None:
    plant = load_plant_file(EXAMPLE)
    limits = {s.id: (s.warn_high, s.fail_high) for s in plant.sensors}
    assert limits["pump-101.vibration"] == (5.5, 9.0)
    assert limits["pump-101.bearing_temp"] == (62, 85)
    await import_plant(repo, plant)
    pumps = {"pump-101", "pump-102", "pump-103"}
    fleet = [f for f in await repo.maintenance.failures_of_type("centrifugal_pump")
             if f.asset_id in pumps]  # fmt: skip
    assert {f.asset_id for f in fleet} == pumps
    lives = [f.life_hours for f in fleet if f.life_hours is not None]
    assert lives and all(h > 24 * 365 for h in lives)  # a complete life of over a year
    renewed = await repo.maintenance.last_renewals(sorted(pumps))
    assert renewed["pump-101"] == datetime(2025, 1, 29, 5, 40, tzinfo=UTC)


async def test_assessment_and_its_order_commit_together(repo: GraphRepository, uid: str) -> None:
    (a,) = await pumps(repo, uid, 1)
    h = assessment(uid, a, 0, rul_hours=100.0, rul_low=50.0, rul_high=150.0)

    async def work(tx: Tx) -> None:
        await repo.health.save_in(tx, [h])
        opened = await repo.work_orders.open_in(tx, order(uid, a, 1, assessment_id=h.id))
        assert opened.opened
        raise ValidationError("refused after both writes")

    with pytest.raises(ValidationError, match="refused"):
        await repo.client.write_tx(work)
    assert (await repo.health.latest([a]))[a] is None  # neither was kept
    assert await repo.work_orders.active_for_asset(a) is None
    await repo.client.write_tx(lambda tx: repo.health.save_in(tx, [h]))
    assert (await repo.work_orders.open_for_asset(order(uid, a, 2, assessment_id=h.id))).opened


async def test_open_many_in_one_transaction(repo: GraphRepository, uid: str) -> None:
    a, b, c = await pumps(repo, uid, 3)
    h = assessment(uid, c, 0)
    await repo.health.save([h])
    busy = (await repo.work_orders.open_for_asset(order(uid, b, 1))).order
    results = await repo.work_orders.open_many(
        [order(uid, a, 2), order(uid, b, 3), order(uid, c, 4, assessment_id=h.id)]
    )
    assert [(r.order.id, r.opened) for r in results] == [
        (f"{uid}-wo2", True),
        (busy.id, False),
        (f"{uid}-wo4", True),
    ]
    assert results[2].order.assessment_id == h.id
    # concurrent batches over the same assets still leave one active order each
    racing = await asyncio.gather(
        *(repo.work_orders.open_many([order(uid, x, 10 + k) for x in (a, b, c)]) for k in range(3))
    )
    assert not any(r.opened for batch in racing for r in batch)
    with pytest.raises(NotFound, match="missing"):
        await repo.work_orders.open_many([order(uid, f"{uid}-missing", 20)])
    with pytest.raises(ValidationError, match="one order per asset"):
        await repo.work_orders.open_many([order(uid, a, 21), order(uid, a, 22)])


async def test_concurrent_batches_open_one_order_each(repo: GraphRepository, uid: str) -> None:
    assets = await pumps(repo, uid, 4)
    racing = await asyncio.gather(
        *(repo.work_orders.open_many([order(uid, x, 10 * k + n) for n, x in enumerate(assets)])
          for k in range(3))
    )  # fmt: skip
    for n, x in enumerate(assets):
        mine = [batch[n] for batch in racing]
        assert sum(r.opened for r in mine) == 1 and len({r.order.id for r in mine}) == 1, x
