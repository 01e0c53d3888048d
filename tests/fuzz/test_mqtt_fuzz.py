"""MQTT payloads fuzzed through the real broker into a registered MQTT data source: the
connector stays connected (no restart), every message it cannot take becomes a dead
letter with a reason, and the valid readings are stored.

A device publishes each example's payload, then a sentinel on the same topic (QoS 1:
the broker keeps their order, the connector handles messages one at a time); the
sentinel is a reading the pipeline refuses (a text value, its tag), so it travels the
same path as the example's readings, behind them, and once its dead letter is readable
everything the example's message became is too. Structured payloads (valid readings,
readings broken on purpose, unreadable messages) have exact expected counts; arbitrary
bytes and JSON have bounds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import STAMPS, U, examples, rejected_since
from tests.support.app import Api
from tests.support.broker import Mosquitto
from tests.support.polling import eventually
from tests.support.tokens import ADMIN

SOURCE = f"{U}-mqtt"
DATA = f"assets/{U}-pump/sensors/{{}}/data"
TELEMETRY = f"assets/{U}-pump/telemetry"
SENSORS = {"pt": (f"{U}-pt", 0.0, 16.0), "tt": (f"{U}-tt", -1e6, 1e6)}
UPSERT = "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }"
STATUS = "query($id: ID!) { dataSourceStatus(id: $id) { state restarts } }"
ALIGNED = """query($ids: [ID!]!, $from: DateTime!, $to: DateTime!) {
  readings(sensorIds: $ids, from: $from, to: $to, includeBad: true) { series { sensorId values } }
}"""


async def _status(api: Api) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await api.ok(STATUS, {"id": SOURCE}))["dataSourceStatus"]
    return found


@pytest.fixture(scope="module")
async def device(fuzz_api: Api, fuzz_broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    """The MQTT source (both sensors bound by address), connected; a device client."""
    source = {
        "id": SOURCE,
        "protocol": "MQTT",
        "endpoint": "",
        "settings": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "sensorBindings": [
            {"sensorId": sid, "address": address} for address, (sid, _, _) in SENSORS.items()
        ],
    }
    await fuzz_api.ok(UPSERT, {"s": source}, token=ADMIN)
    await eventually(
        lambda: _status(fuzz_api),
        done=lambda s: s is not None and s["state"] == "CONNECTED",
        within=20,
        what=f"{SOURCE} connected",
    )
    async with aiomqtt.Client("127.0.0.1", fuzz_broker.port) as client:
        yield client
    await fuzz_api.ok(
        "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }", {"id": SOURCE}
    )


async def _exchange(api: Api, device: aiomqtt.Client, topic: str, payload: bytes) -> list[Any]:
    """Publish ``payload`` and a sentinel on ``topic``; the dead letters of the payload
    once the sentinel's is readable. The connector is then still connected."""
    tag = f"SENTINEL-{next(STAMPS)}"
    # refused by the pipeline, after the coalescer: the path of the example's readings
    sentinel = {"value": tag} if "/data" in topic else {"timestamp": next(STAMPS), "pt": tag}
    since = datetime.now(UTC)
    await device.publish(topic, payload, qos=1)
    await device.publish(topic, json.dumps(sentinel), qos=1)
    letters = await eventually(
        lambda: rejected_since(api, since),
        done=lambda rows: any(tag in r["raw"] for r in rows),
        within=20,
        every=0.02,
        what="the sentinel's dead letter",
    )
    assert await _status(api) == {"state": "CONNECTED", "restarts": 0}
    return [r for r in letters if tag not in r["raw"]]


async def _stored(api: Api, sensor: str, stamps: list[int]) -> int:
    first, last = min(stamps), max(stamps) + 1
    data = await api.ok(
        ALIGNED,
        {
            "ids": [sensor],
            "from": datetime.fromtimestamp(first / 1000, UTC).isoformat(),
            "to": datetime.fromtimestamp(last / 1000, UTC).isoformat(),
        },
        token=ADMIN,
    )
    return sum(v is not None for v in data["readings"]["series"][0]["values"])


def _future() -> int:
    return int((datetime.now(UTC) + timedelta(days=1)).timestamp() * 1000)


# Each breaks a reading object of a .../data message in a way the connector or the
# pipeline refuses: the message's other readings are still taken.
BREAKS: dict[str, Any] = {
    "value text": lambda it: {**it, "value": "high"},
    "value list": lambda it: {**it, "value": [1]},
    "value 10**400": lambda it: {**it, "value": 10**400},
    "no value": lambda it: {k: v for k, v in it.items() if k != "value"},
    "null value, quality good": lambda it: {**it, "value": None, "quality": "good"},
    "timestamp words": lambda it: {**it, "timestamp": "yesterday"},
    "timestamp no offset": lambda it: {**it, "timestamp": "2026-01-05T08:00:00"},
    "timestamp future": lambda it: {**it, "timestamp": _future()},
    "timestamp before 1970": lambda it: {**it, "timestamp": -1000},
    "timestamp huge": lambda it: {**it, "timestamp": 10**30},
    "timestamp bool": lambda it: {**it, "timestamp": True},
    "quality unknown": lambda it: {**it, "quality": "excellent"},
    "unit number": lambda it: {**it, "unit": 3},
    "wrong unit": lambda it: {**it, "unit": "furlong"},
    "a string": lambda it: "twelve",
    "a list": lambda it: [[it]],
}


