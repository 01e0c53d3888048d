"""Validation outcomes and the HTTP body parser (pure functions)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.model import Sensor
from graph.timeutil import to_us
from ingest.pipeline import CachedCatalog, StaticCatalog, normalise_unit, parse_body, validate
from ingest.reading import Quality, RawReading

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TEMP = Sensor("t1", "pump-1", "Temperature", "temperature", "°C", 0.0, 100.0)
FREE = Sensor("f1", "pump-1", "Flow", "flow", "m³/h")
SENSORS = {s.id: s for s in (TEMP, FREE)}
FIVE_MIN_US = 300_000_000


def check(*raws: RawReading, max_age_us: int | None = None):
    return validate(list(raws), SENSORS, NOW, max_future_us=FIVE_MIN_US, max_age_us=max_age_us)


def reason(r: RawReading, **kw: object) -> str | None:
    out = check(r, **kw)
    return out.errors[0].reason if out.errors else None


def test_accepted_reading_is_columnar() -> None:
    out = check(RawReading("t1", 21.5, NOW - timedelta(seconds=1)), RawReading("f1", 3))
    assert out.errors == [] and len(out.batch) == 2
    assert out.batch.ts.tolist() == [to_us(NOW) - 1_000_000, to_us(NOW)]  # receive time default
    assert out.batch.asset_id.tolist() == ["pump-1", "pump-1"]
    assert out.batch.quality.tolist() == ["good", "good"]


def test_rejections_have_reasons_and_are_kept() -> None:
    assert reason(RawReading("nope", 1.0)) == "unknown sensor"
    assert reason(RawReading("t1", 1.0, asset_id="pump-2")).startswith("asset mismatch")
    assert reason(RawReading("t1", 1.0, unit="K")).startswith("unit mismatch")
    assert reason(RawReading("t1", "warm")).startswith("non-numeric value")
    assert reason(RawReading("t1", math.nan)) == "non-finite value"
    assert reason(RawReading("t1", math.inf)) == "non-finite value"
    assert reason(RawReading("t1", None, quality=Quality.GOOD)).startswith("null value")
    future = NOW + timedelta(minutes=6)
    assert reason(RawReading("t1", 1.0, future)) == "timestamp in the future"
    assert reason(RawReading("t1", 1.0, NOW + timedelta(minutes=4))) is None
    old = NOW - timedelta(days=2)
    assert reason(RawReading("t1", 1.0, old)) is None  # backfill accepted by default
    assert reason(RawReading("t1", 1.0, old), max_age_us=86_400_000_000) == "timestamp too old"
    out = check(RawReading("nope", 1.0, raw='{"sensor_id": "nope"}'))
    row = out.rejected[0]
    assert (row.sensor_id, row.reason, row.raw) == (
        "nope",
        "unknown sensor",
        '{"sensor_id": "nope"}',
    )


def test_unit_spellings_and_quality_outcomes() -> None:
    assert normalise_unit("degC") == normalise_unit(" °C ") == "°C"
    assert reason(RawReading("t1", 1.0, unit="degC")) is None
    assert normalise_unit("mW") != normalise_unit("MW")
    out = check(
        RawReading("t1", 150.0, NOW),  # above maxValue: stored bad
        RawReading("t1", -1.0, NOW - timedelta(seconds=1)),  # below minValue
        RawReading("t1", 50.0, NOW - timedelta(seconds=2), quality=Quality.SUSPECT),
        RawReading("t1", None, NOW - timedelta(seconds=3)),  # missing
        RawReading("t1", True, NOW - timedelta(seconds=4)),
        RawReading("f1", 1e9, NOW),  # no limits registered: good
    )
    assert out.errors == []
    assert out.batch.quality.tolist() == ["bad", "bad", "suspect", "missing", "good", "good"]
    assert np.isnan(out.batch.value[3]) and out.batch.value[4] == 1.0


def test_integer_beyond_the_float_range_is_rejected() -> None:
    out = check(RawReading("f1", 10**400), RawReading("f1", -(10**309)), RawReading("f1", 10**300))
    assert [e.reason for e in out.errors] == ["non-finite value: beyond the float64 range"] * 2
    assert [e.index for e in out.errors] == [0, 1]
    assert out.batch.value.tolist() == [1e300]  # a big int that fits is a float
    assert [r.reason for r in out.rejected] == [e.reason for e in out.errors]
    assert json.loads(out.rejected[0].raw)["value"] == 10**400  # kept as sent


def test_parsed_huge_integer_is_rejected_not_raised() -> None:
    body = '[{"sensor_id": "f1", "value": 1' + "0" * 400 + '}, {"sensor_id": "f1", "value": 2}]'
    parsed = parse_body(body, "application/json", received_at=NOW)
    out = validate(parsed.readings, SENSORS, NOW, max_future_us=FIVE_MIN_US)
    assert [e.reason for e in out.errors] == ["non-finite value: beyond the float64 range"]
    assert out.batch.value.tolist() == [2.0]


def test_rejected_items_carry_storable_text() -> None:
    """JSON escapes can spell lone surrogates, which no store or UTF-8 answer can hold:
    the error's sensor id and reason (and raw text) escape them."""
    body = '[{"sensor_id": "\\ud800x", "value": 1}, {"sensor_id": "t1", "value": 1, "\\udc00": 2}]'
    parsed = parse_body(body, "application/json", received_at=NOW)
    assert [e.sensor_id for e in parsed.errors] == ["\\ud800x", "t1"]
    assert "\\udc00" in parsed.errors[1].reason
    for text in [*(e.reason for e in parsed.errors), *parsed.error_raw]:
        text.encode("utf-8")  # raises on a lone surrogate


