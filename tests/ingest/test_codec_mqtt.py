"""MQTT topic scheme and payload parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.errors import ValidationError
from graph.model import DataSource
from ingest.connectors import Bindings, ModbusSettings, MqttSettings, make_connector
from ingest.connectors.mqtt_codec import (
    PayloadError,
    TopicKind,
    TopicRef,
    parse_data_payload,
    parse_telemetry_payload,
    parse_timestamp,
    parse_topic,
    subscription_filters,
)
from ingest.reading import Quality


def test_topics() -> None:
    assert parse_topic("assets/p1/sensors/t1/data") == TopicRef(TopicKind.DATA, "p1", "t1")
    assert parse_topic("assets/p1/telemetry") == TopicRef(TopicKind.TELEMETRY, "p1")
    assert parse_topic("assets/p1/events/trip") == TopicRef(TopicKind.EVENT, "p1", "trip")
    assert parse_topic("assets/p1/actuators/v1/ack") == TopicRef(TopicKind.ACK, "p1", "v1")
    assert parse_topic("assets/p1/actuators/v1/set") == TopicRef(TopicKind.COMMAND, "p1", "v1")
    for bad in ["assets", "assets//telemetry", "x/p1/telemetry", "assets/p1/sensors//data"]:
        assert parse_topic(bad) is None


def test_subscription_filters_share_readings_but_not_acks() -> None:
    filters = subscription_filters(["a", "a", "b"], ["a"], shared_group="g", events=True)
    assert filters == [
        "$share/g/assets/a/sensors/+/data",
        "$share/g/assets/a/telemetry",
        "$share/g/assets/a/events/+",
        "$share/g/assets/b/sensors/+/data",
        "$share/g/assets/b/telemetry",
        "$share/g/assets/b/events/+",
        "assets/a/actuators/+/ack",
    ]


def test_timestamps() -> None:
    want = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T12:00:00Z") == want
    assert parse_timestamp("2024-05-01T14:00:00+02:00") == want
    assert parse_timestamp(int(want.timestamp() * 1000)) == want
    for bad in ["yesterday", "2024-05-01T12:00:00", True, float("nan"), 1e30, None]:
        with pytest.raises(PayloadError):
            parse_timestamp(bad)


@given(st.integers(0, 4_102_444_800_000))
def test_epoch_ms_round_trip(ms: int) -> None:
    assert round(parse_timestamp(ms).timestamp() * 1000) == ms


def test_data_payload_forms() -> None:
    assert [i.value for i in parse_data_payload("12.5")] == [12.5]
    (item,) = parse_data_payload(
        '{"value": 3, "timestamp": 1714564800000, "unit": "bar", "quality": "uncertain"}'
    )
    assert (item.value, item.unit, item.quality, item.error) == (3, "bar", Quality.SUSPECT, None)
    assert item.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    items = parse_data_payload('[{"value": 1}, {"value": true}, {"value": 2, "quality": "odd"}]')
    assert [i.value for i in items[:2]] == [1, 1.0]
    assert items[2].error is not None and "quality" in items[2].error
    assert items[2].raw == '{"value": 2, "quality": "odd"}'


@pytest.mark.parametrize("bad", ["hello", "{", "NaN", "[]", '{"v": 1}', '"text"'])
def test_unreadable_data_payload_is_one_bad_item(bad: str) -> None:
    (item,) = parse_data_payload(bad)
    assert item.error
    assert isinstance(item.value, str)  # validation rejects it; the text is kept


def test_telemetry_forms() -> None:
    t = parse_telemetry_payload('{"timestamp": "2024-05-01T12:00:00Z", "values": {"a": 1}}')
    assert t.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC) and t.values == {"a": 1}
    flat = parse_telemetry_payload('{"a": 1.5, "b": false, "timestamp": 1714564800000}')
    assert flat.values == {"a": 1.5, "b": 0.0} and flat.timestamp is not None
    for bad in ["[1]", "1", '{"values": 3}', "{}", '{"timestamp": "x", "a": 1}', "nope"]:
        with pytest.raises(PayloadError):
            parse_telemetry_payload(bad)


def test_settings_parse_endpoints_and_reject_bad_values() -> None:
    m = ModbusSettings.from_source(
        DataSource(
            id="d",
            protocol="modbus",
            endpoint="modbus://10.0.0.5:1502?unit=3&timeout=0.5&poll=0.2",
            settings={"max_gap": 4},
        )
    )
    assert (m.host, m.port, m.unit, m.timeout_s, m.poll_s, m.max_gap) == (
        "10.0.0.5",
        1502,
        3,
        0.5,
        0.2,
        4,
    )
    q = MqttSettings.from_source(DataSource(id="d", protocol="mqtt", endpoint="mqtts://broker"))
    assert (q.host, q.port, q.tls) == ("broker", 8883, True)
    for endpoint, settings in [
        ("modbus://h?unit=300", {}),
        ("modbus://h", {"poll": "fast"}),
        ("modbus://h:99999", {}),
    ]:
        with pytest.raises(ValidationError):
            ModbusSettings.from_source(
                DataSource(id="d", protocol="modbus", endpoint=endpoint, settings=settings)
            )
    with pytest.raises(ValidationError, match="shared_group"):
        MqttSettings.from_source(
            DataSource(
                id="d", protocol="mqtt", endpoint="mqtt://h", settings={"shared_group": "a/b"}
            )
        )

    async def sink(batch: list[object]) -> None:
        return None

    with pytest.raises(ValidationError, match="no connector"):
        make_connector(DataSource(id="d", protocol="http", endpoint=""), Bindings(), sink)


def test_mqtt_session_settings() -> None:
    def parse(**settings: object) -> MqttSettings:
        return MqttSettings.from_source(
            DataSource(id="d", protocol="mqtt", endpoint="mqtt://h", settings=settings)
        )

    default = parse()
    assert (default.mqtt_version, default.session_expiry_s, default.ack_tolerance) == (
        "3.1.1",
        3600,
        1e-6,
    )
    assert parse(mqtt_version="5", session_expiry_s=60, ack_tolerance=0).mqtt_version == "5"
    assert parse(mqtt_version=5).mqtt_version == "5"
    assert parse(ack_tolerance=0).ack_tolerance == 0.0
    for bad, match in [
        ({"mqtt_version": "3"}, "mqtt_version"),
        ({"session_expiry_s": -1}, "session_expiry_s"),
        ({"ack_tolerance": -0.1}, "ack_tolerance"),
        ({"ack_tolerance": "loose"}, "ack_tolerance"),
    ]:
        with pytest.raises(ValidationError, match=match):
            parse(**bad)
