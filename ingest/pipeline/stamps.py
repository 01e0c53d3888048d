"""Timestamps as pushed over HTTP: RFC 3339 text with an offset, or epoch milliseconds.

One reader for the object body (``httpparse``) and the columnar body (``columns``), so
a timestamp means the same and is refused with the same words in either. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.errors import ValidationError

__all__ = ["parse_stamp"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_stamp(value: object) -> datetime | None:
    """The instant ``value`` names (None for None), or ValidationError saying why not."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError("timestamp must be RFC 3339 text or epoch milliseconds")
    if isinstance(value, int | float):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except (OverflowError, ValueError) as exc:
            raise ValidationError(f"timestamp {value} is out of range") from exc
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"timestamp {value[:40]!r} is not RFC 3339") from None
        if at.tzinfo is None:
            raise ValidationError("timestamp needs a UTC offset (e.g. 'Z')")
        return at.astimezone(UTC)
    raise ValidationError("timestamp must be RFC 3339 text or epoch milliseconds")
