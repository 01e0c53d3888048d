"""POST /ingest fuzzed over real HTTP: the answer is never a 5xx, every refused item is
counted in the answer and kept as a dead letter (GraphQL ``rejectedReadings``), and the
valid items of a body are stored, once each.

Three families: valid bodies with some items broken on purpose (each break is one the
ingest contract refuses, so the expected errors are exactly the broken indices);
reading-like objects of arbitrary JSON; and bodies that fail as a whole (not UTF-8,
truncated, nested deep, wrong content type, empty).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import STAMPS, U, examples, rejected_since
from tests.support.app import Api
from tests.support.tokens import ADMIN, INGEST

SENSORS = {f"{U}-pt": ("bar", 0.0, 16.0), f"{U}-tt": ("degC", -1e6, 1e6)}
CODES = {"VALIDATION", "UNAUTHENTICATED", "FORBIDDEN", "UNAVAILABLE"}

ALIGNED = """query($ids: [ID!]!, $from: DateTime!, $to: DateTime!) {
  readings(sensorIds: $ids, from: $from, to: $to, includeBad: true) {
    timestamps series { sensorId values }
  }
}"""


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@st.composite
def valid_item(draw: st.DrawFn) -> dict[str, Any]:
    sensor = draw(st.sampled_from(sorted(SENSORS)))
    unit, lo, hi = SENSORS[sensor]
    ms = next(STAMPS)
    item: dict[str, Any] = {
        "sensor_id": sensor,
        "value": draw(st.floats(lo, hi, allow_nan=False) | st.integers(int(lo), int(hi))),
        "timestamp": draw(st.sampled_from([ms, _iso_ms(ms).replace("+00:00", "Z")])),
    }
    if draw(st.booleans()):
        item["unit"] = unit
    if draw(st.booleans()):
        item["asset_id"] = f"{U}-pump"
    if draw(st.booleans()):
        item["quality"] = draw(st.sampled_from(["good", "suspect", "bad"]))
    if draw(st.booleans()):
        item["metadata"] = {"line": draw(st.integers(0, 9))}
    return item


def _future_ms() -> int:
    return int((datetime.now(UTC) + timedelta(days=1)).timestamp() * 1000)


# Each one breaks an item in a way the ingest contract refuses (docs/ingest.openapi.yaml).
BREAKS: dict[str, Any] = {
    "value text": lambda it: {**it, "value": "high"},
    "value list": lambda it: {**it, "value": [1, 2]},
    "value object": lambda it: {**it, "value": {"v": 1}},
    "value NaN": lambda it: {**it, "value": float("nan")},
    "value Infinity": lambda it: {**it, "value": float("inf")},
    "value -Infinity": lambda it: {**it, "value": float("-inf")},
    "value 10**400": lambda it: {**it, "value": 10**400},
    "no value": lambda it: {k: v for k, v in it.items() if k != "value"},
    "null value, quality good": lambda it: {**it, "value": None, "quality": "good"},
    "unknown sensor": lambda it: {**it, "sensor_id": f"{U}-ghost-{next(STAMPS)}"},
    "sensor id number": lambda it: {**it, "sensor_id": 101},
    "sensor id empty": lambda it: {**it, "sensor_id": ""},
    "sensor id spaces": lambda it: {**it, "sensor_id": "pump 101"},
    "no sensor id": lambda it: {k: v for k, v in it.items() if k != "sensor_id"},
    "timestamp words": lambda it: {**it, "timestamp": "yesterday"},
    "timestamp no offset": lambda it: {**it, "timestamp": "2026-01-05T08:00:00"},
    "timestamp month 13": lambda it: {**it, "timestamp": "2026-13-05T08:00:00Z"},
    "timestamp future": lambda it: {**it, "timestamp": _future_ms()},
    "timestamp before 1970": lambda it: {**it, "timestamp": -1000},
    "timestamp huge": lambda it: {**it, "timestamp": 1e300},
    "timestamp bool": lambda it: {**it, "timestamp": True},
    "timestamp list": lambda it: {**it, "timestamp": [2026]},
    "wrong unit": lambda it: {**it, "unit": "furlong"},
    "unit number": lambda it: {**it, "unit": 3},
    "asset mismatch": lambda it: {**it, "asset_id": f"{U}-site"},
    "asset id bad": lambda it: {**it, "asset_id": "no such/asset"},
    "quality unknown": lambda it: {**it, "quality": "excellent"},
    "metadata text": lambda it: {**it, "metadata": "line 3"},
    "misspelt field": lambda it: {**{k: v for k, v in it.items() if k != "timestamp"},
                                  "timestmp": it["timestamp"]},
    "not an object": lambda it: [it],
    "a number": lambda it: 42,
    "a string": lambda it: "reading",
    "null": lambda it: None,
}  # fmt: skip


async def _post(api: Api, body: bytes, content_type: str | None) -> Any:
    headers = {"Authorization": f"Bearer {INGEST}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await api.client.post("/ingest", content=body, headers=headers)


def _coded(r: Any) -> dict[str, Any]:
    """A non-200 answer: a 4xx (never 5xx) with ``{"error": {"code", "message"}}``."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    out = r.json()
    assert out["error"]["code"] in CODES and out["error"]["message"], out
    return out


