"""Reading windows as the API accepts them: a time range, an optional bucket, limits.

Pure: arguments in, a validated ``Window`` (or a ``ValidationError`` with a hint) out.
A bucket is a duration string, a number and a unit: ``500ms``, ``15s``, ``1m``,
``1h``, ``1d``, ``1w`` (a bare number means seconds). A read without a bucket returns
raw points; when the window holds more points than ``MAX_POINTS`` (estimated from
the sensor's sampling rate, then checked on the actual data) the read is refused with
the smallest round bucket that fits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from graph.errors import ValidationError
from ingest.store import Aggregate, Fill

__all__ = [
    "DEFAULT_SPAN",
    "MAX_BUCKET",
    "MAX_POINTS",
    "MAX_SERIES",
    "Window",
    "check_points",
    "format_bucket",
    "make_window",
    "parse_bucket",
    "suggest_bucket",
]

MAX_POINTS = 10_000  # per series and request
MAX_SERIES = 100  # sensors on one aligned time axis
MAX_BUCKET = timedelta(days=365_250)  # 1000 years: longer buckets hold no more
DEFAULT_SPAN = timedelta(hours=1)  # window length when only one end (or none) is given
_DEFAULT_RATE = 1.0  # seconds between samples assumed for sensors without a rate

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_BUCKET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_ROUND = [
    timedelta(seconds=s)
    for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200)
] + [timedelta(days=d) for d in (1, 7)]


def parse_bucket(text: str | None) -> timedelta | None:
    """``"15s"`` -> 15 seconds; None or "" -> None (raw points)."""
    if text is None or not text.strip():
        return None
    match = _BUCKET.match(text)
    if match is None:
        raise ValidationError(
            f"bucket {text[:40]!r} is not a duration: use a number and a unit "
            "(ms, s, m, h, d, w), e.g. '15s', '1m', '1h'"
        )
    number, unit = float(match.group(1)), match.group(2) or "s"
    seconds = number * _UNITS[unit].total_seconds()
    if not seconds <= MAX_BUCKET.total_seconds():  # inf too: "1" * 400 parses to inf
        raise ValidationError(
            f"bucket {text[:40]!r} is longer than {MAX_BUCKET.days} days (1000 years)"
        )
    bucket = number * _UNITS[unit]
    if bucket < timedelta(milliseconds=1):
        raise ValidationError(f"bucket {text!r} is shorter than 1 ms")
    return bucket


def format_bucket(bucket: timedelta) -> str:
    seconds = bucket.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit].total_seconds()
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def suggest_bucket(span: timedelta, max_points: int = MAX_POINTS) -> timedelta:
    """The smallest round bucket giving at most ``max_points`` buckets over ``span``."""
    for bucket in _ROUND:
        if span / bucket <= max_points:
            return bucket
    weeks = math.ceil(span / timedelta(weeks=1) / max_points)
    return timedelta(weeks=weeks)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    bucket: timedelta | None = None
    aggregate: Aggregate = Aggregate.AVG
    fill: Fill = Fill.NONE
    include_bad: bool = False

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def check_raw(self, sampling_rate_seconds: float | None, what: str) -> None:
        """Refuse an unbucketed read expected to exceed ``MAX_POINTS``."""
        if self.bucket is not None:
            return
        rate = sampling_rate_seconds or _DEFAULT_RATE
        expected = self.span.total_seconds() / rate
        if expected > MAX_POINTS:
            raise _too_many(what, f"about {int(expected)}", self.span)


def _too_many(what: str, count: str, span: timedelta) -> ValidationError:
    hint = format_bucket(suggest_bucket(span))
    return ValidationError(
        f"{what}: {count} points in the window, more than {MAX_POINTS}; "
        f'ask for a bucket (e.g. bucket: "{hint}") or a shorter window',
        details={"hint": f'bucket: "{hint}"', "maxPoints": MAX_POINTS},
    )


def check_points(count: int, window: Window, what: str) -> None:
    """Refuse a series that came back larger than ``MAX_POINTS``."""
    if count > MAX_POINTS:
        raise _too_many(what, str(count), window.span)


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None:
        raise ValidationError(f"{name} needs a UTC offset (e.g. '2024-05-01T12:00:00Z')")
    return at.astimezone(UTC)


def make_window(
    start: datetime | None,
    end: datetime | None,
    bucket: str | None,
    aggregate: Aggregate = Aggregate.AVG,
    fill: Fill = Fill.NONE,
    include_bad: bool = False,
    *,
    now: datetime | None = None,
) -> Window:
    """A validated window; missing ends default to now and a span of ``DEFAULT_SPAN``."""
    end = _aware(end, "to") if end is not None else None
    start = _aware(start, "from") if start is not None else None
    if end is None:
        end = (start + DEFAULT_SPAN) if start is not None else (now or datetime.now(UTC))
    if start is None:
        start = end - DEFAULT_SPAN
    if end <= start:
        raise ValidationError("the window's 'to' must be after its 'from'")
    size = parse_bucket(bucket)
    if size is not None and (end - start) / size > MAX_POINTS:
        hint = format_bucket(suggest_bucket(end - start))
        raise ValidationError(
            f"bucket {bucket!r} gives {math.ceil((end - start) / size)} buckets, more than "
            f"{MAX_POINTS}; use a bucket of at least {hint}",
            details={"hint": f'bucket: "{hint}"', "maxPoints": MAX_POINTS},
        )
    if size is None and Fill(fill) is not Fill.NONE:
        raise ValidationError("fill needs a bucket: raw points have no empty buckets to fill")
    return Window(start, end, size, Aggregate(aggregate), Fill(fill), include_bad)