def test_timestamps_before_1970_are_rejected() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert reason(RawReading("t1", 1.0, epoch - timedelta(microseconds=1))) == (
        "timestamp before 1970-01-01"
    )
    assert reason(RawReading("t1", 1.0, epoch)) is None
    body = json.dumps(
        [
            {"sensor_id": "t1", "value": 1, "timestamp": -1},
            {"sensor_id": "t1", "value": 2, "timestamp": "1960-05-01T00:00:00Z"},
            {"sensor_id": "t1", "value": 3, "timestamp": "1969-12-31T23:59:59.999999-00:00"},
            {"sensor_id": "t1", "value": 4, "timestamp": 0},
        ]
    )
    parsed = parse_body(body, "application/json", received_at=NOW)
    out = validate(parsed.readings, SENSORS, NOW, max_future_us=FIVE_MIN_US)
    assert [(e.index, e.reason) for e in out.errors] == [
        (0, "timestamp before 1970-01-01"),
        (1, "timestamp before 1970-01-01"),
        (2, "timestamp before 1970-01-01"),
    ]
    assert out.batch.ts.tolist() == [0] and out.batch.value.tolist() == [4.0]
    assert [r.reason for r in out.rejected] == ["timestamp before 1970-01-01"] * 3


def test_duplicates_in_a_batch_last_wins() -> None:
    out = check(RawReading("t1", 1.0, NOW), RawReading("t1", 2.0, NOW))
    assert len(out.batch) == 2  # both accepted; the store keeps the last
    deduped = out.batch.dedup()
    assert deduped.value.tolist() == [2.0]


async def test_cached_catalog_caches_and_invalidates() -> None:
    inner = StaticCatalog([TEMP])
    clock = [0.0]
    cache = CachedCatalog(inner, ttl=10, clock=lambda: clock[0])
    assert set(await cache.get_many(["t1", "x"])) == {"t1"}
    assert set(await cache.get_many(["t1", "x"])) == {"t1"}
    assert inner.lookups == 1
    inner.put(Sensor("x", "pump-1", "X", "flow", "m"))
    assert set(await cache.get_many(["x"])) == set()  # negative answer still cached
    cache.invalidate(["x"])
    assert set(await cache.get_many(["x"])) == {"x"}
    clock[0] = 11.0
    await cache.get_many(["t1"])
    assert inner.lookups == 3