@st.composite
def reading(draw: st.DrawFn, address: str) -> dict[str, Any]:
    _, lo, hi = SENSORS[address]
    return {
        "value": draw(st.floats(lo, hi, allow_nan=False) | st.integers(int(lo), int(hi))),
        "timestamp": next(STAMPS),
    }


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(20))
@given(data=st.data(), address=st.sampled_from(sorted(SENSORS)), single=st.booleans())
async def test_data_messages_with_broken_readings(
    fuzz_api: Api, device: aiomqtt.Client, data: st.DataObject, address: str, single: bool
) -> None:
    items = data.draw(st.lists(reading(address), min_size=1, max_size=1 if single else 8))
    picks = data.draw(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(sorted(BREAKS)))))
    broken = {i % len(items): name for i, name in picks}
    sent = [BREAKS[broken[i]](it) if i in broken else it for i, it in enumerate(items)]
    payload = json.dumps(sent[0] if single else sent)
    letters = await _exchange(fuzz_api, device, DATA.format(address), payload.encode())
    assert len(letters) == len(broken), (letters, broken)
    sensor = SENSORS[address][0]
    assert all(x["reason"] and x["sensorId"] == sensor for x in letters), letters
    kept = [it["timestamp"] for i, it in enumerate(items) if i not in broken]
    if kept:
        assert await _stored(fuzz_api, sensor, kept) == len(kept)


UNREADABLE = st.one_of(
    st.tuples(st.binary(max_size=24), st.binary(max_size=24)).map(lambda p: p[0] + b"\xff" + p[1]),
    st.sampled_from(
        [
            b"",
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"[]",
            b"{",
            b"twelve",
            b'{"value": NaN}',
            b"1e999",
        ]
    ),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(4301, 6000).map(lambda n: b"7" * n),
)


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(20))
@given(payload=UNREADABLE, address=st.sampled_from(sorted(SENSORS)))
@example(payload=b"\xff\xfe", address="pt")
async def test_unreadable_data_messages_are_one_dead_letter_each(
    fuzz_api: Api, device: aiomqtt.Client, payload: bytes, address: str
) -> None:
    letters = await _exchange(fuzz_api, device, DATA.format(address), payload)
    assert len(letters) == 1 and letters[0]["reason"], letters
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        assert letters[0]["raw"] == payload.hex()
        assert "not UTF-8" in letters[0]["reason"]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["value", "timestamp", "unit", "quality", "pt", "tt", "x"])
            | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(25))
@given(
    payload=JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=48),
    topic=st.sampled_from([DATA.format("pt"), DATA.format("tt"), TELEMETRY]),
)
async def test_arbitrary_payloads_never_stop_the_connector(
    fuzz_api: Api, device: aiomqtt.Client, payload: bytes, topic: str
) -> None:
    letters = await _exchange(fuzz_api, device, topic, payload)
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # not UTF-8, not JSON: one dead letter
        assert len(letters) == 1 and letters[0]["reason"], letters
        return
    if topic == TELEMETRY:  # one per bound field (pt, tt), one naming the unbound
        most = 3
    else:  # one reading per array item
        most = len(doc) if isinstance(doc, list) and doc else 1
    assert len(letters) <= most and all(x["reason"] for x in letters), letters


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(20))
@given(
    values=st.dictionaries(
        st.sampled_from(["pt", "tt"]),
        st.floats(0, 16, allow_nan=False) | st.sampled_from(["high", [1], {"v": 2}]),
        min_size=1,
    ),
    unbound=st.lists(st.sampled_from(["rpm", "flow", "x y"]), unique=True, max_size=2),
    nested=st.booleans(),
)
async def test_telemetry_fields_are_stored_or_refused_one_by_one(
    fuzz_api: Api,
    device: aiomqtt.Client,
    values: dict[str, Any],
    unbound: list[str],
    nested: bool,
) -> None:
    ms = next(STAMPS)
    fields = {**values, **dict.fromkeys(unbound, 1.0)}
    doc = {"timestamp": ms, "values": fields} if nested else {"timestamp": ms, **fields}
    letters = await _exchange(fuzz_api, device, TELEMETRY, json.dumps(doc).encode())
    bad = [k for k, v in values.items() if not isinstance(v, float)]
    expected = Counter({SENSORS[k][0]: 1 for k in bad})
    if unbound:
        expected[""] += 1  # one dead letter naming the message's unbound fields
    assert Counter(x["sensorId"] for x in letters) == expected, letters
    for address, value in values.items():
        if isinstance(value, float):
            assert await _stored(fuzz_api, SENSORS[address][0], [ms]) == 1
