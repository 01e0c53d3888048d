"""Parse an HTTP batch body (a JSON array or NDJSON) into raw readings, or a columnar
body (one object of arrays: ``ingest.pipeline.columns``) into columns.

Pure: bytes in, ``RawReading``s and per-item errors out. A reading object has
``sensor_id`` (required), ``value`` (required, may be null), ``timestamp`` (RFC 3339
with an offset, or epoch milliseconds; the receive time when absent), and optional
``asset_id``, ``unit``, ``quality`` (good, suspect, bad, missing) and ``metadata``
(an object). Unknown fields are an error: a misspelt ``timestamp`` must not pass
silently as "now". Items that fail keep their raw text for ``rejected_readings``.

JSON that Python's decoder cannot hold (nesting deeper than the interpreter's stack,
an integer of more than 4,300 digits) is malformed input like any other: a reason,
never an exception (``decode_json``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime

from graph.errors import ValidationError
from graph.model import check_id
from ingest import jsonbounded
from ingest.pipeline.columns import Columns, is_columnar, parse_columns
from ingest.pipeline.stamps import parse_stamp
from ingest.pipeline.validate import ItemError
from ingest.reading import Quality, RawReading

__all__ = ["ParsedBody", "decode_json", "parse_body", "parse_item"]

_FIELDS = frozenset({"sensor_id", "value", "asset_id", "timestamp", "unit", "quality", "metadata"})
_MAX_RAW = 16_384


@dataclass(slots=True)
class ParsedBody:
    readings: list[RawReading] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # body position of each reading
    errors: list[ItemError] = field(default_factory=list)
    error_raw: list[str] = field(default_factory=list)  # raw text of each error
    columns: Columns | None = None  # a columnar body (``ingest.pipeline.columns``)

    def fail(self, index: int, sensor_id: object, reason: str, raw: str) -> None:
        sid = _storable(sensor_id) if isinstance(sensor_id, str) else None
        self.errors.append(ItemError(index, sid, _storable(reason)))
        self.error_raw.append(_storable(raw[:_MAX_RAW]))


def decode_json(text: str) -> tuple[object, str | None]:
    """(value, None), or (None, why ``text`` is not JSON this service reads)."""
    try:
        return jsonbounded.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return None, "nested too deeply"
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        return None, f"a number has more than {sys.get_int_max_str_digits()} digits"


def _dumps(item: object, text: str) -> str:
    """``item`` as JSON for its dead letter (the body's text if it cannot be)."""
    try:
        return json.dumps(item)
    except (RecursionError, ValueError):
        return text[:_MAX_RAW]


def _storable(text: str) -> str:
    """``text`` with lone surrogates (JSON ``"\\ud800"`` decodes to one) escaped: no
    store, and no UTF-8 response, can hold them as they are."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _optional_str(item: dict[str, object], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{key} must be a string")
    return value


def parse_item(item: object, *, received_at: datetime, source: str, raw: str) -> RawReading:
    """One decoded JSON value as a RawReading, or ``ValidationError`` saying why not."""
    if not isinstance(item, dict):
        raise ValidationError("a reading must be a JSON object")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}")
    check_id(item.get("sensor_id"), "sensor_id")
    if "value" not in item:
        raise ValidationError("value is required (null for a missing value)")
    value = item["value"]
    if isinstance(value, list | dict):
        raise ValidationError("value must be a number or null")
    asset_id = _optional_str(item, "asset_id")
    if asset_id is not None:
        check_id(asset_id, "asset_id")
    quality = item.get("quality")
    if quality is not None:
        try:
            quality = Quality(quality)
        except ValueError:
            raise ValidationError("quality must be one of good, suspect, bad, missing") from None
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValidationError("metadata must be an object")
    return RawReading(
        sensor_id=item["sensor_id"],
        value=value,
        timestamp=parse_stamp(item.get("timestamp")),
        asset_id=asset_id,
        unit=_optional_str(item, "unit"),
        quality=quality,
        metadata=metadata,
        source=source,
        received_at=received_at,
        raw=raw[:_MAX_RAW],
    )


def _is_ndjson(text: str, content_type: str | None) -> bool:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in (
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    ):
        return True
    if ct == "application/json":
        return False
    return not text.lstrip().startswith("[")


def parse_body(
    body: bytes | str,
    content_type: str | None = None,
    *,
    received_at: datetime,
    source: str = "http",
    max_items: int = 100_000,
) -> ParsedBody:
    """Every item becomes a reading or an error (with its index in the body)."""
    out = ParsedBody()
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        out.fail(0, None, f"malformed body: not UTF-8 ({exc.reason})", repr(body[:_MAX_RAW]))
        return out
    if _is_ndjson(text, content_type):
        items: list[tuple[object, str, str | None]] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            value, problem = decode_json(line)
            items.append((value, line, None if problem is None else f"malformed JSON: {problem}"))
    else:
        decoded, problem = decode_json(text)
        if problem is not None:
            out.fail(0, None, f"malformed JSON body: {problem}", text)
            return out
        if is_columnar(decoded):
            assert isinstance(decoded, dict)
            try:
                out.columns, out.errors, out.error_raw = parse_columns(
                    decoded, received_at=received_at, max_items=max_items
                )
            except ValidationError as exc:
                out.fail(0, None, exc.message, text)
            return out
        if not isinstance(decoded, list):
            decoded = [decoded]
        items = [(item, _dumps(item, text), None) for item in decoded]
    if len(items) > max_items:
        out.fail(0, None, f"body holds {len(items)} items, more than {max_items}", text)
        return out
    for index, (item, raw, problem) in enumerate(items):
        sid = item.get("sensor_id") if isinstance(item, dict) else None
        if problem is not None:
            out.fail(index, sid, problem, raw)
            continue
        try:
            reading = parse_item(item, received_at=received_at, source=source, raw=raw)
        except ValidationError as exc:
            out.fail(index, sid, exc.message, raw)
            continue
        out.readings.append(reading)
        out.indices.append(index)
    return out
