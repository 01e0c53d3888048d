"""Time helpers, the one home for them: every timestamp in twinql is timezone-aware UTC.

``utcnow`` for the clock; ``iso``/``parse_iso`` for the fixed-width text the graph stores
(string order is time order); ``to_us``/``from_us`` for the int epoch microseconds the
readings stores and numpy columns use.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_us", "iso", "parse_iso", "to_us", "utcnow"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """Fixed-width UTC text, so string order is time order in the graph."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def to_us(at: datetime) -> int:
    """A timezone-aware datetime as int epoch microseconds (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(int(us) // 1_000_000, UTC).replace(
        microsecond=int(us) % 1_000_000
    )