def _as_text(item: object) -> str:
    return json.dumps(item, allow_nan=True)  # NaN and Infinity as the JSON extension tokens


async def _stored(api: Api, items: list[dict[str, Any]]) -> Counter[str]:
    """How many readings each sensor has at the exact timestamps of ``items``."""
    ms = [int(it["_ms"]) for it in items]
    data = await api.ok(
        ALIGNED,
        {
            "ids": sorted(SENSORS),
            "from": _iso_ms(min(ms)),
            "to": _iso_ms(max(ms) + 1),
        },
        token=ADMIN,
    )
    series = data["readings"]["series"]
    return Counter({s["sensorId"]: sum(v is not None for v in s["values"]) for s in series})


def _ms_of(item: dict[str, Any]) -> int:
    ts = item["timestamp"]
    return ts if isinstance(ts, int) else int(datetime.fromisoformat(ts).timestamp() * 1000)


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(30))
@given(
    items=st.lists(valid_item(), min_size=1, max_size=12),
    breaks=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(sorted(BREAKS))), max_size=6),
    ndjson=st.booleans(),
)
@example(
    items=[{"sensor_id": f"{U}-pt", "value": 1.5, "timestamp": next(STAMPS)}],
    breaks=[(0, "value 10**400")],
    ndjson=False,
)
async def test_broken_items_are_refused_one_by_one_and_the_rest_is_stored(
    fuzz_api: Api, items: list[dict[str, Any]], breaks: list[tuple[int, str]], ndjson: bool
) -> None:
    broken = {i % len(items): name for i, name in breaks}
    sent: list[object] = [
        BREAKS[broken[i]](it) if i in broken else it for i, it in enumerate(items)
    ]
    if ndjson:
        body, media = "\n".join(_as_text(it) for it in sent), "application/x-ndjson"
    else:
        body, media = "[" + ", ".join(_as_text(it) for it in sent) + "]", "application/json"
    since = datetime.now(UTC)
    r = await _post(fuzz_api, body.encode(), media)
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted(e["index"] for e in out["errors"]) == sorted(broken), (out, broken)
    assert (out["accepted"], out["rejected"]) == (len(items) - len(broken), len(broken))
    assert all(e["reason"] for e in out["errors"])

    letters = await rejected_since(fuzz_api, since)
    assert Counter(x["reason"] for x in letters) == Counter(e["reason"] for e in out["errors"])

    kept = [{**it, "_ms": _ms_of(it)} for i, it in enumerate(items) if i not in broken]
    if kept:
        assert await _stored(fuzz_api, kept) == Counter(it["sensor_id"] for it in kept)


COLUMNS = ("sensor_id", "value", "timestamp", "quality")
# The breaks that a columnar body can carry: of its four columns, none taken away.
COLUMN_BREAKS = sorted(
    name
    for name, brk in BREAKS.items()
    if isinstance(b := brk({"sensor_id": "s", "value": 1, "timestamp": 0}), dict)
    and set(b) <= set(COLUMNS)
    and "value" in b
)


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(30))
@given(
    items=st.lists(valid_item(), min_size=1, max_size=12),
    breaks=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(COLUMN_BREAKS)), max_size=6),
)
async def test_columnar_body_refuses_broken_positions_and_stores_the_rest(
    fuzz_api: Api, items: list[dict[str, Any]], breaks: list[tuple[int, str]]
) -> None:
    """The columnar body (one object of equal-length arrays): judged position by
    position like the same readings as objects."""
    items = [{k: v for k, v in it.items() if k in COLUMNS} for it in items]
    broken = {i % len(items): name for i, name in breaks}
    sent = [BREAKS[broken[i]](it) if i in broken else it for i, it in enumerate(items)]
    keys = [k for k in COLUMNS if any(k in it for it in sent)]
    body = "{" + ", ".join(f'"{k}": ' + _as_text([it.get(k) for it in sent]) for k in keys) + "}"
    since = datetime.now(UTC)
    r = await _post(fuzz_api, body.encode(), "application/json")
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted(e["index"] for e in out["errors"]) == sorted(broken), (out, broken)
    assert (out["accepted"], out["rejected"]) == (len(items) - len(broken), len(broken))
    letters = await rejected_since(fuzz_api, since)
    assert Counter(x["reason"] for x in letters) == Counter(e["reason"] for e in out["errors"])
    kept = [{**it, "_ms": _ms_of(it)} for i, it in enumerate(items) if i not in broken]
    if kept:
        assert await _stored(fuzz_api, kept) == Counter(it["sensor_id"] for it in kept)


