"""The shared test helpers: ``eventually`` / ``eventually_sync`` wait the one way the suite
waits, and no test module grows its own ``register`` or polling helper again."""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path

import pytest

from tests.support.plant import Plant, pump_line
from tests.support.polling import eventually, eventually_sync

TESTS = Path(__file__).resolve().parent
# names of helpers tests/support owns: a module defining one of its own has copied it
SHARED = {"register", "until", "eventually", "eventually_sync", "wait_for"}


async def test_eventually_returns_the_first_truthy_value_of_a_sync_check() -> None:
    calls: list[int] = []

    def check() -> list[int] | None:
        calls.append(1)
        return list(calls) if len(calls) >= 3 else None

    assert await eventually(check, within=5) == [1, 1, 1]
    assert len(calls) == 3


async def test_eventually_awaits_async_checks_and_applies_done() -> None:
    seen = iter(range(100))

    async def fetch() -> int:
        await asyncio.sleep(0)
        return next(seen)

    assert await eventually(fetch, done=lambda n: n >= 4, within=5) == 4
    # a falsy value is a result too when ``done`` accepts it
    assert await eventually(lambda: 0, done=lambda n: n == 0, within=1) == 0


async def test_eventually_fails_after_within_naming_what_and_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"the pump started not met within 0.2s \(last: 'off'\)"
    ):
        await eventually(
            lambda: "off", done=lambda s: s == "on", within=0.2, what="the pump started"
        )
    assert time.monotonic() - started >= 0.2


async def test_eventually_lets_the_checks_errors_through_at_once() -> None:
    def broken() -> bool:
        raise KeyError("temp")

    with pytest.raises(KeyError):
        await eventually(broken, within=60)


def test_eventually_sync_polls_plain_code() -> None:
    deadline = time.monotonic() + 0.1
    assert eventually_sync(lambda: time.monotonic() >= deadline, within=5, every=0.01) is True
    with pytest.raises(AssertionError, match="condition not met within 0.05s"):
        eventually_sync(lambda: None, within=0.05, every=0.01)


def test_a_plant_registers_its_non_empty_parts_in_upsert_order() -> None:
    plant = Plant.of({"sensors": [{"id": "s"}], "assets": [{"id": "a"}]})
    assert list(plant.variables()) == ["assets", "sensors"]
    assert plant.mutation() == (
        "mutation($assets: [AssetInput!]!, $sensors: [SensorInput!]!) {\n"
        "  upsertAssets(assets: $assets) { id }\n"
        "  upsertSensors(sensors: $sensors) { id }\n}"
    )
    line = pump_line("u", pumps=2)
    assert [a["id"] for a in line.assets] == ["u-site", "u-line", "u-tank", "u-p0", "u-p1"]
    assert list(line.variables()) == ["assets", "sensors", "actuators", "relations"]
    with pytest.raises(ValueError, match="not parts of a plant"):
        Plant.of({"asset": []})


def _test_modules() -> list[Path]:
    return sorted(
        p for p in TESTS.rglob("*.py") if "support" not in p.parts and "node_modules" not in p.parts
    )


def test_no_test_module_defines_its_own_register_or_polling_helper() -> None:
    def defined(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(), str(path))
        return {
            node.name.lstrip("_")
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    copies = {
        str(p.relative_to(TESTS)): sorted(defined(p) & SHARED)
        for p in _test_modules()
        if defined(p) & SHARED
    }
    assert copies == {}, "use tests.support.plant.register / tests.support.polling instead"