def test_parse_json_array_and_ndjson() -> None:
    body = json.dumps(
        [
            {"sensor_id": "t1", "value": 1.5, "timestamp": "2024-03-01T11:59:00Z"},
            {"sensor_id": "t1", "value": 2, "timestamp": 1709294340000, "unit": "°C"},
            {"sensor_id": "t1"},
            {"sensor_id": "t1", "value": 1, "timestmp": 5},
            "text",
            {"sensor_id": "t1", "value": 1, "timestamp": "2024-03-01T11:59:00"},
            {"sensor_id": "t1", "value": 1, "quality": "great"},
        ]
    )
    parsed = parse_body(body, "application/json", received_at=NOW)
    assert parsed.indices == [0, 1]
    assert parsed.readings[0].timestamp == datetime(2024, 3, 1, 11, 59, tzinfo=UTC)
    assert parsed.readings[1].timestamp == datetime(2024, 3, 1, 11, 59, tzinfo=UTC)
    assert [e.index for e in parsed.errors] == [2, 3, 4, 5, 6]
    assert "value is required" in parsed.errors[0].reason
    assert "timestmp" in parsed.errors[1].reason
    assert "offset" in parsed.errors[3].reason
    ndjson = '{"sensor_id": "t1", "value": 1}\n\n{broken\n{"sensor_id": "f1", "value": null}\n'
    parsed = parse_body(ndjson, None, received_at=NOW)
    assert parsed.indices == [0, 2]
    assert parsed.errors[0].index == 1 and parsed.errors[0].reason.startswith("malformed JSON")
    assert parsed.error_raw == ["{broken"]
    whole = parse_body("[{", "application/json", received_at=NOW)
    assert whole.readings == [] and whole.errors[0].reason.startswith("malformed JSON body")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.integers()
    | st.sampled_from([10**400, -(10**309)])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
items = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"sensor_id": st.sampled_from(["t1", "f1", "", "bad id"]), "value": json_values},
        optional={
            "timestamp": st.one_of(
                st.integers(), st.integers(-(10**13), 10**13), st.text(max_size=30), st.floats()
            ),
            "quality": st.sampled_from(["good", "bad", "nope"]),
            "unit": json_values,
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(items, max_size=8), st.booleans())
def test_parser_accounts_for_every_item(body: list[object], ndjson: bool) -> None:
    text = "\n".join(json.dumps(i) for i in body) if ndjson else json.dumps(body)
    parsed = parse_body(
        text, "application/x-ndjson" if ndjson else "application/json", received_at=NOW
    )
    assert len(parsed.readings) + len(parsed.errors) == len(body)
    assert sorted([*parsed.indices, *(e.index for e in parsed.errors)]) == list(range(len(body)))
    out = validate(parsed.readings, SENSORS, NOW, max_future_us=FIVE_MIN_US)
    assert len(out.batch) + len(out.errors) == len(parsed.readings)
    assert np.isfinite(out.batch.value[out.batch.quality != "missing"]).all()
    assert (out.batch.ts >= 0).all()


def test_an_unparsed_mqtt_payload_keeps_the_parser_reason() -> None:
    """MQTT dead letters say why the payload could not be read (JSON or codec), not what
    the validator makes of the placeholder value."""
    from graph.model import SensorBinding
    from ingest.connectors.mqtt_messages import data_readings

    binding = SensorBinding("broker", "t1", "temp")
    cases = {
        "{not json": "payload is not JSON",
        '{"value": 1, "timestamp": "yesterday"}': "timestamp",
        '{"value": 1, "unit": 5}': "unit must be a string",
        '{"temperature": 1}': "object has no 'value'",
        "[]": "empty array",
    }
    for payload, expected in cases.items():
        raws = data_readings(binding, "pump-1", "assets/pump-1/sensors/temp/data", payload, "b")
        got = reason(raws[0])
        assert got is not None and expected in got, (payload, got)
        assert "non-numeric" not in got, (payload, got)


def test_dead_letter_ids_come_from_their_content() -> None:
    """The same bad reading validated again (a redelivered message keeps its arrival
    time) gets the same id, so the store keeps it once; two identical bad items of one
    body, or the same item arriving at another time, are distinct letters."""
    bad = RawReading("nope", 1.0, received_at=NOW)
    twice = validate([bad, bad], SENSORS, NOW, max_future_us=10**9).rejected
    again = validate([bad, bad], SENSORS, NOW, max_future_us=10**9).rejected
    later = RawReading("nope", 1.0, received_at=NOW + timedelta(seconds=1))
    other = validate([later], SENSORS, NOW, max_future_us=10**9).rejected
    assert len({r.id for r in twice}) == 2
    assert [r.id for r in twice] == [r.id for r in again]
    assert other[0].id not in {r.id for r in twice}
    assert all(0 <= r.id < 2**63 for r in twice + other)