# Reading-like objects: the ingest fields (and some others) with arbitrary JSON values,
# our sensor ids among the strings so that some items are valid.
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from([*SENSORS, f"{U}-pump", "bar", "good", "missing", "2026-01-05T08:00:00Z"])
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = ["sensor_id", "value", "timestamp", "asset_id", "unit", "quality", "metadata", "extra"]
READING_LIKE = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
MEDIA = [None, "application/json", "application/x-ndjson", "text/plain", "application/jsonl"]


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(30))
@given(
    items=st.lists(READING_LIKE | JSON, max_size=8),
    media=st.sampled_from(MEDIA),
    lines=st.booleans(),
)
@example(items=[[]], media=None, lines=True)  # the one line "[]": an empty array, 0 items
async def test_arbitrary_json_items_are_each_stored_or_refused_and_kept(
    fuzz_api: Api, items: list[object], media: str | None, lines: bool
) -> None:
    texts = [_as_text(it) for it in items]
    body = "\n".join(texts) if lines else "[" + ",".join(texts) + "]"
    since = datetime.now(UTC)
    r = await _post(fuzz_api, body.encode(), media)
    letters = await rejected_since(fuzz_api, since)
    if r.status_code != 200:
        out = _coded(r)
        assert len(letters) == out.get("rejected", 0), (out, letters)
        return
    out = r.json()
    ndjson = media in ("application/x-ndjson", "application/jsonl") or (
        media in (None, "text/plain") and not body.lstrip().startswith("[")
    )
    if ndjson:
        count = sum(bool(t.strip()) for t in body.splitlines())
    else:  # an array of items (the lines of one array, or one array line), or one item
        decoded = json.loads(body)
        if isinstance(decoded, list):
            count = len(decoded)
        elif isinstance(decoded, dict) and isinstance(decoded.get("sensor_id"), list):
            count = len(decoded["sensor_id"])  # columns: one reading per position
        else:
            count = 1
    assert out["accepted"] + out["rejected"] == count, (out, body)
    indices = [e["index"] for e in out["errors"]]
    assert len(indices) == out["rejected"] and indices == sorted(set(indices))
    assert all(0 <= i < count and e["reason"] for i, e in zip(indices, out["errors"], strict=True))
    assert Counter(x["reason"] for x in letters) == Counter(e["reason"] for e in out["errors"])


WHOLE_BODY = st.one_of(
    st.tuples(st.binary(max_size=32), st.binary(max_size=32)).map(lambda p: p[0] + b"\xff" + p[1]),
    st.sampled_from([b"", b"   \n\t", b"[", b'[{"sensor_id": ', b"[1,]", b"{]", b"\xef\xbb\xbf[]"]),
    st.sampled_from(  # columns that are not columns as described
        [
            b'{"sensor_id": ["a"], "value": []}',
            b'{"sensor_id": ["a", "b"], "value": [1, 2], "timestamp": [1]}',
            b'{"sensor_id": ["a"], "value": [1], "unit": ["bar"]}',
            b'{"sensor_id": ["a"]}',
            b'{"sensor_id": ["a"], "value": 1}',
            b'{"sensor_id": [], "value": []}',
            b'{"sensor_id": ["a"], "value": [1], "quality": "good"}',
        ]
    ),
    st.integers(10, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(10, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(4301, 6000).map(lambda n: b"[" + b"7" * n + b"]"),
    st.text(max_size=40).map(str.encode),
)


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(30))
@given(
    body=WHOLE_BODY,
    media=st.sampled_from(
        [
            *MEDIA,
            "application/xml",
            "multipart/form-data",
            "image/png",
            "application/json; charset=latin-1",
        ]
    ),
)
async def test_unreadable_bodies_get_a_coded_4xx_and_their_dead_letter(
    fuzz_api: Api, body: bytes, media: str | None
) -> None:
    since = datetime.now(UTC)
    r = await _post(fuzz_api, body, media)
    letters = await rejected_since(fuzz_api, since)
    if r.status_code == 200:
        out = r.json()
        assert out["accepted"] == 0  # no registered sensor id in these bodies
    else:
        out = _coded(r)
    assert len(letters) == out.get("rejected", 0), (r.status_code, out, letters)
    assert all(x["reason"] for x in letters)
