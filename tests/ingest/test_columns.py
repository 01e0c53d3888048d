"""The columnar ingest body judged like the same readings as objects (pure)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import ValidationError
from graph.model import Sensor
from graph.timeutil import to_us
from ingest.pipeline.columns import parse_columns, validate_columns
from ingest.pipeline.httpparse import parse_item
from ingest.pipeline.validate import validate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SENSORS = {
    "t1": Sensor("t1", "pump-1", "Temperature", "temperature", "°C", 0.0, 100.0),
    "f1": Sensor("f1", "pump-1", "Flow", "flow", "m³/h"),
}
FUTURE_US = 300_000_000
NOW_MS = int(NOW.timestamp() * 1000)

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.just(10**400),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
)
stamps = st.one_of(
    st.none(),
    st.integers(min_value=-10**9, max_value=NOW_MS + 10**9),
    st.floats(min_value=0, max_value=NOW_MS * 1.1, allow_nan=False),
    st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2030, 1, 1),
                 timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.sampled_from(["yesterday", "2026-01-01T00:00:00"]),
)  # fmt: skip
qualities = st.sampled_from([None, "good", "suspect", "bad", "missing", "great"])
items = st.lists(
    st.fixed_dictionaries(
        {"sensor_id": st.sampled_from(["t1", "f1", "ghost"]), "value": values},
        optional={"timestamp": stamps, "quality": qualities},
    ),
    max_size=40,
)


def as_objects(body: list[dict[str, Any]]) -> tuple[dict[int, str], list[tuple[Any, ...]]]:
    """Reasons by position and accepted rows, the way the array body goes."""
    reasons: dict[int, str] = {}
    raws, at = [], []
    for i, item in enumerate(body):
        try:
            raws.append(parse_item(item, received_at=NOW, source="http", raw=json.dumps(item)))
            at.append(i)
        except ValidationError as exc:
            reasons[i] = exc.message
    out = validate(raws, SENSORS, NOW, max_future_us=FUTURE_US, index_offset=at)
    reasons.update({e.index: e.reason for e in out.errors})
    return reasons, rows(out.batch)


def as_columns(body: list[dict[str, Any]]) -> tuple[dict[int, str], list[tuple[Any, ...]]]:
    doc = {
        k: [item.get(k) for item in body] for k in ("sensor_id", "value", "timestamp", "quality")
    }
    cols, errors, _ = parse_columns(doc, received_at=NOW, max_items=1000)
    out = validate_columns(cols, SENSORS, NOW, max_future_us=FUTURE_US)
    reasons = {e.index: e.reason for e in errors}
    reasons.update({e.index: e.reason for e in out.errors})
    return reasons, rows(out.batch)


def rows(batch: Any) -> list[tuple[Any, ...]]:
    return sorted(
        ((int(t), s, None if math.isnan(v) else float(v), q) for t, s, _, v, q in batch.rows()),
        key=lambda r: (r[0], r[1], -math.inf if r[2] is None else r[2], r[3]),
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(items)
def test_columns_are_judged_like_objects(body: list[dict[str, Any]]) -> None:
    assert as_columns(body) == as_objects(body)


def test_epoch_milliseconds_in_one_conversion_equal_one_by_one() -> None:
    ms = [NOW_MS - 5_000, NOW_MS - 4_000]
    fast, _, _ = parse_columns({"sensor_id": ["t1", "t1"], "value": [1, 2], "timestamp": ms},
                               received_at=NOW, max_items=10)  # fmt: skip
    mixed, _, _ = parse_columns(
        {"sensor_id": ["t1", "t1"], "value": [1, 2], "timestamp": [ms[0], float(ms[1])]},
        received_at=NOW, max_items=10,
    )  # fmt: skip
    assert fast.ts_us.tolist() == mixed.ts_us.tolist() == [m * 1000 for m in ms]
    assert to_us(NOW - timedelta(seconds=5)) == fast.ts_us[0]


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"sensor_id": ["a", "b"], "value": [1.0]}, "value has 1 elements, sensor_id has 2"),
        ({"sensor_id": ["a"], "value": [1], "timestamp": 5}, "timestamp must be an array"),
        ({"sensor_id": ["a"], "value": [1], "asset_id": ["x"]}, "unknown field(s) asset_id"),
        ({"sensor_id": ["a"] * 11, "value": [1] * 11}, "more than 10"),
    ],
)
def test_a_body_that_is_not_columns_is_refused_whole(doc: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_columns(doc, received_at=NOW, max_items=10)


def test_the_accepted_columns_are_arrays() -> None:
    cols, errors, _ = parse_columns(
        {"sensor_id": ["t1", 7, "f1"], "value": [1.5, 2.0, None], "quality": [None, None, "missing"]},
        received_at=NOW, max_items=10,
    )  # fmt: skip
    assert [e.index for e in errors] == [1] and cols.index.tolist() == [0, 2]
    assert cols.value.dtype == np.float64 and cols.null.tolist() == [False, True]
